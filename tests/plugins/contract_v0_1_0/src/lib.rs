//! An evaluator built against `assay:plugin@0.1.0` exactly as it was
//! published (its own copy of the WIT, never edited): hosts that speak a
//! later `0.1.x` must keep loading and running it. Scores each output's
//! length in characters.

#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

wit_bindgen::generate!({ path: "wit", world: "evaluator-plugin" });

use assay::plugin::types::{PluginInfo, Setting};
use exports::assay::plugin::evaluator::{CorpusScore, Guest, Level, Metric, Sample, Scores, Statistic};

struct Old;

impl Guest for Old {
    fn describe() -> PluginInfo {
        PluginInfo { name: "contract_v0_1_0".into(), version: "0.1.0".into(), description: "from 0.1.0".into() }
    }

    fn metrics() -> Vec<Metric> {
        vec![Metric {
            name: "chars".into(),
            description: "characters in the output".into(),
            higher_is_better: false,
            level: Level::Sample,
        }]
    }

    fn configure(_: String) -> Result<Vec<Setting>, String> {
        Ok(Vec::new())
    }

    fn score(batch: Vec<Sample>) -> Vec<Result<Scores, String>> {
        batch
            .iter()
            .map(|s| Ok(Scores { values: vec![s.output.chars().count() as f64], statistics: Vec::new() }))
            .collect()
    }

    fn finalize(_: Vec<Statistic>) -> Result<Vec<CorpusScore>, String> {
        Ok(Vec::new())
    }
}

#[cfg(target_arch = "wasm32")]
export!(Old);
