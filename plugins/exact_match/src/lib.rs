//! `exact_match`: 1 when the output equals a reference, else 0.

use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::text::squad_normalize;
use assay_sdk::{PluginInfo, Setting};

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Compare SQuAD-normalized texts instead of raw ones.
    normalize: bool,
}

pub struct ExactMatch {
    normalize: bool,
}

impl ExactMatch {
    /// 1 when the output matches any reference.
    pub fn matches(&self, output: &str, references: &[String]) -> bool {
        if self.normalize {
            let output = squad_normalize(output);
            references.iter().any(|r| squad_normalize(r) == output)
        } else {
            references.iter().any(|r| r == output)
        }
    }
}

impl Evaluator for ExactMatch {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("exact_match", "1 when the output equals a reference (any of several), else 0")
    }

    fn metrics() -> Vec<Metric> {
        vec![Metric::sample("exact_match", "share of outputs equal to a reference", true)]
    }

    fn new(config: Config) -> Result<Self, String> {
        Ok(ExactMatch { normalize: config.normalize })
    }

    fn settings(&self) -> Vec<Setting> {
        vec![Setting::new("norm", if self.normalize { "squad" } else { "none" })]
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        if sample.references.is_empty() {
            return Err("the sample has no reference".into());
        }
        let hit = self.matches(&sample.output, &sample.references);
        Ok(Scores::new(vec![if hit { 1.0 } else { 0.0 }]))
    }
}

assay_sdk::export_evaluator!(ExactMatch);

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn raw_comparison_is_exact() {
        let em = ExactMatch { normalize: false };
        assert!(em.matches("Paris", &refs(&["Paris"])));
        assert!(!em.matches("paris", &refs(&["Paris"])));
        assert!(!em.matches("Paris ", &refs(&["Paris"])));
    }

    #[test]
    fn normalized_comparison_follows_squad_and_any_reference_counts() {
        let em = ExactMatch { normalize: true };
        assert!(em.matches("the  Paris!", &refs(&["London", "paris"])));
        assert!(!em.matches("Paris France", &refs(&["paris"])));
    }
}
