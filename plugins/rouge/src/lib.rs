//! `rouge`: ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum precision, recall and
//! F-measure of the output against its references, equal to Google's
//! `rouge-score` package (`rouge_scorer.RougeScorer`, version 0.1.2).
//!
//! - With several references, each ROUGE type takes the reference with the
//!   highest F-measure (the first one on ties), as `score_multi` does.
//! - ROUGE-Lsum splits both texts into sentences at `\n` only and scores the
//!   summary-level (union) LCS.
//! - An empty output or reference scores 0; a sample with no reference is
//!   an error.
//! - There is no corpus-level ROUGE in rouge-score: the host's mean of the
//!   per-sample values is the usual "average ROUGE".
//!
//! Configuration:
//! - `stemmer` (default `false`): stem tokens longer than 3 characters with
//!   NLTK's Porter stemmer, as `use_stemmer=True` does. With the Unicode
//!   tokenizer it applies to ASCII-only tokens; other words are left alone.
//! - `tokenizer` (default `"default"`): `"default"` is rouge-score's own,
//!   which keeps `[a-z0-9]` only, so it deletes every non-ASCII letter
//!   (Chinese or Arabic text has no token and scores 0). `"unicode"` goes
//!   beyond rouge-score: lowercased runs of letters and digits of any script,
//!   one token per character in Han, Hiragana, Katakana, Thai, Lao, Myanmar
//!   and Khmer, which do not put spaces between words.
//! - `locale` (with the `unicode` tokenizer only): `"tr"` or `"az"` lowers
//!   `I` to `ı` and `İ` to `i`, as Turkish and Azerbaijani write them.
//! - `unicode`: `"nfc"` or `"nfkc"` normalizes both texts first, so that
//!   composed and decomposed accents match (NFKC also folds full-width and
//!   other compatibility forms). The default is `"nfc"` under a locale and
//!   no normalization otherwise, as rouge-score.

mod lcs;
pub mod porter;
mod score;
pub mod tokenize;
mod vocab;

use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::text::{Locale, UnicodeForm, text_settings};
use assay_sdk::{PluginInfo, Setting};

pub use score::{Prf, Scorer};
pub use tokenize::Tokenizer;

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Porter-stem tokens longer than 3 characters.
    pub stemmer: bool,
    pub tokenizer: Tokenizer,
    /// How the `unicode` tokenizer lowers letters: `tr` or `az` for Turkish casing.
    pub locale: Locale,
    /// Unicode normalization before tokenizing.
    pub unicode: Option<UnicodeForm>,
}

pub struct Rouge {
    scorer: Scorer,
    tokenizer: Tokenizer,
    stemmer: bool,
    locale: Locale,
    unicode: UnicodeForm,
}

const TYPES: [(&str, &str); 4] = [
    ("rouge1", "unigram"),
    ("rouge2", "bigram"),
    ("rougeL", "longest common subsequence"),
    ("rougeLsum", "summary-level (per-line union) longest common subsequence"),
];

impl Evaluator for Rouge {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!(
            "rouge",
            "ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum, as Google's rouge-score computes them"
        )
    }

    fn metrics() -> Vec<Metric> {
        TYPES
            .iter()
            .flat_map(|(name, what)| {
                [
                    Metric::sample(&format!("{name}_p"), &format!("{what} precision against the best reference"), true),
                    Metric::sample(&format!("{name}_r"), &format!("{what} recall against the best reference"), true),
                    Metric::sample(&format!("{name}_f"), &format!("{what} F-measure against the best reference"), true),
                ]
            })
            .collect()
    }

    fn new(config: Config) -> Result<Self, String> {
        if config.locale != Locale::Unicode && config.tokenizer == Tokenizer::Default {
            return Err("locale applies to tokenizer = \"unicode\": the default tokenizer keeps only the \
                        letters a-z and digits, so Turkish letters never reach a token"
                .into());
        }
        Ok(Rouge {
            scorer: Scorer::new(config.tokenizer, config.stemmer),
            tokenizer: config.tokenizer,
            stemmer: config.stemmer,
            locale: config.locale,
            unicode: UnicodeForm::resolve(config.unicode, config.locale),
        })
    }

    fn settings(&self) -> Vec<Setting> {
        let mut settings = vec![Setting::new("tok", self.tokenizer.name()), Setting::new("stem", self.stemmer)];
        settings.extend(text_settings(self.locale, self.unicode));
        settings
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        let mut sample = self.unicode.sample(sample);
        if self.locale != Locale::Unicode {
            // Lowered here as the locale writes it; the tokenizer's own
            // lowering then changes nothing.
            let sample = sample.to_mut();
            sample.output = self.locale.lowercase(&sample.output);
            for reference in &mut sample.references {
                *reference = self.locale.lowercase(reference);
            }
        }
        let scores = self.scorer.score(&sample.output, &sample.references).ok_or("the sample has no reference")?;
        Ok(Scores::new(scores.iter().flat_map(|s| [s.precision, s.recall, s.fmeasure]).collect()))
    }
}

