//! Scoring samples with evaluators: what `assay run` does.
//!
//! Workers parse, score and format their chunks; the collecting thread puts
//! the results back in input order and writes them. Each worker owns one
//! instance per plugin, so plugin calls never wait on a lock. Corpus
//! statistics are summed in input order, so every output is identical for
//! every `-j`.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use assay_data::output::samples::id_text;
use assay_data::output::{
    AtomicFile, DuplicateId, ErrorEntry, EvaluationCounts, EvaluationSummary, InputSummary, MetricSummary, Pairs,
    PluginSummary, RunInfo, SampleLine,
};
use assay_data::{BadRecord, Chunk, FieldMap, Format, Reader, RecordSource, eval_record};
use assay_runtime::bounds::{MAX_STATISTIC_NAMES, statistic_names_exceeded};
use assay_runtime::{
    EvaluatorInstance, Failure, Host, LoadedPlugin, MetricInfo, MetricLevel, Sample, Scores, Statistic, call_runtime,
};
use serde_json::value::RawValue;

use crate::worker::{
    BATCHES_PER_CHUNK, FuelTally, Progress, Recipe, RunError, Schedule, Slot, TRAP_SPLITS_PER_CHUNK, ordered_pipeline,
    output_error,
};

/// What to do with a record that cannot be read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BadRecordPolicy {
    /// Stop with `FILE:LINE: what is wrong` before writing any output.
    #[default]
    Fail,
    /// Leave the record out and list it in the summary.
    Skip,
}

/// How an evaluation goes, beyond what it runs.
#[derive(Debug, Clone)]
pub struct EvaluateOptions {
    pub schedule: Schedule,
    pub on_bad_record: BadRecordPolicy,
    pub early_stop: Option<EarlyStop>,
    /// Accept records that share an id (listed in the summary) instead of
    /// stopping at the first: runs are joined by id, so by default an id
    /// must name one sample.
    pub allow_duplicate_ids: bool,
    /// Write each sample's statistics to its line of `samples.jsonl`.
    pub keep_statistics: bool,
}

/// When to give up on a plugin that fails on most samples rather than spend
/// the whole run on it: a plugin that times out on every sample would
/// otherwise cost its deadline times the size of the eval set.
///
/// The rate is checked after each chunk, in input order, so whether and
/// where a run stops depends only on the input, never on `-j`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStop {
    /// The largest fraction of the samples scored so far a plugin may fail.
    pub max_failure_rate: f64,
    /// Samples scored before the rate is checked, so that a few early
    /// failures do not stop a run.
    pub min_samples: u64,
}

impl EarlyStop {
    /// The first plugin over the rate, as the error that stops the run.
    fn check(&self, plugins: &[LoadedPlugin], tally: &EvaluationTally) -> Option<RunError> {
        if tally.samples < self.min_samples {
            return None;
        }
        plugins.iter().zip(&tally.failures).find_map(|(loaded, kinds)| {
            let failed: u64 = kinds.values().sum();
            (failed as f64 > self.max_failure_rate * tally.samples as f64).then(|| RunError::TooManyFailures {
                name: loaded.name.clone(),
                failed,
                samples: tally.samples,
                kinds: kinds.iter().map(|(kind, n)| format!("{n} {kind}")).collect::<Vec<_>>().join(", "),
                max_failure_rate: self.max_failure_rate,
            })
        })
    }
}

/// Runs `plugins` over the eval set at `input` and writes `samples.jsonl` and
/// `summary.json` into `out_dir`.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    host: &Host,
    plugins: &[LoadedPlugin],
    input: &Path,
    format: Option<Format>,
    fields: &FieldMap,
    options: &EvaluateOptions,
    out_dir: &Path,
    progress: &dyn Progress,
) -> Result<EvaluationSummary, RunError> {
    let started_at = jiff::Timestamp::now();
    std::fs::create_dir_all(out_dir).map_err(output_error(out_dir))?;
    let mut reader = Reader::open(input, format)?;
    let format = reader.format();
    let samples_path = out_dir.join("samples.jsonl");
    let mut samples_file = AtomicFile::create(&samples_path).map_err(output_error(out_dir))?;
    let evaluation = evaluate_records(host, plugins, &mut reader, input, fields, options, &mut samples_file, progress)?;
    let sha256 = reader.finish()?;
    samples_file.commit().map_err(output_error(&samples_path))?;
    let schedule = &options.schedule;
    let summary = evaluation.summary(
        InputSummary { path: input.display().to_string(), sha256, format },
        RunInfo {
            models: host.model_usage(),
            ..RunInfo::finished(started_at, schedule.jobs, schedule.batch_size, &schedule.determinism)
        },
    );
    let summary_path = out_dir.join("summary.json");
    summary.write(&summary_path).map_err(output_error(&summary_path))?;
    Ok(summary)
}

