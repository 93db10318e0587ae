//! `assay review` through the real binary: reviews chosen and served,
//! verdicts given in a real browser and kept through a SIGKILL (in SQLite
//! and in a real PostgreSQL), their agreement and each metric measured
//! against them, verdicts shown as metrics in `assay report`, decisions on
//! a guard run's quarantine applied; bad verdict files refused with the
//! file, line and field.

mod common;
#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::io::BufRead as _;

use common::*;
use serde_json::{Value, json};
use webdriver::{Browser, get_json, post_json};

/// An eval set run through `exact_match`, and the run folder.
fn judged_run(dir: &std::path::Path) -> std::path::PathBuf {
    let lines = [
        json!({"id": "q1", "output": "Ankara", "reference": "Ankara"}),
        json!({"id": "q2", "output": "İstanbul", "reference": "Ankara"}),
        json!({"id": "q3", "output": "Paris", "reference": "Paris"}),
        json!({"id": "q4", "output": "Lyon", "reference": "Paris"}),
    ];
    let eval_set = jsonl(dir, "eval.jsonl", &lines);
    let out = dir.join("run");
    expect_code(&run(assay().args(["run", "-q", "-e", "exact_match", "-o"]).arg(&out).arg(&eval_set)), 0);
    out
}

fn verdict(item: &str, reviewer: &str, decision: &str, score: u32) -> Value {
    json!({"item": item, "reviewer": reviewer, "verdict": decision, "score": score, "tags": [], "comment": "", "at": "2026-12-01T10:00:00Z"})
}

#[test]
fn reviewers_agreement_and_each_metric_against_the_majority() {
    let dir = tempfile::tempdir().unwrap();
    let out = judged_run(dir.path());
    // Ayşe and Barış agree on three items of four; Çağla on all but q4.
    let verdicts = [
        verdict("q1", "ayşe", "pass", 5),
        verdict("q2", "ayşe", "fail", 1),
        verdict("q3", "ayşe", "pass", 4),
        verdict("q4", "ayşe", "fail", 2),
        verdict("q1", "barış", "pass", 4),
        verdict("q2", "barış", "fail", 2),
        verdict("q3", "barış", "pass", 5),
        verdict("q4", "barış", "pass", 3),
        verdict("q1", "çağla", "pass", 5),
        verdict("q2", "çağla", "fail", 1),
        verdict("q3", "çağla", "pass", 4),
        verdict("q4", "çağla", "fail", 1),
    ];
    let file = jsonl(dir.path(), "verdicts.jsonl", &verdicts);
    let output = run(assay().args(["review", "stats", "--format", "json", "--run"]).arg(&out).arg(&file));
    expect_code(&output, 0);
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!((report["items"].as_u64(), report["verdicts"].as_u64()), (Some(4), Some(12)));
    assert_eq!(report["reviewers"]["barış"]["pass_rate"], 0.75);
    assert_eq!(report["majority"]["pass_rate"], 0.5, "q1 and q3 pass, q2 and q4 fail");
    // Ayşe and Çağla agree on every verdict: kappa 1, on 4 items.
    let pair = report["pairs"].as_array().unwrap().iter().find(|p| p["reviewers"] == json!(["ayşe", "çağla"])).unwrap();
    assert_eq!(pair["kappa"], json!({"value": 1.0, "items": 4}));
    assert_eq!(report["fleiss_kappa"]["items"], 4);
    let fleiss = report["fleiss_kappa"]["value"].as_f64().unwrap();
    assert!(fleiss > 0.0 && fleiss < 1.0, "{fleiss}");
    // exact_match passes exactly the items the majority passes.
    let exact = &report["metrics"]["exact_match/exact_match"];
    assert_eq!(exact["accuracy"], json!({"value": 1.0, "items": 4}));
    assert_eq!(exact["kappa"]["value"], 1.0);

    // The same as a table for people.
    let text = stdout(&run(assay().args(["review", "stats", "--run"]).arg(&out).arg(&file)));
    assert!(
        text.contains("Krippendorff's alpha, scores, ordinal") && text.contains("exact_match/exact_match"),
        "{text}"
    );
}