assay_sdk::export_evaluator!(Rouge);

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(output: &str, references: &[&str]) -> Sample {
        Sample::new(output, references.iter().copied())
    }

    fn configure(json: &str) -> Result<Rouge, String> {
        let config: Config = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Rouge::new(config)
    }

    #[test]
    fn metrics_come_in_the_documented_order() {
        let names: Vec<String> = Rouge::metrics().into_iter().map(|m| m.name).collect();
        assert_eq!(
            names,
            [
                "rouge1_p",
                "rouge1_r",
                "rouge1_f",
                "rouge2_p",
                "rouge2_r",
                "rouge2_f",
                "rougeL_p",
                "rougeL_r",
                "rougeL_f",
                "rougeLsum_p",
                "rougeLsum_r",
                "rougeLsum_f"
            ]
        );
    }

    #[test]
    fn configuration_and_settings() {
        let rouge = configure("{}").unwrap();
        let settings: Vec<(String, String)> = rouge.settings().into_iter().map(|s| (s.key, s.value)).collect();
        assert_eq!(settings, [("tok".into(), "default".into()), ("stem".into(), "false".into())]);
        let rouge = configure(r#"{"stemmer": true, "tokenizer": "unicode"}"#).unwrap();
        let values: Vec<String> = rouge.settings().into_iter().map(|s| s.value).collect();
        assert_eq!(values, ["unicode", "true"]);
        assert!(configure(r#"{"stem": true}"#).err().unwrap().contains("unknown field"));
        assert!(configure(r#"{"tokenizer": "13a"}"#).err().unwrap().contains("unknown variant"));
    }

    #[test]
    fn a_sample_without_reference_is_an_error() {
        let mut rouge = configure("{}").unwrap();
        assert_eq!(rouge.score(&sample("a", &[])).unwrap_err(), "the sample has no reference");
        assert_eq!(rouge.score(&sample("a b", &["a b"])).unwrap().values, [1.0; 12]);
    }

    #[test]
    fn unicode_tokenizer_scores_text_the_default_one_deletes() {
        let chinese = sample("北京欢迎你", &["北京欢迎您"]);
        let mut default = configure("{}").unwrap();
        assert_eq!(default.score(&chinese).unwrap().values, [0.0; 12]);
        let mut unicode = configure(r#"{"tokenizer": "unicode"}"#).unwrap();
        let values = unicode.score(&chinese).unwrap().values;
        // 4 of 5 characters and 3 of 4 character bigrams are shared.
        assert_eq!(&values[..6], &[0.8, 0.8, 0.8000000000000002, 0.75, 0.75, 0.75]);
        assert_eq!(values[6..9], [0.8, 0.8, 0.8000000000000002]);

        let turkish = sample("İstanbul’da güneşli bir gün", &["istanbul'da güneşli bir sabah"]);
        let values = unicode.score(&turkish).unwrap().values;
        assert_eq!(values[0], 0.8);

        let arabic = sample("ذهب الولد إلى المدرسة", &["ذهب الطفل إلى المدرسة"]);
        assert_eq!(unicode.score(&arabic).unwrap().values[2], 0.75);
        assert_eq!(default.score(&arabic).unwrap().values[2], 0.0);
    }

    #[test]
    fn turkish_casing_and_unicode_forms_are_asked_for() {
        let turkish = sample("ISPARTA’DA I\u{307}ZMI\u{307}R", &["ısparta'da izmir"]);
        let mut unicode = configure(r#"{"tokenizer": "unicode"}"#).unwrap();
        let f = unicode.score(&turkish).unwrap().values[2];
        assert!((f - 1.0 / 3.0).abs() < 1e-12, "only `da` matches: {f}");
        let mut tr = configure(r#"{"tokenizer": "unicode", "locale": "tr"}"#).unwrap();
        assert_eq!(tr.score(&turkish).unwrap().values[2], 1.0);
        let names: Vec<String> = tr.settings().into_iter().map(|s| format!("{}:{}", s.key, s.value)).collect();
        assert_eq!(names, ["tok:unicode", "stem:false", "locale:tr", "unicode:nfc"]);
        // English words with I are cased as before under the default locale.
        assert_eq!(unicode.score(&sample("I LIKE IT", &["i like it"])).unwrap().values[2], 1.0);
        assert!(configure(r#"{"locale": "tr"}"#).err().unwrap().contains("tokenizer = \"unicode\""));

        let decomposed = sample("cafe\u{301} ｏｋ", &["café ok"]);
        assert_eq!(unicode.score(&decomposed).unwrap().values[2], 0.0);
        let mut nfkc = configure(r#"{"tokenizer": "unicode", "unicode": "nfkc"}"#).unwrap();
        assert_eq!(nfkc.score(&decomposed).unwrap().values[2], 1.0);
        let mut nfc = configure(r#"{"unicode": "nfc"}"#).unwrap();
        assert_eq!(nfc.settings().last().map(|s| s.value.clone()), Some("nfc".into()));
        assert_eq!(nfc.score(&sample("Ｏｋ", &["ok"])).unwrap().values[2], 0.0, "NFC keeps full-width forms");
    }

    #[test]
    fn stemming_with_the_unicode_tokenizer_touches_ascii_words_only() {
        let mut rouge = configure(r#"{"tokenizer": "unicode", "stemmer": true}"#).unwrap();
        let values = rouge.score(&sample("running cafés", &["runs café"])).unwrap().values;
        assert_eq!(values[0], 0.5);
    }
}
