//! `similarity`: surface similarity of the output to its references, each
//! metric taking its own best-matching reference.
//!
//! - `cosine`: cosine of the term-count vectors. Terms are the runs of word
//!   characters of the lowercased text, where word characters are those of
//!   `\w` in UTS #18 (letters, marks, decimal digits, connector punctuation,
//!   joiners), so words with combining marks, as in Hindi, stay whole. Two
//!   texts without any word count as identical (1.0); one without words
//!   shares nothing with one that has some (0.0).
//! - `levenshtein`: 1 - distance / longer length, on Unicode scalar values,
//!   case-sensitive; two empty texts are identical (1.0). This is rapidfuzz's
//!   `Levenshtein.normalized_similarity`.
//!
//! Configuration: `locale` (`"tr"` or `"az"`) lowers `I` to `ı` and `İ` to
//! `i` for `cosine`; `unicode` (`"nfc"` or `"nfkc"`) normalizes both texts
//! before either metric compares them. The default is `"nfc"` under a
//! locale and no normalization otherwise, as rapidfuzz compares code points.

use std::collections::HashMap;

use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::text::{Locale, UnicodeForm, text_settings};
use assay_sdk::{PluginInfo, Setting};
use regex::Regex;

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// How `cosine` lowers letters: `tr` or `az` for Turkish casing.
    locale: Locale,
    /// Unicode normalization before comparing.
    unicode: Option<UnicodeForm>,
}

pub struct Similarity {
    word: Regex,
    locale: Locale,
    unicode: UnicodeForm,
}

type TermCounts = HashMap<String, u64>;

impl Similarity {
    fn term_counts(&self, text: &str) -> TermCounts {
        let mut counts = TermCounts::new();
        for word in self.word.find_iter(&self.locale.lowercase(text)) {
            *counts.entry(word.as_str().to_string()).or_default() += 1;
        }
        counts
    }

    /// The best cosine similarity of `output` to any reference; `None` without references.
    pub fn best_cosine(&self, output: &str, references: &[String]) -> Option<f64> {
        let output = self.term_counts(output);
        references.iter().map(|r| cosine(&output, &self.term_counts(r))).reduce(f64::max)
    }
}

fn cosine(a: &TermCounts, b: &TermCounts) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let dot: u64 = a.iter().filter_map(|(term, n)| b.get(term).map(|m| n * m)).sum();
    if dot == 0 {
        return 0.0;
    }
    let squared_norm = |counts: &TermCounts| counts.values().map(|n| n * n).sum::<u64>() as f64;
    // One square root of the product keeps identical texts at exactly 1.
    dot as f64 / (squared_norm(a) * squared_norm(b)).sqrt()
}

/// The best normalized Levenshtein similarity of `output` to any reference;
/// `None` without references.
pub fn best_levenshtein(output: &str, references: &[String]) -> Option<f64> {
    let output: Vec<char> = output.chars().collect();
    references.iter().map(|r| levenshtein_similarity(&output, &r.chars().collect::<Vec<_>>())).reduce(f64::max)
}

fn levenshtein_similarity(a: &[char], b: &[char]) -> f64 {
    let longer = a.len().max(b.len());
    if longer == 0 {
        return 1.0;
    }
    1.0 - levenshtein_distance(a, b) as f64 / longer as f64
}

fn levenshtein_distance(a: &[char], b: &[char]) -> usize {
    // A shared prefix or suffix never needs an edit; dropping it makes the
    // common case of outputs close to their reference cheap.
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);

    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y { diagonal } else { 1 + diagonal.min(above).min(row[j]) };
            diagonal = above;
        }
    }
    row[b.len()]
}

impl Evaluator for Similarity {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!(
            "similarity",
            "Cosine similarity of term counts and normalized Levenshtein similarity to the best reference"
        )
    }

    fn metrics() -> Vec<Metric> {
        vec![
            Metric::sample("cosine", "cosine similarity of lowercased word counts, best reference, in [0, 1]", true),
            Metric::sample("levenshtein", "1 - edit distance / longer length in characters, best reference", true),
        ]
    }

    fn new(config: Config) -> Result<Self, String> {
        Ok(Similarity {
            word: Regex::new(r"\w+").expect("the word pattern is valid"),
            locale: config.locale,
            unicode: UnicodeForm::resolve(config.unicode, config.locale),
        })
    }

    fn settings(&self) -> Vec<Setting> {
        text_settings(self.locale, self.unicode)
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        let sample = self.unicode.sample(sample);
        let no_reference = || "the sample has no reference".to_string();
        let cosine = self.best_cosine(&sample.output, &sample.references).ok_or_else(no_reference)?;
        let levenshtein = best_levenshtein(&sample.output, &sample.references).ok_or_else(no_reference)?;
        Ok(Scores::new(vec![cosine, levenshtein]))
    }
}

