//! Which samples people review: all of them, a seeded random sample, a
//! sample stratified over a metric's range, the lowest by a metric, or
//! those where two metrics disagree most.
//!
//! Random choices come from a PCG generator seeded by the review's seed,
//! whose sequence is fixed by its specification: the same seed picks the
//! same samples on any machine and in any later version of Assay.

use std::collections::BTreeMap;

use rand::SeedableRng as _;
use rand::seq::SliceRandom as _;

/// How to choose the items of a review.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    All,
    /// This many, at random.
    Random(usize),
    /// This share (0 to 1), at random, rounded to the nearest whole item.
    Fraction(f64),
    /// `n` in all, spread evenly over `bins` equal-width bins of the
    /// metric's range, at random within each bin; a bin with too few
    /// samples gives what it has and the rest go to the others.
    Stratified {
        metric: String,
        bins: usize,
        n: usize,
    },
    /// The `n` samples with the lowest values of the metric.
    Lowest {
        metric: String,
        n: usize,
    },
    /// The `n` samples where the two metrics, each scaled to [0, 1] over
    /// the run, differ most.
    Disagree {
        first: String,
        second: String,
        n: usize,
    },
}

/// Why a selection cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    #[error("no sample has the metric {metric:?}; the run's sample metrics are: {known}")]
    UnknownMetric { metric: String, known: String },
    #[error("{0}")]
    Invalid(String),
}

impl std::fmt::Display for Selection {
    /// As the review records it, for people.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selection::All => f.write_str("all samples"),
            Selection::Random(n) => write!(f, "{n} at random"),
            Selection::Fraction(share) => write!(f, "{share} of the samples at random"),
            Selection::Stratified { metric, bins, n } => write!(f, "{n} stratified over {bins} bins of {metric}"),
            Selection::Lowest { metric, n } => write!(f, "the {n} lowest by {metric}"),
            Selection::Disagree { first, second, n } => write!(f, "the {n} where {first} and {second} disagree most"),
        }
    }
}

/// The indices (into `scores`, one map of metric values per sample) of
/// the chosen samples, in input order.
pub fn select(
    scores: &[BTreeMap<String, f64>],
    selection: &Selection,
    seed: u64,
) -> Result<Vec<usize>, SelectionError> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let all: Vec<usize> = (0..scores.len()).collect();
    let values = |metric: &str| -> Result<Vec<(usize, f64)>, SelectionError> {
        let values: Vec<(usize, f64)> =
            scores.iter().enumerate().filter_map(|(i, s)| Some((i, *s.get(metric)?))).collect();
        if values.is_empty() {
            let mut known: Vec<&str> = scores.iter().flat_map(|s| s.keys().map(String::as_str)).collect();
            known.sort_unstable();
            known.dedup();
            return Err(SelectionError::UnknownMetric { metric: metric.into(), known: known.join(", ") });
        }
        Ok(values)
    };
    let mut chosen = match selection {
        Selection::All => all,
        Selection::Random(n) => {
            let mut shuffled = all;
            shuffled.shuffle(&mut rng);
            shuffled.truncate(*n);
            shuffled
        }
        Selection::Fraction(share) => {
            if !(0.0..=1.0).contains(share) {
                return Err(SelectionError::Invalid(format!("a fraction is between 0 and 1, not {share}")));
            }
            let n = (scores.len() as f64 * share).round() as usize;
            return select(scores, &Selection::Random(n), seed);
        }
        Selection::Stratified { metric, bins, n } => {
            if *bins == 0 {
                return Err(SelectionError::Invalid("stratifying needs at least one bin".into()));
            }
            let values = values(metric)?;
            let low = values.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
            let high = values.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
            let width = (high - low) / *bins as f64;
            let mut strata: Vec<Vec<usize>> = vec![Vec::new(); *bins];
            for (i, value) in values {
                let bin = if width > 0.0 { (((value - low) / width) as usize).min(bins - 1) } else { 0 };
                strata[bin].push(i);
            }
            for stratum in &mut strata {
                stratum.shuffle(&mut rng);
            }
            // Round-robin over the bins: each gives one in turn until `n`
            // are chosen or every bin is spent.
            let mut chosen = Vec::new();
            let mut depth = 0;
            while chosen.len() < *n && strata.iter().any(|s| s.len() > depth) {
                for stratum in &strata {
                    if let Some(&i) = stratum.get(depth)
                        && chosen.len() < *n
                    {
                        chosen.push(i);
                    }
                }
                depth += 1;
            }
            chosen
        }
        Selection::Lowest { metric, n } => {
            let mut values = values(metric)?;
            // Ties keep input order, so the choice is the same every time.
            values.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            values.into_iter().take(*n).map(|(i, _)| i).collect()
        }
        Selection::Disagree { first, second, n } => {
            let scaled = |metric: &str| -> Result<BTreeMap<usize, f64>, SelectionError> {
                let values = values(metric)?;
                let low = values.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
                let high = values.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
                let span = if high > low { high - low } else { 1.0 };
                Ok(values.into_iter().map(|(i, v)| (i, (v - low) / span)).collect())
            };
            let (a, b) = (scaled(first)?, scaled(second)?);
            let mut gaps: Vec<(usize, f64)> = a.iter().filter_map(|(i, x)| Some((*i, (x - b.get(i)?).abs()))).collect();
            gaps.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
            gaps.into_iter().take(*n).map(|(i, _)| i).collect()
        }
    };
    chosen.sort_unstable();
    Ok(chosen)
}

