//! `assay serve`, driven through the real binary over HTTP: the same
//! decisions as `assay guard`, recalls delivered, nothing acknowledged lost
//! to SIGKILL, tokens, limits, malformed input and overload. Every answer
//! the tests get is checked against the checked-in OpenAPI document
//! ([`conforms`]): its status is documented for the route, its content
//! type is the documented one, and a JSON body fits the documented schema.

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use webdriver::{Answer, request};

/// A running `assay serve`, stopped on drop.
struct Server {
    child: Child,
    url: String,
    /// What it printed on stderr.
    said: Arc<Mutex<String>>,
    /// How many logged records it screened again at start.
    replayed: u64,
    /// How many records its log held at start.
    logged: u64,
    /// The last record of the snapshot it started from, if any.
    snapshot: Option<u64>,
}

impl Server {
    fn start(state: &Path, args: &[&str]) -> Server {
        let mut child = assay()
            .args(["serve", "--bind", "127.0.0.1:0", "--state"])
            .arg(state)
            .args(args)
            .current_dir(root())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let said = Arc::new(Mutex::new(String::new()));
        let mut listening = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            said.lock().unwrap().push_str(&format!("{line}\n"));
            // With --log-format json, the same words are the event's message.
            let line = match serde_json::from_str::<Value>(&line) {
                Ok(event) => format!("assay serve: {}", event["message"].as_str().unwrap_or_default()),
                Err(_) => line,
            };
            if let Some(rest) = line.strip_prefix("assay serve: listening on ") {
                listening = Some(rest.to_string());
                break;
            }
        }
        let Some(listening) = listening else { panic!("the server did not start: {}", said.lock().unwrap()) };
        // "URL (N logged records screened again[, from the snapshot at seq S]; M logged in all)"
        let (url, rest) = listening.split_once(" (").unwrap();
        let replayed = rest.split_whitespace().next().unwrap().parse().unwrap();
        let logged = rest.rsplit("; ").next().unwrap().split_whitespace().next().unwrap().parse().unwrap();
        let snapshot = rest
            .split_once("from the snapshot at seq ")
            .map(|(_, seq)| seq.split(';').next().unwrap().parse().unwrap());
        let kept = said.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Server { child, url: url.to_string(), said, replayed, logged, snapshot }
    }

    fn post(&self, body: &Value, token: Option<&str>) -> Answer {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        request("POST", &format!("{}/v1/feedback", self.url), &headers, &body.to_string()).unwrap()
    }

    fn recalls(&self, after: u64, wait: u64) -> Value {
        let answer = request("GET", &format!("{}/v1/recalls?after={after}&wait={wait}", self.url), &[], "").unwrap();
        conforms(&answer, "get", "/v1/recalls");
        assert_eq!(answer.status, 200, "{}", answer.body);
        serde_json::from_str(&answer.body).unwrap()
    }

    /// SIGTERM, and the exit status once it drained.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let said = self.said.lock().unwrap().clone();
        (status, said)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Posts `records` in requests of varied sizes, one after another (so the
/// order is theirs); returns each record's decision, and how many requests.
fn post_in_varied_sizes(server: &Server, records: &[Value]) -> (Vec<Value>, u64) {
    let mut online = Vec::new();
    let mut sizes = [1, 7, 30, 3, 64, 2, 11].into_iter().cycle();
    let mut rest = records;
    let mut posts = 0;
    while !rest.is_empty() {
        posts += 1;
        let (sent, later) = rest.split_at(sizes.next().unwrap().min(rest.len()));
        let body = if sent.len() == 1 { sent[0].clone() } else { Value::Array(sent.to_vec()) };
        online.extend(decisions_of(&server.post(&body, None)));
        rest = later;
    }
    (online, posts)
}

/// Recalls `assay guard` made, by record id and guard: where to, their
/// outcome, and the record's final decision.
type Recalled = BTreeMap<(String, String), (Value, Value, Value)>;

/// Checks the service's answers against `assay guard`'s decisions on the
/// same records in the same order: the same decisions and reasons before
/// recalls. Returns the recalls offline.
fn assert_online_is_offline(online: &[Value], offline: &[Value]) -> Recalled {
    assert_eq!(online.len(), offline.len());
    let mut recalled = BTreeMap::new();
    for (seq, (on, off)) in online.iter().zip(offline).enumerate() {
        assert_eq!(on["id"], off["id"]);
        assert_eq!(on["line"], seq + 1, "line is the record's place in the service's log");
        for (guard, entry) in off["guards"].as_object().unwrap() {
            // Offline, a guard's decision is the one after its recalls.
            let first = entry["recalls"][0]["from"].as_str().map_or(entry["decision"].clone(), |f| json!(f));
            assert_eq!(on["guards"][guard]["decision"], first, "{} {guard}", off["id"]);
            assert_eq!(on["guards"][guard]["reason"], entry["reason"], "{} {guard}", off["id"]);
            if let Some(recalls) = entry["recalls"].as_array() {
                for recall in recalls {
                    let key = (off["id"].as_str().unwrap().to_string(), guard.clone());
                    recalled.insert(key, (recall["to"].clone(), recall["outcome"].clone(), off["decision"].clone()));
                }
            }
        }
        let first = off["recalled_from"].as_str().map_or(off["decision"].clone(), |f| json!(f));
        assert_eq!(on["decision"], first, "{}", off["id"]);
    }
    recalled
}

/// The recall feed's events, as [`Recalled`] keys them.
fn recalled_online(events: &[Value]) -> Recalled {
    events
        .iter()
        .map(|e| {
            let key = (e["id"].as_str().unwrap().to_string(), e["guard"].as_str().unwrap().to_string());
            (key, (e["to"].clone(), e["outcome"].clone(), e["decision"].clone()))
        })
        .collect()
}

/// `assay guard`'s decisions on the example feedback.
fn offline_decisions(dir: &Path) -> Vec<Value> {
    let feedback = root().join("examples/feedback/feedback.jsonl");
    let offline = dir.join("offline");
    let output = run(assay()
        .arg("guard")
        .arg(&feedback)
        .args(["--config", "examples/feedback/assay.toml", "-o"])
        .arg(&offline)
        .current_dir(root()));
    expect_code(&output, 0);
    read_jsonl(&offline.join("decisions.jsonl"))
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// Checks `answer` to `method route` against `host/crates/serve/openapi.json`.
fn conforms(answer: &Answer, method: &str, route: &str) {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    let document = DOCUMENT.get_or_init(|| {
        serde_json::from_str(&std::fs::read_to_string(root().join("host/crates/serve/openapi.json")).unwrap()).unwrap()
    });
    let path = format!("/paths/{}/{method}/responses/{}", route.replace('/', "~1"), answer.status);
    let Some(documented) = document.pointer(&path) else {
        panic!("{method} {route} answered {}, which openapi.json does not document: {}", answer.status, answer.body)
    };
    let content_type = answer
        .head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_string))
        .unwrap_or_default();
    let Some(types) = documented["content"].as_object() else {
        // The document promises no body shape (the layers' own refusals).
        return;
    };
    let media = types.keys().find(|t| content_type.starts_with(t.as_str())).unwrap_or_else(|| {
        panic!("{method} {route} {}: content type {content_type:?}, documented {:?}", answer.status, types.keys())
    });
    if media != "application/json" {
        return;
    }
    // The document is the schema's root, so its `#/components/...`
    // references resolve; the answer's schema is reached through `$ref`.
    let mut schema = document.clone();
    schema["$ref"] = json!(format!("#{path}/content/application~1json/schema"));
    let validator = jsonschema::options().with_draft(jsonschema::Draft::Draft202012).build(&schema).unwrap();
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    let errors: Vec<String> = validator.iter_errors(&body).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{method} {route} {}: {errors:?}\n{}", answer.status, answer.body);
}