assay_sdk::export_evaluator!(Similarity);

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    fn plugin() -> Similarity {
        Similarity::new(Config::default()).unwrap()
    }

    fn configured(json: &str) -> Similarity {
        Similarity::new(serde_json::from_str(json).unwrap()).unwrap()
    }

    #[test]
    fn turkish_casing_and_unicode_forms_are_asked_for() {
        let scores = |plugin: &mut Similarity, output: &str, reference: &str| {
            plugin.score(&Sample::new(output, [reference])).unwrap().values
        };
        // Python's lower(): IŞIK is işik, not ışık.
        assert_eq!(scores(&mut plugin(), "IŞIK", "ışık")[0], 0.0);
        assert_eq!(scores(&mut configured(r#"{"locale": "tr"}"#), "IŞIK", "ışık")[0], 1.0);
        assert_eq!(scores(&mut plugin(), "I LIKE", "i like")[0], 1.0, "English casing unchanged by default");
        // Decomposed and composed accents: one character apart without NFC.
        assert_eq!(scores(&mut plugin(), "cafe\u{301}", "café"), [0.0, 1.0 - 2.0 / 5.0]);
        assert_eq!(scores(&mut configured(r#"{"unicode": "nfc"}"#), "cafe\u{301}", "café"), [1.0, 1.0]);
        assert_eq!(scores(&mut configured(r#"{"unicode": "nfkc"}"#), "ｃａｆé", "café"), [1.0, 1.0]);
        let tr = configured(r#"{"locale": "tr"}"#);
        let names: Vec<String> = tr.settings().into_iter().map(|s| format!("{}:{}", s.key, s.value)).collect();
        assert_eq!(names, ["locale:tr", "unicode:nfc"]);
        assert!(plugin().settings().is_empty(), "default signatures stay as they were");
    }

    #[test]
    fn levenshtein_is_normalized_by_the_longer_text() {
        assert_eq!(best_levenshtein("kitten", &refs(&["sitting"])), Some(1.0 - 3.0 / 7.0));
        assert_eq!(best_levenshtein("ab", &refs(&["xaby"])), Some(0.5));
        assert_eq!(best_levenshtein("", &refs(&[""])), Some(1.0));
        assert_eq!(best_levenshtein("", &refs(&["abc"])), Some(0.0));
        // One scalar value per character, whatever its UTF-8 length.
        assert_eq!(best_levenshtein("日本", &refs(&["日本語"])), Some(1.0 - 1.0 / 3.0));
        assert_eq!(best_levenshtein("abc", &refs(&["xyz", "abd"])), Some(1.0 - 1.0 / 3.0));
    }

    #[test]
    fn cosine_counts_lowercased_words() {
        let p = plugin();
        assert_eq!(p.best_cosine("The CAT, the cat!", &refs(&["the cat"])), Some(1.0));
        // Counts (2, 1) against (1, 1): 3 / sqrt(5 * 2).
        assert_eq!(p.best_cosine("a a b", &refs(&["a b"])), Some(3.0 / 10f64.sqrt()));
        assert_eq!(p.best_cosine("a b", &refs(&["c", "b"])), Some(1.0 / 2f64.sqrt()));
        assert_eq!(p.best_cosine("…", &refs(&["!"])), Some(1.0));
        assert_eq!(p.best_cosine("", &refs(&["word"])), Some(0.0));
    }

    #[test]
    fn words_keep_their_combining_marks() {
        let p = plugin();
        assert_eq!(p.term_counts("हिन्दी").len(), 1);
        assert_eq!(p.term_counts("e\u{301}cole x_y").len(), 2);
    }

    #[test]
    fn a_sample_without_references_is_an_error() {
        let sample = Sample {
            id: "1".into(),
            input: String::new(),
            output: "x".into(),
            references: Vec::new(),
            label: None,
            metadata: "{}".into(),
        };
        assert_eq!(plugin().score(&sample).unwrap_err(), "the sample has no reference");
    }
}
