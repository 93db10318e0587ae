//! `assay review serve`: the web app reviewers use, on loopback unless told
//! otherwise. Everything it serves is embedded in the binary; nothing is
//! fetched from elsewhere, and the pages' Content-Security-Policy allows
//! only their own script and style.
//!
//! A reviewer is known by the token in their link alone: it is hashed and
//! compared in constant time with each reviewer's digest, and a reviewer
//! reads and writes only their own verdicts on their own items. Writes must
//! be JSON from the page's own origin (`Sec-Fetch-Site`, `Origin`), so
//! another site cannot submit a verdict through a reviewer's browser. A
//! verdict is acknowledged only once the store has it on disk.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use crate::folder::{ITEMS_FILE, Item, REVIEW_FILE, Review};
use crate::stats;
use crate::store::{Database, Store, StoreError};
use crate::verdicts::{Decision, Verdict};

const PAGE: &str = include_str!("web/review.html");
const ADMIN_PAGE: &str = include_str!("web/admin.html");
const SCRIPT: &str = include_str!("web/review.js");
const STYLE: &str = include_str!("web/review.css");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Why a review cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{}: not a review folder (create one with `assay review create`)", dir.display())]
    NotAReview { dir: PathBuf },
    #[error("{}: cannot read it", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: not an item: {message}", path.display())]
    Item { path: PathBuf, line: usize, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the server stopped")]
    Serve(#[source] std::io::Error),
}

/// A review folder as the server and the export, import and stats commands read it.
pub struct Loaded {
    pub review: Review,
    pub items: Vec<Item>,
}

impl Loaded {
    pub fn read(dir: &Path) -> Result<Loaded, ServeError> {
        let review_path = dir.join(REVIEW_FILE);
        if !review_path.is_file() {
            return Err(ServeError::NotAReview { dir: dir.into() });
        }
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| ServeError::Read { path: path.into(), source })
        };
        let review: Review = serde_json::from_str(&read(&review_path)?).map_err(|e| ServeError::Item {
            path: review_path.clone(),
            line: e.line(),
            message: e.to_string(),
        })?;
        let items_path = dir.join(ITEMS_FILE);
        let items = read(&items_path)?
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| ServeError::Item {
                    path: items_path.clone(),
                    line: i + 1,
                    message: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Loaded { review, items })
    }
}

struct App {
    loaded: Loaded,
    by_id: HashMap<String, usize>,
    admin_digest: [u8; 32],
    store: Mutex<Store>,
}

fn digest(token: &str) -> [u8; 32] {
    sha2::Sha256::digest(token.as_bytes()).into()
}

fn hex_digest(hex: &str) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = hex.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0);
    }
    bytes
}

impl App {
    /// The reviewer whose token this is: every digest is compared, in
    /// constant time, so timing says nothing about how close a guess was.
    fn reviewer(&self, token: &str) -> Option<&str> {
        let presented = digest(token);
        let mut found = None;
        for reviewer in &self.loaded.review.reviewers {
            if bool::from(hex_digest(&reviewer.token_sha256).ct_eq(&presented)) {
                found = Some(reviewer.name.as_str());
            }
        }
        found
    }

    /// The reviewer a write comes from, once it is known to come from the
    /// page itself.
    fn writer(&self, token: &str, headers: &HeaderMap) -> Result<&str, (StatusCode, &'static str)> {
        same_origin(headers)?;
        self.reviewer(token).ok_or((StatusCode::NOT_FOUND, "no such link"))
    }

    fn is_admin(&self, token: &str) -> bool {
        bool::from(self.admin_digest.ct_eq(&digest(token)))
    }

    /// Runs `work` on the store off the async threads: both clients block
    /// (PostgreSQL's on a runtime of its own, which must not run inside
    /// this one).
    async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let app = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&mut app.store.lock().expect("never poisoned")))
            .await
            .expect("the store does not panic")
    }

    fn assigned<'a>(&'a self, reviewer: &'a str) -> impl Iterator<Item = &'a Item> + 'a {
        self.loaded.items.iter().filter(move |item| item.reviewers.iter().any(|r| r == reviewer))
    }
}

