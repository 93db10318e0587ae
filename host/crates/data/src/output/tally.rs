//! Sums a run keeps while it runs: each plugin's statistics, failures and
//! fuel, and the references its samples had.
//!
//! They live here, beside the files that record them, because a shard of a
//! sharded run writes them into `shard.json` as they are and `assay merge`
//! reads them back and goes on summing: the same types, so the merged sums
//! are made of the same additions in the same order as an unsharded run's.

use std::collections::BTreeMap;

use assay_runtime::bounds::{MAX_STATISTIC_NAMES, statistic_names_exceeded};
use assay_runtime::{Failure, Statistic};
use serde::{Deserialize, Serialize};

use super::{ErrorEntry, FuelSummary, GuardRoutes, ScreeningCounts};
use crate::BadRecord;

/// What a guard run has counted over the chunks it has done: what
/// `summary.json` reports and a guard shard's `shard.json` keeps, so that
/// `assay merge` adds the shards up to one run's counts.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ScreeningSums {
    pub counts: ScreeningCounts,
    /// Per guard, in the run's order.
    pub guards: Vec<GuardRoutes>,
    pub fuel: Vec<FuelTally>,
    /// Records that could not be read, in input order.
    pub bad_records: Vec<BadRecord>,
}

impl ScreeningSums {
    /// Nothing counted yet, for `guards` guards.
    pub fn new(guards: usize) -> Self {
        ScreeningSums {
            counts: ScreeningCounts::default(),
            guards: vec![GuardRoutes::default(); guards],
            fuel: vec![FuelTally::default(); guards],
            bad_records: Vec::new(),
        }
    }

    /// Adds what a later part of the input counted.
    pub fn extend(&mut self, later: ScreeningSums) {
        self.counts.extend(&later.counts);
        for (routes, more) in self.guards.iter_mut().zip(&later.guards) {
            routes.extend(more);
        }
        for (fuel, more) in self.fuel.iter_mut().zip(&later.fuel) {
            fuel.merge(more);
        }
        self.bad_records.extend(later.bad_records);
    }
}

/// What a run has summed over the chunks it has done: what
/// a shard's `shard.json` and a checkpoint keep, so that a merge or a
/// resumed run goes on with exactly these sums.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct RunSums {
    pub samples: u64,
    pub samples_with_errors: u64,
    /// Records left out (`on_bad_record = "skip"`), in input order.
    pub skipped: Vec<BadRecord>,
    pub references: ReferenceCounts,
    /// Per plugin, in the run's order: failures by kind, the first failure,
    /// and the fuel used.
    pub failures: Vec<BTreeMap<String, u64>>,
    pub first_failures: Vec<Option<ErrorEntry>>,
    pub fuel: Vec<FuelTally>,
    /// Per plugin, its statistics summed exactly.
    pub statistics: Vec<StatisticSums>,
}

impl RunSums {
    /// Nothing summed yet, for `plugins` plugins.
    pub fn new(plugins: usize) -> Self {
        RunSums {
            failures: vec![BTreeMap::new(); plugins],
            first_failures: vec![None; plugins],
            fuel: vec![FuelTally::default(); plugins],
            statistics: vec![StatisticSums::default(); plugins],
            ..RunSums::default()
        }
    }

    /// Adds `next`: the sums of the part of the input that follows.
    pub fn extend(&mut self, next: RunSums) {
        self.samples += next.samples;
        self.samples_with_errors += next.samples_with_errors;
        self.skipped.extend(next.skipped);
        self.references.merge(next.references);
        for (total, failures) in self.failures.iter_mut().zip(next.failures) {
            for (kind, count) in failures {
                *total.entry(kind).or_insert(0) += count;
            }
        }
        // The first kept is the input's first.
        for (first, next_first) in self.first_failures.iter_mut().zip(next.first_failures) {
            if first.is_none() {
                *first = next_first;
            }
        }
        for (total, fuel) in self.fuel.iter_mut().zip(&next.fuel) {
            total.merge(fuel);
        }
        for (total, statistics) in self.statistics.iter_mut().zip(&next.statistics) {
            total.merge(statistics);
        }
    }
}

/// The fewest and most references of a run's samples.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReferenceCounts(pub Option<(usize, usize)>);

impl ReferenceCounts {
    pub fn merge(&mut self, other: ReferenceCounts) {
        self.0 = match (self.0, other.0) {
            (Some((low, high)), Some((other_low, other_high))) => Some((low.min(other_low), high.max(other_high))),
            (one, other) => one.or(other),
        };
    }

