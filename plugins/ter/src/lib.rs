//! `ter`: sacreBLEU's translation edit rate, per sample (`sentence_ter`) and
//! per corpus: the edits (insertions, deletions, substitutions and shifts
//! of word sequences) that turn the output into the closest reference, over
//! the reference's length. Lower is better; 0 is a perfect match, and it
//! can exceed 100.
//!
//! Each sample reports its fewest edits and its average reference length
//! as statistics; `finalize` divides their sums as sacreBLEU's
//! `TER.corpus_score` does, so a run split over threads or machines scores
//! like one sacreBLEU call.

mod edit_rate;
#[path = "../../bleu/src/mteval.rs"]
mod mteval;
#[path = "../../bleu/src/python.rs"]
mod python;
mod tercom;

use assay_sdk::evaluator::{CorpusScore, Evaluator, Metric, Sample, Scores, Statistics};
use assay_sdk::text::{Locale, UnicodeForm, text_settings};
use assay_sdk::{PluginInfo, Setting};

use edit_rate::{translation_edit_rate, word_ids};
use python::{is_py_space, py_split};
use tercom::Tercom;

/// sacreBLEU's `TER(...)` options, under the same names and defaults.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Split punctuation and unescape entities as mteval-v13a does (and CJK
    /// characters apart, with `asian_support`).
    normalized: bool,
    /// Remove punctuation (and CJK punctuation, with `asian_support`).
    no_punct: bool,
    /// Treat CJK text specially; has an effect only with `normalized` or `no_punct`.
    asian_support: bool,
    /// Keep case; by default TER lowercases.
    case_sensitive: bool,
    /// Unicode normalization before tokenizing (`nfc`, `nfkc`); none by default, as sacreBLEU.
    unicode: UnicodeForm,
}

pub struct Ter {
    tercom: Tercom,
    unicode: UnicodeForm,
}

impl Ter {
    /// sacreBLEU's `_preprocess_segment` and `str.split()`.
    fn words(&self, text: &str) -> Vec<String> {
        py_split(&self.tercom.tokenize(text.trim_end_matches(is_py_space))).map(str::to_string).collect()
    }
}

/// TER in percent from total edits and total reference length, as
/// sacreBLEU's `_compute_score_from_stats`.
fn ter(edits: f64, ref_len: f64) -> f64 {
    let score = if ref_len > 0.0 {
        edits / ref_len
    } else if edits > 0.0 {
        // Empty references and a non-empty output.
        1.0
    } else {
        0.0
    };
    100.0 * score
}

impl Evaluator for Ter {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!(
            "ter",
            "TER as sacreBLEU computes it: edits per reference word, per sample and over the corpus"
        )
    }

    fn metrics() -> Vec<Metric> {
        vec![
            Metric::sample(
                "sentence_ter",
                "TER of the sample (0 is a match; may exceed 100), as TER().sentence_score",
                false,
            ),
            Metric::corpus(
                "ter",
                "corpus TER: all edits over all reference lengths, as sacreBLEU's corpus score",
                false,
            ),
        ]
    }

    fn new(config: Config) -> Result<Self, String> {
        Ok(Ter {
            tercom: Tercom {
                normalized: config.normalized,
                no_punct: config.no_punct,
                asian_support: config.asian_support,
                case_sensitive: config.case_sensitive,
            },
            unicode: config.unicode,
        })
    }

    /// sacreBLEU's TER signature keys (the host adds the number of references).
    fn settings(&self) -> Vec<Setting> {
        let yes_no = |on: bool| if on { "yes" } else { "no" };
        let mut settings = vec![
            Setting::new("case", if self.tercom.case_sensitive { "mixed" } else { "lc" }),
            Setting::new("tok", "tercom"),
            Setting::new("norm", yes_no(self.tercom.normalized)),
            Setting::new("punct", yes_no(!self.tercom.no_punct)),
            Setting::new("asian", yes_no(self.tercom.asian_support)),
        ];
        settings.extend(text_settings(Locale::Unicode, self.unicode));
        settings
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        let sample = self.unicode.sample(sample);
        if sample.references.is_empty() {
            return Err("the sample has no reference".into());
        }
        let hyp = self.words(&sample.output);
        let references: Vec<Vec<String>> = sample.references.iter().map(|r| self.words(r)).collect();
        let hyp: Vec<&str> = hyp.iter().map(String::as_str).collect();
        let references: Vec<Vec<&str>> = references.iter().map(|r| r.iter().map(String::as_str).collect()).collect();
        let (hyp, references) = word_ids(&hyp, &references);
        let (mut best, mut ref_lengths) = (usize::MAX, 0);
        for reference in &references {
            let (edits, ref_len) = translation_edit_rate(&hyp, reference)?;
            ref_lengths += ref_len;
            best = best.min(edits);
        }
        let (edits, ref_len) = (best as f64, ref_lengths as f64 / references.len() as f64);
        Ok(Scores::new(vec![ter(edits, ref_len)]).stat("edits", edits).stat("ref_len", ref_len))
    }

    fn finalize(&self, statistics: &Statistics) -> Result<Vec<CorpusScore>, String> {
        Ok(vec![CorpusScore::new("ter", ter(statistics.get("edits"), statistics.get("ref_len")))])
    }
}

assay_sdk::export_evaluator!(Ter);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_follow_the_sacrebleu_signature() {
        let settings = |config: &str| {
            let plugin = Ter::new(serde_json::from_str(config).unwrap()).unwrap();
            plugin.settings().into_iter().map(|s| format!("{}:{}", s.key, s.value)).collect::<Vec<_>>().join("|")
        };
        assert_eq!(settings("{}"), "case:lc|tok:tercom|norm:no|punct:yes|asian:no");
        assert_eq!(
            settings(r#"{"normalized": true, "no_punct": true, "asian_support": true, "case_sensitive": true}"#),
            "case:mixed|tok:tercom|norm:yes|punct:no|asian:yes"
        );
        assert!(serde_json::from_str::<Config>(r#"{"normalize": true}"#).is_err());
    }

    #[test]
    fn empty_references_score_as_sacrebleu_does() {
        assert_eq!(ter(0.0, 0.0), 0.0);
        assert_eq!(ter(3.0, 0.0), 100.0);
        assert_eq!(ter(1.0, 4.0), 25.0);
    }
}