/// What an evaluation found, before it is written up.
pub struct Evaluation<'p> {
    plugins: &'p [LoadedPlugin],
    slots: MetricSlots,
    tally: EvaluationTally,
    corpus: BTreeMap<String, f64>,
    corpus_errors: BTreeMap<String, ErrorEntry>,
}

/// Scores every record of `records` (called `input` in messages) and writes
/// each sample's line to `lines`, in input order; then computes the corpus
/// metrics.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_records<'p>(
    host: &Host,
    plugins: &'p [LoadedPlugin],
    records: &mut dyn RecordSource,
    input: &Path,
    fields: &FieldMap,
    options: &EvaluateOptions,
    lines: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<Evaluation<'p>, RunError> {
    let slots = MetricSlots::new(plugins);
    let mut tally = EvaluationTally::new(plugins.len(), slots.keys.len());
    let mut failure: Option<RunError> = None;
    let schedule = &options.schedule;
    // The first line of every id, to report a second sample with one.
    let mut first_lines: HashMap<Box<str>, u64> = HashMap::new();
    let pipeline = ordered_pipeline(
        records,
        schedule.chunk_records(),
        schedule.jobs,
        || Worker { runtime: call_runtime(), slots: plugins.iter().map(|_| Slot::default()).collect() },
        |worker, chunk| worker.process(chunk, host, plugins, &slots, fields, options),
        |mut result: ChunkResult| {
            progress.advance(result.bytes);
            if options.on_bad_record == BadRecordPolicy::Fail
                && let Some(bad) = result.bad.first()
            {
                failure =
                    Some(RunError::BadRecord { path: input.into(), line: bad.line, message: bad.message.clone() });
                return false;
            }
            for (id, line) in std::mem::take(&mut result.ids) {
                match first_lines.entry(id.get().into()) {
                    Entry::Vacant(slot) => {
                        slot.insert(line);
                    }
                    Entry::Occupied(first) => {
                        let duplicate = DuplicateId { id: id_text(&id), first_line: *first.get(), line };
                        if !options.allow_duplicate_ids {
                            failure = Some(RunError::DuplicateId { path: input.into(), duplicate });
                            return false;
                        }
                        tally.duplicate_ids.push(duplicate);
                    }
                }
            }
            if let Err(error) = lines.write_all(&result.lines) {
                failure = Some(RunError::Output { path: input.into(), error });
                return false;
            }
            tally.add(result);
            if let Some(error) = options.early_stop.and_then(|stop| stop.check(plugins, &tally)) {
                failure = Some(error);
                return false;
            }
            true
        },
    );
    pipeline?;
    if let Some(failure) = failure {
        return Err(failure);
    }

    let runtime = call_runtime();
    let mut corpus = BTreeMap::new();
    let mut corpus_errors = BTreeMap::new();
    for (index, loaded) in plugins.iter().enumerate() {
        if !loaded.plugin.metrics.iter().any(|m| m.level == MetricLevel::Corpus) {
            continue;
        }
        match runtime.block_on(finalize(host, loaded, &tally.statistics[index], &schedule.determinism)) {
            Ok(values) => {
                // A declared metric finalize leaves out is a failure to
                // report, not a number to drop without a word.
                let missing: Vec<&str> = loaded
                    .plugin
                    .metrics
                    .iter()
                    .filter(|m| m.level == MetricLevel::Corpus && !m.is_family())
                    .map(|m| m.name.as_str())
                    .filter(|name| !values.iter().any(|(returned, _)| returned == name))
                    .collect();
                if !missing.is_empty() {
                    let message =
                        format!("finalize returned no value for the declared corpus metrics {}", missing.join(", "));
                    corpus_errors.insert(loaded.name.clone(), ErrorEntry { kind: "invalid-output".into(), message });
                }
                for (name, value) in values {
                    corpus.insert(format!("{}/{}", loaded.name, name), value);
                }
            }
            Err(failure) => {
                corpus_errors.insert(loaded.name.clone(), ErrorEntry::from(&failure));
            }
        }
    }
    Ok(Evaluation { plugins, slots, tally, corpus, corpus_errors })
}

