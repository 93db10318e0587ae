//! `token_f1`: the token-overlap F1 of the official SQuAD v1.1 evaluation
//! script (`f1_score` with `metric_max_over_ground_truths`), best over the
//! references. Texts are SQuAD-normalized and split on whitespace; tokens
//! overlap as multisets.
//!
//! As in v1.1 (unlike v2.0), a pair without a common token scores 0, even
//! when both texts are empty after normalization.

use std::collections::HashMap;

use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::text::{Locale, UnicodeForm, squad_normalize_in, text_settings};
use assay_sdk::{PluginInfo, Setting};

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// How normalization lowers letters: `tr` or `az` for Turkish casing.
    locale: Locale,
    /// Unicode normalization before comparing: `nfc` (the default under a
    /// locale), `nfkc`, or `none` (the default otherwise).
    unicode: Option<UnicodeForm>,
}

pub struct TokenF1 {
    locale: Locale,
    unicode: UnicodeForm,
}

/// The SQuAD v1.1 F1 of two token lists.
fn f1(prediction: &[&str], reference: &[&str]) -> f64 {
    let mut unmatched: HashMap<&str, usize> = HashMap::new();
    for token in reference {
        *unmatched.entry(token).or_default() += 1;
    }
    let mut common = 0usize;
    for token in prediction {
        if let Some(n) = unmatched.get_mut(token)
            && *n > 0
        {
            *n -= 1;
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    // The script's exact operations, so the values agree to the last bit.
    let precision = common as f64 / prediction.len() as f64;
    let recall = common as f64 / reference.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// The best F1 of `prediction` against any reference, normalized with
/// `locale`'s casing; `None` without references.
pub fn best_f1(prediction: &str, references: &[String], locale: Locale) -> Option<f64> {
    let prediction = squad_normalize_in(prediction, locale);
    let prediction: Vec<&str> = prediction.split_whitespace().collect();
    references
        .iter()
        .map(|reference| {
            let reference = squad_normalize_in(reference, locale);
            f1(&prediction, &reference.split_whitespace().collect::<Vec<_>>())
        })
        .reduce(f64::max)
}

impl Evaluator for TokenF1 {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("token_f1", "SQuAD v1.1 token-overlap F1 against the best-matching reference")
    }

    fn metrics() -> Vec<Metric> {
        vec![Metric::sample("f1", "SQuAD v1.1 token F1 with the best-matching reference, in [0, 1]", true)]
    }

    fn new(config: Config) -> Result<Self, String> {
        Ok(TokenF1 { locale: config.locale, unicode: UnicodeForm::resolve(config.unicode, config.locale) })
    }

    fn settings(&self) -> Vec<Setting> {
        text_settings(self.locale, self.unicode)
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        let sample = self.unicode.sample(sample);
        let f1 = best_f1(&sample.output, &sample.references, self.locale).ok_or("the sample has no reference")?;
        Ok(Scores::new(vec![f1]))
    }
}

assay_sdk::export_evaluator!(TokenF1);

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    fn close(got: Option<f64>, want: f64) -> bool {
        got.is_some_and(|got| (got - want).abs() < 1e-12)
    }

    #[test]
    fn overlap_counts_repeated_tokens_once_per_occurrence() {
        // precision 1/3, recall 1.
        assert!(close(best_f1("cat cat dog", &refs(&["the cat"]), Locale::Unicode), 0.5));
        // precision 1, recall 1/2.
        assert!(close(best_f1("cat", &refs(&["cat cat"]), Locale::Unicode), 2.0 / 3.0));
    }

    #[test]
    fn empty_texts_score_zero_as_in_v1_1() {
        assert_eq!(best_f1("", &refs(&[""]), Locale::Unicode), Some(0.0));
        assert_eq!(best_f1("The", &refs(&["a"]), Locale::Unicode), Some(0.0));
    }

    #[test]
    fn best_reference_wins_and_none_is_an_error() {
        assert_eq!(best_f1("Vistula River", &refs(&["Oder", "the Vistula River!"]), Locale::Unicode), Some(1.0));
        assert_eq!(best_f1("x", &[], Locale::Unicode), None);
        let sample = Sample {
            id: "1".into(),
            input: String::new(),
            output: "x".into(),
            references: Vec::new(),
            label: None,
            metadata: "{}".into(),
        };
        assert_eq!(
            TokenF1 { locale: Locale::Unicode, unicode: UnicodeForm::None }.score(&sample).unwrap_err(),
            "the sample has no reference"
        );
    }

    #[test]
    fn turkish_casing_is_asked_for_by_locale() {
        let answer = "İSTANBUL ve IĞDIR";
        let reference = refs(&["istanbul ve ığdır"]);
        assert!(close(best_f1(answer, &reference, Locale::Unicode), 1.0 / 3.0), "only `ve` matches");
        assert_eq!(best_f1(answer, &reference, Locale::Tr), Some(1.0));
        assert!(TokenF1 { locale: Locale::Unicode, unicode: UnicodeForm::None }.settings().is_empty());
        assert_eq!(TokenF1 { locale: Locale::Az, unicode: UnicodeForm::None }.settings()[0].value, "az");
    }

    #[test]
    fn unicode_forms_join_decomposed_and_compatibility_letters() {
        let sample = Sample::new("I\u{307}ZMI\u{307}R ｆｉｎａｌ", ["izmir final"]);
        let score = |json: &str| {
            let mut plugin = TokenF1::new(serde_json::from_str(json).unwrap()).unwrap();
            let settings: Vec<String> =
                plugin.settings().into_iter().map(|s| format!("{}:{}", s.key, s.value)).collect();
            (plugin.score(&sample).unwrap().values[0], settings.join("|"))
        };
        assert_eq!(score("{}"), (0.0, String::new()));
        // Under Turkish casing with NFC (its default), I and a combining dot is İ, so i.
        assert_eq!(score(r#"{"locale": "tr"}"#), (0.5, "locale:tr|unicode:nfc".into()));
        assert_eq!(score(r#"{"locale": "tr", "unicode": "nfkc"}"#), (1.0, "locale:tr|unicode:nfkc".into()));
        assert_eq!(score(r#"{"unicode": "nfkc"}"#).1, "unicode:nfkc");
    }
}
