//! Paired significance tests as sacreBLEU 2.x runs them: paired bootstrap
//! resampling (`--paired-bs`, after Koehn 2004 and Moses'
//! `bootstrap-hypothesis-difference-significance.pl`) and paired
//! approximate randomization (`--paired-ar`, after Riezler and Maxwell 2005
//! and MultEval), with its 95% intervals and its p-values, step for step.
//!
//! A metric is anything computed from statistics summed over samples: a
//! corpus metric's own (BLEU's n-gram counts, chrF's character counts, F1's
//! confusion counts, recomputed through the plugin on every resample, which
//! the statistics design makes exact) or a sample-level metric's value and
//! a count (whose "score" is then the mean). Sums are taken in `f64`;
//! sacreBLEU sums in `f32`, which is the same for the whole-number counts
//! its metrics keep.

use crate::numpy_random::Generator;

/// sacreBLEU's default seed (`SACREBLEU_SEED`).
pub const DEFAULT_SEED: u64 = 12345;
/// sacreBLEU's default number of bootstrap resamples.
pub const DEFAULT_RESAMPLES: usize = 1000;
/// sacreBLEU's default number of randomization trials.
pub const DEFAULT_TRIALS: usize = 10000;

/// One system's statistics, a row per sample, every row as wide.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    width: usize,
    values: Vec<f64>,
}

impl Statistics {
    pub fn new(width: usize) -> Statistics {
        Statistics { width, values: Vec::new() }
    }

    /// Appends a sample's row.
    pub fn push(&mut self, row: &[f64]) {
        assert_eq!(row.len(), self.width, "every row has the same statistics");
        self.values.extend_from_slice(row);
    }

    pub fn samples(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
    }

    fn row(&self, index: usize) -> &[f64] {
        &self.values[index * self.width..(index + 1) * self.width]
    }

    /// Every sample's statistics summed.
    pub fn total(&self) -> Vec<f64> {
        self.sum((0..self.samples()).map(|i| self.row(i)))
    }

    fn sum<'a>(&self, rows: impl Iterator<Item = &'a [f64]>) -> Vec<f64> {
        let mut sums = vec![0.0; self.width];
        for row in rows {
            for (sum, value) in sums.iter_mut().zip(row) {
                *sum += value;
            }
        }
        sums
    }
}

/// A system's score with its bootstrap estimate: the mean of the resampled
/// scores and half the width of their 95% interval, as sacreBLEU prints
/// `score (μ = mean ± ci)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub score: f64,
    pub mean: f64,
    pub ci: f64,
}

impl Estimate {
    /// The 95% interval's bounds.
    pub fn interval(&self) -> (f64, f64) {
        (self.mean - self.ci, self.mean + self.ci)
    }
}

/// What paired bootstrap resampling found for a system against a baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    pub baseline: Estimate,
    pub system: Estimate,
    /// Of the difference being due to chance.
    pub p_value: f64,
}

/// `estimate_ci`: the mean of `scores`, and half the distance between the
/// 2.5th and 97.5th percentiles as sacreBLEU picks them (`n // 40` from
/// either end of the sorted scores).
pub fn estimate_ci(scores: &[f64]) -> (f64, f64) {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let lower = n / 40;
    let upper = n - lower - 1;
    let mean = sorted.iter().sum::<f64>() / n as f64;
    (mean, 0.5 * (sorted[upper] - sorted[lower]))
}

/// `_compute_p_value`: the share of `statistics` above the observed
/// difference, with MultEval's +1 so that a p-value is never 0.
fn p_value(statistics: impl Iterator<Item = f64>, observed: f64) -> f64 {
    let (mut above, mut count) = (0usize, 0usize);
    for statistic in statistics {
        count += 1;
        above += usize::from(statistic > observed);
    }
    (above + 1) as f64 / (count + 1) as f64
}

/// Paired bootstrap resampling of `system` against `baseline` (the same
/// samples, in the same order) on `metric`: `resamples` eval sets drawn
/// with replacement, the same draws for both systems.
pub fn paired_bootstrap<E>(
    baseline: &Statistics,
    system: &Statistics,
    metric: &mut impl FnMut(&[f64]) -> Result<f64, E>,
    resamples: usize,
    seed: u64,
) -> Result<Bootstrap, E> {
    assert_eq!(baseline.samples(), system.samples(), "paired systems score the same samples");
    let n = baseline.samples();
    let draws = Generator::new(u128::from(seed)).integers(n as u64, resamples * n);
    let (baseline_score, system_score) = (metric(&baseline.total())?, metric(&system.total())?);
    let (mut baseline_scores, mut system_scores) = (Vec::with_capacity(resamples), Vec::with_capacity(resamples));
    for drawn in draws.chunks(n.max(1)).take(resamples) {
        baseline_scores.push(metric(&baseline.sum(drawn.iter().map(|&i| baseline.row(i as usize))))?);
        system_scores.push(metric(&system.sum(drawn.iter().map(|&i| system.row(i as usize))))?);
    }
    let (baseline_mean, baseline_ci) = estimate_ci(&baseline_scores);
    let (system_mean, system_ci) = estimate_ci(&system_scores);
    let differences: Vec<f64> = system_scores.iter().zip(&baseline_scores).map(|(s, b)| (s - b).abs()).collect();
    let mean_difference = differences.iter().sum::<f64>() / differences.len() as f64;
    let observed = (baseline_score - system_score).abs();
    Ok(Bootstrap {
        baseline: Estimate { score: baseline_score, mean: baseline_mean, ci: baseline_ci },
        system: Estimate { score: system_score, mean: system_mean, ci: system_ci },
        p_value: p_value(differences.iter().map(|d| d - mean_difference), observed),
    })
}