impl Evaluation<'_> {
    /// The summary of this evaluation of `input`.
    pub fn summary(mut self, input: InputSummary, run: RunInfo) -> EvaluationSummary {
        let plugins = self.plugins;
        let tally = &mut self.tally;
        // The host cannot tell which plugins read references, and more
        // references raise reference-based scores: every signature says how many.
        let nrefs = tally.references.setting();
        let signatures: Vec<String> = plugins.iter().map(|p| p.signature_with(&[("nrefs", &nrefs)])).collect();
        let mut metrics = BTreeMap::new();
        let mut details = BTreeMap::new();
        for (slot, key) in self.slots.keys.iter().enumerate() {
            let signature = signatures[self.slots.owner(slot)].clone();
            let summary =
                MetricSummary::of_samples(&self.slots.metric_info(plugins, slot), signature, &mut tally.values[slot]);
            metrics.insert(key.clone(), summary.mean);
            details.insert(key.clone(), summary);
        }
        for (key, value) in &self.corpus {
            let (plugin_name, metric) = key.split_once('/').expect("corpus keys are plugin/metric");
            let owner = plugins.iter().position(|p| p.name == plugin_name).expect("a run plugin");
            let info = plugins[owner]
                .plugin
                .metrics
                .iter()
                .find(|m| m.matches(metric))
                .expect("finalize output was validated");
            metrics.insert(key.clone(), Some(*value));
            details.insert(key.clone(), MetricSummary::corpus(info, signatures[owner].clone(), *value));
        }
        let skipped = std::mem::take(&mut tally.bad);
        let duplicate_ids = std::mem::take(&mut tally.duplicate_ids);
        EvaluationSummary {
            assay_version: env!("CARGO_PKG_VERSION").into(),
            metrics,
            details,
            counts: EvaluationCounts {
                records: tally.samples + skipped.len() as u64,
                samples: tally.samples,
                errors: tally.samples_with_errors,
                skipped: skipped.len() as u64,
            },
            errors: plugins
                .iter()
                .zip(&tally.failures)
                .filter(|(_, kinds)| !kinds.is_empty())
                .map(|(p, kinds)| (p.name.clone(), kinds.clone()))
                .collect(),
            first_errors: plugins
                .iter()
                .zip(std::mem::take(&mut tally.first_failures))
                .filter_map(|(p, first)| Some((p.name.clone(), first?)))
                .collect(),
            corpus_errors: self.corpus_errors,
            skipped,
            duplicate_ids,
            plugins: plugins
                .iter()
                .zip(&tally.fuel)
                .zip(signatures)
                .map(|((p, fuel), signature)| PluginSummary::of(p, signature, fuel.summary(), None))
                .collect(),
            input,
            run,
        }
    }
}

/// Corpus-level metrics of one plugin, from its summed statistics, on a
/// fresh instance.
pub async fn finalize(
    host: &Host,
    loaded: &LoadedPlugin,
    statistics: &StatisticSums,
    determinism: &assay_runtime::Determinism,
) -> Result<Vec<(String, f64)>, Failure> {
    use assay_runtime::instance::Instance as _;
    let statistics = statistics.statistics()?;
    let mut instance = EvaluatorInstance::instantiate(loaded, host, determinism).await?;
    let corpus = instance.finalize(&statistics).await;
    instance.forward_log(host, &loaded.name);
    corpus
}