/// Serves the review in `dir`, its verdicts kept in `database`, on
/// `listener` until the process ends; `admin_token` opens the admin page.
pub async fn serve(
    dir: &Path,
    database: Database,
    listener: tokio::net::TcpListener,
    admin_token: &str,
) -> Result<(), ServeError> {
    let loaded = Loaded::read(dir)?;
    let store_dir = dir.to_path_buf();
    let store = tokio::task::spawn_blocking(move || Store::open(&store_dir, &database))
        .await
        .expect("opening the store does not panic")?;
    let by_id = loaded.items.iter().enumerate().map(|(i, item)| (item.id.clone(), i)).collect();
    let app = Arc::new(App { loaded, by_id, admin_digest: digest(admin_token), store: Mutex::new(store) });
    let kept = Arc::clone(&app);
    let router = axum::Router::new()
        .route("/r/{token}", get(|| async { page(PAGE) }))
        .route("/admin/{token}", get(|| async { page(ADMIN_PAGE) }))
        .route("/assets/review.js", get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }))
        .route("/assets/review.css", get(|| async { asset(STYLE, "text/css; charset=utf-8") }))
        .route("/api/r/{token}", get(state))
        .route("/api/r/{token}/verdict", post(put_verdict))
        .route("/api/r/{token}/withdraw", post(withdraw))
        .route("/api/admin/{token}", get(admin))
        .with_state(app);
    let served = axum::serve(listener, router).await.map_err(ServeError::Serve);
    // The last reference closes the store, which blocks too.
    tokio::task::spawn_blocking(move || drop(kept)).await.expect("closing the store does not panic");
    served
}

fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn page(html: &'static str) -> Response {
    secured(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

fn asset(text: &'static str, content_type: &'static str) -> Response {
    secured(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

fn refuse(status: StatusCode, message: &str) -> Response {
    secured((status, Json(json!({ "error": message }))).into_response())
}

/// A write comes from the page itself, not from another site: browsers
/// say where a request comes from, and only a script of the same origin
/// can send JSON without the server's consent.
fn same_origin(headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return Err((StatusCode::FORBIDDEN, "cross-site requests are refused"));
    }
    if let (Some(origin), Some(host)) = (text("origin"), text("host"))
        && origin.split_once("://").map(|(_, rest)| rest) != Some(host)
    {
        return Err((StatusCode::FORBIDDEN, "cross-origin requests are refused"));
    }
    if !text("content-type").is_some_and(|t| t.starts_with("application/json")) {
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, "send JSON"));
    }
    Ok(())
}

/// An item as its reviewer sees it.
#[derive(Serialize)]
struct ShownItem<'a> {
    id: &'a str,
    input: &'a str,
    output: &'a str,
    references: &'a [String],
    record: Option<&'a str>,
    held_because: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scores: Option<&'a BTreeMap<String, f64>>,
}