#[test]
fn bad_verdicts_are_refused_with_the_line_and_field_and_unknown_items_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = judged_run(dir.path());
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        format!(
            "{}\n{{\"item\": \"q2\", \"reviewer\": \"ayşe\", \"verdict\": \"yes\"}}\n",
            verdict("q1", "ayşe", "pass", 5)
        ),
    )
    .unwrap();
    let output = run(assay().args(["review", "stats"]).arg(&bad));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("bad.jsonl:2: field `verdict`"), "{}", stderr(&output));

    let unknown =
        jsonl(dir.path(), "unknown.jsonl", &[verdict("q1", "ayşe", "pass", 5), verdict("q9", "ayşe", "fail", 1)]);
    let output = run(assay().args(["review", "stats", "--run"]).arg(&out).arg(&unknown));
    expect_code(&output, 1);
    assert!(
        stderr(&output).contains("1 verdicts are about items that") && stderr(&output).contains("\"q9\""),
        "{}",
        stderr(&output)
    );
}

fn create(args: &[&str], runs: &[&std::path::Path], out: &std::path::Path) -> std::process::Output {
    let mut cmd = assay();
    cmd.args(["review", "create", "-o"]).arg(out).args(args);
    for run in runs {
        cmd.arg(run);
    }
    run(&mut cmd)
}

fn items(dir: &std::path::Path) -> Vec<Value> {
    read_jsonl(&dir.join("items.jsonl"))
}

#[test]
fn a_review_is_chosen_reproducibly_and_each_reviewer_gets_a_private_link() {
    let dir = tempfile::tempdir().unwrap();
    let out = judged_run(dir.path());
    let args = ["--reviewers", "ayşe,barış,çağla", "--per-item", "2", "--sample", "3", "--seed", "7", "--scale", "1-5"];
    let first = dir.path().join("first");
    let output = create(&args, &[&out], &first);
    expect_code(&output, 0);
    let chosen = items(&first);
    assert_eq!(chosen.len(), 3);
    for item in &chosen {
        assert_eq!(item["reviewers"].as_array().unwrap().len(), 2);
        assert!(!item["output"].as_str().unwrap().is_empty(), "the texts are there: {item}");
        assert!(item["scores"]["exact_match/exact_match"].is_number());
    }
    // The same seed chooses the same samples.
    let again = dir.path().join("again");
    expect_code(&create(&args, &[&out], &again), 0);
    let ids = |items: &[Value]| items.iter().map(|i| i["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&items(&again)), ids(&chosen));

    // Links: printed, and kept for the owner only; review.json has digests, not tokens.
    let links = std::fs::read_to_string(first.join("links.txt")).unwrap();
    assert_eq!(links.lines().count(), 3);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(first.join("links.txt")).unwrap().permissions().mode() & 0o777, 0o600);
    let review = std::fs::read_to_string(first.join("review.json")).unwrap();
    for line in links.lines() {
        let token = line.rsplit('/').next().unwrap();
        assert!(stdout(&output).contains(token));
        assert!(!review.contains(token), "review.json keeps only the token's digest");
    }
    let review: Value = serde_json::from_str(&review).unwrap();
    assert_eq!(review["question"]["scale"], json!([1, 5]));
    assert_eq!(review["reviewers"][0]["token_sha256"].as_str().unwrap().len(), 64);

    // A review is created once.
    let output = create(&args, &[&out], &first);
    expect_code(&output, 1);
    assert!(stderr(&output).contains("a review is already there"), "{}", stderr(&output));
}

#[test]
fn the_lowest_by_a_metric_and_a_guard_runs_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    let out = judged_run(dir.path());
    let lowest = dir.path().join("lowest");
    let args = ["--reviewers", "ayşe", "--sample", "2", "--lowest", "exact_match/exact_match"];
    expect_code(&create(&args, &[&out], &lowest), 0);
    let ids: Vec<Value> = items(&lowest).iter().map(|i| i["id"].clone()).collect();
    assert_eq!(ids, [json!("q2"), json!("q4")], "the two wrong answers");
    let unknown =
        create(&["--reviewers", "ayşe", "--sample", "2", "--lowest", "rouge/rougeL_f"], &[&out], &dir.path().join("x"));
    expect_code(&unknown, 1);
    assert!(stderr(&unknown).contains("no sample has the metric \"rouge/rougeL_f\""), "{}", stderr(&unknown));

    // A guard run: its quarantine, every record of it.
    let feedback = root().join("examples/feedback");
    let guarded = dir.path().join("guarded");
    let output = run(assay()
        .args(["guard", "-q", "--config"])
        .arg(feedback.join("assay.toml"))
        .arg("-o")
        .arg(&guarded)
        .arg(feedback.join("feedback.jsonl")));
    assert!(output.status.code() == Some(0), "{}", stderr(&output));
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(guarded.join("summary.json")).unwrap()).unwrap();
    let quarantined = summary["counts"]["quarantined"].as_u64().unwrap();
    assert!(quarantined > 0);
    let review = dir.path().join("quarantine");
    expect_code(&create(&["--reviewers", "ayşe,barış"], &[&guarded], &review), 0);
    let held = items(&review);
    assert_eq!(held.len() as u64, quarantined, "every quarantined record is an item");
    assert!(held.iter().all(|i| i["record"].is_string() && i["held_because"].is_string()));
}

