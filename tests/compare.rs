//! `assay compare` through the real binary: its paired bootstrap and
//! approximate randomization equal sacreBLEU's own on committed vectors
//! (tests/conformance/significance.jsonl, from generate_significance.py),
//! with corpus metrics recomputed by the real plugins from kept
//! statistics; and runs that cannot be compared are refused.

mod common;

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
    let vectors = std::fs::read_to_string(root().join("tests/conformance/significance.jsonl")).unwrap();
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
        let comparison: Value = serde_json::from_str(&stdout(&output)).unwrap();
        let compared = &comparison["metrics"][0];
        assert_eq!(compared["metric"], metric.as_str(), "{name}: {comparison}");
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
    let comparison: Value = serde_json::from_str(&stdout(&output)).unwrap();
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
    let output =
        run(assay().args(["compare", "--format", "json", "--metric", "exact_match/exact_match"]).arg(&a).arg(&e));
    expect_code(&output, 0);
    let comparison: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(comparison["metrics"], json!([]));
    assert!(comparison["skipped"][0]["reason"].as_str().unwrap().contains("are not compared"), "{comparison}");
}
