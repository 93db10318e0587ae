//! `summary.json`: everything a run found and everything needed to redo it.
//!
//! One enum, tagged by `kind`, covers every kind of run, so whoever reads a
//! summary (gates, CI reports, the HTML report) matches on the kind instead
//! of probing loose JSON.

use std::collections::BTreeMap;
use std::path::Path;

use assay_runtime::{Compiler, Determinism, Digest, Grant, Kind, Limits, LoadedPlugin, MetricInfo, MetricLevel};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::{ErrorEntry, FailurePolicy, write_json};
use crate::reader::{BadRecord, Format};

/// `summary.json` of any run, tagged by its `kind`. Generic only so that the
/// same definition writes a summary by reference ([`EvaluationSummary::write`])
/// and reads it back owned ([`Summary`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SummaryOf<E, G> {
    Evaluation(E),
    Guard(G),
}

/// `summary.json` of any run, as read back.
pub type Summary = SummaryOf<EvaluationSummary, GuardSummary>;

impl EvaluationSummary {
    /// Writes this summary, tagged as an evaluation, atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        write_json(path, &self.tagged())
    }

    /// The JSON text `write` writes (without its last newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.tagged()).expect("a summary is always JSON")
    }

    fn tagged(&self) -> SummaryOf<&EvaluationSummary, &GuardSummary> {
        SummaryOf::Evaluation(self)
    }
}

impl GuardSummary {
    /// Writes this summary, tagged as a guard run, atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        write_json(path, &self.tagged())
    }

    /// The JSON text `write` writes (without its last newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.tagged()).expect("a summary is always JSON")
    }

    fn tagged(&self) -> SummaryOf<&EvaluationSummary, &GuardSummary> {
        SummaryOf::Guard(self)
    }
}

impl Summary {
    /// Whether anything failed: a sample, a corpus metric, a guard on a record.
    pub fn has_errors(&self) -> bool {
        match self {
            Summary::Evaluation(s) => s.counts.errors > 0 || !s.corpus_errors.is_empty(),
            Summary::Guard(s) => s.counts.guard_errors > 0,
        }
    }

    /// `evaluation` or `guard`, as the `kind` field says.
    pub fn kind(&self) -> &'static str {
        match self {
            Summary::Evaluation(_) => "evaluation",
            Summary::Guard(_) => "guard",
        }
    }

    pub fn input(&self) -> &InputSummary {
        match self {
            Summary::Evaluation(s) => &s.input,
            Summary::Guard(s) => &s.input,
        }
    }

    /// The counts of the run, by name, in the order they are written.
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        match self {
            Summary::Evaluation(s) => s.counts.named(),
            Summary::Guard(s) => s.counts.named(),
        }
    }

    /// The headline value of metric `name` (evaluations only); `Some(None)`
    /// for a metric without a value because no sample was scored.
    pub fn metric(&self, name: &str) -> Option<Option<f64>> {
        match self {
            Summary::Evaluation(s) => s.metrics.get(name).copied(),
            Summary::Guard(_) => None,
        }
    }
}

/// `summary.json` of an evaluation run.
#[derive(Debug, Serialize, Deserialize)]
pub struct EvaluationSummary {
    pub assay_version: String,
    /// Headline value of every metric: the mean of a sample-level metric
    /// (null when no sample was scored), the value of a corpus-level one.
    pub metrics: BTreeMap<String, Option<f64>>,
    /// Everything known about each metric.
    pub details: BTreeMap<String, MetricSummary>,
    pub counts: EvaluationCounts,
    /// Failed samples per plugin, by kind of failure.
    pub errors: BTreeMap<String, BTreeMap<String, u64>>,
    /// Each failing plugin's first failure, in input order: what to read first.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first_errors: BTreeMap<String, ErrorEntry>,
    /// Plugins whose corpus-level metrics could not be computed.
    pub corpus_errors: BTreeMap<String, ErrorEntry>,
    /// Every record left out, with its line and reason.
    pub skipped: Vec<BadRecord>,
    /// Samples whose id an earlier sample has (`--allow-duplicate-ids`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicate_ids: Vec<DuplicateId>,
    pub plugins: Vec<PluginSummary>,
    pub input: InputSummary,
    pub run: RunInfo,
}

/// A sample whose id an earlier sample of the eval set has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateId {
    /// The id as people read it.
    pub id: String,
    /// Where it was first used.
    pub first_line: u64,
    /// Where it is used again.
    pub line: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EvaluationCounts {
    /// Records read: samples plus skipped.
    pub records: u64,
    /// Records scored (some plugins may have failed on some of them).
    pub samples: u64,
    /// Samples on which at least one plugin failed.
    pub errors: u64,
    /// Records that could not be read and were left out.
    pub skipped: u64,
}

