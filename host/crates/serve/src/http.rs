//! The HTTP side: routes, bearer tokens, body limits and the answers to
//! overload and malformed input.
//!
//! Handlers only read and check requests; everything that orders or
//! decides happens on the intake thread. A request is answered 200 only
//! after its records are synced to the log.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::value::RawValue;
use sha2::{Digest as _, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use assay_data::FieldMap;

use crate::intake::{Submission, read_record};
use crate::metrics::Metrics;
use crate::recalls::Feed;

/// A bearer token as the configuration keeps it: its SHA-256, never the
/// token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    /// Reads `sha256:HEX` (or bare HEX), as `[serve] tokens` holds it.
    pub fn parse(text: &str) -> Result<TokenDigest, String> {
        let hex = text.strip_prefix("sha256:").unwrap_or(text);
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| hex.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
            .collect::<Option<_>>()
            .filter(|bytes: &Vec<u8>| bytes.len() == 32)
            .ok_or_else(|| format!("{text:?} is not a SHA-256 digest (sha256: and 64 hex digits)"))?;
        Ok(TokenDigest(bytes.try_into().expect("32 bytes")))
    }

    /// The digest of `token`.
    pub fn of(token: &str) -> TokenDigest {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }
}

/// A token's (or, without tokens, everyone's) request budget.
pub(crate) type Limiter = governor::DefaultDirectRateLimiter;

/// One limiter per token, in the configured order (one in all without
/// tokens), allowing `per_second` requests a second with bursts as large.
pub(crate) fn limiters(tokens: usize, per_second: Option<u32>) -> Vec<Limiter> {
    let Some(rate) = per_second.and_then(std::num::NonZeroU32::new) else { return Vec::new() };
    (0..tokens.max(1)).map(|_| Limiter::direct(governor::Quota::per_second(rate))).collect()
}

pub(crate) struct App {
    pub(crate) queue: tokio::sync::mpsc::Sender<Submission>,
    /// Where samples to score go; `None` when no evaluator is configured.
    pub(crate) scoring: Option<tokio::sync::mpsc::Sender<crate::scoring::Request>>,
    pub(crate) fields: FieldMap,
    pub(crate) tokens: Vec<TokenDigest>,
    /// Empty when requests are not limited.
    pub(crate) limiters: Vec<Limiter>,
    pub(crate) feed: Arc<Feed>,
    pub(crate) metrics: Arc<Metrics>,
    /// Requests that could not be read, kept for the operator.
    pub(crate) malformed: Mutex<File>,
}

/// The routes, each counted and timed in `/metrics`.
const ROUTES: [&str; 7] =
    ["/v1/feedback", "/v1/recalls", "/metrics", "/healthz", "/readyz", "/openapi.json", "/v1/evaluate"];

/// The OpenAPI document of these routes, checked in beside the crate.
const OPENAPI: &str = include_str!("../openapi.json");

/// `request_timeout` bounds reading and answering a feedback request, so a
/// client that sends its body slowly cannot hold a connection open (408).
pub(crate) fn router(app: Arc<App>, max_body_bytes: usize, request_timeout: Duration) -> axum::Router {
    let deadline = tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout);
    axum::Router::new()
        .route(ROUTES[0], post(feedback).layer(deadline))
        .route(ROUTES[6], post(evaluate).layer(deadline))
        .route(ROUTES[1], get(recalls))
        .route(ROUTES[2], get(metrics))
        .route(ROUTES[3], get(|| async { "ok\n" }))
        .route(ROUTES[4], get(ready))
        .route(ROUTES[5], get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(app.clone(), measured))
        .with_state(app)
}

/// Counts and times every request by route and status.
async fn measured(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = ROUTES.into_iter().find(|r| *r == request.uri().path()).unwrap_or("other");
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let response = next.run(request).await;
    let (status, elapsed) = (response.status().as_u16(), started.elapsed());
    app.metrics.request(route, status, elapsed.as_secs_f64());
    let micros = elapsed.as_micros() as u64;
    tracing::debug!(event = "request", %method, route, status, micros, "{method} {route} {status} in {micros} µs");
    // The layers' own refusals, which `error` does not see.
    let reason = match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Some("the body is over max_body_bytes"),
        StatusCode::REQUEST_TIMEOUT => Some("the request was not sent and answered within request_timeout_ms"),
        _ => None,
    };
    if let Some(reason) = reason {
        tracing::info!(event = "refused", status, reason, "answered {status}: {reason}");
    }
    response
}

