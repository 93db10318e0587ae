//! Comparing candidates: whether one run is really better than another on
//! the same eval set, or only by the luck of which samples it holds.
//!
//! [`significance`] implements the paired tests sacreBLEU offers (paired
//! bootstrap resampling and paired approximate randomization) over any
//! metric computed from per-sample statistics, and [`numpy_random`] draws
//! the resamples exactly as numpy's `default_rng` does, so that with the
//! same seed the p-values and intervals are sacreBLEU's own.

pub mod candidates;
pub mod choice;
pub mod comparison;
pub mod numpy_random;
pub mod significance;
