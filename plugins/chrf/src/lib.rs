//! `chrf`: sacreBLEU's chrF (and chrF++ with `word_order: 2`), per sample
//! (`sentence_chrf`) and per corpus.
//!
//! Each sample reports, per character and word n-gram order, the output's
//! n-grams, the reference's n-grams and their clipped matches, taken from the
//! reference with the best sentence F-score as sacreBLEU picks it; `finalize`
//! turns their sums into corpus chrF exactly as sacreBLEU's
//! `CHRF.corpus_score` does.

#[path = "../../bleu/src/ngrams.rs"]
mod ngrams;
#[path = "../../bleu/src/python.rs"]
mod python;

use std::borrow::Cow;

use assay_sdk::evaluator::{CorpusScore, Evaluator, Metric, Sample, Scores, Statistics};
use assay_sdk::text::{Locale, UnicodeForm, text_settings};
use assay_sdk::{PluginInfo, Setting};

use ngrams::{Ngrams, word_ids};
use python::{is_py_space, py_split};

#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Character n-gram orders 1 to `char_order`.
    char_order: usize,
    /// Word n-gram orders 1 to `word_order`; 2 makes chrF++.
    word_order: usize,
    /// Recall weighs `beta` times as much as precision.
    beta: u32,
    lowercase: bool,
    /// Keep whitespace inside character n-grams.
    whitespace: bool,
    /// Average per-order F-scores with epsilon smoothing (chrF++.py, NLTK,
    /// Moses) instead of sacreBLEU's F-score of averaged precision and recall.
    eps_smoothing: bool,
    /// Unicode normalization before counting (`nfc`, `nfkc`); none by default, as sacreBLEU.
    unicode: UnicodeForm,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            char_order: 6,
            word_order: 0,
            beta: 2,
            lowercase: false,
            whitespace: false,
            eps_smoothing: false,
            unicode: UnicodeForm::None,
        }
    }
}

pub struct Chrf {
    char_order: usize,
    word_order: usize,
    beta: u32,
    lowercase: bool,
    whitespace: bool,
    eps_smoothing: bool,
    unicode: UnicodeForm,
    /// The statistic names, three per order (output n-grams, reference
    /// n-grams, matches): character orders first, then word orders.
    names: Vec<String>,
    ngrams: Ngrams,
}

impl Chrf {
    fn order(&self) -> usize {
        self.char_order + self.word_order
    }

    /// The statistics of the reference with the best F-score (the first on
    /// ties), as sacreBLEU's `_compute_segment_statistics`.
    fn segment(&mut self, output: &str, references: &[String]) -> Vec<f64> {
        let output = self.preprocess(output);
        let references: Vec<Cow<str>> = references.iter().map(|r| self.preprocess(r)).collect();
        let mut per_ref: Vec<Vec<f64>> = references.iter().map(|_| Vec::with_capacity(3 * self.order())).collect();
        let ref_chars: Vec<Vec<u32>> = references.iter().map(|r| self.chars(r)).collect();
        let hyp_chars = self.chars(&output);
        self.match_statistics(&hyp_chars, &ref_chars, self.char_order, &mut per_ref);
        if self.word_order > 0 {
            let ref_words: Vec<Vec<&str>> = references.iter().map(|r| words(r)).collect();
            let (hyp_ids, ref_ids) = word_ids(&words(&output), &ref_words);
            self.match_statistics(&hyp_ids, &ref_ids, self.word_order, &mut per_ref);
        }
        let mut best = (-1.0, Vec::new());
        for stats in per_ref {
            let f_score = self.f_score(&stats);
            if f_score > best.0 {
                best = (f_score, stats);
            }
        }
        best.1
    }