/// `assay review serve` on a free loopback port: the child, its base URL
/// and the admin link.
struct Server {
    child: std::process::Child,
    base: String,
    admin: String,
}

impl Server {
    fn start(review: &std::path::Path) -> Server {
        Server::start_with(review, &[])
    }

    fn start_with(review: &std::path::Path, options: &[&str]) -> Server {
        let mut child = assay()
            .args(["review", "serve", "--bind", "127.0.0.1:0"])
            .args(options)
            .arg(review)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let base =
            first.split_once(" at ").unwrap().1.split_whitespace().next().unwrap().trim_end_matches('/').to_string();
        let admin = lines.next().unwrap().unwrap().trim_start_matches("admin: ").to_string();
        Server { child, base, admin }
    }

    fn link(&self, review: &std::path::Path, reviewer: &str) -> String {
        let links = std::fs::read_to_string(review.join("links.txt")).unwrap();
        let url = links.lines().find_map(|l| l.strip_prefix(&format!("{reviewer}\t"))).unwrap();
        // The links name the default address; the test's server is elsewhere.
        format!("{}/r/{}", self.base, url.rsplit('/').next().unwrap())
    }

    /// SIGKILL: no chance to flush anything.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A review of the four samples, each seen by ayşe and barış, scored 1-5.
fn review_of_four(dir: &std::path::Path) -> std::path::PathBuf {
    let out = judged_run(dir);
    let review = dir.join("review");
    let args = ["--reviewers", "ayşe,barış", "--per-item", "2", "--scale", "1-5", "--tag", "ton"];
    expect_code(&create(&args, &[&out], &review), 0);
    review
}

fn token_of(link: &str) -> &str {
    link.rsplit('/').next().unwrap()
}

/// `--database URL`, or nothing for the review folder's SQLite file.
fn database_options(database: Option<&postgres::Postgres>) -> Vec<&str> {
    database.map(|db| vec!["--database", db.url.as_str()]).unwrap_or_default()
}

#[test]
fn browser_a_reviewer_judges_with_the_keyboard_and_finds_it_saved_after_a_reload() {
    judge_in_the_browser(None, true);
}

#[test]
fn browser_the_same_with_the_verdicts_in_postgres() {
    let Some(database) = postgres::Postgres::start() else { return };
    judge_in_the_browser(Some(&database), false);
    // The verdicts are in PostgreSQL, under the review's own schema.
    let schemas = database.sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'assay_review_%'");
    let schema = schemas.trim();
    assert_eq!(schema.lines().count(), 1, "{schemas}");
    assert_eq!(database.sql(&format!("SELECT version FROM {schema}.schema_version")).trim(), "1");
    assert_eq!(database.sql(&format!("SELECT count(*) FROM {schema}.verdicts WHERE reviewer = 'ayşe'")).trim(), "2");
}

fn judge_in_the_browser(database: Option<&postgres::Postgres>, screenshot: bool) {
    let Some(chromedriver) = webdriver::chromedriver() else { return };
    let dir = tempfile::tempdir().unwrap();
    let review = review_of_four(dir.path());
    let server = Server::start_with(&review, &database_options(database));
    let link = server.link(&review, "ayşe");
    let browser = Browser::start(&chromedriver);
    browser.open(&link);
    assert_eq!(browser.text_when("status", |t| t == "ready"), "ready");
    assert_eq!(browser.text_when("position", |t| t == "1"), "1");
    // Item 1: score 5, pass. Item 2: fail. Each is saved, then the page moves on.
    browser.keys("5p");
    assert!(browser.text_when("status", |t| t.starts_with("saved")).starts_with("saved"));
    browser.keys("2f");
    assert_eq!(browser.text_when("progress", |t| t == "2"), "2");
    assert_eq!(browser.text_when("position", |t| t == "3"), "3");
    // Undo the fail on item 2, then judge it again as a pass.
    browser.keys("u");
    assert!(browser.text_when("status", |t| t.starts_with("undone")).starts_with("undone"));
    assert_eq!(browser.text_when("progress", |t| t == "1"), "1");
    browser.keys("3p");
    assert_eq!(browser.text_when("progress", |t| t == "2"), "2");
    if screenshot {
        std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("review.png"), browser.screenshot())
            .unwrap();
    }

