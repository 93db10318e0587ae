//! `assay compare` through the real binary: its paired bootstrap and
//! approximate randomization equal sacreBLEU's own on committed vectors
//! (tests/conformance/compare/significance.jsonl, from generate_significance.py),
//! with corpus metrics recomputed by the real plugins from kept
//! statistics; and runs that cannot be compared are refused.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/fake_model.rs"]
mod fake_model;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{Value, json};

/// Each system of a vector's case as an eval set, run through the metric's
/// plugin with its statistics kept.
fn runs_of(case: &Value, dir: &Path) -> Vec<PathBuf> {
    let plugin = case["metric"].as_str().unwrap();
    case["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|system| {
            let name = system.as_str().unwrap();
            let lines: Vec<Value> = case["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| json!({"id": s["id"], "output": s["outputs"][name], "reference": s["reference"]}))
                .collect();
            let eval_set = jsonl(dir, &format!("{name}.jsonl"), &lines);
            let out = dir.join(name);
            let output =
                run(assay().args(["run", "-q", "--keep-statistics", "-e", plugin, "-o"]).arg(&out).arg(&eval_set));
            assert!(output.status.success(), "{}", stderr(&output));
            out
        })
        .collect()
}

/// `actual` within `tolerance` of `expected`, relative above 1.
fn close(label: &str, actual: &Value, expected: &Value, tolerance: f64) {
    let (a, e) = (actual.as_f64().unwrap_or(f64::NAN), expected.as_f64().unwrap());
    assert!((a - e).abs() <= tolerance * e.abs().max(1.0), "{label}: {a} against sacreBLEU's {e}");
}

#[test]
fn p_values_and_intervals_equal_sacrebleus() {
    let vectors = std::fs::read_to_string(root().join("tests/conformance/compare/significance.jsonl")).unwrap();
    for line in vectors.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let name = case["name"].as_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let runs = runs_of(&case, dir.path());
        let metric = match case["metric"].as_str().unwrap() {
            "exact_match" => "exact_match/exact_match".to_string(),
            plugin => format!("{plugin}/{plugin}"),
        };
        let test = if case["test"] == "bs" { "bs" } else { "ar" };
        let output = run(assay()
            .args(["compare", "--format", "json", "--test", test, "--metric", &metric])
            .args(["--draws", &case["n"].to_string(), "--seed", &case["seed"].to_string()])
            .args(&runs));
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        let decision: Value = serde_json::from_str(&stdout(&output)).unwrap();
        let comparison = &decision["comparisons"][0];
        let compared = &comparison["metrics"][0];
        assert_eq!(compared["metric"], metric.as_str(), "{name}: {comparison}");
        // Every pair is tested: the baseline's against each run, then the others.
        let systems = case["systems"].as_array().unwrap().len();
        assert_eq!(compared["pairs"].as_array().unwrap().len(), (systems - 1) * (systems - 2) / 2, "{name}");
        for (system, result) in case["systems"].as_array().unwrap().iter().zip(compared["runs"].as_array().unwrap()) {
            let expected = &case["results"][system.as_str().unwrap()];
            let label = format!("{name}, {system}");
            close(&format!("{label}, score"), &result["score"], &expected["score"], 1e-9);
            // The same draws give the same counts: p-values are equal.
            if let Some(p) = expected.get("p_value") {
                close(&format!("{label}, p-value"), &result["p_value"], p, 1e-12);
            }
            // sacreBLEU computes resampled scores from float32 sums, so its
            // precisions carry float32 rounding (about 1e-7); assay's are
            // float64. Its randomization draws intervals from the generator
            // after the coins; assay's come from the bootstrap.
            if test == "bs" {
                close(&format!("{label}, mean"), &result["mean"], &expected["mean"], 1e-6);
                close(&format!("{label}, interval"), &result["ci"], &expected["ci"], 1e-6);
            }
        }
    }
}

