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
    pub runs: Vec<RunResult>,
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
