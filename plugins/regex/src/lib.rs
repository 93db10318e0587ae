//! `regex`: passes when the output matches (or, inverted, does not match) a pattern.

use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::{PluginInfo, Setting};

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The pattern, in the syntax of Rust's `regex` crate (no look-around,
    /// no backreferences: matching time is linear in the text).
    pattern: String,
    /// Pass when the output does NOT match.
    invert: bool,
}

pub struct RegexCheck {
    pattern: regex::Regex,
    invert: bool,
}

impl RegexCheck {
    pub fn passes(&self, output: &str) -> bool {
        self.pattern.is_match(output) != self.invert
    }
}

impl Evaluator for RegexCheck {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("regex", "1 when the output matches a pattern (or, with `invert`, does not)")
    }

    fn metrics() -> Vec<Metric> {
        vec![Metric::sample("pass", "share of outputs that pass the pattern check", true)]
    }

    fn new(config: Config) -> Result<Self, String> {
        if config.pattern.is_empty() {
            return Err("`pattern` is required, for example {\"pattern\": \"^\\\\d+$\"}".into());
        }
        let pattern = regex::Regex::new(&config.pattern).map_err(|e| format!("`pattern` is not a valid regex: {e}"))?;
        Ok(RegexCheck { pattern, invert: config.invert })
    }

    fn settings(&self) -> Vec<Setting> {
        vec![Setting::new("pattern", self.pattern.as_str()), Setting::new("invert", self.invert)]
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        Ok(Scores::new(vec![if self.passes(&sample.output) { 1.0 } else { 0.0 }]))
    }
}

assay_sdk::export_evaluator!(RegexCheck);

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, invert: bool) -> RegexCheck {
        RegexCheck::new(Config { pattern: pattern.into(), invert }).unwrap()
    }

    #[test]
    fn matches_and_inverts() {
        assert!(check(r"^\d+$", false).passes("42"));
        assert!(!check(r"^\d+$", false).passes("forty-two"));
        assert!(check(r"(?i)sorry", true).passes("Here is the answer"));
        assert!(!check(r"(?i)sorry", true).passes("SORRY, I cannot"));
    }

    #[test]
    fn rejects_missing_and_invalid_patterns() {
        assert!(RegexCheck::new(Config::default()).is_err());
        assert!(
            RegexCheck::new(Config { pattern: "(".into(), invert: false }).err().unwrap().contains("not a valid regex")
        );
    }
}