/// The reviewers of each of `items` items: `per_item` of `reviewers`,
/// taken in turn, so that every reviewer gets about as many items and each
/// pair of reviewers shares items to measure agreement on.
pub fn assign(items: usize, reviewers: &[String], per_item: usize) -> Vec<Vec<String>> {
    (0..items)
        .map(|i| (0..per_item).map(|k| reviewers[(i * per_item + k) % reviewers.len()].clone()).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(values: &[(f64, f64)]) -> Vec<BTreeMap<String, f64>> {
        values.iter().map(|(a, b)| BTreeMap::from([("a".to_string(), *a), ("b".to_string(), *b)])).collect()
    }

    #[test]
    fn random_choices_are_the_same_for_the_same_seed() {
        let scores = runs(&[(0.0, 0.0); 100]);
        let one = select(&scores, &Selection::Random(10), 7).unwrap();
        assert_eq!(one, select(&scores, &Selection::Random(10), 7).unwrap());
        assert_ne!(one, select(&scores, &Selection::Random(10), 8).unwrap());
        assert_eq!(one.len(), 10);
        assert!(one.windows(2).all(|w| w[0] < w[1]), "in input order");
        assert_eq!(select(&scores, &Selection::Fraction(0.25), 1).unwrap().len(), 25);
    }

    #[test]
    fn strata_lowest_and_disagreement() {
        let scores = runs(&[(0.0, 1.0), (0.1, 0.1), (0.2, 0.2), (0.9, 0.9), (1.0, 0.0), (0.95, 0.9)]);
        let strata = select(&scores, &Selection::Stratified { metric: "a".into(), bins: 2, n: 2 }, 3).unwrap();
        assert_eq!(strata.iter().filter(|&&i| i < 3).count(), 1, "one from each half of the range: {strata:?}");
        let lowest = select(&scores, &Selection::Lowest { metric: "b".into(), n: 2 }, 0).unwrap();
        assert_eq!(lowest, [1, 4]);
        let disagree = Selection::Disagree { first: "a".into(), second: "b".into(), n: 2 };
        assert_eq!(select(&scores, &disagree, 0).unwrap(), [0, 4]);
        let unknown = select(&scores, &Selection::Lowest { metric: "c".into(), n: 1 }, 0).unwrap_err();
        assert!(unknown.to_string().contains("are: a, b"), "{unknown}");
    }

    #[test]
    fn reviewers_take_items_in_turn() {
        let names: Vec<String> = ["ayşe", "barış", "çağla"].map(String::from).to_vec();
        let assigned = assign(3, &names, 2);
        assert_eq!(assigned[0], ["ayşe", "barış"]);
        assert_eq!(assigned[1], ["çağla", "ayşe"]);
        assert_eq!(assigned[2], ["barış", "çağla"]);
    }
}
