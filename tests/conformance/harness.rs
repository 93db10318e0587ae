//! Checks a plugin natively against its conformance vectors, the way the host
//! runs it: score every sample of a case, sum the statistics as plain `f64`
//! sums in sample order, `finalize` on a fresh instance, and compare every
//! expected value within the case's relative tolerance.
//!
//! Plugin crates include this file from an integration test with
//! `#[path = "../../../tests/conformance/harness.rs"] mod harness;` and
//! `serde_json` as a dev-dependency, so all of them read the vector format in
//! one place.

use std::collections::BTreeMap;

use assay_sdk::evaluator::{Evaluator, Level, Metric, Sample, Statistics};
use serde_json::Value;

/// Checks every case of `tests/conformance/<file>` and returns how many
/// values it compared. Corpus scores must match the expected ones exactly as
/// a set of names: the vectors list every corpus value a plugin reports.
pub fn check<E: Evaluator>(file: &str) -> usize {
    let path = format!("{}/../../tests/conformance/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let metrics = E::metrics();
    let sample_metrics: Vec<&str> =
        metrics.iter().filter(|m| matches!(m.level, Level::Sample)).map(|m| m.name.as_str()).collect();
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}: {e}"));
        let name = case["name"].as_str().expect("a case has a name");
        let tolerance = case.get("tolerance").and_then(Value::as_f64).unwrap_or(1e-9);
        let close = |actual: f64, expected: f64| (actual - expected).abs() <= tolerance * expected.abs().max(1.0);
        let config = case.get("config").cloned().unwrap_or_else(|| Value::Object(Default::default()));
        let configured = || {
            let config = serde_json::from_value(config.clone()).unwrap_or_else(|e| panic!("{name}: config: {e}"));
            E::new(config).unwrap_or_else(|e| panic!("{name}: configure: {e}"))
        };

        let mut plugin = configured();
        let mut statistics = Vec::new();
        let samples = case["samples"].as_array().expect("a case has samples");
        let expected_samples = case["sample_scores"].as_array().map_or(&[][..], Vec::as_slice);
        for (i, sample) in samples.iter().enumerate() {
            let sample = to_sample(sample, i);
            let scores = plugin.score(&sample).unwrap_or_else(|e| panic!("{name}, sample {}: {e}", sample.id));
            assert_eq!(scores.values.len(), sample_metrics.len(), "{name}, sample {}", sample.id);
            assert!(scores.values.iter().all(|v| v.is_finite()), "{name}, sample {}: {:?}", sample.id, scores.values);
            let expected = expected_samples.get(i).and_then(Value::as_object);
            for (metric, want) in expected.into_iter().flatten() {
                let at = sample_metrics.iter().position(|m| m == metric);
                let got = scores.values[at.unwrap_or_else(|| panic!("{name}: no sample metric `{metric}`"))];
                let want = want.as_f64().expect("expected values are numbers");
                assert!(close(got, want), "{name}, sample {}, {metric}: got {got}, expected {want}", sample.id);
                checked += 1;
            }
            statistics.extend(scores.statistics.into_iter().map(|s| (s.name, s.value)));
        }

        let summed: Statistics = statistics.into_iter().collect();
        let expected: BTreeMap<&str, f64> = case["corpus_scores"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_f64().expect("expected values are numbers")))
            .collect();
        if expected.is_empty() && !metrics.iter().any(|m| matches!(m.level, Level::Corpus)) {
            continue;
        }
        let reported = configured().finalize(&summed).unwrap_or_else(|e| panic!("{name}: finalize: {e}"));
        let mut got = BTreeMap::new();
        for score in &reported {
            assert!(score.value.is_finite(), "{name}, {}: {}", score.name, score.value);
            assert!(declared(&metrics, &score.name), "{name}: `{}` is no declared corpus metric", score.name);
            assert!(got.insert(score.name.as_str(), score.value).is_none(), "{name}: `{}` reported twice", score.name);
        }
        assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "{name}: corpus metric names");
        for (metric, want) in expected {
            assert!(close(got[metric], want), "{name}, {metric}: got {}, expected {want}", got[metric]);
            checked += 1;
        }
    }
    assert!(checked > 0, "{path} has no expected values");
    checked
}

fn to_sample(value: &Value, index: usize) -> Sample {
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    Sample {
        id: value.get("id").and_then(Value::as_str).map_or_else(|| (index + 1).to_string(), str::to_string),
        input: text("input"),
        output: text("output"),
        references: value["references"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r.as_str().expect("references are strings").to_string())
            .collect(),
        label: value.get("label").and_then(Value::as_str).map(str::to_string),
        metadata: value.get("metadata").map_or_else(|| "{}".to_string(), Value::to_string),
    }
}

/// Whether `name` is a corpus metric of `metrics` or a member of a declared
/// family, where `*` stands for any non-empty text.
fn declared(metrics: &[Metric], name: &str) -> bool {
    metrics.iter().filter(|m| matches!(m.level, Level::Corpus)).any(|m| match m.name.split_once('*') {
        None => m.name == name,
        Some((prefix, suffix)) => {
            name.len() > prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix)
        }
    })
}