#[test]
fn runs_that_cannot_be_compared_are_refused_and_metrics_that_cannot_are_said() {
    let dir = tempfile::tempdir().unwrap();
    let set = |name: &str, outputs: &[&str], references: &[&str]| {
        let lines: Vec<Value> = outputs
            .iter()
            .zip(references)
            .enumerate()
            .map(|(i, (o, r))| json!({"id": format!("q{i}"), "output": o, "reference": r}))
            .collect();
        jsonl(dir.path(), name, &lines)
    };
    let references = ["Ankara", "Paris", "Bern", "Rome"];
    let score = |name: &str, eval_set: &Path, extra: &[&str]| {
        let out = dir.path().join(name);
        let output = run(assay()
            .args(["run", "-q", "-e", "exact_match", "-e", "bleu", "-o"])
            .arg(&out)
            .args(extra)
            .arg(eval_set));
        assert!(output.status.success(), "{}", stderr(&output));
        out
    };
    let a = score("a", &set("a.jsonl", &["Ankara", "Paris", "x", "y"], &references), &["--keep-statistics"]);
    let b = score("b", &set("b.jsonl", &["Ankara", "z", "Bern", "Rome"], &references), &[]);

    // Without kept statistics, a corpus metric is not compared, and says why;
    // sample-level metrics are.
    let output = run(assay().args(["compare", "--format", "json"]).arg(&a).arg(&b));
    expect_code(&output, 0);
    let decision: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let comparison = &decision["comparisons"][0];
    let skipped = comparison["skipped"].as_array().unwrap();
    let bleu = skipped.iter().find(|s| s["metric"] == "bleu/bleu").unwrap();
    assert!(bleu["reason"].as_str().unwrap().contains("--keep-statistics"), "{bleu}");
    let exact = comparison["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == "exact_match/exact_match");
    assert_eq!(exact.unwrap()["runs"][1]["score"], 0.75);

    // Other references for the same ids: different questions.
    let c = score("c", &set("c.jsonl", &["Ankara", "Paris", "x", "y"], &["Ankara", "Lyon", "Bern", "Rome"]), &[]);
    let output = run(assay().arg("compare").arg(&a).arg(&c));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("sample \"q1\" has other inputs or references"), "{}", stderr(&output));

    // Another eval set altogether.
    let d = score("d", &set("d.jsonl", &["Ankara", "Paris"], &["Ankara", "Paris"]), &[]);
    let output = run(assay().arg("compare").arg(&a).arg(&d));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("has no sample \"q2\""), "{}", stderr(&output));

    // The same plugin with other settings: its numbers are not compared.
    let e = dir.path().join("e");
    let output = run(assay()
        .args(["run", "-q", "-e", "exact_match", "--set", "exact_match.normalize=true", "-o"])
        .arg(&e)
        .arg(dir.path().join("b.jsonl")));
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(assay().args(["compare", "--metric", "exact_match/exact_match"]).arg(&a).arg(&e));
    expect_code(&output, 1);
    assert!(
        stderr(&output).contains("exact_match/exact_match cannot be compared")
            && stderr(&output).contains("are not compared"),
        "{}",
        stderr(&output)
    );
    // Left to choose its metrics, compare says which it left out and why.
    let output = run(assay().args(["compare", "--format", "json"]).arg(&a).arg(&e));
    expect_code(&output, 0);
    let decision: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let skipped = decision["comparisons"][0]["skipped"].as_array().unwrap();
    assert!(skipped.iter().any(|s| s["metric"] == "exact_match/exact_match"), "{decision}");
}