async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !authorized(&app, &headers) {
        return unauthorized();
    }
    let waiting = app.queue.max_capacity() - app.queue.capacity();
    app.metrics.queue_depth.set(waiting as i64);
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], app.metrics.render()).into_response()
}

/// An error answer, logged: at `warn` when the service is the cause or
/// is overloaded (5xx, 429), at `info` when the request is (4xx).
fn error(status: StatusCode, message: &str) -> Response {
    let code = status.as_u16();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        tracing::warn!(event = "refused", status = code, reason = message, "answered {code}: {message}");
    } else {
        tracing::info!(event = "refused", status = code, reason = message, "answered {code}: {message}");
    }
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// Which token the request carries, by its place in the configuration
/// (`Some(0)` for every request when none is configured).
fn token_of(app: &App, headers: &HeaderMap) -> Option<usize> {
    if app.tokens.is_empty() {
        return Some(0);
    }
    let digest = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(TokenDigest::of)?;
    // Every stored digest is compared, so timing says nothing of which matched.
    let (mut found, mut index) = (subtle::Choice::from(0), 0u64);
    for (i, stored) in app.tokens.iter().enumerate() {
        let equal = stored.0.ct_eq(&digest.0);
        index = u64::conditional_select(&index, &(i as u64), equal);
        found |= equal;
    }
    bool::from(found).then_some(index as usize)
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    token_of(app, headers).is_some()
}

/// Lets the request in if its token is known and within its rate; else the
/// answer to give instead.
fn admit(app: &App, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let token = token_of(app, headers).ok_or_else(|| Box::new(unauthorized()))?;
    let Some(limiter) = app.limiters.get(token) else { return Ok(()) };
    limiter.check().map_err(|not_until| {
        use governor::clock::Clock as _;
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "over this token's rate limit ([serve] rate_limit)");
        let retry = HeaderValue::from_str(&seconds.max(1).to_string()).expect("digits");
        response.headers_mut().insert(header::RETRY_AFTER, retry);
        Box::new(response)
    })
}

fn unauthorized() -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, "a bearer token is required: Authorization: Bearer TOKEN");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The records of a body: one JSON object, or an array of them, each read
/// by `read`; a bad one is named by its place when there are several.
fn read_body<T>(body: &[u8], read: impl Fn(&RawValue) -> Result<T, String>) -> Result<Vec<T>, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    let value: &RawValue = serde_json::from_str(text).map_err(|e| format!("the body is not JSON: {e}"))?;
    if !value.get().starts_with('[') {
        return Ok(vec![read(value)?]);
    }
    let items: Vec<&RawValue> = serde_json::from_str(value.get()).map_err(|e| format!("the body is not JSON: {e}"))?;
    if items.is_empty() {
        return Err("the array holds no records".into());
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| read(item).map_err(|message| format!("record {}: {message}", i + 1)))
        .collect()
}

/// Answers 400 for a body that cannot be read, and keeps it for the operator.
fn malformed(app: &App, body: &[u8], message: &str) -> Response {
    let line = serde_json::json!({ "error": message, "body": String::from_utf8_lossy(body) });
    let mut file = app.malformed.lock().expect("the log's lock is never poisoned");
    let _ = writeln!(file, "{line}");
    error(StatusCode::BAD_REQUEST, message)
}

/// The answer to a request the queue of its desk refused.
fn queue_refused<T>(refused: tokio::sync::mpsc::error::TrySendError<T>) -> Response {
    let message = match refused {
        tokio::sync::mpsc::error::TrySendError::Full(_) => "the queue is full: retry after a second",
        tokio::sync::mpsc::error::TrySendError::Closed(_) => "the service is shutting down",
    };
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, message);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

