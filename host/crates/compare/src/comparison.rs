//! `compare.json`: what `assay compare` found, written and read by this one
//! definition.

use serde::{Deserialize, Serialize};

/// Which paired test was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Test {
    /// Paired bootstrap resampling (sacreBLEU's `--paired-bs`), with 95% intervals.
    PairedBs,
    /// Paired approximate randomization (sacreBLEU's `--paired-ar`).
    PairedAr,
}

/// What the test says of a candidate against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Baseline,
    Better,
    Worse,
    /// The difference may be chance at the chosen level.
    NotSignificant,
}

impl Verdict {
    /// From a p-value and the direction of the difference.
    pub fn of(p_value: f64, alpha: f64, difference: f64, higher_is_better: bool) -> Verdict {
        if p_value >= alpha || difference == 0.0 {
            Verdict::NotSignificant
        } else if (difference > 0.0) == higher_is_better {
            Verdict::Better
        } else {
            Verdict::Worse
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Baseline => "baseline",
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NotSignificant => "not significant",
        }
    }
}

/// One run's result on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub run: String,
    pub score: f64,
    /// The bootstrap mean and half the 95% interval (paired bootstrap only).
    pub mean: Option<f64>,
    pub ci: Option<f64>,
    /// Against the baseline; none for the baseline itself.
    pub p_value: Option<f64>,
    pub verdict: Verdict,
}

/// Two runs other than the baseline, tested against each other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub first: String,
    pub second: String,
    pub p_value: f64,
    /// The second run against the first.
    pub verdict: Verdict,
}

/// One metric compared across the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    pub metric: String,
    /// `sample` (its mean is compared) or `corpus` (recomputed from the
    /// kept statistics on every resample).
    pub level: String,
    pub higher_is_better: bool,
    /// Samples every run has a value for.
    pub samples: usize,
    /// Each run against the baseline (the first).
    pub runs: Vec<RunResult>,
    /// Every other pair of runs, so that each pair is tested.
    #[serde(default)]
    pub pairs: Vec<Pair>,
}

/// A metric that could not be compared, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub metric: String,
    pub reason: String,
}

/// `compare.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub assay_version: String,
    pub test: Test,
    pub seed: u64,
    /// Resamples (bootstrap) or trials (randomization).
    pub draws: usize,
    pub alpha: f64,
    /// The run folders, the baseline first.
    pub runs: Vec<String>,
    pub metrics: Vec<MetricComparison>,
    pub skipped: Vec<Skipped>,
}

/// One candidate in `compare.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateRow {
    /// As the candidates file describes it.
    pub candidate: crate::candidates::Candidate,
    /// Speed, cost and metric values, by the names requirements and weights use.
    pub figures: std::collections::BTreeMap<String, f64>,
    /// Why it was excluded; empty when it meets every requirement.
    pub excluded: Vec<String>,
    /// Its weighted score in 0..=1, or why it has none (no weights given,
    /// excluded, or a weighted criterion unknown).
    pub rank_score: Option<f64>,
    pub rank_note: Option<String>,
    /// Whether no other kept candidate beats it on quality, latency and cost at once.
    pub pareto: bool,
}

/// `compare.json`: the paired tests of runs, and with a candidates file,
/// the choice among the candidates and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub assay_version: String,
    /// None when runs were compared without a candidates file.
    pub candidates_file: Option<String>,
    pub requirements: Vec<String>,
    pub weights: Vec<(String, f64)>,
    /// The metric the Pareto front weighs against speed and cost.
    pub quality: Option<String>,
    /// In the file's order.
    pub candidates: Vec<CandidateRow>,
    /// One per eval set: the kept candidates' runs, the first kept one the baseline.
    pub comparisons: Vec<Comparison>,
}