    // A reload resumes at the first item without a verdict, and shows the saved ones.
    browser.reload();
    assert_eq!(browser.text_when("status", |t| t == "ready"), "ready");
    assert_eq!(browser.text_when("position", |t| t == "3"), "3");
    browser.keys("\u{E012}"); // ArrowLeft
    assert_eq!(browser.text_when("current", |t| t == "pass"), "pass");
    assert_eq!(browser.text_when("score", |t| t == "3"), "3");

    // What the server keeps is what the reviewer did.
    let (_, state) = get_json(&format!("{}/api/r/{}", server.base, token_of(&link)));
    let verdicts = &state["verdicts"];
    assert_eq!((verdicts["q1"]["verdict"].as_str(), verdicts["q1"]["score"].as_f64()), (Some("pass"), Some(5.0)));
    assert_eq!((verdicts["q2"]["verdict"].as_str(), verdicts["q2"]["score"].as_f64()), (Some("pass"), Some(3.0)));
}

#[test]
fn a_reviewer_sees_and_changes_only_their_own_verdicts_and_cross_site_writes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let review = review_of_four(dir.path());
    let server = Server::start(&review);
    let (ayse, baris) = (server.link(&review, "ayşe"), server.link(&review, "barış"));
    let api = |link: &str| format!("{}/api/r/{}", server.base, token_of(link));
    let same_origin = [("Origin", server.base.as_str())];
    let (status, _) = post_json(
        &format!("{}/verdict", api(&ayse)),
        &json!({"item": "q1", "verdict": "fail", "comment": "yanlış"}),
        &same_origin,
    );
    assert_eq!(status, 200);
    // Barış sees his own (no) verdicts, not Ayşe's.
    let (_, state) = get_json(&api(&baris));
    assert_eq!(state["reviewer"], "barış");
    assert_eq!(state["verdicts"], json!({}));
    // His verdict on q1 is his; Ayşe's stays as it was.
    let (status, _) =
        post_json(&format!("{}/verdict", api(&baris)), &json!({"item": "q1", "verdict": "pass"}), &same_origin);
    assert_eq!(status, 200);
    assert_eq!(get_json(&api(&ayse)).1["verdicts"]["q1"]["verdict"], "fail");
    // He cannot withdraw hers: withdrawing removes only his own.
    post_json(&format!("{}/withdraw", api(&baris)), &json!({"item": "q1"}), &same_origin);
    assert_eq!(get_json(&api(&ayse)).1["verdicts"]["q1"]["verdict"], "fail");
    // A wrong token, a score off the scale, an unknown tag, another site: refused.
    let (status, _) = get_json(&format!("{}/api/r/{}", server.base, "0".repeat(48)));
    assert_eq!(status, 404);
    let (status, _) = post_json(
        &format!("{}/verdict", api(&ayse)),
        &json!({"item": "q2", "verdict": "pass", "score": 9}),
        &same_origin,
    );
    assert_eq!(status, 400);
    let (status, _) = post_json(
        &format!("{}/verdict", api(&ayse)),
        &json!({"item": "q2", "verdict": "pass", "tags": ["x"]}),
        &same_origin,
    );
    assert_eq!(status, 400);
    let (status, _) = post_json(
        &format!("{}/verdict", api(&ayse)),
        &json!({"item": "q2", "verdict": "pass"}),
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(status, 403);
    let (status, _) = post_json(
        &format!("{}/verdict", api(&ayse)),
        &json!({"item": "q2", "verdict": "pass"}),
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(status, 403);
    let (status, _) = webdriver::http(
        "POST",
        &format!("{}/verdict", api(&ayse)),
        &[("Content-Type", "text/plain")],
        r#"{"item": "q2", "verdict": "pass"}"#,
    );
    assert_eq!(status, 415, "a form post from another site cannot send JSON");
    // The admin page sees everyone's progress; a reviewer's token does not open it.
    let (status, admin) = get_json(&server.admin.replace("/admin/", "/api/admin/"));
    assert_eq!(status, 200);
    assert_eq!(admin["progress"]["ayşe"], json!({"assigned": 4, "done": 1}));
    assert_eq!(get_json(&format!("{}/api/admin/{}", server.base, token_of(&ayse))).0, 404);
}

#[test]
fn a_sigkill_loses_no_acknowledged_verdict_and_export_import_round_trip() {
    kill_export_import(None);
}

#[test]
fn the_same_in_postgres_and_reviews_sharing_a_database_stay_apart() {
    let Some(database) = postgres::Postgres::start() else { return };
    kill_export_import(Some(&database));
    // A second review in the same database starts empty; the first keeps its four.
    let dir = tempfile::tempdir().unwrap();
    let other = review_of_four(dir.path());
    let output = run(assay().args(["review", "stats", "--format", "json", "--database", &database.url]).arg(&other));
    expect_code(&output, 0);
    assert_eq!(serde_json::from_str::<Value>(&stdout(&output)).unwrap()["verdicts"], 0);
    let counts = database.sql("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'assay_review_%'");
    assert_eq!(counts.trim(), "2", "one schema per review");
    // A server it cannot reach is an error that names it, without the password.
    let output = run(assay()
        .args(["review", "export", "-o", "x.jsonl", "--database", "postgres://assay:sır@127.0.0.1:1/postgres"])
        .arg(&other));
    expect_code(&output, 1);
    assert!(
        stderr(&output).contains("postgres://assay:***@127.0.0.1:1/postgres: cannot use the PostgreSQL verdict store")
            && !stderr(&output).contains("sır"),
        "{}",
        stderr(&output)
    );
}

fn kill_export_import(database: Option<&postgres::Postgres>) {
    let options = database_options(database);
    let dir = tempfile::tempdir().unwrap();
    let review = review_of_four(dir.path());
    let server = Server::start_with(&review, &options);
    let ayse = server.link(&review, "ayşe");
    let api = format!("{}/api/r/{}/verdict", server.base, token_of(&ayse));
    for (item, verdict) in [("q1", "pass"), ("q2", "fail"), ("q3", "pass")] {
        let (status, answer) = post_json(&api, &json!({"item": item, "verdict": verdict, "score": 4}), &[]);
        assert_eq!((status, answer["saved"].as_bool()), (200, Some(true)));
    }
    server.kill();

    let exported = dir.path().join("verdicts.jsonl");
    expect_code(&run(assay().args(["review", "export"]).args(&options).arg(&review).arg("-o").arg(&exported)), 0);
    let lines = read_jsonl(&exported);
    let kept: Vec<(String, String)> =
        lines.iter().map(|l| (l["item"].as_str().unwrap().into(), l["verdict"].as_str().unwrap().into())).collect();
    assert_eq!(kept, [("q1".into(), "pass".into()), ("q2".into(), "fail".into()), ("q3".into(), "pass".into())]);

    // Verdicts gathered elsewhere come in through the same format; unknown
    // items or reviewers are refused, and then nothing is imported.
    let other =
        jsonl(dir.path(), "other.jsonl", &[verdict("q4", "barış", "fail", 2), verdict("q9", "zeynep", "pass", 5)]);
    let output = run(assay().args(["review", "import"]).args(&options).arg(&review).arg(&other));
    expect_code(&output, 1);
    assert!(
        stderr(&output).contains("nothing imported: 1 verdicts name items") && stderr(&output).contains("\"zeynep\""),
        "{}",
        stderr(&output)
    );
    let good = jsonl(dir.path(), "good.jsonl", &[verdict("q4", "barış", "fail", 2)]);
    expect_code(&run(assay().args(["review", "import"]).args(&options).arg(&review).arg(&good)), 0);
    let output = run(assay().args(["review", "stats", "--format", "json"]).args(&options).arg(&review));
    expect_code(&output, 0);
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["verdicts"], 4);
    assert_eq!(report["reviewers"]["barış"]["items"], 1);
}