async fn feedback(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = admit(&app, &headers) {
        return *refused;
    }
    let records = match read_body(&body, |raw| read_record(raw, 0, &app.fields)) {
        Ok(records) => records,
        Err(message) => return malformed(&app, &body, &message),
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    if let Err(refused) = app.queue.try_send(Submission { records, reply }) {
        return queue_refused(refused);
    }
    match answer.await {
        Ok(Ok(decisions)) => {
            let body = format!("{{\"decisions\":[{}]}}", decisions.join(","));
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Ok(Err(message)) => error(StatusCode::SERVICE_UNAVAILABLE, &message),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the service stopped before screening the records"),
    }
}

async fn evaluate(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = admit(&app, &headers) {
        return *refused;
    }
    let Some(scoring) = &app.scoring else {
        return error(StatusCode::NOT_FOUND, "no evaluator is configured: add evaluator plugins to the config");
    };
    let read = |raw: &RawValue| Ok(raw.get().as_bytes().to_vec());
    let samples = match read_body(&body, read) {
        Ok(samples) => samples,
        Err(message) => return malformed(&app, &body, &message),
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    if let Err(refused) = scoring.try_send(crate::scoring::Request { samples, reply }) {
        return queue_refused(refused);
    }
    match answer.await {
        Ok(Ok(lines)) => {
            let body = format!("{{\"samples\":[{}]}}", lines.join(","));
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Ok(Err(message)) => malformed(&app, &body, &message),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the service stopped before scoring the samples"),
    }
}

#[derive(serde::Deserialize)]
struct RecallQuery {
    /// Return the events numbered above this.
    #[serde(default)]
    after: u64,
    /// Seconds to wait for one when there is none yet (at most 60).
    #[serde(default)]
    wait: u64,
}

/// Events per answer, at most.
const RECALLS_PER_ANSWER: usize = 1000;

async fn recalls(State(app): State<Arc<App>>, headers: HeaderMap, Query(query): Query<RecallQuery>) -> Response {
    if let Err(refused) = admit(&app, &headers) {
        return *refused;
    }
    let mut page = app.feed.after(query.after, RECALLS_PER_ANSWER);
    if page.events.is_empty() && query.wait > 0 {
        app.feed.wait_past(query.after, Duration::from_secs(query.wait.min(60))).await;
        page = app.feed.after(query.after, RECALLS_PER_ANSWER);
    }
    let next = page.events.last().map_or(query.after, |e| e.n);
    let mut answer = serde_json::json!({ "recalls": page.events, "next": next });
    if page.missed > 0 {
        // Too far behind: the events between are in recalls.jsonl only.
        answer["missed"] = page.missed.into();
    }
    axum::Json(answer).into_response()
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    if app.queue.is_closed() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the intake stopped");
    }
    "ready\n".into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_describes_every_route_and_no_other() {
        let document: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        let mut described: Vec<&str> = document["paths"].as_object().unwrap().keys().map(String::as_str).collect();
        let mut routes = ROUTES.to_vec();
        described.sort();
        routes.sort();
        assert_eq!(described, routes);
        assert!(document["paths"]["/v1/feedback"]["post"]["responses"]["503"]["headers"]["Retry-After"].is_object());
    }

    #[test]
    fn token_digests_read_as_written() {
        let digest = TokenDigest::of("secret");
        let hex: String = digest.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(TokenDigest::parse(&format!("sha256:{hex}")), Ok(digest));
        assert_eq!(TokenDigest::parse(&hex), Ok(digest));
        assert!(TokenDigest::parse("sha256:abc").unwrap_err().contains("not a SHA-256 digest"));
    }

    #[test]
    fn a_body_is_one_record_or_an_array_and_a_bad_one_is_named() {
        let fields = FieldMap::feedback();
        let read = |body: &[u8]| read_body(body, |raw| read_record(raw, 0, &fields));
        assert_eq!(read(br#"{"id":"a","output":"x"}"#).unwrap().len(), 1);
        assert_eq!(read(br#"[{"id":"a"},{"id":"b"}]"#).unwrap().len(), 2);
        let bad = read(br#"[{"id":"a"},{"id":"b","rating":"sideways"}]"#).err().unwrap();
        assert!(bad.starts_with("record 2: field \"rating\""), "{bad}");
        assert!(read(b"{\"id\":").unwrap_err().starts_with("the body is not JSON"));
        assert_eq!(read(b"[]").unwrap_err(), "the array holds no records");
    }
}