    fn preprocess<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.lowercase { Cow::Owned(text.to_lowercase()) } else { Cow::Borrowed(text) }
    }

    /// The characters n-grams are made of, as Unicode scalar values.
    fn chars(&self, text: &str) -> Vec<u32> {
        let mut chars = Vec::with_capacity(text.len());
        chars.extend(text.chars().filter(|&c| self.whitespace || !is_py_space(c)).map(u32::from));
        chars
    }

    /// Appends to `statistics[r]`, for each order 1 to `max_order`, sacreBLEU's
    /// `_get_match_statistics` of the output against reference `r`: output
    /// n-grams (0 when the reference has none of that order), reference
    /// n-grams, and clipped matches.
    fn match_statistics(&mut self, hyp: &[u32], refs: &[Vec<u32>], max_order: usize, statistics: &mut [Vec<f64>]) {
        self.ngrams.index(hyp, max_order);
        for (reference, statistics) in refs.iter().zip(statistics) {
            let matches = self.ngrams.clipped_matches([reference.as_slice()]);
            for (n, matched) in (1..=max_order).zip(matches) {
                let ref_total = (reference.len() + 1).saturating_sub(n);
                let hyp_total = if ref_total > 0 { (hyp.len() + 1).saturating_sub(n) } else { 0 };
                statistics.extend([hyp_total as f64, ref_total as f64, f64::from(matched)]);
            }
        }
    }

    /// chrF from statistics, as sacreBLEU's `CHRF._compute_f_score`,
    /// operation for operation so that results agree to the last bit.
    fn f_score(&self, statistics: &[f64]) -> f64 {
        const EPS: f64 = 1e-16;
        let factor = f64::from(self.beta) * f64::from(self.beta);
        let mut eps_score = 0.0;
        let (mut avg_prec, mut avg_rec, mut effective_order) = (0.0, 0.0, 0);
        for stats in statistics.chunks_exact(3) {
            let (n_hyp, n_ref, n_match) = (stats[0], stats[1], stats[2]);
            let prec = if n_hyp > 0.0 { n_match / n_hyp } else { EPS };
            let rec = if n_ref > 0.0 { n_match / n_ref } else { EPS };
            if self.eps_smoothing {
                let denom = factor * prec + rec;
                eps_score += if denom > 0.0 { (1.0 + factor) * prec * rec / denom } else { EPS };
            }
            if n_hyp > 0.0 && n_ref > 0.0 {
                avg_prec += prec;
                avg_rec += rec;
                effective_order += 1;
            }
        }
        if self.eps_smoothing {
            return 100.0 * eps_score / self.order() as f64;
        }
        if effective_order > 0 {
            avg_prec /= f64::from(effective_order);
            avg_rec /= f64::from(effective_order);
        }
        if avg_prec + avg_rec == 0.0 {
            return 0.0;
        }
        let score = (1.0 + factor) * avg_prec * avg_rec;
        100.0 * (score / (factor * avg_prec + avg_rec))
    }
}

/// The words of chrF++, as sacreBLEU's `_remove_punctuation`: one ASCII
/// punctuation mark is split off the end of a word, or else off its start.
fn words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    for word in py_split(text) {
        let single_char = word.chars().nth(1).is_none();
        if !single_char && word.ends_with(|c: char| c.is_ascii_punctuation()) {
            words.extend([&word[..word.len() - 1], &word[word.len() - 1..]]);
        } else if !single_char && word.starts_with(|c: char| c.is_ascii_punctuation()) {
            words.extend([&word[..1], &word[1..]]);
        } else {
            words.push(word);
        }
    }
    words
}