/// The flat list of `plugin/metric` sample-level keys of a run, and which
/// plugin each belongs to.
struct MetricSlots {
    keys: Vec<String>,
    /// First slot of each plugin.
    first: Vec<usize>,
}

impl MetricSlots {
    fn new(plugins: &[LoadedPlugin]) -> Self {
        let mut keys = Vec::new();
        let mut first = Vec::new();
        for loaded in plugins {
            first.push(keys.len());
            keys.extend(loaded.plugin.sample_metrics().map(|m| format!("{}/{}", loaded.name, m.name)));
        }
        MetricSlots { keys, first }
    }

    fn owner(&self, slot: usize) -> usize {
        self.first.iter().rposition(|&f| f <= slot).expect("slot 0 belongs to the first plugin")
    }

    fn metric_info(&self, plugins: &[LoadedPlugin], slot: usize) -> MetricInfo {
        let owner = self.owner(slot);
        plugins[owner].plugin.sample_metrics().nth(slot - self.first[owner]).expect("a sample metric").clone()
    }
}

/// What a worker returns for a chunk.
struct ChunkResult {
    bytes: u64,
    /// The chunk's lines of `samples.jsonl`.
    lines: Vec<u8>,
    /// Each sample's id and line, in input order.
    ids: Vec<(Box<RawValue>, u64)>,
    bad: Vec<BadRecord>,
    samples: u64,
    samples_with_errors: u64,
    /// Values per metric slot, in input order.
    values: Vec<Vec<f64>>,
    /// Statistics summed over the chunk, per plugin.
    statistics: Vec<StatisticSums>,
    /// Failures per plugin, by kind.
    failures: Vec<BTreeMap<String, u64>>,
    /// Each plugin's first failure in the chunk.
    first_failures: Vec<Option<ErrorEntry>>,
    fuel: Vec<FuelTally>,
    references: ReferenceCounts,
}

/// Everything summed over the chunks, in input order.
struct EvaluationTally {
    samples: u64,
    samples_with_errors: u64,
    references: ReferenceCounts,
    bad: Vec<BadRecord>,
    duplicate_ids: Vec<DuplicateId>,
    values: Vec<Vec<f64>>,
    statistics: Vec<StatisticSums>,
    failures: Vec<BTreeMap<String, u64>>,
    first_failures: Vec<Option<ErrorEntry>>,
    fuel: Vec<FuelTally>,
}

impl EvaluationTally {
    fn new(plugins: usize, slots: usize) -> Self {
        EvaluationTally {
            samples: 0,
            samples_with_errors: 0,
            references: ReferenceCounts::default(),
            bad: Vec::new(),
            duplicate_ids: Vec::new(),
            values: vec![Vec::new(); slots],
            statistics: vec![StatisticSums::default(); plugins],
            failures: vec![BTreeMap::new(); plugins],
            first_failures: vec![None; plugins],
            fuel: vec![FuelTally::default(); plugins],
        }
    }

    fn add(&mut self, chunk: ChunkResult) {
        self.samples += chunk.samples;
        self.samples_with_errors += chunk.samples_with_errors;
        self.references.merge(chunk.references);
        self.bad.extend(chunk.bad);
        for (total, values) in self.values.iter_mut().zip(chunk.values) {
            total.extend(values);
        }
        for (total, statistics) in self.statistics.iter_mut().zip(chunk.statistics) {
            total.merge(statistics);
        }
        for (total, failures) in self.failures.iter_mut().zip(chunk.failures) {
            for (kind, count) in failures {
                *total.entry(kind).or_insert(0) += count;
            }
        }
        // Chunks arrive in input order: the first kept is the input's first.
        for (first, chunk_first) in self.first_failures.iter_mut().zip(chunk.first_failures) {
            if first.is_none() {
                *first = chunk_first;
            }
        }
        for (total, fuel) in self.fuel.iter_mut().zip(chunk.fuel) {
            total.merge(&fuel);
        }
    }
}

