//! `bleu`: sacreBLEU's BLEU, per sample (`sentence_bleu`) and per corpus.
//!
//! Each sample reports its n-gram matches and totals per order and its
//! output and reference lengths as statistics; `finalize` turns their sums
//! into corpus BLEU exactly as sacreBLEU's `BLEU.corpus_score` does, so a run
//! split over threads or machines scores like one sacreBLEU call.

mod mteval;
mod ngrams;
mod python;
mod tokenizer;

use std::borrow::Cow;

use assay_sdk::evaluator::{CorpusScore, Evaluator, Metric, Sample, Scores, Statistics};
use assay_sdk::text::{Locale, UnicodeForm, text_settings};
use assay_sdk::{PluginInfo, Setting};

use ngrams::{Ngrams, word_ids};
use python::{is_py_space, py_split};
use tokenizer::{tokenize_13a, tokenize_char, tokenize_intl, tokenize_zh};

/// sacreBLEU's tokenizers, by the names its signature gives them.
#[derive(serde::Deserialize, Clone, Copy, PartialEq)]
enum Tokenize {
    /// mteval-v13a, sacreBLEU's default.
    #[serde(rename = "13a")]
    Mteval13a,
    /// Split on whitespace only, for text tokenized beforehand.
    #[serde(rename = "none")]
    None,
    /// mteval-v14's international tokenization: Unicode punctuation and symbols.
    #[serde(rename = "intl")]
    Intl,
    /// Chinese characters apart, the rest as 13a.
    #[serde(rename = "zh")]
    Zh,
    /// Every character a token, for scripts written without spaces.
    #[serde(rename = "char")]
    Char,
    // Named so that they are refused with the reason, not as unknown.
    #[serde(rename = "ja-mecab")]
    JaMecab,
    #[serde(rename = "ko-mecab")]
    KoMecab,
    #[serde(rename = "spm")]
    Spm,
    #[serde(rename = "flores101")]
    Flores101,
    #[serde(rename = "flores200")]
    Flores200,
    #[serde(rename = "spBLEU-1K")]
    SpBleu1k,
}

impl Tokenize {
    fn name(self) -> &'static str {
        match self {
            Tokenize::Mteval13a => "13a",
            Tokenize::None => "none",
            Tokenize::Intl => "intl",
            Tokenize::Zh => "zh",
            Tokenize::Char => "char",
            Tokenize::JaMecab => "ja-mecab",
            Tokenize::KoMecab => "ko-mecab",
            Tokenize::Spm => "spm",
            Tokenize::Flores101 => "flores101",
            Tokenize::Flores200 => "flores200",
            Tokenize::SpBleu1k => "spBLEU-1K",
        }
    }

    /// Why a tokenizer sacreBLEU has cannot run here, or `None` when it can.
    fn unavailable(self) -> Option<String> {
        let needs = match self {
            Tokenize::JaMecab => "the MeCab morphological analyzer and its IPA dictionary (sacrebleu[ja])",
            Tokenize::KoMecab => "the MeCab-ko analyzer and its dictionary (sacrebleu[ko])",
            Tokenize::Spm | Tokenize::Flores101 | Tokenize::Flores200 | Tokenize::SpBleu1k => {
                "a SentencePiece model file that sacreBLEU downloads on first use"
            }
            _ => return None,
        };
        Some(format!(
            "tokenize = \"{}\" needs {needs}; a plugin runs without files or network, so the bleu plugin \
             cannot offer it. Use \"char\" (Japanese, Korean, Thai) or \"zh\" (Chinese), or tokenize the text \
             beforehand and use \"none\"",
            self.name()
        ))
    }
}

#[derive(serde::Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum SmoothMethod {
    None,
    Floor,
    AddK,
    Exp,
}

#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    tokenize: Tokenize,
    lowercase: bool,
    smooth_method: SmoothMethod,
    /// The `floor` value (default 0.1) or the `add-k` k (default 1).
    smooth_value: Option<f64>,
    max_ngram_order: usize,
    /// Unicode normalization before tokenizing (`nfc`, `nfkc`); none by default, as sacreBLEU.
    unicode: UnicodeForm,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tokenize: Tokenize::Mteval13a,
            lowercase: false,
            smooth_method: SmoothMethod::Exp,
            smooth_value: None,
            max_ngram_order: 4,
            unicode: UnicodeForm::None,
        }
    }
}

#[derive(Clone, Copy)]
enum Smooth {
    None,
    Floor(f64),
    AddK(f64),
    Exp,
}

