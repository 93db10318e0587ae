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
    let line = text.lines().find(|l| l.trim_start().starts_with("assay:plugin/model@0.1.4")).unwrap_or_default();
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

#[test]
fn the_judge_grades_each_output_on_its_rubric_and_refuses_unreadable_answers() {
    let world = World::new();
    let config = format!(
        "[models.grader]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"fake-judge-1\"\n\n\
         [plugins.judge]\nmodels = [\"grader\"]\n\
         config = {{ model = \"grader\", rubric = \"Başkent doğru mu? (Is it the capital?)\", logprobs = true }}\n",
        world.fake.base_url()
    );
    std::fs::write(world.path("assay.toml"), config).unwrap();
    let lines = [
        json!({"id": "tr", "input": "Türkiye'nin başkenti?", "output": "Ankara", "reference": "Ankara"}),
        json!({"id": "fr", "input": "Capital of France?", "output": "Lyon", "reference": "Paris"}),
        json!({"id": "jp", "input": "日本の首都は?", "output": "東京", "reference": "東京"}),
    ];
    let eval = jsonl(world.dir.path(), "judged.jsonl", &lines);
    let output = world.run(&eval, "out", &[]);
    expect_code(&output, 0);
    let samples: Vec<Value> = world.samples("out").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let scores: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| (s["scores"]["judge/score"].as_f64().unwrap(), s["scores"]["judge/normalized"].as_f64().unwrap()))
        .collect();
    assert_eq!(scores, [(5.0, 1.0), (1.0, 0.0), (5.0, 1.0)]);
    // G-Eval: the fake is 70% sure of its score, 30% of the next one.
    let weighted: Vec<f64> = samples.iter().map(|s| s["scores"]["judge/weighted"].as_f64().unwrap()).collect();
    for (got, want) in weighted.iter().zip([5.0 * 0.7 + 4.0 * 0.3, 1.0 * 0.7 + 2.0 * 0.3, 4.7]) {
        assert!((got - want).abs() < 1e-9, "{weighted:?}");
    }
    let summary = world.summary("out");
    let signature = summary["details"]["judge/score"]["signature"].as_str().unwrap();
    assert!(signature.contains("|model:grader|scale:1-5|template:sha256:"), "{signature}");
    assert!(
        signature.contains("|logprobs:yes|models.grader:openai/fake-judge-1"),
        "the provider and model: {signature}"
    );
    // Every request asked for the JSON object, with the rubric and the answer.
    for request in world.fake.requests() {
        assert_eq!(request.body["response_format"]["type"], "json_schema");
        assert_eq!(request.body["top_logprobs"], 10);
        assert!(request.body["messages"][1]["content"].as_str().unwrap().contains("Başkent doğru mu?"));
    }

    // An answer that is not the JSON object fails its sample: no guess.
    world.fake.trouble(&[fake_model::Trouble::Text("Score: 4 out of 5")]);
    let one = jsonl(world.dir.path(), "one.jsonl", &[json!({"output": "Rome", "reference": "Roma"})]);
    let output = world.run(&one, "bad", &["--model-cache", "off"]);
    expect_code(&output, 3);
    let samples = world.samples("bad");
    let sample: Value = serde_json::from_str(samples.lines().next().unwrap()).unwrap();
    let message = sample["errors"]["judge"]["message"].as_str().unwrap();
    assert!(message.contains("is not {\"reason\": string, \"score\": number}"), "{message}");
}

#[test]
fn the_pairwise_judge_asks_both_ways_round_and_cancels_position_bias() {
    let world = World::new();
    let config = format!(
        "[models.grader]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"fake-judge-1\"\n\n\
         [plugins.judge_pairwise]\nmodels = [\"grader\"]\n\
         config = {{ model = \"grader\", against = \"baseline\", rubric = \"Hangisi doğru?\" }}\n",
        world.fake.base_url()
    );
    std::fs::write(world.path("assay.toml"), config).unwrap();
    // The fake prefers the answer equal to the reference and, when it
    // cannot tell, always says "A": a judge with a position bias.
    let lines = [
        json!({"id": "win", "input": "Türkiye'nin başkenti?", "output": "Ankara", "reference": "Ankara", "baseline": "İstanbul"}),
        json!({"id": "loss", "input": "Capital of France?", "output": "Lyon", "reference": "Paris", "baseline": "Paris"}),
        json!({"id": "biased", "input": "日本の首都は?", "output": "大阪", "reference": "東京", "baseline": "京都"}),
        json!({"id": "tie", "input": "İzmir mi?", "output": "İzmir", "reference": "İzmir", "baseline": "İzmir"}),
    ];
    let eval = jsonl(world.dir.path(), "pairs.jsonl", &lines);
    let output = world.run(&eval, "out", &[]);
    expect_code(&output, 0);
    let samples: Vec<Value> = world.samples("out").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let per_sample: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| {
            let scores = &s["scores"];
            (
                scores["judge_pairwise/preference"].as_f64().unwrap(),
                scores["judge_pairwise/consistent"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(per_sample, [(1.0, 1.0), (0.0, 1.0), (0.5, 0.0), (0.5, 1.0)]);
    let summary = world.summary("out");
    let value = |name: &str| summary["metrics"][format!("judge_pairwise/{name}")].as_f64().unwrap();
    assert_eq!(
        [value("win_rate"), value("tie_rate"), value("loss_rate"), value("position_consistency")],
        [0.25, 0.5, 0.25, 0.75]
    );
    // Two requests per sample (they run concurrently, in any order), with
    // the answers in both positions.
    let requests = world.fake.requests();
    assert_eq!(requests.len(), 8);
    let section = |text: &str, name: &str| text.split_once(name).unwrap().1.lines().nth(1).unwrap().to_string();
    for line in &lines {
        let question = line["input"].as_str().unwrap();
        let mut shown: Vec<(String, String)> = requests
            .iter()
            .map(|r| r.body["messages"][1]["content"].as_str().unwrap().to_string())
            .filter(|text| section(text, "Question:") == question)
            .map(|text| (section(&text, "Answer A:"), section(&text, "Answer B:")))
            .collect();
        shown.sort();
        let (output, baseline) =
            (line["output"].as_str().unwrap().to_string(), line["baseline"].as_str().unwrap().to_string());
        let mut want = vec![(output.clone(), baseline.clone()), (baseline, output)];
        want.sort();
        assert_eq!(shown, want, "{question}");
        assert!(requests.iter().all(|r| r.body["messages"][1]["content"].as_str().unwrap().contains("Hangisi doğru?")));
    }
}