impl EvaluationCounts {
    /// The names gates may use, with their values.
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        vec![("records", self.records), ("samples", self.samples), ("errors", self.errors), ("skipped", self.skipped)]
    }
}

/// `summary.json` of a guard run.
#[derive(Debug, Serialize, Deserialize)]
pub struct GuardSummary {
    pub assay_version: String,
    pub counts: ScreeningCounts,
    /// Per guard: records by the route it chose (after its failure policy),
    /// and its failures by kind.
    pub guards: IndexMap<String, GuardRoutes>,
    /// Records that could not be read, all quarantined.
    pub bad_records: Vec<BadRecord>,
    pub plugins: Vec<PluginSummary>,
    pub input: InputSummary,
    /// The files written, by route, plus `decisions`.
    pub outputs: BTreeMap<String, String>,
    pub run: RunInfo,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScreeningCounts {
    pub records: u64,
    pub accepted: u64,
    pub quarantined: u64,
    pub rejected: u64,
    /// Records that could not be read (included in `quarantined`).
    pub bad_records: u64,
    /// Records on which at least one guard failed.
    pub guard_errors: u64,
    /// Records a guard's recall sent elsewhere than their first route
    /// (counted under the route they ended in).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recalled: u64,
}

impl ScreeningCounts {
    /// The names gates may use, with their values.
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("records", self.records),
            ("accepted", self.accepted),
            ("quarantined", self.quarantined),
            ("rejected", self.rejected),
            ("bad_records", self.bad_records),
            ("guard_errors", self.guard_errors),
            ("recalled", self.recalled),
        ]
    }

    /// Adds the counts of another part of the run.
    pub fn extend(&mut self, other: &ScreeningCounts) {
        self.records += other.records;
        self.accepted += other.accepted;
        self.quarantined += other.quarantined;
        self.rejected += other.rejected;
        self.bad_records += other.bad_records;
        self.guard_errors += other.guard_errors;
        self.recalled += other.recalled;
    }

    /// Counts one more record, sent to `route`.
    pub fn add(&mut self, route: super::Route) {
        self.records += 1;
        *self.routed(route) += 1;
    }

    /// Counts a record a recall moved from one route to another.
    pub fn reroute(&mut self, from: super::Route, to: super::Route) {
        *self.routed(from) -= 1;
        *self.routed(to) += 1;
        self.recalled += 1;
    }

    fn routed(&mut self, route: super::Route) -> &mut u64 {
        match route {
            super::Route::Accept => &mut self.accepted,
            super::Route::Quarantine => &mut self.quarantined,
            super::Route::Reject => &mut self.rejected,
        }
    }
}

/// One guard's records by route, and its failures by kind.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct GuardRoutes {
    pub accept: u64,
    pub quarantine: u64,
    pub reject: u64,
    pub errors: BTreeMap<String, u64>,
    /// The guard's first failure in input order, so the run can say what
    /// went wrong without a search through decisions.jsonl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<super::ErrorEntry>,
    /// What became of the guard's recalls (contract 0.1.3); absent when it
    /// made none.
    #[serde(default, skip_serializing_if = "RecallCounts::is_empty")]
    pub recalls: RecallCounts,
}

/// A guard's recalls by outcome.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecallCounts {
    /// Recalls that tightened the guard's decision on a record.
    pub applied: u64,
    /// Recalls of a record to the verdict it already had from the guard.
    pub unchanged: u64,
    /// Recalls the host refused: a looser verdict, `accept`, or an id the
    /// guard had not screened.
    pub refused: u64,
    /// Why the first refused recall was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_refused: Option<String>,
}

impl RecallCounts {
    pub fn is_empty(&self) -> bool {
        self.applied == 0 && self.unchanged == 0 && self.refused == 0
    }

    /// Counts one recall's outcome; `why` says why a refused one was.
    pub fn add(&mut self, outcome: super::RecallOutcome, why: impl FnOnce() -> String) {
        match outcome {
            super::RecallOutcome::Applied => self.applied += 1,
            super::RecallOutcome::Unchanged => self.unchanged += 1,
            super::RecallOutcome::Refused => {
                self.refused += 1;
                if self.first_refused.is_none() {
                    self.first_refused = Some(why());
                }
            }
        }
    }

    fn extend(&mut self, later: &RecallCounts) {
        self.applied += later.applied;
        self.unchanged += later.unchanged;
        self.refused += later.refused;
        if self.first_refused.is_none() {
            self.first_refused.clone_from(&later.first_refused);
        }
    }
}