/// What paired approximate randomization found for a system against a
/// baseline: both scores (which it computes anyway) and the p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Randomization {
    pub baseline_score: f64,
    pub system_score: f64,
    pub p_value: f64,
}

/// Paired approximate randomization of `system` against `baseline` on
/// `metric`: in each of `trials` trials every sample's pair of outputs is
/// swapped or not by a coin, and the p-value is the share of trials whose
/// two pseudo-systems differ more than the real ones do.
pub fn paired_randomization<E>(
    baseline: &Statistics,
    system: &Statistics,
    metric: &mut impl FnMut(&[f64]) -> Result<f64, E>,
    trials: usize,
    seed: u64,
) -> Result<Randomization, E> {
    assert_eq!(baseline.samples(), system.samples(), "paired systems score the same samples");
    let n = baseline.samples();
    let coins = Generator::new(u128::from(seed)).booleans(trials * n);
    let (baseline_score, system_score) = (metric(&baseline.total())?, metric(&system.total())?);
    let observed = (baseline_score - system_score).abs();
    let mut statistics = Vec::with_capacity(trials);
    for trial in coins.chunks(n.max(1)).take(trials) {
        let pick =
            |heads: bool| move |(i, &coin): (usize, &bool)| if coin == heads { baseline.row(i) } else { system.row(i) };
        let a = baseline.sum(trial.iter().enumerate().map(pick(true)));
        let b = baseline.sum(trial.iter().enumerate().map(pick(false)));
        statistics.push((metric(&a)? - metric(&b)?).abs());
    }
    Ok(Randomization { baseline_score, system_score, p_value: p_value(statistics.into_iter(), observed) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mean: statistics are (value, 1).
    fn mean(sums: &[f64]) -> Result<f64, ()> {
        Ok(sums[0] / sums[1])
    }

    fn system(values: &[f64]) -> Statistics {
        let mut statistics = Statistics::new(2);
        for &value in values {
            statistics.push(&[value, 1.0]);
        }
        statistics
    }

    #[test]
    fn the_interval_is_sacrebleus_percentile_pick() {
        let scores: Vec<f64> = (0..80).map(f64::from).collect();
        // n // 40 = 2 from each end: 2 and 77.
        assert_eq!(estimate_ci(&scores), (39.5, 37.5));
    }

    #[test]
    fn a_clear_difference_is_significant_and_a_coin_flip_is_not() {
        let baseline = system(&[0.0; 200]);
        let better = system(&[1.0; 200]);
        let bootstrap = paired_bootstrap(&baseline, &better, &mut mean, 1000, DEFAULT_SEED).unwrap();
        assert_eq!(bootstrap.p_value, 1.0 / 1001.0);
        assert_eq!((bootstrap.system.score, bootstrap.baseline.score), (1.0, 0.0));
        let randomization = paired_randomization(&baseline, &better, &mut mean, 1000, DEFAULT_SEED).unwrap();
        assert_eq!(randomization.p_value, 1.0 / 1001.0);
        assert_eq!((randomization.system_score, randomization.baseline_score), (1.0, 0.0));

        // Two systems right on alternate samples: no difference to find.
        let odd = system(&(0..200).map(|i| f64::from(i % 2)).collect::<Vec<_>>());
        let even = system(&(0..200).map(|i| f64::from((i + 1) % 2)).collect::<Vec<_>>());
        let bootstrap = paired_bootstrap(&odd, &even, &mut mean, 1000, DEFAULT_SEED).unwrap();
        assert!(bootstrap.p_value > 0.3, "{bootstrap:?}");
        assert!(paired_randomization(&odd, &even, &mut mean, 1000, DEFAULT_SEED).unwrap().p_value > 0.3);
    }

    #[test]
    fn a_failing_metric_stops_the_test() {
        let a = system(&[1.0, 0.0]);
        let mut failing = |_: &[f64]| Err::<f64, &str>("finalize failed");
        assert_eq!(paired_bootstrap(&a, &a, &mut failing, 10, 1).unwrap_err(), "finalize failed");
    }
}
