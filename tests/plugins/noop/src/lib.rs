//! Does nothing per sample, so a run with it measures the host alone:
//! reading, lowering samples into the guest, lifting results, writing.

// The export macro only exists on wasm: `cargo test --workspace` also builds
// this crate natively, where nothing uses the plugin.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::{NoConfig, PluginInfo};

struct Noop;

impl Evaluator for Noop {
    type Config = NoConfig;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("noop", "scores 0 without looking at the sample")
    }

    fn metrics() -> Vec<Metric> {
        vec![Metric::sample("zero", "always 0", true)]
    }

    fn new(_: NoConfig) -> Result<Self, String> {
        Ok(Noop)
    }

    fn score(&mut self, _: &Sample) -> Result<Scores, String> {
        Ok(Scores::new(vec![0.0]))
    }
}

assay_sdk::export_evaluator!(Noop);
