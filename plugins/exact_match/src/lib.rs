//! `exact_match`: 1 when the output equals a reference, else 0.

use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::text::{Locale, UnicodeForm, squad_normalize_in, text_settings};
use assay_sdk::{PluginInfo, Setting};

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Compare SQuAD-normalized texts instead of raw ones.
    normalize: bool,
    /// How normalization lowers letters: `tr` or `az` for Turkish casing.
    locale: Locale,
    /// Unicode normalization before comparing: `nfc` (the default under a
    /// locale), `nfkc`, or `none` (the default otherwise).
    unicode: Option<UnicodeForm>,
}

pub struct ExactMatch {
    normalize: bool,
    locale: Locale,
    unicode: UnicodeForm,
}

impl ExactMatch {
    /// 1 when the output matches any reference.
    pub fn matches(&self, output: &str, references: &[String]) -> bool {
        let output = self.unicode.apply(output);
        let mut references = references.iter().map(|r| self.unicode.apply(r));
        if self.normalize {
            let output = squad_normalize_in(&output, self.locale);
            references.any(|r| squad_normalize_in(&r, self.locale) == output)
        } else {
            references.any(|r| r == output)
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
        let unicode = UnicodeForm::resolve(config.unicode, config.locale);
        Ok(ExactMatch { normalize: config.normalize, locale: config.locale, unicode })
    }

    fn settings(&self) -> Vec<Setting> {
        let mut settings = vec![Setting::new("norm", if self.normalize { "squad" } else { "none" })];
        settings.extend(text_settings(self.locale, self.unicode));
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
        let em = ExactMatch { normalize: false, locale: Locale::Unicode, unicode: UnicodeForm::None };
        assert!(em.matches("Paris", &refs(&["Paris"])));
        assert!(!em.matches("paris", &refs(&["Paris"])));
        assert!(!em.matches("Paris ", &refs(&["Paris"])));
    }

    #[test]
    fn normalized_comparison_follows_squad_and_any_reference_counts() {
        let em = ExactMatch { normalize: true, locale: Locale::Unicode, unicode: UnicodeForm::None };
        assert!(em.matches("the  Paris!", &refs(&["London", "paris"])));
        assert!(!em.matches("Paris France", &refs(&["paris"])));
    }

    #[test]
    fn turkish_casing_is_asked_for_by_locale() {
        let unicode = ExactMatch { normalize: true, locale: Locale::Unicode, unicode: UnicodeForm::None };
        let turkish = ExactMatch { normalize: true, locale: Locale::Tr, unicode: UnicodeForm::Nfc };
        // Python's lower(): İ is i with a dot, I is i; both wrong in Turkish.
        assert!(!unicode.matches("İSTANBUL", &refs(&["istanbul"])));
        assert!(unicode.matches("ISPARTA", &refs(&["isparta"])));
        assert!(turkish.matches("İSTANBUL", &refs(&["istanbul"])));
        assert!(turkish.matches("ISPARTA", &refs(&["ısparta"])));
        assert!(!turkish.matches("ISPARTA", &refs(&["isparta"])));
        assert_eq!(turkish.settings()[1].value, "tr");
        assert_eq!(unicode.settings().len(), 1, "the default locale leaves the signature as it was");
        let config = Config { normalize: false, locale: Locale::Az, unicode: None };
        assert!(ExactMatch::new(config).err().unwrap().contains("set normalize = true"));
    }

    #[test]
    fn unicode_forms_match_composed_and_decomposed_letters() {
        let configured = |json: &str| ExactMatch::new(serde_json::from_str(json).unwrap()).unwrap();
        let decomposed = "Cafe\u{301}";
        assert!(!configured("{}").matches(decomposed, &refs(&["Café"])), "the default compares code points");
        assert!(configured(r#"{"unicode": "nfc"}"#).matches(decomposed, &refs(&["Café"])));
        assert!(!configured(r#"{"unicode": "nfc"}"#).matches("ＡＢＣ", &refs(&["ABC"])));
        assert!(configured(r#"{"unicode": "nfkc"}"#).matches("ＡＢＣ", &refs(&["ABC"])));
        // Under a locale NFC is the default: a decomposed İ matches.
        let turkish = configured(r#"{"normalize": true, "locale": "tr"}"#);
        assert!(turkish.matches("I\u{307}zmir", &refs(&["izmir"])));
        let names: Vec<String> = turkish.settings().into_iter().map(|s| format!("{}:{}", s.key, s.value)).collect();
        assert_eq!(names, ["norm:squad", "locale:tr", "unicode:nfc"]);
    }
}