pub struct Bleu {
    tokenize: Tokenize,
    lowercase: bool,
    smooth: Smooth,
    max_order: usize,
    unicode: UnicodeForm,
    match_names: Vec<String>,
    total_names: Vec<String>,
    ngrams: Ngrams,
}

/// A BLEU score with the parts sacreBLEU reports beside it.
#[derive(Debug)]
struct BleuScore {
    /// BLEU, 0 to 100.
    score: f64,
    /// The brevity penalty.
    bp: f64,
    /// The (smoothed) n-gram precisions in percent, per order.
    precisions: Vec<f64>,
}

/// One sample's sufficient statistics, as sacreBLEU's `_compute_segment_statistics`.
struct Segment {
    hyp_len: f64,
    ref_len: f64,
    correct: Vec<f64>,
    total: Vec<f64>,
}

impl Bleu {
    /// Lowercases, strips trailing whitespace and tokenizes, as sacreBLEU's
    /// `_preprocess_segment`.
    fn preprocess<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let text = if self.lowercase { Cow::Owned(text.to_lowercase()) } else { Cow::Borrowed(text) };
        let stripped = || text.trim_end_matches(is_py_space);
        match self.tokenize {
            Tokenize::Mteval13a => Cow::Owned(tokenize_13a(stripped())),
            Tokenize::Intl => Cow::Owned(tokenize_intl(stripped())),
            Tokenize::Zh => Cow::Owned(tokenize_zh(stripped())),
            Tokenize::Char => Cow::Owned(tokenize_char(stripped())),
            // Trailing whitespace never reaches a token without a tokenizer;
            // the others are refused by `new`.
            _ => text,
        }
    }

    fn segment(&mut self, output: &str, references: &[String]) -> Segment {
        let output = self.preprocess(output);
        let references: Vec<Cow<str>> = references.iter().map(|r| self.preprocess(r)).collect();
        let hyp = words(&output);
        let refs: Vec<Vec<&str>> = references.iter().map(|r| words(r)).collect();
        let (hyp_ids, ref_ids) = word_ids(&hyp, &refs);
        self.ngrams.index(&hyp_ids, self.max_order);
        let correct = self.ngrams.clipped_matches(ref_ids.iter().map(Vec::as_slice));
        Segment {
            hyp_len: hyp.len() as f64,
            ref_len: closest_ref_len(hyp.len(), refs.iter().map(Vec::len)) as f64,
            correct: correct.into_iter().map(f64::from).collect(),
            total: (1..=self.max_order).map(|n| (hyp.len() + 1).saturating_sub(n) as f64).collect(),
        }
    }

    /// BLEU from its sufficient statistics, as sacreBLEU's `BLEU.compute_bleu`,
    /// operation for operation so that results agree up to the last bit of
    /// the platform's `exp` and `ln`.
    fn compute_bleu(
        &self,
        correct: &[f64],
        total: &[f64],
        sys_len: f64,
        ref_len: f64,
        effective_order: bool,
    ) -> BleuScore {
        let bp = if sys_len >= ref_len {
            1.0
        } else if sys_len > 0.0 {
            (1.0 - ref_len / sys_len).exp()
        } else {
            0.0
        };
        let mut precisions = vec![0.0; self.max_order];
        if correct.iter().all(|&c| c == 0.0) {
            return BleuScore { score: 0.0, bp, precisions };
        }
        let mut smooth_mteval = 1.0;
        // Without the effective order, an order with no n-gram at all keeps
        // precision 0 and so zeroes the score: a corpus of outputs shorter
        // than 4 words has BLEU 0.
        let mut eff_order = self.max_order;
        for n in 0..self.max_order {
            let (mut correct, mut total) = (correct[n], total[n]);
            if let Smooth::AddK(k) = self.smooth
                && n > 0
            {
                correct += k;
                total += k;
            }
            if total == 0.0 {
                break;
            }
            if effective_order {
                eff_order = n + 1;
            }
            precisions[n] = if correct != 0.0 {
                100.0 * correct / total
            } else {
                match self.smooth {
                    Smooth::Exp => {
                        smooth_mteval *= 2.0;
                        100.0 / (smooth_mteval * total)
                    }
                    Smooth::Floor(value) => 100.0 * value / total,
                    Smooth::None | Smooth::AddK(_) => 0.0,
                }
            };
        }
        // sacreBLEU's `my_log`: log(0) floored to -9999999999.
        let log_sum: f64 =
            precisions[..eff_order].iter().map(|&p| if p == 0.0 { -9_999_999_999.0 } else { p.ln() }).sum();
        BleuScore { score: bp * (log_sum / eff_order as f64).exp(), bp, precisions }
    }
}

