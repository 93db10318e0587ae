//! `exact_match`: 1 when the output equals a reference, else 0.

use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::text::{Locale, squad_normalize_in};
use assay_sdk::{PluginInfo, Setting};

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Compare SQuAD-normalized texts instead of raw ones.
    normalize: bool,
    /// How normalization lowers letters: `tr` or `az` for Turkish casing.
    locale: Locale,
}

pub struct ExactMatch {
    normalize: bool,
    locale: Locale,
}

impl ExactMatch {
    /// 1 when the output matches any reference.
    pub fn matches(&self, output: &str, references: &[String]) -> bool {
        if self.normalize {
            let output = squad_normalize_in(output, self.locale);
            references.iter().any(|r| squad_normalize_in(r, self.locale) == output)
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
        if config.locale != Locale::Unicode && !config.normalize {
            return Err("locale changes how normalization lowers letters: set normalize = true too".into());
        }
        Ok(ExactMatch { normalize: config.normalize, locale: config.locale })
    }

    fn settings(&self) -> Vec<Setting> {
        let mut settings = vec![Setting::new("norm", if self.normalize { "squad" } else { "none" })];
        // Only a chosen locale is recorded: default signatures stay as they were.
        settings.extend(self.locale.name().map(|name| Setting::new("locale", name)));
        settings
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
        let em = ExactMatch { normalize: false, locale: Locale::Unicode };
        assert!(em.matches("Paris", &refs(&["Paris"])));
        assert!(!em.matches("paris", &refs(&["Paris"])));
        assert!(!em.matches("Paris ", &refs(&["Paris"])));
    }

    #[test]
    fn normalized_comparison_follows_squad_and_any_reference_counts() {
        let em = ExactMatch { normalize: true, locale: Locale::Unicode };
        assert!(em.matches("the  Paris!", &refs(&["London", "paris"])));
        assert!(!em.matches("Paris France", &refs(&["paris"])));
    }

    #[test]
    fn turkish_casing_is_asked_for_by_locale() {
        let unicode = ExactMatch { normalize: true, locale: Locale::Unicode };
        let turkish = ExactMatch { normalize: true, locale: Locale::Tr };
        // Python's lower(): İ is i with a dot, I is i; both wrong in Turkish.
        assert!(!unicode.matches("İSTANBUL", &refs(&["istanbul"])));
        assert!(unicode.matches("ISPARTA", &refs(&["isparta"])));
        assert!(turkish.matches("İSTANBUL", &refs(&["istanbul"])));
        assert!(turkish.matches("ISPARTA", &refs(&["ısparta"])));
        assert!(!turkish.matches("ISPARTA", &refs(&["isparta"])));
        assert_eq!(turkish.settings()[1].value, "tr");
        assert_eq!(unicode.settings().len(), 1, "the default locale leaves the signature as it was");
        let config = Config { normalize: false, locale: Locale::Az };
        assert!(ExactMatch::new(config).err().unwrap().contains("set normalize = true"));
    }
}
