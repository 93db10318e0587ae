//! Agreement statistics against the reference implementations' own
//! numbers (`tests/conformance/review/agreement.jsonl`, made by
//! `generate_agreement.py` with pinned scikit-learn, statsmodels,
//! krippendorff and scipy), to a relative 1e-9; undefined is undefined.

use assay_review::agreement::{self, Level, Weights};
use serde_json::Value;

const VECTORS: &str = include_str!("../../../../tests/conformance/review/agreement.jsonl");

/// A label as the references sorted it: integers as numbers, text as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Label {
    Number(i64),
    Text(String),
}

fn label(value: &Value) -> Label {
    match value {
        Value::Number(n) => Label::Number(n.as_i64().expect("integer labels")),
        Value::String(s) => Label::Text(s.clone()),
        other => panic!("unexpected label {other}"),
    }
}

fn number_pairs(case: &Value) -> Vec<(f64, f64)> {
    case["pairs"].as_array().unwrap().iter().map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap())).collect()
}

#[test]
fn agreement_statistics_equal_the_reference_implementations() {
    let mut checked = 0;
    for line in VECTORS.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let name = format!("{} {}", case["kind"], case["name"]);
        let got = match case["kind"].as_str().unwrap() {
            "cohen" => {
                let pairs: Vec<(Label, Label)> =
                    case["pairs"].as_array().unwrap().iter().map(|p| (label(&p[0]), label(&p[1]))).collect();
                let weights = match case["weights"].as_str().unwrap() {
                    "none" => Weights::Unweighted,
                    "linear" => Weights::Linear,
                    "quadratic" => Weights::Quadratic,
                    other => panic!("{other}"),
                };
                agreement::cohen_kappa(&pairs, weights)
            }
            "fleiss" => {
                let items: Vec<Vec<Label>> = case["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|item| item.as_array().unwrap().iter().map(label).collect())
                    .collect();
                agreement::fleiss_kappa(&items)
            }
            "krippendorff" => {
                let units: Vec<Vec<f64>> = case["units"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|unit| unit.as_array().unwrap().iter().filter_map(Value::as_f64).collect())
                    .collect();
                let level = match case["level"].as_str().unwrap() {
                    "nominal" => Level::Nominal,
                    "ordinal" => Level::Ordinal,
                    "interval" => Level::Interval,
                    other => panic!("{other}"),
                };
                agreement::krippendorff_alpha(&units, level)
            }
            "spearman" => agreement::spearman_rho(&number_pairs(&case)),
            "kendall" => agreement::kendall_tau_b(&number_pairs(&case)),
            other => panic!("unknown kind {other}"),
        };
        match (got, case["expected"].as_f64()) {
            (None, None) => {}
            (Some(got), Some(want)) => {
                assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{name}: got {got}, want {want}")
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} cases");
}
