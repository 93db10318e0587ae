//! `token_f1`: the token-overlap F1 of the official SQuAD v1.1 evaluation
//! script (`f1_score` with `metric_max_over_ground_truths`), best over the
//! references. Texts are SQuAD-normalized and split on whitespace; tokens
//! overlap as multisets.
//!
//! As in v1.1 (unlike v2.0), a pair without a common token scores 0, even
//! when both texts are empty after normalization.

use std::collections::HashMap;

use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::text::squad_normalize;
use assay_sdk::{NoConfig, PluginInfo};

pub struct TokenF1;

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

/// The best F1 of `prediction` against any reference; `None` without references.
pub fn best_f1(prediction: &str, references: &[String]) -> Option<f64> {
    let prediction = squad_normalize(prediction);
    let prediction: Vec<&str> = prediction.split_whitespace().collect();
    references
        .iter()
        .map(|reference| {
            let reference = squad_normalize(reference);
            f1(&prediction, &reference.split_whitespace().collect::<Vec<_>>())
        })
        .reduce(f64::max)
}

impl Evaluator for TokenF1 {
    type Config = NoConfig;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("token_f1", "SQuAD v1.1 token-overlap F1 against the best-matching reference")
    }

    fn metrics() -> Vec<Metric> {
        vec![Metric::sample("f1", "SQuAD v1.1 token F1 with the best-matching reference, in [0, 1]", true)]
    }

    fn new(_: NoConfig) -> Result<Self, String> {
        Ok(TokenF1)
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        let f1 = best_f1(&sample.output, &sample.references).ok_or("the sample has no reference")?;
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
        assert!(close(best_f1("cat cat dog", &refs(&["the cat"])), 0.5));
        // precision 1, recall 1/2.
        assert!(close(best_f1("cat", &refs(&["cat cat"])), 2.0 / 3.0));
    }

    #[test]
    fn empty_texts_score_zero_as_in_v1_1() {
        assert_eq!(best_f1("", &refs(&[""])), Some(0.0));
        assert_eq!(best_f1("The", &refs(&["a"])), Some(0.0));
    }

    #[test]
    fn best_reference_wins_and_none_is_an_error() {
        assert_eq!(best_f1("Vistula River", &refs(&["Oder", "the Vistula River!"])), Some(1.0));
        assert_eq!(best_f1("x", &[]), None);
        let sample = Sample {
            id: "1".into(),
            input: String::new(),
            output: "x".into(),
            references: Vec::new(),
            label: None,
            metadata: "{}".into(),
        };
        assert_eq!(TokenF1.score(&sample).unwrap_err(), "the sample has no reference");
    }
}
