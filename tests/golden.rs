//! `assay test`: the golden cases shipped beside the built-in plugins pass,
//! and a case that expects something else fails, saying what and where.

mod common;

use common::*;

#[test]
fn the_cases_of_the_built_in_plugins_pass() {
    let mut tested = 0;
    for entry in std::fs::read_dir(root().join("plugins")).unwrap() {
        let dir = entry.unwrap().path();
        let cases = dir.join("cases.jsonl");
        if !cases.is_file() {
            continue;
        }
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let output = run(assay().args(["test", &name, "--cases"]).arg(&cases));
        expect_code(&output, 0);
        assert!(stdout(&output).contains(&format!("{name} ok: ")), "{}", stdout(&output));
        tested += 1;
    }
    assert!(tested >= 6, "only {tested} built-in plugins have cases");
}

#[test]
fn a_wrong_expectation_fails_with_expected_and_actual_values() {
    let dir = tempfile::tempdir().unwrap();
    let cases = jsonl(
        dir.path(),
        "cases.jsonl",
        &[
            serde_json::json!({"name": "right", "sample": {"output": "cat", "reference": "cat cat"}, "expect": {"f1": 0.6666666666666666}}),
            serde_json::json!({"name": "rounded", "sample": {"output": "cat", "reference": "cat cat"}, "expect": {"f1": 0.6667}}),
            serde_json::json!({"name": "loose", "sample": {"output": "cat", "reference": "cat cat"}, "expect": {"f1": 0.6667}, "tolerance": 1e-3}),
            serde_json::json!({"name": "per sample", "samples": [{"output": "a b", "reference": "a b"}, {"output": "c", "reference": "d"}], "expect": {"f1": [1.0, 1.0]}}),
            serde_json::json!({"name": "no error", "sample": {"output": "x", "reference": "x"}, "expect": {"error": "no reference"}}),
        ],
    );
    let output = run(assay().args(["test", "token_f1", "--cases"]).arg(&cases));
    expect_code(&output, 1);
    let text = stdout(&output);
    let path = cases.display();
    for expected in [
        format!("FAIL {path}:2 rounded\n  f1: expected 0.6667, got 0.6666666666666666 ("),
        format!("FAIL {path}:4 per sample\n  f1[1]: expected 1.0, got 0.0 ("),
        format!("FAIL {path}:5 no error\n  sample 0: expected an error containing \"no reference\", got scores [1.0]"),
        "token_f1 FAILED: 2 passed, 3 failed".to_string(),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn a_wrong_decision_fails_with_expected_and_actual_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let record = serde_json::json!({"prompt": "2+2?", "output": "4", "correction": "2+2=5"});
    let cases = jsonl(
        dir.path(),
        "cases.jsonl",
        &[
            serde_json::json!({"name": "verdict", "feedback": record, "expect": {"verdict": "accept"}}),
            serde_json::json!({"name": "reason", "feedback": record, "expect": {"verdict": "reject", "reason": "2+2=6"}}),
        ],
    );
    let output = run(assay().args(["test", "arithmetic", "--cases"]).arg(&cases));
    expect_code(&output, 1);
    let text = stdout(&output);
    assert!(text.contains("  expected verdict accept, got reject (\"correction claims 2+2=5, but 2+2=4\")"), "{text}");
    assert!(
        text.contains("  expected a reason containing \"2+2=6\", got \"correction claims 2+2=5, but 2+2=4\""),
        "{text}"
    );
}

#[test]
fn a_case_naming_an_unknown_metric_is_an_error_not_a_failure_to_hide() {
    let dir = tempfile::tempdir().unwrap();
    let cases = jsonl(
        dir.path(),
        "cases.jsonl",
        &[serde_json::json!({"sample": {"output": "a", "reference": "a"}, "expect": {"f2": 1.0}})],
    );
    let output = run(assay().args(["test", "token_f1", "--cases"]).arg(&cases));
    expect_code(&output, 1);
    assert!(
        stderr(&output).contains(":1: `expect` names \"f2\", which is not a metric of token_f1 (it has: f1)"),
        "{}",
        stderr(&output)
    );
}
