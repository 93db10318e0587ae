//! `assay review stats` through the real binary: people's verdicts on a
//! run's samples, their agreement, and each metric measured against them;
//! bad verdict files refused with the file, line and field.

mod common;

use common::*;
use serde_json::{Value, json};

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