impl Evaluator for Chrf {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("chrf", "chrF and chrF++ as sacreBLEU computes them, per sample and over the corpus")
    }

    fn metrics() -> Vec<Metric> {
        vec![
            Metric::sample("sentence_chrf", "sentence chrF (0-100), as sacrebleu.sentence_chrf", true),
            Metric::corpus("chrf", "corpus chrF (0-100), as sacreBLEU's corpus score", true),
        ]
    }

    fn new(config: Config) -> Result<Self, String> {
        if config.char_order + config.word_order == 0 {
            return Err("`char_order` and `word_order` are both 0: there is nothing to count".into());
        }
        let stat = |kind: &str, n: usize| ["hyp", "ref", "match"].map(|part| format!("{kind}{n}_{part}"));
        let names = (1..=config.char_order)
            .flat_map(|n| stat("char", n))
            .chain((1..=config.word_order).flat_map(|n| stat("word", n)))
            .collect();
        Ok(Chrf {
            char_order: config.char_order,
            word_order: config.word_order,
            beta: config.beta,
            lowercase: config.lowercase,
            whitespace: config.whitespace,
            eps_smoothing: config.eps_smoothing,
            unicode: config.unicode,
            names,
            ngrams: Ngrams::default(),
        })
    }

    /// sacreBLEU's signature keys (the host adds the number of references),
    /// plus beta, which sacreBLEU puts in the metric name (`chrF2`).
    fn settings(&self) -> Vec<Setting> {
        let yes_no = |flag: bool| if flag { "yes" } else { "no" };
        let mut settings = vec![
            Setting::new("case", if self.lowercase { "lc" } else { "mixed" }),
            Setting::new("eff", yes_no(!self.eps_smoothing)),
            Setting::new("nc", self.char_order),
            Setting::new("nw", self.word_order),
            Setting::new("space", yes_no(self.whitespace)),
            Setting::new("beta", self.beta),
        ];
        settings.extend(text_settings(Locale::Unicode, self.unicode));
        settings
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        let sample = self.unicode.sample(sample);
        if sample.references.is_empty() {
            return Err("the sample has no reference".into());
        }
        let statistics = self.segment(&sample.output, &sample.references);
        let mut scores = Scores::new(vec![self.f_score(&statistics)]);
        for (name, value) in self.names.iter().zip(statistics) {
            scores = scores.stat(name.clone(), value);
        }
        Ok(scores)
    }

    fn finalize(&self, statistics: &Statistics) -> Result<Vec<CorpusScore>, String> {
        let sums: Vec<f64> = self.names.iter().map(|name| statistics.get(name)).collect();
        Ok(vec![CorpusScore::new("chrf", self.f_score(&sums))])
    }
}

assay_sdk::export_evaluator!(Chrf);

#[cfg(test)]
mod tests {
    use super::*;

    fn chrf(config: &str) -> Result<Chrf, String> {
        Chrf::new(serde_json::from_str(config).map_err(|e| e.to_string())?)
    }

    #[test]
    fn words_split_one_punctuation_mark_like_sacrebleu() {
        assert_eq!(
            words("(hi) \"quoted\" ,x . don't ...a é."),
            ["(hi", ")", "\"quoted", "\"", ",", "x", ".", "don't", ".", "..a", "é", "."]
        );
    }

    #[test]
    fn picks_the_reference_with_the_best_f_score() {
        let mut plugin = chrf("{}").unwrap();
        let refs = ["completely different".to_string(), "the cat sat".to_string(), "the cat sat".to_string()];
        let best = plugin.segment("the cat sat", &refs);
        assert_eq!(plugin.f_score(&best), 100.0);
        assert_eq!(best, plugin.segment("the cat sat", &refs[1..2]));
    }

    #[test]
    fn output_counts_are_zero_for_orders_the_reference_lacks() {
        let mut plugin = chrf("{}").unwrap();
        let stats = plugin.segment("abcdefgh", &["abc".into()]);
        assert_eq!(&stats[6..9], [6.0, 1.0, 1.0]);
        assert_eq!(&stats[9..12], [0.0, 0.0, 0.0]);
    }

    #[test]
    fn rejects_bad_configurations() {
        assert!(chrf(r#"{"char_order": 0}"#).is_err());
        assert!(chrf(r#"{"beta": -1}"#).is_err());
        assert!(chrf(r#"{"order": 6}"#).is_err());
        assert!(chrf(r#"{"char_order": 0, "word_order": 2}"#).is_ok());
    }

    #[test]
    fn settings_follow_the_sacrebleu_signature() {
        let plugin = chrf(r#"{"word_order": 2}"#).unwrap();
        let settings: Vec<String> = plugin.settings().into_iter().map(|s| format!("{}:{}", s.key, s.value)).collect();
        assert_eq!(settings.join("|"), "case:mixed|eff:yes|nc:6|nw:2|space:no|beta:2");
        assert_eq!(plugin.names[..3], ["char1_hyp", "char1_ref", "char1_match"]);
        assert_eq!(plugin.names[18..21], ["word1_hyp", "word1_ref", "word1_match"]);
    }
}