#[test]
fn the_bundled_choice_keeps_what_meets_the_requirements_ranks_and_finds_the_front() {
    use assay_compare::comparison::{Decision, Verdict};
    let dir = tempfile::tempdir().unwrap();
    let example = root().join("examples/choose");
    for model in ["atlas-70b", "lynx-8b", "corvid-3b"] {
        let output = run(assay()
            .arg("run")
            .arg(example.join(format!("{model}.jsonl")))
            .arg("--config")
            .arg(example.join("assay.toml"))
            .arg("-o")
            .arg(dir.path().join(model)));
        assert!(output.status.success(), "{}", stderr(&output));
    }
    // The committed candidates file, its runs here.
    let models = std::fs::read_to_string(example.join("models.toml")).unwrap();
    let models = models.replace("../../out/choose/", &format!("{}/", dir.path().display()));
    let file = dir.path().join("models.toml");
    std::fs::write(&file, models).unwrap();
    let out = dir.path().join("decision");
    let output = run(assay()
        .args(["compare", "--candidates"])
        .arg(&file)
        .args(["--require", "commercial_use == \"allowed\"", "--require", "p95_latency_ms <= 5000"])
        .args(["--weight", "exact/exact_match=2", "--weight", "cost_per_1000=-1", "-o"])
        .arg(&out));
    assert!(output.status.success(), "{}", stderr(&output));
    let decision: Decision = serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let row = |name: &str| decision.candidates.iter().find(|r| r.candidate.name == name).unwrap();
    assert_eq!(row("corvid-3b").excluded, ["commercial_use is \"forbidden\"; required: commercial_use == \"allowed\""]);
    assert!(row("atlas-70b").excluded.is_empty() && row("lynx-8b").excluded.is_empty());
    // Speed and cost come from the eval sets' latency and token fields.
    let lynx = &row("lynx-8b").figures;
    assert!(lynx["p95_latency_ms"] > lynx["p50_latency_ms"] && lynx["tokens_per_second"] > 0.0);
    assert!(row("atlas-70b").figures["cost_per_1000"] > lynx["cost_per_1000"], "atlas costs more per answer");
    // Lynx answers more exactly and costs less: first, alone on the front.
    assert_eq!((row("lynx-8b").rank_score, row("atlas-70b").rank_score), (Some(1.0), Some(0.0)));
    assert!(row("lynx-8b").pareto && !row("atlas-70b").pareto && !row("corvid-3b").pareto);
    // Significance against the first kept candidate, corpus metrics included.
    let comparison = &decision.comparisons[0];
    assert!(comparison.runs[0].ends_with("atlas-70b") && comparison.runs.len() == 2);
    let chrf =
        comparison.metrics.iter().find(|m| m.metric == "chrf/chrf").expect("chrF is tested from kept statistics");
    assert_eq!(chrf.runs[0].verdict, Verdict::Baseline);
    assert!(chrf.runs[1].p_value.is_some());
    let markdown = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(
        markdown.contains("| corvid-3b | CC-BY-NC-4.0 | forbidden |") && markdown.contains("1. lynx-8b"),
        "{markdown}"
    );

    // A requirement on what a candidate does not say excludes it as unknown.
    let output = run(assay()
        .args(["compare", "--format", "json", "--require", "parameters <= 1e12", "--candidates"])
        .arg(&file));
    assert!(output.status.success(), "{}", stderr(&output));
    let decision: Decision = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(decision.candidates.iter().all(|r| r.excluded.is_empty()));
    let unknown = std::fs::read_to_string(&file).unwrap().replace("parameters = 3e9\n", "");
    std::fs::write(&file, unknown).unwrap();
    let output = run(assay()
        .args(["compare", "--format", "json", "--require", "parameters <= 1e12", "--candidates"])
        .arg(&file));
    let decision: Decision = serde_json::from_str(&stdout(&output)).unwrap();
    let corvid = decision.candidates.iter().find(|r| r.candidate.name == "corvid-3b").unwrap();
    assert_eq!(corvid.excluded, ["parameters is unknown, so `parameters <= 1e12` cannot hold"]);

    // A mistake in the file names its line and field.
    std::fs::write(&file, "[candidates.x]\nruns = [\"a\"]\nlicence = \"MIT\"\n").unwrap();
    let output = run(assay().args(["compare", "--candidates"]).arg(&file));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("models.toml: line 3: unknown field `licence`"), "{}", stderr(&output));
}

