//! Every sample-level value of `tests/conformance/rouge.jsonl`, produced by
//! rouge-score, recomputed by the plugin with the case's configuration.

use assay_plugin_rouge::{Config, Rouge};
use assay_sdk::evaluator::{Evaluator, Sample};
use serde_json::Value;

#[test]
fn matches_rouge_score() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/conformance/rouge.jsonl");
    let vectors = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let names: Vec<String> = Rouge::metrics().into_iter().map(|m| m.name).collect();
    let (mut cases, mut checked, mut failures) = (0, 0, Vec::new());
    for line in vectors.lines() {
        let case: Value = serde_json::from_str(line).expect("a JSON object per line");
        let name = case["name"].as_str().expect("name");
        let config: Config = serde_json::from_value(case["config"].clone()).expect("a valid configuration");
        let tolerance = case["tolerance"].as_f64().expect("tolerance");
        let mut rouge = Rouge::new(config).expect("configured");
        let samples = case["samples"].as_array().expect("samples");
        let expected = case["sample_scores"].as_array().expect("sample_scores");
        assert_eq!(samples.len(), expected.len(), "{name}");
        for (sample, expected) in samples.iter().zip(expected) {
            let sample = Sample {
                id: sample["id"].as_str().expect("id").into(),
                input: sample["input"].as_str().expect("input").into(),
                output: sample["output"].as_str().expect("output").into(),
                references: serde_json::from_value(sample["references"].clone()).expect("references"),
                label: sample["label"].as_str().map(String::from),
                metadata: "{}".into(),
            };
            let values = rouge.score(&sample).unwrap_or_else(|e| panic!("{name}: {e}")).values;
            for (metric, want) in expected.as_object().expect("metric values") {
                let index = names.iter().position(|n| n == metric).unwrap_or_else(|| panic!("unknown metric {metric}"));
                let (got, want) = (values[index], want.as_f64().expect("a number"));
                if (got - want).abs() > tolerance * want.abs().max(1.0) {
                    failures.push(format!("{name} / sample {}: {metric} = {got}, rouge-score {want}", sample.id));
                }
                checked += 1;
            }
        }
        cases += 1;
    }
    assert!(cases >= 80 && checked >= 12 * 160, "too few vectors: {cases} cases, {checked} values");
    assert!(failures.is_empty(), "{} of {checked} values differ:\n{}", failures.len(), failures.join("\n"));
}
