//! Declares 40 metrics whose names are 512 KiB each: were they accepted,
//! every line of `samples.jsonl` would repeat 20 MiB of names. Loading must
//! refuse it, in a message of ordinary length.

// The export macro only exists on wasm: `cargo test --workspace` also builds
// this crate natively, where nothing uses the plugin.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::{NoConfig, PluginInfo};

struct Boastful;

impl Evaluator for Boastful {
    type Config = NoConfig;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("boastful", "declares metrics with enormous names")
    }

    fn metrics() -> Vec<Metric> {
        (0..40).map(|i| Metric::sample(&format!("m{i}{}", "x".repeat(512 << 10)), "a metric", true)).collect()
    }

    fn new(_: NoConfig) -> Result<Self, String> {
        Ok(Boastful)
    }

    fn score(&mut self, _: &Sample) -> Result<Scores, String> {
        Ok(Scores::new(vec![0.0; 40]))
    }
}

assay_sdk::export_evaluator!(Boastful);