/// One plugin's statistics, summed by name in input order. The host keeps
/// them until the run ends, so their number is bounded: past
/// [`MAX_STATISTIC_NAMES`] distinct names the sums are dropped and the
/// plugin's corpus metrics fail, with memory back to nothing.
#[derive(Debug, Default, Clone)]
pub struct StatisticSums {
    sums: BTreeMap<String, f64>,
    /// Distinct names seen when the bound was passed.
    overflowed: Option<usize>,
}

impl StatisticSums {
    pub fn add(&mut self, name: &str, value: f64) {
        if self.overflowed.is_some() {
            return;
        }
        let distinct = self.sums.len();
        match self.sums.get_mut(name) {
            Some(total) => *total += value,
            None if distinct < MAX_STATISTIC_NAMES => {
                self.sums.insert(name.to_string(), value);
            }
            None => self.overflow(distinct + 1),
        }
    }

    fn overflow(&mut self, distinct: usize) {
        self.overflowed = Some(distinct);
        self.sums = BTreeMap::new();
    }

    fn merge(&mut self, other: StatisticSums) {
        match other.overflowed {
            Some(distinct) => self.overflow(distinct),
            None => other.sums.iter().for_each(|(name, value)| self.add(name, *value)),
        }
    }

    /// The sums, or the failure of a plugin that gave too many names.
    pub fn statistics(&self) -> Result<Vec<Statistic>, Failure> {
        if let Some(distinct) = self.overflowed {
            return Err(statistic_names_exceeded(distinct, "the run"));
        }
        Ok(self.sums.iter().map(|(name, value)| Statistic { name: name.clone(), value: *value }).collect())
    }
}

/// The fewest and most references of a run's samples.
#[derive(Debug, Default, Clone, Copy)]
struct ReferenceCounts(Option<(usize, usize)>);

impl ReferenceCounts {
    fn merge(&mut self, other: ReferenceCounts) {
        self.0 = match (self.0, other.0) {
            (Some((low, high)), Some((other_low, other_high))) => Some((low.min(other_low), high.max(other_high))),
            (one, other) => one.or(other),
        };
    }