/// The verdict of `reviewer` on `item`, with a comment and a time.
fn verdict_at(item: &str, reviewer: &str, decision: &str, comment: &str, at: &str) -> Value {
    json!({"item": item, "reviewer": reviewer, "verdict": decision, "score": null, "tags": [], "comment": comment, "at": at})
}

#[test]
fn the_reviewers_decisions_on_a_quarantine_become_final_with_an_audit_trail() {
    use assay_review::apply::{Applied, AuditLine, DecidedBy};
    let dir = tempfile::tempdir().unwrap();
    let feedback = root().join("examples/feedback");
    let guarded = dir.path().join("guarded");
    let output = run(assay()
        .args(["guard", "-q", "--config"])
        .arg(feedback.join("assay.toml"))
        .arg("-o")
        .arg(&guarded)
        .arg(feedback.join("feedback.jsonl")));
    assert!(output.status.code() == Some(0), "{}", stderr(&output));
    let review = dir.path().join("quarantine");
    expect_code(&create(&["--reviewers", "ayşe,barış", "--per-item", "2"], &[&guarded], &review), 0);
    let held = items(&review);
    let id = |i: usize| held[i]["id"].as_str().unwrap().to_string();
    let (cleared, refused, split, early) = (id(0), id(1), id(2), id(3));
    // Ayşe first fails the first item, then changes her mind; both pass it.
    // Both fail the second; they split on the third; only Barış saw the fourth.
    let verdicts = [
        verdict_at(&cleared, "ayşe", "fail", "looks like a bot", "2026-12-01T10:00:00Z"),
        verdict_at(&cleared, "ayşe", "pass", "a real user after all", "2026-12-01T10:05:00Z"),
        verdict_at(&cleared, "barış", "pass", "", "2026-12-01T10:01:00Z"),
        verdict_at(&refused, "ayşe", "fail", "2+2=5", "2026-12-01T10:02:00Z"),
        verdict_at(&refused, "barış", "fail", "", "2026-12-01T10:03:00Z"),
        verdict_at(&split, "ayşe", "pass", "", "2026-12-01T10:04:00Z"),
        verdict_at(&split, "barış", "fail", "", "2026-12-01T10:04:00Z"),
        verdict_at(&early, "barış", "pass", "", "2026-12-01T10:06:00Z"),
    ];
    let file = jsonl(dir.path(), "verdicts.jsonl", &verdicts);
    expect_code(&run(assay().args(["review", "import"]).arg(&review).arg(&file)), 0);

    let out = dir.path().join("final");
    let output = run(assay().args(["review", "apply"]).arg(&review).arg("-o").arg(&out));
    expect_code(&output, 0);
    let applied: Applied = serde_json::from_str(&std::fs::read_to_string(out.join("applied.json")).unwrap()).unwrap();
    let outcome = &applied.runs["guarded"];
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(guarded.join("summary.json")).unwrap()).unwrap();
    let count = |key: &str| summary["counts"][key].as_u64().unwrap();
    assert_eq!(
        (outcome.accepted_by_guards, outcome.accepted_by_reviewers),
        (count("accepted"), 1),
        "{}",
        stdout(&output)
    );
    assert_eq!((outcome.rejected_by_guards, outcome.rejected_by_reviewers), (count("rejected"), 1));
    assert_eq!(outcome.quarantined, count("quarantined") - 2, "a split and a lone verdict decide nothing");
    // Every record is accounted for, in exactly one file, as written.
    let lines = |name: &str| -> Vec<String> {
        std::fs::read_to_string(out.join(name)).unwrap().lines().map(String::from).collect()
    };
    let (accepted, rejected, quarantined) =
        (lines("accepted.jsonl"), lines("rejected.jsonl"), lines("quarantined.jsonl"));
    assert_eq!((accepted.len() + rejected.len() + quarantined.len()) as u64, count("records"));
    let record_of = |i: usize| held[i]["record"].as_str().unwrap().to_string();
    assert!(accepted.contains(&record_of(0)) && !quarantined.contains(&record_of(0)));
    assert!(rejected.contains(&record_of(1)));
    assert!(quarantined.contains(&record_of(2)) && quarantined.contains(&record_of(3)));
    let mut all: Vec<String> = [accepted, rejected, quarantined].concat();
    let mut input: Vec<String> =
        std::fs::read_to_string(feedback.join("feedback.jsonl")).unwrap().lines().map(String::from).collect();
    all.sort();
    input.sort();
    assert_eq!(all, input, "the same records, none lost, none doubled");

    // The audit trail: who decided, when and why, every change included.
    let audit: Vec<AuditLine> = std::fs::read_to_string(out.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(audit.len() as u64, count("quarantined"), "a line per quarantined record");
    let first = audit.iter().find(|a| a.item == cleared).unwrap();
    assert_eq!((first.decided_by, first.pass, first.fail, first.assigned), (DecidedBy::Reviewers, 2, 0, 2));
    let trail: Vec<(&str, &str)> = first.history.iter().map(|c| (c.reviewer.as_str(), c.comment.as_str())).collect();
    assert_eq!(trail, [("ayşe", "looks like a bot"), ("ayşe", "a real user after all"), ("barış", "")]);
    assert!(!first.held_because.is_empty());
    let lone = audit.iter().find(|a| a.item == early).unwrap();
    assert_eq!((lone.decided_by, lone.pass), (DecidedBy::Undecided, 1));

    // Only a guard run's review is applied.
    let samples = review_of_four(dir.path());
    let output = run(assay().args(["review", "apply"]).arg(&samples).arg("-o").arg(dir.path().join("x")));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("only a guard run's quarantine is applied"), "{}", stderr(&output));
}