    /// sacreBLEU's `nrefs`: the number every sample has, or `var`.
    pub fn setting(&self) -> String {
        match self.0 {
            Some((low, high)) if low != high => "var".into(),
            Some((n, _)) => n.to_string(),
            None => "0".into(),
        }
    }
}

impl FromIterator<usize> for ReferenceCounts {
    fn from_iter<I: IntoIterator<Item = usize>>(counts: I) -> Self {
        let mut all = ReferenceCounts::default();
        for n in counts {
            all.merge(ReferenceCounts(Some((n, n))));
        }
        all
    }
}

/// One plugin's statistics, summed by name. Each sum is exact
/// ([`ExactSum`]), so it does not depend on the order the values came in:
/// a run split over shards, or killed and resumed, sums to the same bits as
/// one run in one go. The host keeps them until the run ends, so their
/// number is bounded: past [`MAX_STATISTIC_NAMES`] distinct names the sums
/// are dropped and the plugin's corpus metrics fail, with memory back to
/// nothing.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatisticSums {
    sums: BTreeMap<String, ExactSum>,
    /// Distinct names seen when the bound was passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    overflowed: Option<usize>,
}

impl StatisticSums {
    pub fn add(&mut self, name: &str, value: f64) {
        if self.overflowed.is_some() {
            return;
        }
        let distinct = self.sums.len();
        match self.sums.get_mut(name) {
            Some(total) => total.add(value),
            None if distinct < MAX_STATISTIC_NAMES => {
                self.sums.insert(name.to_string(), ExactSum::of(value));
            }
            None => self.overflow(distinct + 1),
        }
    }

    fn overflow(&mut self, distinct: usize) {
        self.overflowed = Some(distinct);
        self.sums = BTreeMap::new();
    }

    /// Adds `other`'s sums.
    pub fn merge(&mut self, other: &StatisticSums) {
        if let Some(distinct) = other.overflowed {
            return self.overflow(distinct);
        }
        for (name, sum) in &other.sums {
            if self.overflowed.is_some() {
                return;
            }
            let distinct = self.sums.len();
            match self.sums.get_mut(name) {
                Some(total) => total.merge(sum),
                None if distinct < MAX_STATISTIC_NAMES => {
                    self.sums.insert(name.clone(), sum.clone());
                }
                None => self.overflow(distinct + 1),
            }
        }
    }

    /// The sums, or the failure of a plugin that gave too many names.
    pub fn statistics(&self) -> Result<Vec<Statistic>, Failure> {
        if let Some(distinct) = self.overflowed {
            return Err(statistic_names_exceeded(distinct, "the run"));
        }
        Ok(self.sums.iter().map(|(name, sum)| Statistic { name: name.clone(), value: sum.value() }).collect())
    }
}

/// A sum of floating-point numbers kept exactly, as non-overlapping
/// partial sums (Shewchuk's algorithm, as Python's `math.fsum`), and
/// rounded once, correctly, when read. Its value depends only on the
/// numbers added, never on their order or grouping; for whole numbers below
/// 2^53, such as the counts BLEU and chrF sum, it is the plain sum.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExactSum {
    /// Increasing in magnitude, none overlapping another.
    partials: Vec<f64>,
}

impl ExactSum {
    pub fn of(value: f64) -> Self {
        let mut sum = ExactSum::default();
        sum.add(value);
        sum
    }

    pub fn add(&mut self, mut x: f64) {
        if !x.is_finite() || self.partials.iter().any(|p| !p.is_finite()) {
            // Infinities and NaN have no exact sum to keep: the plain one.
            let total = self.partials.iter().sum::<f64>() + x;
            self.partials = vec![total];
            return;
        }
        let mut kept = 0;
        for i in 0..self.partials.len() {
            let mut y = self.partials[i];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let high = x + y;
            let low = y - (high - x);
            if low != 0.0 {
                self.partials[kept] = low;
                kept += 1;
            }
            x = high;
        }
        self.partials.truncate(kept);
        if x.is_finite() {
            self.partials.push(x);
        } else {
            self.partials = vec![x];
        }
    }

    pub fn merge(&mut self, other: &ExactSum) {
        other.partials.iter().for_each(|&p| self.add(p));
    }

    /// The sum, correctly rounded.
    pub fn value(&self) -> f64 {
        let partials = &self.partials;
        let Some(mut n) = partials.len().checked_sub(1) else { return 0.0 };
        let mut high = partials[n];
        let mut low = 0.0;
        while n > 0 {
            let x = high;
            n -= 1;
            let y = partials[n];
            high = x + y;
            low = y - (high - x);
            if low != 0.0 {
                break;
            }
        }
        // Half-way cases round to even on the whole sum, not on the last two
        // partials: push `high` the way the partials below lean.
        if n > 0 && ((low < 0.0 && partials[n - 1] < 0.0) || (low > 0.0 && partials[n - 1] > 0.0)) {
            let y = low * 2.0;
            let x = high + y;
            if y == x - high {
                high = x;
            }
        }
        high
    }
}