async fn state(State(app): State<Arc<App>>, UrlPath(token): UrlPath<String>) -> Response {
    let Some(reviewer) = app.reviewer(&token) else { return refuse(StatusCode::NOT_FOUND, "no such link") };
    let review = &app.loaded.review;
    let items: Vec<ShownItem> = app
        .assigned(reviewer)
        .map(|item| ShownItem {
            id: &item.id,
            input: &item.input,
            output: &item.output,
            references: &item.references,
            record: item.record.as_deref(),
            held_because: item.held_because.as_deref(),
            scores: review.show_scores.then_some(&item.scores),
        })
        .collect();
    let name = reviewer.to_string();
    let verdicts = match app.with_store(move |store| store.verdicts(Some(&name))).await {
        Ok(verdicts) => verdicts,
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "the verdict store failed"),
    };
    let verdicts: BTreeMap<&str, &Verdict> = verdicts.iter().map(|v| (v.item.as_str(), v)).collect();
    secured(Json(json!({"reviewer": reviewer, "question": review.question, "kind": review.kind, "items": items, "verdicts": verdicts})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerdictForm {
    item: String,
    verdict: Decision,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    comment: String,
}

async fn put_verdict(
    State(app): State<Arc<App>>,
    UrlPath(token): UrlPath<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let reviewer = match app.writer(&token, &headers) {
        Ok(reviewer) => reviewer,
        Err((status, message)) => return refuse(status, message),
    };
    let form: VerdictForm = match serde_json::from_str(&body) {
        Ok(form) => form,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("not a verdict: {e}")),
    };
    let Some(item) = app.by_id.get(&form.item).map(|&i| &app.loaded.items[i]) else {
        return refuse(StatusCode::NOT_FOUND, "no such item");
    };
    if !item.reviewers.iter().any(|r| r == reviewer) {
        return refuse(StatusCode::NOT_FOUND, "no such item");
    }
    let question = &app.loaded.review.question;
    match (form.score, question.scale) {
        (None, _) => {}
        (Some(score), Some([low, high]))
            if score.fract() == 0.0 && (f64::from(low)..=f64::from(high)).contains(&score) => {}
        (Some(score), _) => {
            return refuse(StatusCode::BAD_REQUEST, &format!("the score {score} is not on this review's scale"));
        }
    }
    if let Some(tag) = form.tags.iter().find(|t| !question.tags.contains(t)) {
        return refuse(StatusCode::BAD_REQUEST, &format!("{tag:?} is not a tag of this review"));
    }
    let verdict = Verdict {
        item: form.item,
        reviewer: reviewer.to_string(),
        verdict: form.verdict,
        score: form.score,
        tags: form.tags,
        comment: form.comment,
        at: jiff::Timestamp::now().to_string(),
    };
    let at = verdict.at.clone();
    match app.with_store(move |store| store.put(&verdict)).await {
        Ok(()) => secured(Json(json!({"saved": true, "at": at})).into_response()),
        Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "the verdict could not be saved"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WithdrawForm {
    item: String,
}

async fn withdraw(
    State(app): State<Arc<App>>,
    UrlPath(token): UrlPath<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let reviewer = match app.writer(&token, &headers) {
        Ok(reviewer) => reviewer,
        Err((status, message)) => return refuse(status, message),
    };
    let Ok(form) = serde_json::from_str::<WithdrawForm>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "expected {\"item\": ID}");
    };
    let at = jiff::Timestamp::now().to_string();
    let reviewer = reviewer.to_string();
    match app.with_store(move |store| store.remove(&form.item, &reviewer, &at)).await {
        Ok(removed) => secured(Json(json!({"withdrawn": removed})).into_response()),
        Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "the verdict could not be withdrawn"),
    }
}

async fn admin(State(app): State<Arc<App>>, UrlPath(token): UrlPath<String>) -> Response {
    if !app.is_admin(&token) {
        return refuse(StatusCode::NOT_FOUND, "no such link");
    }
    let verdicts = match app.with_store(|store| store.verdicts(None)).await {
        Ok(verdicts) => verdicts,
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "the verdict store failed"),
    };
    let progress: BTreeMap<&str, serde_json::Value> = app
        .loaded
        .review
        .reviewers
        .iter()
        .map(|r| {
            let assigned = app.assigned(&r.name).count();
            let done = verdicts.iter().filter(|v| v.reviewer == r.name).count();
            (r.name.as_str(), json!({"assigned": assigned, "done": done}))
        })
        .collect();
    let scores = app.loaded.items.iter().map(|item| (item.id.clone(), item.scores.clone())).collect();
    let report = stats::report(&verdicts, &scores, &BTreeMap::new());
    secured(Json(json!({"progress": progress, "stats": report})).into_response())
}