impl GuardRoutes {
    pub fn add(&mut self, route: super::Route) {
        *self.get_mut(route) += 1;
    }

    /// Moves one record this guard decided on from one route to another.
    pub fn reroute(&mut self, from: super::Route, to: super::Route) {
        *self.get_mut(from) -= 1;
        *self.get_mut(to) += 1;
    }

    /// Adds what the guard did on a later part of the run's input.
    pub fn extend(&mut self, later: &GuardRoutes) {
        self.accept += later.accept;
        self.quarantine += later.quarantine;
        self.reject += later.reject;
        for (kind, count) in &later.errors {
            *self.errors.entry(kind.clone()).or_insert(0) += count;
        }
        if self.first_error.is_none() {
            self.first_error.clone_from(&later.first_error);
        }
        self.recalls.extend(&later.recalls);
    }

    /// Records this guard sent to `route`.
    pub fn get(&self, route: super::Route) -> u64 {
        match route {
            super::Route::Accept => self.accept,
            super::Route::Quarantine => self.quarantine,
            super::Route::Reject => self.reject,
        }
    }

    fn get_mut(&mut self, route: super::Route) -> &mut u64 {
        match route {
            super::Route::Accept => &mut self.accept,
            super::Route::Quarantine => &mut self.quarantine,
            super::Route::Reject => &mut self.reject,
        }
    }
}

/// A line of a metric table people read: a metric, or how many more members
/// of a family there are than a table shows.
#[derive(Debug)]
pub enum MetricRow<'a> {
    Metric(&'a str, &'a MetricSummary),
    /// `plugin/family[*]` and the number of its members left out.
    More(String, usize),
}

impl EvaluationSummary {
    /// The metrics as rows of a table, with at most `per_family` members of
    /// each family, followed by a row per family that had more. A plugin may
    /// return thousands of members (a confusion matrix); they belong in this
    /// file, not in a terminal or a pull-request comment.
    pub fn rows(&self, per_family: usize) -> Vec<MetricRow<'_>> {
        let mut rows = Vec::new();
        let mut members: BTreeMap<String, usize> = BTreeMap::new();
        for (key, detail) in &self.details {
            if let Some(family) = &detail.family {
                let plugin = key.split_once('/').map_or("", |(plugin, _)| plugin);
                let count = members.entry(format!("{plugin}/{family}")).or_default();
                *count += 1;
                if *count > per_family {
                    continue;
                }
            }
            rows.push(MetricRow::Metric(key, detail));
        }
        rows.extend(
            members
                .into_iter()
                .filter(|(_, n)| *n > per_family)
                .map(|(family, n)| MetricRow::More(family, n - per_family)),
        );
        rows
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricSummary {
    pub level: MetricLevel,
    /// Empty for a member of a family, which shares its family's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub higher_is_better: bool,
    /// Empty for a member of a family: its plugin's signature applies, which
    /// is written once under `plugins`. A plugin may return many members, so
    /// nothing of what it declared is repeated per member.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signature: String,
    /// For a member of a family, such as `f1[cat]`, the family it belongs to
    /// (`f1[*]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Samples with a value (sample-level metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub mean: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95: Option<f64>,
}

impl MetricSummary {
    /// Summarizes the per-sample values of a metric, given in input order.
    /// Sorts `values` in place.
    pub fn of_samples(info: &MetricInfo, signature: String, values: &mut [f64]) -> Self {
        // Summed in input order before sorting, so the mean is the same for
        // every number of workers.
        let mean = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
        values.sort_by(f64::total_cmp);
        MetricSummary {
            level: MetricLevel::Sample,
            description: info.description.clone(),
            higher_is_better: info.higher_is_better,
            signature,
            family: None,
            count: Some(values.len() as u64),
            value: None,
            mean,
            min: values.first().copied(),
            max: values.last().copied(),
            p50: percentile(values, 0.5),
            p95: percentile(values, 0.95),
        }
    }

    /// A corpus-level value.
    pub fn corpus(info: &MetricInfo, signature: String, value: f64) -> Self {
        debug_assert_eq!(info.level, MetricLevel::Corpus);
        let family = info.is_family();
        MetricSummary {
            level: MetricLevel::Corpus,
            description: if family { String::new() } else { info.description.clone() },
            higher_is_better: info.higher_is_better,
            signature: if family { String::new() } else { signature },
            family: family.then(|| info.name.clone()),
            count: None,
            value: Some(value),
            mean: None,
            min: None,
            max: None,
            p50: None,
            p95: None,
        }
    }

