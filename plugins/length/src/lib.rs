//! `length`: how long outputs are, and how long against their references.
//!
//! - `chars`: Unicode scalar values in the output.
//! - `words`: whitespace-separated tokens in the output (Unicode White_Space).
//! - `ratio` (corpus): output words over reference words, summed over the
//!   samples that have references, where a sample's reference length is the
//!   mean word count of its references. Like BLEU's length ratio it is a
//!   ratio of sums, so short references do not blow it up; above 1 means
//!   more verbose than the references. Samples without references still get
//!   `chars` and `words`; a run whose references have no words at all has
//!   no `ratio`.

use assay_sdk::evaluator::{CorpusScore, Evaluator, Metric, Sample, Scores, Statistics};
use assay_sdk::{NoConfig, PluginInfo};

pub struct Length;

const OUTPUT_WORDS: &str = "output_words";
const REFERENCE_WORDS: &str = "reference_words";

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

impl Evaluator for Length {
    type Config = NoConfig;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("length", "Output length in characters and words, and its ratio to the references")
    }

    fn metrics() -> Vec<Metric> {
        vec![
            Metric::sample("chars", "characters (Unicode scalar values) in the output", false),
            Metric::sample("words", "whitespace-separated words in the output", false),
            Metric::corpus("ratio", "output words / mean reference words, summed over samples with references", false),
        ]
    }

    fn new(_: NoConfig) -> Result<Self, String> {
        Ok(Length)
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        let output_words = words(&sample.output) as f64;
        let scores = Scores::new(vec![sample.output.chars().count() as f64, output_words]);
        if sample.references.is_empty() {
            return Ok(scores);
        }
        let reference_words =
            sample.references.iter().map(|r| words(r) as f64).sum::<f64>() / sample.references.len() as f64;
        Ok(scores.stat(OUTPUT_WORDS, output_words).stat(REFERENCE_WORDS, reference_words))
    }

    fn finalize(&self, statistics: &Statistics) -> Result<Vec<CorpusScore>, String> {
        let reference_words = statistics.get(REFERENCE_WORDS);
        if reference_words == 0.0 {
            return Ok(Vec::new());
        }
        Ok(vec![CorpusScore::new("ratio", statistics.get(OUTPUT_WORDS) / reference_words)])
    }
}

assay_sdk::export_evaluator!(Length);

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(output: &str, references: &[&str]) -> Sample {
        Sample::new(output, references.iter().copied())
    }

    /// Scores samples and finalizes their summed statistics, as the host does.
    fn run(samples: &[Sample]) -> (Vec<Vec<f64>>, Vec<CorpusScore>) {
        let mut values = Vec::new();
        let mut statistics = Vec::new();
        for sample in samples {
            let scores = Length.score(sample).unwrap();
            values.push(scores.values);
            statistics.extend(scores.statistics.into_iter().map(|s| (s.name, s.value)));
        }
        (values, Length.finalize(&statistics.into_iter().collect()).unwrap())
    }

    #[test]
    fn counts_scalar_values_and_whitespace_separated_words() {
        let (values, _) = run(&[
            sample("naïve café", &[]),
            sample("  two\twords\n", &[]),
            sample("日本語のテキスト", &[]),
            sample("a\u{a0}b\u{2003}c", &[]),
            sample("", &[]),
        ]);
        assert_eq!(values, [vec![10.0, 2.0], vec![12.0, 2.0], vec![8.0, 1.0], vec![5.0, 3.0], vec![0.0, 0.0]]);
    }

    #[test]
    fn ratio_is_a_ratio_of_sums_over_samples_with_references() {
        let (_, corpus) = run(&[
            // 4 words against a mean of (2 + 4) / 2 = 3.
            sample("one two three four", &["one two", "one two three four"]),
            // 1 word against 1.
            sample("yes", &["no"]),
            // No references: not part of the ratio.
            sample("many words that do not count here", &[]),
        ]);
        assert_eq!(corpus.len(), 1);
        assert_eq!(corpus[0].name, "ratio");
        assert_eq!(corpus[0].value, 5.0 / 4.0);
    }

    #[test]
    fn no_reference_words_means_no_ratio() {
        assert!(run(&[sample("text", &[])]).1.is_empty());
        assert!(run(&[sample("text", &["", "  "])]).1.is_empty());
    }
}