fn decisions_of(answer: &Answer) -> Vec<Value> {
    conforms(answer, "post", "/v1/feedback");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    body["decisions"].as_array().unwrap().clone()
}

#[test]
fn online_decisions_and_recalls_are_those_of_assay_guard_on_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let config = ["--config", "examples/feedback/assay.toml"];
    let offline = offline_decisions(dir.path());
    let records = read_jsonl(&root().join("examples/feedback/feedback.jsonl"));

    let state = dir.path().join("state");
    let server = Server::start(&state, &config);
    assert_eq!(server.replayed, 0);
    let (online, posts) = post_in_varied_sizes(&server, &records);
    let recalled = assert_online_is_offline(&online, &offline);
    assert_eq!(recalled.len(), 8, "flood recalls two campaigns' first four records");

    // The recalls, as a consumer reads them: the same as offline.
    let feed = server.recalls(0, 0);
    let events = feed["recalls"].as_array().unwrap();
    assert_eq!(recalled_online(events), recalled);
    assert_eq!(feed["next"], events.len());
    let numbers: Vec<u64> = events.iter().map(|e| e["n"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (1..=events.len() as u64).collect::<Vec<_>>());
    let moved: BTreeSet<&str> =
        events.iter().filter(|e| e["recalled_from"] == "accept").map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(moved, BTreeSet::from(["fb-235", "fb-236", "fb-237", "fb-238"]));
    assert_eq!(server.recalls(4, 0)["recalls"].as_array().unwrap().len(), events.len() - 4);

    // What an operator scrapes: the first decisions, recalls by outcome, requests by route.
    let metrics = request("GET", &format!("{}/metrics", server.url), &[], "").unwrap();
    assert_eq!(metrics.status, 200);
    let count = |series: &str| -> u64 {
        let line = metrics
            .body
            .lines()
            .find(|l| l.starts_with(series))
            .unwrap_or_else(|| panic!("no {series}:\n{}", metrics.body));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(count(r#"assay_serve_records_total{decision="accept"}"#), 216, "answered before the recalls");
    assert_eq!(count(r#"assay_serve_verdicts_total{guard="flood",verdict="quarantine"}"#), 13);
    assert_eq!(count(r#"assay_serve_recalls_total{guard="flood",outcome="applied"}"#), 8);
    assert_eq!(count(r#"assay_serve_requests_total{route="/v1/feedback",status="200"}"#), posts);
    assert_eq!(count(r#"assay_serve_request_seconds_count{route="/v1/feedback"}"#), posts);
    assert_eq!(count(r#"assay_serve_request_seconds_bucket{le="+Inf",route="/v1/feedback"}"#), posts);
    assert!(count("assay_serve_log_bytes") > 50_000);

    // SIGTERM drains; a restart screens the log again and carries on.
    let (status, said) = server.stop();
    assert!(status.success(), "{said}");
    assert!(said.contains("stopped; every answered record is in the log"), "{said}");
    assert_eq!(read_jsonl(&state.join("decisions.jsonl")).len(), 269);
    let server = Server::start(&state, &config);
    assert_eq!((server.replayed, server.logged, server.snapshot), (269, 269, None));
    assert_eq!(server.recalls(0, 0)["recalls"], feed["recalls"], "the feed is rebuilt as it was");
    let again = decisions_of(&server.post(&records[0], None));
    assert_eq!(again[0]["line"], 270);
    // The same user again: the rebuilt state remembers the first time.
    assert_eq!(again[0]["guards"], online[0]["guards"]);
}

#[test]
fn a_long_poll_returns_when_a_recall_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("assay.toml");
    std::fs::write(&config, "[plugins.flood]\nsource = \"flood\"\nconfig = { campaign_users = 2 }\n").unwrap();
    let server = Server::start(&dir.path().join("state"), &["--config", config.to_str().unwrap()]);
    let campaign = |id: &str, user: &str| json!({"id": id, "user": user, "prompt": "Capital of Australia?", "output": "Canberra", "correction": "Sydney"});
    assert_eq!(decisions_of(&server.post(&campaign("c1", "u1"), None))[0]["decision"], "accept");
    let url = server.url.clone();
    let poll = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let answer = request("GET", &format!("{url}/v1/recalls?after=0&wait=30"), &[], "").unwrap();
        (answer, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(decisions_of(&server.post(&campaign("c2", "u2"), None))[0]["decision"], "quarantine");
    let (answer, waited) = poll.join().unwrap();
    assert!(waited < Duration::from_secs(20), "the poll returned when the recall came, after {waited:?}");
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    let event = &body["recalls"][0];
    assert_eq!(
        (event["id"].as_str(), event["seq"].as_u64(), event["after_seq"].as_u64()),
        (Some("c1"), Some(1), Some(2))
    );
    assert_eq!((event["outcome"].as_str(), event["decision"].as_str()), (Some("applied"), Some("quarantine")));
    assert_eq!(event["recalled_from"], "accept");
    assert_eq!(body["next"], 1);
}

#[test]
fn what_is_kept_for_recalls_is_bounded_and_says_what_fell_out() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("assay.toml");
    std::fs::write(&config, "[plugins.flood]\nsource = \"flood\"\nconfig = { campaign_users = 3 }\n").unwrap();
    let server = Server::start(
        &dir.path().join("state"),
        &["--config", config.to_str().unwrap(), "--recall-window", "4", "--recall-events", "1"],
    );
    let campaign = |id: &str, user: &str| json!({"id": id, "user": user, "prompt": "Capital of Australia?", "output": "Canberra", "correction": "Sydney"});
    let other = |id: &str| json!({"id": id, "user": "honest", "prompt": "2+2?", "output": "4"});
    // c1 and c2 were accepted; when the campaign shows at c3 (record 5),
    // the window of four holds records 2 to 5: c2, not c1.
    for body in [campaign("c1", "u1"), campaign("c2", "u2"), other("o1"), other("o2")] {
        assert_eq!(decisions_of(&server.post(&body, None))[0]["decision"], "accept");
    }
    assert_eq!(decisions_of(&server.post(&campaign("c3", "u3"), None))[0]["decision"], "quarantine");
    let events = read_jsonl(&dir.path().join("state/recalls.jsonl"));
    let seen: Vec<(&str, &str, Option<u64>)> =
        events.iter().map(|e| (e["id"].as_str().unwrap(), e["outcome"].as_str().unwrap(), e["seq"].as_u64())).collect();
    assert_eq!(seen, [("c1", "refused", None), ("c2", "applied", Some(2))], "{events:?}");
    // The feed keeps one event: a reader from the start is told it missed one.
    let page = server.recalls(0, 0);
    assert_eq!((page["missed"].as_u64(), page["next"].as_u64()), (Some(1), Some(2)), "{page}");
    assert_eq!(page["recalls"][0]["id"], "c2");
    assert!(server.recalls(1, 0).get("missed").is_none());
}

#[test]
fn acknowledged_records_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let guards = ["-g", "arithmetic", "-g", "flood", "-g", "injection"];
    let server = Server::start(&state, &guards);
    let acknowledged = Arc::new(Mutex::new(BTreeMap::new()));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (url, acknowledged) = (server.url.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                for n in 0.. {
                    let size = 1 + (n + client) % 5;
                    let records: Vec<Value> = (0..size)
                        .map(|k| {
                            let id = format!("c{client}-{n}-{k}");
                            json!({"id": id, "user": format!("u{client}"), "prompt": "What is 2+2?", "output": "4", "comment": if k % 3 == 0 { "2+2=5" } else { "thanks" }})
                        })
                        .collect();
                    let body = Value::Array(records).to_string();
                    let headers = [("Content-Type", "application/json")];
                    match request("POST", &format!("{url}/v1/feedback"), &headers, &body) {
                        Ok(answer) if answer.status == 200 => {
                            let body: Value = serde_json::from_str(&answer.body).unwrap();
                            let mut acknowledged = acknowledged.lock().unwrap();
                            for decision in body["decisions"].as_array().unwrap() {
                                acknowledged.insert(decision["id"].as_str().unwrap().to_string(), decision.clone());
                            }
                        }
                        Ok(answer) => panic!("{}: {}", answer.status, answer.body),
                        Err(_) => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL, under load
    server.child.wait().unwrap();
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 20, "only {} records were acknowledged", acknowledged.len());

    let server = Server::start(&state, &guards);
    assert!(server.replayed >= acknowledged.len() as u64, "{} < {}", server.replayed, acknowledged.len());
    let replayed: BTreeMap<String, Value> = read_jsonl(&state.join("decisions.jsonl"))
        .into_iter()
        .map(|d| (d["id"].as_str().unwrap().to_string(), d))
        .collect();
    for (id, answered) in &acknowledged {
        let again = replayed.get(id).unwrap_or_else(|| panic!("{id} was acknowledged, then lost"));
        assert_eq!(again["guards"], answered["guards"], "{id}: replay decides as the service did");
        assert_eq!(again["line"], answered["line"], "{id}");
    }
    let next = decisions_of(&server.post(&json!({"id": "after", "output": "x"}), None));
    assert_eq!(next[0]["line"], server.logged + 1);
}

#[test]
fn a_restart_continues_from_a_snapshot_and_old_segments_go() {
    let dir = tempfile::tempdir().unwrap();
    let offline = offline_decisions(dir.path());
    let records = read_jsonl(&root().join("examples/feedback/feedback.jsonl"));
    let state = dir.path().join("state");
    // About 200 bytes a record: a segment, and a snapshot, every 60 or so.
    let args = ["--config", "examples/feedback/assay.toml", "--segment-bytes", "12000", "--keep-segments", "1"];

    // Three lives: killed after 120 records, stopped after 236 (in the
    // middle of a campaign flood recalls once it shows), then to the end.
    let server = Server::start(&state, &args);
    let (mut online, _) = post_in_varied_sizes(&server, &records[..120]);
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let server = Server::start(&state, &args);
    let snapshot = server.snapshot.expect("a snapshot was taken");
    assert_eq!(server.logged, 120);
    assert_eq!(server.replayed, 120 - snapshot, "only what came after the snapshot is screened again");
    assert!(server.replayed < 100, "{}", server.replayed);
    online.extend(post_in_varied_sizes(&server, &records[120..236]).0);
    let metrics = request("GET", &format!("{}/metrics", server.url), &[], "").unwrap();
    assert!(metrics.body.contains(r#"assay_serve_snapshots_total{outcome="taken"}"#), "{}", metrics.body);
    assert!(!metrics.body.contains(r#"outcome="failed""#), "{}", metrics.body);
    let (status, said) = server.stop();
    assert!(status.success(), "{said}");
    let server = Server::start(&state, &args);
    assert!(server.snapshot.unwrap() > snapshot);
    assert_eq!(server.logged, 236);
    online.extend(post_in_varied_sizes(&server, &records[236..]).0);

    // Every answer, recall and decision as one `assay guard` run gives them.
    let recalled = assert_online_is_offline(&online, &offline);
    assert_eq!(recalled.len(), 8, "flood recalls two campaigns' first four records");
    let feed = server.recalls(0, 0);
    let events = feed["recalls"].as_array().unwrap();
    assert_eq!(recalled_online(events), recalled);
    let numbers: Vec<u64> = events.iter().map(|e| e["n"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (1..=events.len() as u64).collect::<Vec<_>>(), "numbered on across restarts");
    let written = read_jsonl(&state.join("decisions.jsonl"));
    assert_eq!(written.len(), 269, "decisions.jsonl is whole: cut back to each snapshot and written on");
    for (k, (written, answered)) in written.iter().zip(&online).enumerate() {
        assert_eq!((&written["line"], &written["guards"]), (&json!(k + 1), &answered["guards"]));
    }
    assert_eq!(read_jsonl(&state.join("recalls.jsonl")), *events);

    // What a snapshot covers is deleted but for one segment; one snapshot is kept.
    let segments = names_in(&state.join("log"));
    assert!(!segments.contains(&"00000000000000000001.wal".to_string()), "{segments:?}");
    assert!(segments.len() <= 3, "{segments:?}");
    assert_eq!(names_in(&state.join("snapshots")).len(), 1);
    let (status, said) = server.stop();
    assert!(status.success(), "{said}");

    // Other guards cannot continue from the snapshot, and the log no longer
    // reaches back to the start: refused, naming both.
    let output = run(assay()
        .args(["serve", "--bind", "127.0.0.1:0", "-g", "arithmetic", "--state"])
        .arg(&state)
        .current_dir(root()));
    assert!(!output.status.success());
    let said = stderr(&output);
    assert!(said.contains("was taken with other guards or settings"), "{said}");
    assert!(said.contains("the log holds records from seq"), "{said}");
}

#[test]
fn the_log_is_json_lines_with_each_event_s_fields_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let server = Server::start(&state, &["-g", "arithmetic", "--log-format", "json", "--log-level", "debug"]);
    assert_eq!(server.replayed, 0);
    decisions_of(&server.post(&json!({"id": "a", "comment": "2+2=5"}), None));
    let bad = server.post(&json!({"id": "b", "rating": "sideways"}), None);
    assert_eq!(bad.status, 400);
    let (status, said) = server.stop();
    assert!(status.success(), "{said}");
    let events: Vec<Value> =
        said.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let of = |name: &str| events.iter().filter(|e| e["event"] == name).cloned().collect::<Vec<_>>();
    // Only the service's own events: none of the engine's.
    let ours = |e: &Value| e["target"].as_str().is_some_and(|t| t.starts_with("assay_serve"));
    assert!(events.iter().all(|e| ours(e) && e["timestamp"].is_string()), "{said}");
    let listening = &of("listening")[0];
    assert_eq!(
        (&listening["level"], &listening["logged"], &listening["replayed"]),
        (&json!("INFO"), &json!(0), &json!(0))
    );
    assert!(listening["url"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{listening}");
    let requests = of("request");
    let answered: Vec<(&Value, &Value, &Value)> =
        requests.iter().map(|r| (&r["method"], &r["route"], &r["status"])).collect();
    assert_eq!(
        answered,
        [(&json!("POST"), &json!("/v1/feedback"), &json!(200)), (&json!("POST"), &json!("/v1/feedback"), &json!(400))]
    );
    assert!(requests.iter().all(|r| r["level"] == "DEBUG" && r["micros"].is_u64()), "{requests:?}");
    let refused = &of("refused")[0];
    assert_eq!((&refused["level"], &refused["status"]), (&json!("INFO"), &json!(400)));
    assert!(refused["reason"].as_str().unwrap().contains(r#"field "rating""#), "{refused}");
    assert_eq!(of("stopped").len(), 1);

    // At the default level, requests that went well are not logged.
    let server = Server::start(&state, &["-g", "arithmetic", "--log-format", "json"]);
    decisions_of(&server.post(&json!({"id": "c"}), None));
    let (_, said) = server.stop();
    assert!(!said.contains(r#""event":"request""#), "{said}");
    assert!(said.contains(r#""event":"listening""#), "{said}");
}

#[test]
fn a_bad_logged_record_is_named_by_its_segment_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("state/log");
    std::fs::create_dir_all(&log).unwrap();
    let entries = [
        r#"{"seq":1,"batch":1,"record":{"id":"a","rating":"up"}}"#,
        r#"{"seq":2,"batch":1,"record":{"id":"b","rating":"sideways"}}"#,
    ];
    std::fs::write(log.join("00000000000000000001.wal"), entries.join("\n") + "\n").unwrap();
    let output = run(assay()
        .args(["serve", "--bind", "127.0.0.1:0", "-g", "arithmetic", "--state"])
        .arg(dir.path().join("state")));
    assert!(!output.status.success());
    let said = stderr(&output);
    assert!(said.contains("00000000000000000001.wal:2: not an entry of the feedback log: field \"rating\""), "{said}");
}

#[test]
fn a_guard_that_cannot_save_keeps_the_log_whole() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // trap_guard keeps state (it counts what it saw) and does not save it.
    let args = ["-g", artifacts::TRAP_GUARD, "--segment-bytes", "300", "--keep-segments", "0"];
    let server = Server::start(&state, &args);
    for n in 0..6 {
        let body = Value::Array((0..3).map(|k| json!({"id": format!("r{n}-{k}"), "comment": "ok"})).collect());
        decisions_of(&server.post(&body, None));
    }
    let (status, said) = server.stop();
    assert!(status.success(), "{said}");
    assert!(said.contains("no snapshot at seq"), "{said}");
    assert!(said.contains("trap_guard keeps state across records and cannot save it"), "{said}");
    let segments = names_in(&state.join("log"));
    assert!(segments.len() > 2 && segments[0] == "00000000000000000001.wal", "{segments:?}");
    let server = Server::start(&state, &args);
    assert_eq!((server.replayed, server.snapshot), (18, None), "the whole log is screened again");
    let next = decisions_of(&server.post(&json!({"id": "next", "comment": "ok"}), None));
    assert_eq!(next[0]["guards"]["trap_guard"]["reason"], "seen 19", "the state is rebuilt from the whole log");
}

#[test]
fn tokens_limits_malformed_input_and_overload() {
    let dir = tempfile::tempdir().unwrap();
    let digest = {
        use sha2::Digest as _;
        let bytes = sha2::Sha256::digest(b"good-token");
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let config = dir.path().join("assay.toml");
    std::fs::write(
        &config,
        format!(
            "[serve]\ntokens = [\"sha256:{digest}\"]\nmax_body_bytes = 2000\nqueue = 1\nmax_batch = 1\n\n\
             [plugins.trap_guard]\nsource = {:?}\n",
            artifacts::TRAP_GUARD
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let server = Server::start(&state, &["--config", config.to_str().unwrap()]);
    let record = |id: &str, comment: &str| json!({"id": id, "output": "x", "comment": comment});

    let refused = server.post(&record("a", "ok"), None);
    conforms(&refused, "post", "/v1/feedback");
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(refused.head.contains("www-authenticate: bearer"), "{}", refused.head);
    assert_eq!(server.post(&record("a", "ok"), Some("bad-token")).status, 401);
    assert_eq!(decisions_of(&server.post(&record("a", "ok"), Some("good-token")))[0]["decision"], "accept");
    let health = request("GET", &format!("{}/healthz", server.url), &[], "").unwrap();
    conforms(&health, "get", "/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let ready = request("GET", &format!("{}/readyz", server.url), &[], "").unwrap();
    conforms(&ready, "get", "/readyz");
    assert_eq!(ready.status, 200);
    let feed = request("GET", &format!("{}/v1/recalls?after=0", server.url), &[], "").unwrap();
    conforms(&feed, "get", "/v1/recalls");
    assert_eq!(feed.status, 401, "the feed needs a token too");
    let metrics = request("GET", &format!("{}/metrics", server.url), &[], "").unwrap();
    conforms(&metrics, "get", "/metrics");
    assert_eq!(metrics.status, 401);
    let openapi = request("GET", &format!("{}/openapi.json", server.url), &[], "").unwrap();
    conforms(&openapi, "get", "/openapi.json");
    assert_eq!(openapi.status, 200, "the API's description needs no token");
    let openapi: Value = serde_json::from_str(&openapi.body).unwrap();
    assert!(openapi["paths"]["/v1/feedback"]["post"].is_object());

    let big = server.post(&record("b", &"x".repeat(3000)), Some("good-token"));
    conforms(&big, "post", "/v1/feedback");
    assert_eq!(big.status, 413);
    let headers = [("Authorization", "Bearer good-token")];
    let url = format!("{}/v1/feedback", server.url);
    let broken = request("POST", &url, &headers, "{\"id\": \"c\", ").unwrap();
    conforms(&broken, "post", "/v1/feedback");
    assert_eq!(broken.status, 400);
    assert!(broken.body.contains("the body is not JSON"), "{}", broken.body);
    let bad_field = server.post(&json!([record("d", "ok"), {"id": "e", "rating": "sideways"}]), Some("good-token"));
    conforms(&bad_field, "post", "/v1/feedback");
    assert_eq!(bad_field.status, 400);
    assert!(bad_field.body.contains(r#"record 2: field \"rating\""#), "{}", bad_field.body);
    let malformed = read_jsonl(&state.join("malformed.jsonl"));
    assert_eq!(malformed.len(), 2, "malformed requests are logged, not dropped");
    assert!(malformed[1]["body"].as_str().unwrap().contains("sideways"));

    // One slow request keeps the intake busy, one waits in the queue of
    // one, and the next is turned away with Retry-After instead of queueing.
    let slow = Value::Array((0..4).map(|i| record(&format!("slow{i}"), "SLOW")).collect());
    let busy = {
        let (url, body) = (url.clone(), slow.to_string());
        std::thread::spawn(move || request("POST", &url, &[("Authorization", "Bearer good-token")], &body).unwrap())
    };
    std::thread::sleep(Duration::from_millis(150));
    let waiting = {
        let (url, body) = (url.clone(), record("w", "ok").to_string());
        std::thread::spawn(move || request("POST", &url, &[("Authorization", "Bearer good-token")], &body).unwrap())
    };
    std::thread::sleep(Duration::from_millis(100));
    let turned_away = server.post(&record("t", "ok"), Some("good-token"));
    conforms(&turned_away, "post", "/v1/feedback");
    assert_eq!(turned_away.status, 503, "{}", turned_away.body);
    assert!(turned_away.head.contains("retry-after: 1"), "{}", turned_away.head);
    assert_eq!(decisions_of(&busy.join().unwrap()).len(), 4);
    assert_eq!(decisions_of(&waiting.join().unwrap())[0]["id"], "w");

    // Without tokens, only loopback.
    let output =
        run(assay().args(["serve", "-g", "arithmetic", "--bind", "0.0.0.0:0", "--state"]).arg(dir.path().join("open")));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("[serve] tokens is empty"), "{}", stderr(&output));
}

#[test]
fn each_token_has_its_rate_and_a_slow_client_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let digest = |token: &str| {
        use sha2::Digest as _;
        sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let config = dir.path().join("assay.toml");
    std::fs::write(
        &config,
        format!(
            "[serve]\ntokens = [\"sha256:{}\", \"sha256:{}\"]\nrate_limit = 2\nrequest_timeout_ms = 500\n\n\
             [plugins.arithmetic]\nsource = \"arithmetic\"\n",
            digest("team-a"),
            digest("team-b")
        ),
    )
    .unwrap();
    let server = Server::start(&dir.path().join("state"), &["--config", config.to_str().unwrap()]);
    let record = json!({"id": "r", "output": "4"});
    assert_eq!(server.post(&record, Some("team-a")).status, 200);
    assert_eq!(server.post(&record, Some("team-a")).status, 200);
    let limited = server.post(&record, Some("team-a"));
    conforms(&limited, "post", "/v1/feedback");
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.head.contains("retry-after: 1"), "{}", limited.head);
    assert_eq!(server.post(&record, Some("team-b")).status, 200, "another token has a budget of its own");

    // A body announced but sent too slowly: the service answers 408 and
    // frees the connection rather than waiting.
    use std::io::{Read, Write};
    let address = server.url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /v1/feedback HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer team-b\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"id\":"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let started = std::time::Instant::now();
    let mut answer = vec![0u8; 12];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(String::from_utf8_lossy(&answer), "HTTP/1.1 408");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn evaluate_scores_samples_as_assay_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let eval = root().join("examples/eval/qa.jsonl");
    let config = dir.path().join("assay.toml");
    let mut text = std::fs::read_to_string(root().join("examples/eval/assay.toml")).unwrap();
    text.push_str("\n[plugins.bleu]\nsource = \"bleu\"\n\n[plugins.rouge]\nsource = \"rouge\"\n");
    std::fs::write(&config, text).unwrap();
    let offline = dir.path().join("offline");
    let output = run(assay().arg("run").arg(&eval).arg("--config").arg(&config).arg("-o").arg(&offline).arg("-q"));
    expect_code(&output, 0);
    let expected = read_jsonl(&offline.join("samples.jsonl"));

    let server = Server::start(&dir.path().join("state"), &["--config", config.to_str().unwrap()]);
    let samples = read_jsonl(&eval);
    let url = format!("{}/v1/evaluate", server.url);
    let mut scored = Vec::new();
    for part in samples.chunks(7) {
        let answer = request("POST", &url, &[], &Value::Array(part.to_vec()).to_string()).unwrap();
        conforms(&answer, "post", "/v1/evaluate");
        assert_eq!(answer.status, 200, "{}", answer.body);
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        scored.extend(body["samples"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(scored, expected, "the same lines as samples.jsonl");

    let bad = request("POST", &url, &[], &json!([samples[0], {"id": "x"}]).to_string()).unwrap();
    conforms(&bad, "post", "/v1/evaluate");
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("record 2: missing field \\\"output\\\""), "{}", bad.body);
    // Feedback still goes to the guards of the same config: none here, so all pass.
    let feedback = decisions_of(&server.post(&json!({"id": "f", "output": "x"}), None));
    assert_eq!(feedback[0]["decision"], "accept");
}

#[test]
fn with_a_certificate_and_key_it_serves_https_only() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed (.ci/run installs it)");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let tls = ["-g", "arithmetic", "--tls-certificate", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
    let server = Server::start(&dir.path().join("state"), &tls);
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    let curl = |args: &[&str]| {
        let output = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&cert)
            .args(args)
            .output()
            .expect("curl is installed (.ci/run installs it)");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(curl(&[&format!("{}/healthz", server.url)]), "ok\n");
    let answer = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"id":"t1","output":"4","correction":"2+2=5"}"#,
        &format!("{}/v1/feedback", server.url),
    ]);
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["decisions"][0]["decision"], "reject");
    // Plain HTTP on the same port gets no answer.
    let plain = server.url.replace("https://", "http://");
    assert!(request("GET", &format!("{plain}/healthz"), &[], "").is_err());
    assert_eq!(curl(&[&format!("{}/healthz", server.url)]), "ok\n", "a failed handshake does not stop the listener");
}