    /// The value people read first: the corpus value, else the mean.
    pub fn headline(&self) -> Option<f64> {
        self.value.or(self.mean)
    }
}

/// The `q` quantile of sorted values, interpolated linearly between the two
/// nearest ranks (numpy's default), so numbers agree with a notebook's.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = q * last as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

/// A plugin as a run used it: enough to know what produced the numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginSummary {
    /// The instance name results are keyed by.
    pub name: String,
    /// The name the plugin gives itself.
    pub plugin: String,
    pub version: String,
    pub description: String,
    pub kind: Kind,
    /// Where the component came from: `builtin:NAME`, a path, a reference.
    pub source: String,
    pub sha256: Digest,
    /// The WIT world it targets.
    pub contract: String,
    pub config: serde_json::Value,
    pub settings: BTreeMap<String, String>,
    pub signature: String,
    pub limits: Limits,
    /// Directories the plugin could read, as `HOST_DIR:GUEST_PATH`.
    pub grants: Vec<Grant>,
    /// What compiled it: fuel is counted by the compiled code, and Winch
    /// counts a few percent less than Cranelift. Runs written before it was
    /// recorded were compiled by Cranelift.
    #[serde(default)]
    pub compiler: Compiler,
    pub fuel: FuelSummary,
    /// Guards only: where records went when it failed on them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<FailurePolicy>,
}

impl PluginSummary {
    pub fn of(loaded: &LoadedPlugin, signature: String, fuel: FuelSummary, on_failure: Option<FailurePolicy>) -> Self {
        let plugin = &loaded.plugin;
        PluginSummary {
            name: loaded.name.clone(),
            plugin: plugin.info.name.clone(),
            version: plugin.info.version.clone(),
            description: plugin.info.description.clone(),
            kind: plugin.kind,
            source: loaded.origin.clone(),
            sha256: plugin.sha256,
            contract: plugin.contract(),
            config: serde_json::from_str(&loaded.config_json).expect("config JSON is valid"),
            settings: loaded.settings.iter().cloned().collect(),
            signature,
            limits: loaded.limits,
            grants: loaded.grants.clone(),
            compiler: plugin.compiler,
            fuel,
            on_failure,
        }
    }
}

/// Fuel a plugin used: a cost figure that does not depend on machine load.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct FuelSummary {
    pub total: u64,
    pub mean_per_sample: f64,
    /// The largest per-sample average of any one call.
    pub max_per_sample: u64,
    /// Calls that trapped and were split to find the records that trap, so
    /// that the others are still scored.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub trap_splits: u64,
    /// Records that failed with a trapping call because its chunk's splits
    /// were spent (8 per chunk of 16 calls): their failure may be another
    /// record's.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unisolated: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Serialize, Deserialize)]
pub struct InputSummary {
    pub path: String,
    pub sha256: Digest,
    pub format: Format,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RunInfo {
    pub started_at: String,
    pub finished_at: String,
    pub jobs: usize,
    pub batch_size: usize,
    pub seed: u64,
    /// False when plugins were given the real clock.
    pub reproducible: bool,
    /// Per model alias: requests, cache hits, retries, failures, tokens, cost.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, assay_runtime::ModelUsage>,
    /// When the run went on from a killed run's checkpoint (`--resume`): the
    /// samples that checkpoint held, which were not scored again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_after: Option<u64>,
}

impl RunInfo {
    /// A run that started at `started_at` and has just finished.
    pub fn finished(started_at: jiff::Timestamp, jobs: usize, batch_size: usize, determinism: &Determinism) -> Self {
        RunInfo {
            models: BTreeMap::new(),
            resumed_after: None,
            started_at: started_at.to_string(),
            finished_at: jiff::Timestamp::now().to_string(),
            jobs,
            batch_size,
            seed: determinism.seed,
            reproducible: !determinism.real_clock,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_written_with_their_kind_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        let summary = GuardSummary {
            assay_version: "0".into(),
            counts: ScreeningCounts { records: 2, rejected: 1, ..Default::default() },
            guards: IndexMap::new(),
            bad_records: Vec::new(),
            plugins: Vec::new(),
            input: InputSummary { path: "f.jsonl".into(), sha256: Digest::of(b""), format: Format::Jsonl },
            outputs: BTreeMap::new(),
            run: RunInfo::finished(jiff::Timestamp::now(), 1, 1, &Determinism::default()),
        };
        summary.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\n  \"kind\": \"guard\","), "{text}");
        let read: Summary = super::super::read_json(&path).unwrap();
        assert_eq!(read.kind(), "guard");
        assert_eq!(read.counts()[3], ("rejected", 1));
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let values = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&values, 0.5), Some(2.5));
        assert!((percentile(&values, 0.95).unwrap() - 3.85).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