    /// sacreBLEU's `nrefs`: the number every sample has, or `var`.
    fn setting(&self) -> String {
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

/// A worker thread's own plugin instances.
struct Worker {
    runtime: tokio::runtime::Runtime,
    slots: Vec<Slot<EvaluatorInstance>>,
}

impl Worker {
    fn process(
        &mut self,
        chunk: Chunk,
        host: &Host,
        plugins: &[LoadedPlugin],
        slots: &MetricSlots,
        fields: &FieldMap,
        options: &EvaluateOptions,
    ) -> ChunkResult {
        let mut bad = Vec::new();
        let mut samples: Vec<Sample> = Vec::with_capacity(chunk.records.len());
        let mut ids = Vec::with_capacity(chunk.records.len());
        let mut record_lines = Vec::with_capacity(chunk.records.len());
        for record in &chunk.records {
            match eval_record(record, fields) {
                Ok(r) => {
                    samples.push(r.sample);
                    ids.push(r.id_json);
                    record_lines.push(record.line);
                }
                Err(b) => bad.push(b),
            }
        }
        let mut result = ChunkResult {
            bytes: chunk.bytes,
            lines: Vec::with_capacity(samples.len() * 64),
            ids: Vec::new(),
            bad,
            samples: samples.len() as u64,
            samples_with_errors: 0,
            values: vec![Vec::with_capacity(samples.len()); slots.keys.len()],
            statistics: vec![StatisticSums::default(); plugins.len()],
            failures: vec![BTreeMap::new(); plugins.len()],
            first_failures: vec![None; plugins.len()],
            fuel: vec![FuelTally::default(); plugins.len()],
            references: samples.iter().map(|s| s.references.len()).collect(),
        };
        if !result.bad.is_empty() && options.on_bad_record == BadRecordPolicy::Fail {
            return result;
        }

        // Every chunk starts on fresh instances, so whatever state a plugin
        // keeps depends only on the chunk's records, not on which chunks this
        // worker ran before: results stay identical for every `-j` even for a
        // plugin that counts its calls. The pooling allocator makes this a
        // matter of microseconds per chunk for compiled plugins.
        for slot in &mut self.slots {
            *slot = Slot::default();
        }
        // outcomes[plugin][sample]
        let determinism = &options.schedule.determinism;
        let mut outcomes: Vec<Vec<Result<Scores, Failure>>> = Vec::with_capacity(plugins.len());
        for (p, loaded) in plugins.iter().enumerate() {
            let mut per_sample = Vec::with_capacity(samples.len());
            let mut splits = TRAP_SPLITS_PER_CHUNK;
            for (b, batch) in samples.chunks(options.schedule.batch_size).enumerate() {
                let call_seed = chunk.index * BATCHES_PER_CHUNK as u64 + b as u64;
                let recipe = Recipe { loaded, host, determinism };
                let mut results = self.slots[p].call_isolating(
                    &self.runtime,
                    recipe,
                    batch,
                    &mut result.fuel[p],
                    &mut splits,
                    &async |instance: &mut EvaluatorInstance, items: &[Sample]| instance.score(items, call_seed).await,
                );
                // Summed as soon as they arrive, in input order, so a chunk
                // holds one batch's statistics at a time, not every sample's
                // until its lines are written (unless the lines keep them).
                for scores in results.iter_mut().flatten() {
                    for statistic in &scores.statistics {
                        result.statistics[p].add(&statistic.name, statistic.value);
                    }
                    if !options.keep_statistics {
                        scores.statistics = Vec::new();
                    }
                }
                per_sample.extend(results);
            }
            outcomes.push(per_sample);
        }

        // One line reused for every sample, so its lists are allocated once per chunk.
        let mut line = SampleLine {
            id: Cow::Borrowed(RawValue::NULL),
            scores: Pairs::default(),
            errors: Pairs::default(),
            statistics: Pairs::default(),
        };
        for (i, id) in ids.iter().enumerate() {
            line.id = Cow::Borrowed(id.as_ref());
            line.scores.0.clear();
            line.errors.0.clear();
            line.statistics.0.clear();
            for (p, outcome) in outcomes.iter().enumerate() {
                match &outcome[i] {
                    Ok(scores) => {
                        for (k, value) in scores.values.iter().enumerate() {
                            let slot = slots.first[p] + k;
                            line.scores.0.push((Cow::Borrowed(&slots.keys[slot]), *value));
                            result.values[slot].push(*value);
                        }
                        if options.keep_statistics && !scores.statistics.is_empty() {
                            let kept = scores.statistics.iter().map(|s| (Cow::Borrowed(s.name.as_str()), s.value));
                            line.statistics.0.push((Cow::Borrowed(plugins[p].name.as_str()), Pairs(kept.collect())));
                        }
                    }
                    Err(failure) => {
                        let entry = ErrorEntry::from(failure);
                        result.first_failures[p].get_or_insert_with(|| entry.clone());
                        line.errors.0.push((Cow::Borrowed(&plugins[p].name), entry));
                        *result.failures[p].entry(failure.kind().to_string()).or_insert(0) += 1;
                    }
                }
            }
            if !line.errors.is_empty() {
                result.samples_with_errors += 1;
            }
            line.write_to(&mut result.lines);
        }
        result.ids = ids.into_iter().zip(record_lines).collect();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistic_sums_drop_everything_once_a_plugin_gives_too_many_names() {
        let mut chunk = StatisticSums::default();
        chunk.add("a", 1.0);
        chunk.add("a", 2.0);
        let mut run = StatisticSums::default();
        run.merge(chunk.clone());
        run.merge(chunk);
        let sums: Vec<(String, f64)> = run.statistics().unwrap().into_iter().map(|s| (s.name, s.value)).collect();
        assert_eq!(sums, [("a".to_string(), 6.0)]);

        for i in 0..MAX_STATISTIC_NAMES {
            run.add(&format!("n{i}"), 1.0);
        }
        let failure = run.statistics().unwrap_err();
        assert_eq!(failure.kind(), "invalid-output");
        assert!(failure.to_string().contains("32769 distinct statistic names in the run"), "{failure}");
        assert!(run.sums.is_empty(), "the sums are freed");
        run.add("a", 1.0);
        assert!(run.statistics().is_err(), "and stay failed");
    }
}