#[test]
fn verdicts_are_metrics_beside_the_automatic_ones_in_stats_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let review = review_of_four(dir.path());
    // q1, q2 and q3 decided by both; on q4 they split, so it has no majority.
    let verdicts = [
        verdict("q1", "ayşe", "pass", 5),
        verdict("q1", "barış", "pass", 4),
        verdict("q2", "ayşe", "fail", 1),
        verdict("q2", "barış", "fail", 2),
        verdict("q3", "ayşe", "pass", 4),
        verdict("q3", "barış", "pass", 4),
        verdict("q4", "ayşe", "pass", 3),
        verdict("q4", "barış", "fail", 2),
    ];
    let file = jsonl(dir.path(), "verdicts.jsonl", &verdicts);
    expect_code(&run(assay().args(["review", "import"]).arg(&review).arg(&file)), 0);
    let output = run(assay().args(["review", "stats", "--format", "json"]).arg(&review));
    expect_code(&output, 0);
    let stats: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let human = &stats["summary"]["run"];
    assert!((human["metrics"]["human/pass"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12, "{human}");
    assert_eq!(human["details"]["human/pass"]["count"], 3, "the tie has no majority");
    assert_eq!(human["metrics"]["human/pass[ayşe]"], 0.75);
    assert_eq!(human["metrics"]["human/pass[barış]"], 0.5);
    assert_eq!(human["metrics"]["human/score"], 3.125);

    let page = dir.path().join("report.html");
    let run_dir = dir.path().join("run");
    let output = run(assay().arg("report").arg(&run_dir).arg("--review").arg(&review).arg("-o").arg(&page));
    expect_code(&output, 0);
    let html = std::fs::read_to_string(&page).unwrap();
    let data = html.split("id=\"assay-data\">").nth(1).unwrap().split("</script>").next().unwrap();
    let data: Value = serde_json::from_str(data).unwrap();
    let summary = &data["runs"][0]["summary"];
    assert_eq!(summary["metrics"]["human/pass"], human["metrics"]["human/pass"]);
    assert!(summary["metrics"]["exact_match/exact_match"].is_number(), "beside the automatic metric");
    let q2 = data["runs"][0]["samples"].as_array().unwrap().iter().find(|s| s["id"] == "q2").unwrap();
    assert_eq!(q2["scores"]["human/pass"], 0.0);
    // A review of other runs is refused, not silently ignored.
    let other = tempfile::tempdir().unwrap();
    let other_run = other.path().join("other");
    std::fs::rename(judged_run(other.path()), &other_run).unwrap();
    let output = run(assay().arg("report").arg(&other_run).arg("--review").arg(&review).arg("-o").arg(&page));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("none of which is among the runs given"), "{}", stderr(&output));
}
