//! `{{name}}`: 1 when the output contains a reference (ignoring case), else 0.

use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::{NoConfig, PluginInfo};

pub struct Plugin;

pub fn contains(output: &str, references: &[String]) -> bool {
    let output = output.to_lowercase();
    references.iter().any(|r| output.contains(&r.to_lowercase()))
}

impl Evaluator for Plugin {
    // NoConfig accepts only `{}`: any key is an error that names it.
    type Config = NoConfig;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("{{name}}", "1 when the output contains a reference, ignoring case")
    }

    fn metrics() -> Vec<Metric> {
        vec![Metric::sample("contains", "share of outputs that contain a reference", true)]
    }

    fn new(_: NoConfig) -> Result<Self, String> {
        Ok(Plugin)
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        if sample.references.is_empty() {
            return Err("the sample has no reference".into());
        }
        Ok(Scores::new(vec![if contains(&sample.output, &sample.references) { 1.0 } else { 0.0 }]))
    }
}

assay_sdk::export_evaluator!(Plugin);

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn ignores_case_and_takes_any_reference() {
        assert!(contains("It is Paris.", &["paris".to_string()]));
        assert!(contains("Lyon", &["Paris".to_string(), "lyon".to_string()]));
        assert!(!contains("Lyon", &["Paris".to_string()]));
    }
}
