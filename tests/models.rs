//! Plugins that ask language models, through the real binary, against a
//! fake model server on loopback (`common/fake_model.rs`): grants, the
//! cache and replay, the budget, keys that are never written, and model
//! waiting kept off the plugin's deadline.

mod common;
#[path = "common/fake_model.rs"]
mod fake_model;

use std::path::{Path, PathBuf};

use common::*;
use fake_model::{FakeModel, KEY};
use serde_json::{Value, json};

/// Outputs of the eval set; the fake model echoes each one back.
const OUTPUTS: &[&str] = &["Paris", "İstanbul'da ılık bir gün", "東京は晴れ", "2+2=4", "Lyon", "a slogan"];

struct World {
    dir: tempfile::TempDir,
    fake: FakeModel,
}

impl World {
    fn new() -> World {
        World { dir: tempfile::tempdir().unwrap(), fake: FakeModel::start() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn eval_set(&self, outputs: &[&str]) -> PathBuf {
        let lines: Vec<Value> = outputs.iter().enumerate().map(|(i, o)| json!({"id": i, "output": o})).collect();
        jsonl(self.dir.path(), "eval.jsonl", &lines)
    }

    /// A config granting `probe` the models in `grants`, each plugin call
    /// under a 200 ms deadline.
    fn config(&self, grants: &str) -> PathBuf {
        let config = format!(
            "[models.grader]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"fake-judge-1\"\n\
             api_key_env = \"ASSAY_TEST_MODEL_KEY\"\nprice = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}\n\n\
             [plugins.probe]\nsource = {:?}\nmodels = {grants}\nconfig = {{ model = \"grader\" }}\n\
             limits = {{ timeout_ms = 200 }}\n",
            self.fake.base_url(),
            artifacts::MODEL_PROBE
        );
        let path = self.path("assay.toml");
        std::fs::write(&path, config).unwrap();
        path
    }

    /// `assay run` with the model key in its environment, into `out`.
    fn run(&self, eval_set: &Path, out: &str, extra: &[&str]) -> std::process::Output {
        run(assay()
            .arg("run")
            .arg(eval_set)
            .arg("--config")
            .arg(self.path("assay.toml"))
            .args(["--cache-dir", self.path("cache").to_str().unwrap(), "-o", out])
            .args(extra)
            .env("ASSAY_TEST_MODEL_KEY", KEY)
            .current_dir(self.dir.path()))
    }

    fn samples(&self, out: &str) -> String {
        std::fs::read_to_string(self.path(out).join("samples.jsonl")).unwrap()
    }

    fn summary(&self, out: &str) -> Value {
        read_json(&self.path(out).join("summary.json"))
    }
}

fn errors(samples: &str) -> Vec<String> {
    samples
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|s| s["errors"]["probe"]["message"].as_str().map(String::from))
        .collect()
}

#[test]
fn a_granted_plugin_asks_once_and_reruns_and_replays_come_from_the_cache() {
    let world = World::new();
    world.config(r#"["grader"]"#);
    let eval = world.eval_set(OUTPUTS);
    // Each answer takes longer than the plugin's whole 200 ms deadline:
    // waiting for a model is not the plugin's time.
    *world.fake.latency.lock().unwrap() = std::time::Duration::from_millis(400);
    let first = world.run(&eval, "first", &[]);
    expect_code(&first, 0);
    let summary = world.summary("first");
    assert_eq!(summary["metrics"]["probe/agrees"], json!(1.0), "{summary}");
    let usage = &summary["run"]["models"]["grader"];
    assert_eq!(usage["requests"], 6, "{usage}");
    assert_eq!(usage["cache_hits"], 0);
    assert!(usage["cost"].as_f64().unwrap() > 0.0, "{usage}");
    assert_eq!(world.fake.requests().len(), 6);
    assert!(
        world.fake.requests().iter().all(|r| r.head.to_ascii_lowercase().contains("authorization: bearer sk-test")),
        "the host sends the key"
    );

    let second = world.run(&eval, "second", &[]);
    expect_code(&second, 0);
    assert_eq!(world.fake.requests().len(), 6, "a rerun makes no request");
    assert_eq!(world.samples("second"), world.samples("first"), "and writes the same samples");
    assert_eq!(world.summary("second")["run"]["models"]["grader"]["cache_hits"], 6);

    // Replay: no network at all, the same samples; a sample never judged fails.
    let replayed = world.run(&eval, "replayed", &["--replay"]);
    expect_code(&replayed, 0);
    assert_eq!(world.samples("replayed"), world.samples("first"));
    let novel = world.eval_set(&["never judged"]);
    let missed = world.run(&novel, "missed", &["--replay"]);
    expect_code(&missed, 3);
    assert_eq!(errors(&world.samples("missed")), ["not-cached"]);
    assert_eq!(world.fake.requests().len(), 6, "--replay uses no network");

    // The key is in no file the runs wrote, and in nothing they printed.
    for output in [&first, &second, &replayed, &missed] {
        assert!(!stdout(output).contains(KEY) && !stderr(output).contains(KEY));
    }
    for file in fake_model::files_under(world.dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(KEY), "{} holds the key", file.display());
    }
}

#[test]
fn without_a_grant_every_request_is_refused_counted_and_never_sent() {
    let world = World::new();
    world.config("[]");
    let eval = world.eval_set(&OUTPUTS[..3]);
    let output = world.run(&eval, "out", &[]);
    expect_code(&output, 3);
    assert_eq!(errors(&world.samples("out")), vec!["not-granted: grader"; 3]);
    assert_eq!(world.summary("out")["run"]["models"]["grader"]["denied"], 3);
    assert!(world.fake.requests().is_empty());

    // `assay inspect` says what the import gives, and what grants more.
    let inspected = run(assay().arg("inspect").arg(artifacts::MODEL_PROBE));
    expect_code(&inspected, 0);
    let text = stdout(&inspected);
    let line = text.lines().find(|l| l.trim_start().starts_with("assay:plugin/model@0.1.1")).unwrap_or_default();
    assert!(line.contains("no model: every request fails `not-granted`") && line.contains("models = ["), "{text}");

    world.config(r#"["judge"]"#);
    let refused = world.run(&eval, "out2", &[]);
    expect_code(&refused, 1);
    assert!(stderr(&refused).contains("models names \"judge\", which no [models.judge] table configures"));
}

#[test]
fn the_budget_stops_requests_and_every_sample_is_accounted_for() {
    let world = World::new();
    world.config(r#"["grader"]"#);
    let outputs: Vec<String> = (0..8).map(|i| format!("answer {i}")).collect();
    let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
    let eval = world.eval_set(&outputs);
    let output = world.run(&eval, "out", &["--max-model-requests", "3"]);
    expect_code(&output, 3);
    let summary = world.summary("out");
    assert_eq!(summary["counts"]["samples"], 8);
    assert_eq!(summary["counts"]["errors"], 5, "{summary}");
    let errors = errors(&world.samples("out"));
    assert_eq!(errors.len(), 5);
    assert!(errors.iter().all(|e| e == "budget-exhausted: max_model_requests = 3 reached"), "{errors:?}");
    assert_eq!(world.fake.requests().len(), 3);
    assert_eq!(summary["run"]["models"]["grader"]["failures"], 5);
}