fn words(text: &str) -> Vec<&str> {
    // Sized for 13a output, whose words average more than 3 bytes, to spare regrowth.
    let mut words = Vec::with_capacity(text.len() / 3 + 1);
    words.extend(py_split(text));
    words
}

/// The reference length closest to the output length; ties go to the shorter.
fn closest_ref_len(hyp_len: usize, ref_lens: impl Iterator<Item = usize>) -> usize {
    ref_lens.min_by_key(|&len| (hyp_len.abs_diff(len), len)).unwrap_or(0)
}

impl Evaluator for Bleu {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("bleu", "BLEU as sacreBLEU computes it: sentence BLEU per sample, BLEU over the corpus")
    }

    fn metrics() -> Vec<Metric> {
        vec![
            Metric::sample(
                "sentence_bleu",
                "sentence BLEU (0-100), as sacrebleu.sentence_bleu (effective order)",
                true,
            ),
            Metric::corpus("bleu", "corpus BLEU (0-100), as sacreBLEU's corpus score", true),
            Metric::corpus("bp", "brevity penalty of corpus BLEU (1 when outputs are not shorter)", true),
            Metric::corpus("ratio", "output length over reference length, in tokens (1 is ideal)", true),
            Metric::corpus("precision*", "corpus n-gram precision in percent, precision1 up to the max order", true),
        ]
    }

    fn new(config: Config) -> Result<Self, String> {
        if config.max_ngram_order == 0 {
            return Err("`max_ngram_order` must be at least 1".into());
        }
        if let Some(reason) = config.tokenize.unavailable() {
            return Err(reason);
        }
        let smooth = match (config.smooth_method, config.smooth_value) {
            (_, Some(value)) if !(value.is_finite() && value >= 0.0) => {
                return Err(format!("`smooth_value` must be a finite number >= 0, not {value}"));
            }
            (SmoothMethod::Floor, value) => Smooth::Floor(value.unwrap_or(0.1)),
            (SmoothMethod::AddK, value) => Smooth::AddK(value.unwrap_or(1.0)),
            (_, Some(_)) => return Err("`smooth_value` applies only to `floor` and `add-k` smoothing".into()),
            (SmoothMethod::Exp, None) => Smooth::Exp,
            (SmoothMethod::None, None) => Smooth::None,
        };
        let max_order = config.max_ngram_order;
        Ok(Bleu {
            tokenize: config.tokenize,
            lowercase: config.lowercase,
            smooth,
            max_order,
            unicode: config.unicode,
            match_names: (1..=max_order).map(|n| format!("match{n}")).collect(),
            total_names: (1..=max_order).map(|n| format!("total{n}")).collect(),
            ngrams: Ngrams::default(),
        })
    }

    /// sacreBLEU's signature keys (the host adds the number of references),
    /// plus the n-gram order, which changes the numbers too.
    fn settings(&self) -> Vec<Setting> {
        let smooth = match self.smooth {
            Smooth::None => "none".to_string(),
            Smooth::Exp => "exp".to_string(),
            Smooth::Floor(value) => format!("floor[{value:.2}]"),
            Smooth::AddK(value) => format!("add-k[{value:.2}]"),
        };
        let mut settings = vec![
            Setting::new("case", if self.lowercase { "lc" } else { "mixed" }),
            Setting::new("eff", "no"),
            Setting::new("tok", self.tokenize.name()),
            Setting::new("smooth", smooth),
            Setting::new("order", self.max_order),
        ];
        settings.extend(text_settings(Locale::Unicode, self.unicode));
        settings
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        let sample = self.unicode.sample(sample);
        if sample.references.is_empty() {
            return Err("the sample has no reference".into());
        }
        let segment = self.segment(&sample.output, &sample.references);
        let sentence = self.compute_bleu(&segment.correct, &segment.total, segment.hyp_len, segment.ref_len, true);
        let mut scores =
            Scores::new(vec![sentence.score]).stat("hyp_len", segment.hyp_len).stat("ref_len", segment.ref_len);
        for n in 0..self.max_order {
            scores = scores
                .stat(self.match_names[n].clone(), segment.correct[n])
                .stat(self.total_names[n].clone(), segment.total[n]);
        }
        Ok(scores)
    }

    fn finalize(&self, statistics: &Statistics) -> Result<Vec<CorpusScore>, String> {
        let correct: Vec<f64> = self.match_names.iter().map(|name| statistics.get(name)).collect();
        let total: Vec<f64> = self.total_names.iter().map(|name| statistics.get(name)).collect();
        let (hyp_len, ref_len) = (statistics.get("hyp_len"), statistics.get("ref_len"));
        let bleu = self.compute_bleu(&correct, &total, hyp_len, ref_len, false);
        let ratio = if ref_len > 0.0 { hyp_len / ref_len } else { 0.0 };
        let mut scores = vec![
            CorpusScore::new("bleu", bleu.score),
            CorpusScore::new("bp", bleu.bp),
            CorpusScore::new("ratio", ratio),
        ];
        for (n, precision) in bleu.precisions.iter().enumerate() {
            scores.push(CorpusScore::new(format!("precision{}", n + 1), *precision));
        }
        Ok(scores)
    }
}