#[test]
fn generate_asks_each_candidate_keeps_failures_and_compare_refuses_different_prompts() {
    use assay_data::output::generation::Generation;
    let fake = fake_model::FakeModel::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("assay.toml");
    let write_config = |beta_temperature: f64| {
        let text = format!(
            "[models.alpha]\nprovider = \"openai\"\nbase_url = \"{url}\"\nmodel = \"alpha-1\"\n\
             api_key_env = \"ASSAY_TEST_MODEL_KEY\"\n\n\
             [models.beta]\nprovider = \"anthropic\"\nbase_url = \"{url}\"\nmodel = \"beta-2\"\n\
             api_key_env = \"ASSAY_TEST_MODEL_KEY\"\n\n\
             [generate.beta]\ntemperature = {beta_temperature:?}\n",
            url = fake.base_url()
        );
        std::fs::write(&config, text).unwrap();
    };
    write_config(0.0);
    let lines = [
        json!({"id": "q1", "input": "Türkiye'nin başkenti?", "reference": "judged: Türkiye'nin başkenti?"}),
        json!({"id": "q2", "messages": [{"role": "user", "content": "2+2?"}], "reference": "4"}),
        json!({"id": "q3", "reference": "x"}),
    ];
    let eval_set = jsonl(dir.path(), "questions.jsonl", &lines);
    let out = dir.path().join("generated");
    let generate = |extra: &[&str]| {
        run(assay()
            .env("ASSAY_TEST_MODEL_KEY", fake_model::KEY)
            .args([
                "generate",
                "--model",
                "alpha",
                "--model",
                "beta",
                "--temperature",
                "0",
                "--sampling-seed",
                "7",
                "-c",
            ])
            .arg(&config)
            .args(["--cache-dir"])
            .arg(dir.path().join("cache"))
            .args(extra)
            .arg("-o")
            .arg(&out)
            .arg(&eval_set))
    };
    let output = generate(&[]);
    assert!(output.status.success(), "{}", stderr(&output));
    for name in ["alpha", "beta"] {
        let records = read_jsonl(&out.join(format!("{name}.jsonl")));
        assert_eq!(records.len(), 3, "every record is kept");
        assert_eq!(records[0]["output"], "judged: Türkiye'nin başkenti?");
        assert_eq!(records[1]["output"], "judged: 2+2?");
        assert!(records[0]["latency_ms"].as_f64().unwrap() >= 0.0 && records[0]["output_tokens"].as_u64().is_some());
        assert_eq!(records[2]["output"], Value::Null);
        assert_eq!(records[2]["generation_error"]["kind"], "bad-prompt");
    }
    let generation: Generation =
        serde_json::from_str(&std::fs::read_to_string(out.join("generation.json")).unwrap()).unwrap();
    let alpha = &generation.candidates["alpha"];
    assert_eq!((alpha.records, alpha.generated, alpha.failed), (3, 2, 1));
    assert_eq!((alpha.model.as_str(), alpha.temperature, alpha.seed), ("openai/alpha-1", Some(0.0), Some(7)));
    assert_eq!(generation.candidates["beta"].model, "anthropic/beta-2");
    assert!(!files_contain(dir.path(), fake_model::KEY), "the key is in no file");

    // Both scored (the failed record is listed as skipped, not lost) and compared.
    let score = |name: &str| {
        let run_dir = dir.path().join(format!("run-{name}"));
        let output = run(assay()
            .args(["run", "-q", "-e", "exact_match", "--on-bad-record", "skip", "-o"])
            .arg(&run_dir)
            .arg(out.join(format!("{name}.jsonl"))));
        assert!(output.status.code() == Some(0) || output.status.code() == Some(3), "{}", stderr(&output));
        assert_eq!(read_json(&run_dir.join("summary.json"))["counts"]["skipped"], 1);
        run_dir
    };
    let (a, b) = (score("alpha"), score("beta"));
    expect_code(&run(assay().arg("compare").arg(&a).arg(&b)), 0);

    // Beta asked at another temperature: not comparable unless told.
    write_config(0.7);
    let output = generate(&[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let b = score("beta");
    let output = run(assay().arg("compare").arg(&a).arg(&b));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("different prompt settings"), "{}", stderr(&output));
    expect_code(&run(assay().args(["compare", "--allow-different-prompts"]).arg(&a).arg(&b)), 0);

    // Replayed from the cache, the answers and their latencies are the same.
    let before = read_jsonl(&out.join("alpha.jsonl"));
    let output = generate(&["--replay"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(read_jsonl(&out.join("alpha.jsonl")), before);
}

/// Whether any file under `dir` holds `needle`.
fn files_contain(dir: &Path, needle: &str) -> bool {
    fake_model::files_under(dir)
        .iter()
        .any(|f| std::fs::read(f).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle)))
}