/// Fuel a plugin used: a cost figure that does not depend on machine load;
/// and the calls spent isolating records it trapped on.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct FuelTally {
    total: u64,
    samples: u64,
    /// The largest per-sample average of any one call.
    max_per_sample: u64,
    pub trap_splits: u64,
    pub unisolated: u64,
}

impl FuelTally {
    pub fn record(&mut self, fuel: u64, samples: usize) {
        self.total += fuel;
        self.samples += samples as u64;
        self.max_per_sample = self.max_per_sample.max(fuel / samples.max(1) as u64);
    }

    pub fn merge(&mut self, other: &FuelTally) {
        self.total += other.total;
        self.samples += other.samples;
        self.max_per_sample = self.max_per_sample.max(other.max_per_sample);
        self.trap_splits += other.trap_splits;
        self.unisolated += other.unisolated;
    }

    pub fn summary(&self) -> FuelSummary {
        FuelSummary {
            total: self.total,
            mean_per_sample: if self.samples == 0 { 0.0 } else { self.total as f64 / self.samples as f64 },
            max_per_sample: self.max_per_sample,
            trap_splits: self.trap_splits,
            unisolated: self.unisolated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_sums_do_not_depend_on_order_or_grouping() {
        let values: Vec<f64> = (0..2000).map(|i| ((i * 7919) % 1000) as f64 * 0.1 - 31.7 + 1e-9 * i as f64).collect();
        let one = values.iter().fold(ExactSum::default(), |mut s, &v| {
            s.add(v);
            s
        });
        let mut reversed = ExactSum::default();
        values.iter().rev().for_each(|&v| reversed.add(v));
        let mut grouped = ExactSum::default();
        for part in values.chunks(37) {
            let mut sum = ExactSum::default();
            part.iter().for_each(|&v| sum.add(v));
            grouped.merge(&sum);
        }
        assert_eq!(one.value().to_bits(), reversed.value().to_bits());
        assert_eq!(one.value().to_bits(), grouped.value().to_bits());
        // Python: math.fsum([1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50]) == 1e-100
        let mut sum = ExactSum::default();
        [1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50].iter().for_each(|&v| sum.add(v));
        assert_eq!(sum.value(), 1e-100);
        // math.fsum([0.1] * 10) == 1.0, where adding them in turn gives 0.9999999999999999.
        let mut tenths = ExactSum::default();
        (0..10).for_each(|_| tenths.add(0.1));
        assert_eq!(tenths.value(), 1.0);
        // A half-way case: 1 + 2^-53 + 2^-106 rounds up, not to even.
        let mut half = ExactSum::default();
        [1.0, 2f64.powi(-53), 2f64.powi(-106)].iter().for_each(|&v| half.add(v));
        assert_eq!(half.value(), 1.0 + f64::EPSILON);
        let kept: ExactSum = serde_json::from_str(&serde_json::to_string(&one).unwrap()).unwrap();
        assert_eq!(kept.value().to_bits(), one.value().to_bits(), "read back exactly");
    }

    #[test]
    fn statistic_sums_drop_everything_once_a_plugin_gives_too_many_names() {
        let mut chunk = StatisticSums::default();
        chunk.add("a", 1.0);
        chunk.add("a", 2.0);
        let mut run = StatisticSums::default();
        run.merge(&chunk);
        run.merge(&chunk);
        let sums: Vec<(String, f64)> = run.statistics().unwrap().into_iter().map(|s| (s.name, s.value)).collect();
        assert_eq!(sums, [("a".to_string(), 6.0)]);
        let kept: StatisticSums = serde_json::from_str(&serde_json::to_string(&run).unwrap()).unwrap();
        assert_eq!(kept, run, "read back as written");

        for i in 0..MAX_STATISTIC_NAMES {
            run.add(&format!("n{i}"), 1.0);
        }
        let failure = run.statistics().unwrap_err();
        assert_eq!(failure.kind(), "invalid-output");
        assert!(failure.to_string().contains("32769 distinct statistic names in the run"), "{failure}");
        assert!(run.sums.is_empty(), "the sums are freed");
        run.add("a", 1.0);
        assert!(run.statistics().is_err(), "and stay failed");
        let kept: StatisticSums = serde_json::from_str(&serde_json::to_string(&run).unwrap()).unwrap();
        assert!(kept.statistics().is_err(), "failed when read back too");
    }
}