assay_sdk::export_evaluator!(Bleu);

#[cfg(test)]
mod tests {
    use super::*;

    fn bleu(config: &str) -> Result<Bleu, String> {
        Bleu::new(serde_json::from_str(config).map_err(|e| e.to_string())?)
    }

    #[test]
    fn closest_reference_length_prefers_the_shorter_on_ties() {
        assert_eq!(closest_ref_len(8, [7, 9].into_iter()), 7);
        assert_eq!(closest_ref_len(8, [9, 7].into_iter()), 7);
        assert_eq!(closest_ref_len(8, [12, 9, 5].into_iter()), 9);
    }

    #[test]
    fn corpus_bleu_is_zero_without_4_grams_but_sentence_bleu_is_not() {
        let mut plugin = bleu("{}").unwrap();
        let short = plugin.segment("New York City", &["New York City is big.".into()]);
        assert_eq!(short.total, [3.0, 2.0, 1.0, 0.0]);
        let sentence = plugin.compute_bleu(&short.correct, &short.total, short.hyp_len, short.ref_len, true);
        let corpus = plugin.compute_bleu(&short.correct, &short.total, short.hyp_len, short.ref_len, false);
        assert!(sentence.score > 10.0, "{sentence:?}");
        assert_eq!(corpus.score, 0.0);
    }

    #[test]
    fn rejects_bad_configurations() {
        assert!(bleu(r#"{"tokenize": "intl"}"#).is_ok());
        assert!(bleu(r#"{"tokenize": "13b"}"#).is_err());
        for refused in ["ja-mecab", "ko-mecab", "spm", "flores101", "flores200", "spBLEU-1K"] {
            let error = bleu(&format!(r#"{{"tokenize": "{refused}"}}"#)).err().unwrap();
            assert!(error.contains(refused) && error.contains("\"char\""), "{error}");
        }
        assert!(bleu(r#"{"max_ngram_order": 0}"#).is_err());
        assert!(bleu(r#"{"smooth_value": 0.2}"#).is_err());
        assert!(bleu(r#"{"smooth_method": "floor", "smooth_value": -1}"#).is_err());
        assert!(bleu(r#"{"smoothing": "exp"}"#).is_err());
    }

    #[test]
    fn settings_follow_the_sacrebleu_signature() {
        let settings = |config: &str| {
            let plugin = bleu(config).unwrap();
            plugin.settings().into_iter().map(|s| format!("{}:{}", s.key, s.value)).collect::<Vec<_>>().join("|")
        };
        assert_eq!(settings("{}"), "case:mixed|eff:no|tok:13a|smooth:exp|order:4");
        assert_eq!(
            settings(r#"{"lowercase": true, "tokenize": "none", "smooth_method": "add-k"}"#),
            "case:lc|eff:no|tok:none|smooth:add-k[1.00]|order:4"
        );
        assert_eq!(settings(r#"{"smooth_method": "floor"}"#), "case:mixed|eff:no|tok:13a|smooth:floor[0.10]|order:4");
        assert_eq!(settings(r#"{"unicode": "nfkc"}"#), "case:mixed|eff:no|tok:13a|smooth:exp|order:4|unicode:nfkc");
        for tok in ["intl", "zh", "char"] {
            assert_eq!(
                settings(&format!(r#"{{"tokenize": "{tok}"}}"#)),
                format!("case:mixed|eff:no|tok:{tok}|smooth:exp|order:4")
            );
        }
    }
}
