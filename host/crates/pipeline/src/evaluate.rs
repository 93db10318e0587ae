//! Scoring samples with evaluators: what `assay run` does.
//!
//! Workers parse, score and format their chunks; the collecting thread puts
//! the results back in input order and writes them. Each worker owns one
//! instance per plugin, so plugin calls never wait on a lock. Corpus
//! statistics are summed exactly, so every output is identical for every
//! `-j`, every number of shards, and a run killed and resumed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use assay_data::output::samples::id_text;
pub use assay_data::output::tally::StatisticSums;
use assay_data::output::tally::{FuelTally, ReferenceCounts, RunSums};
use assay_data::output::{
    DuplicateId, ErrorEntry, EvaluationCounts, EvaluationSummary, InputSummary, MetricSummary, Pairs, PluginSummary,
    RunInfo, SampleLine,
};
use assay_data::output::{SHARD_FILE, ShardFile, ShardRun, ShardTally};
use assay_data::{
    BadRecord, Chunk, DatasetError, FieldMap, Format, RawRecord, Reader, RecordSource, Shard, eval_record,
};
use assay_runtime::{
    EvaluatorInstance, Failure, Host, LoadedPlugin, MetricInfo, MetricLevel, Sample, Scores, call_runtime,
};
use serde_json::value::RawValue;

use crate::journal::{self, Journal};
use crate::sample_ids::SampleIds;
use crate::worker::{
    Progress, Recipe, RunError, Schedule, Slot, TRAP_SPLITS_PER_CHUNK, call_seed, ordered_pipeline, output_error,
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

impl BadRecordPolicy {
    /// As `[run] on_bad_record` writes it.
    pub fn name(self) -> &'static str {
        match self {
            BadRecordPolicy::Fail => "fail",
            BadRecordPolicy::Skip => "skip",
        }
    }
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
    /// The input's blocks: chunks never cross one, and shards are made of
    /// whole ones ([`assay_data::DEFAULT_BLOCK_BYTES`] unless a run says).
    pub block_bytes: u64,
    /// Go on from the checkpoint a killed run of the same run left in the
    /// output folder, instead of starting afresh.
    pub resume: bool,
    /// How often, at least, a run makes what it wrote safe and records a
    /// checkpoint (when a block of the input is done).
    pub checkpoint_every: std::time::Duration,
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
        let tally = &tally.sums;
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
    let part = run_part(host, plugins, input, format, fields, options, Shard::WHOLE, out_dir, progress)?;
    let input_summary =
        InputSummary { path: input.display().to_string(), sha256: part.digest, format: part.run.format };
    let summary = summarize(host, plugins, part.tally, options, input_summary, part.started_at, part.resumed_after);
    let summary_path = out_dir.join("summary.json");
    summary.write(&summary_path).map_err(output_error(&summary_path))?;
    journal::remove(&part.progress).map_err(output_error(&part.progress))?;
    Ok(summary)
}

/// Runs `plugins` over `shard` of the eval set at `input` and writes the
/// shard's `samples.jsonl` and `shard.json` into `out_dir`, for `assay merge`
/// to put together with the other shards.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_shard(
    host: &Host,
    plugins: &[LoadedPlugin],
    input: &Path,
    format: Option<Format>,
    fields: &FieldMap,
    options: &EvaluateOptions,
    shard: Shard,
    out_dir: &Path,
    progress: &dyn Progress,
) -> Result<ShardFile, RunError> {
    let part = run_part(host, plugins, input, format, fields, options, shard, out_dir, progress)?;
    let file = ShardFile {
        run: part.run,
        shard,
        input_path: input.display().to_string(),
        range: part.range,
        range_sha256: part.digest,
        started_at: part.started_at.to_string(),
        finished_at: jiff::Timestamp::now().to_string(),
        jobs: options.schedule.jobs,
        tally: ShardTally::Evaluator { sums: part.tally.sums, lines: part.tally.lines },
        models: host.model_usage(),
    };
    file.write(out_dir).map_err(output_error(&out_dir.join(SHARD_FILE)))?;
    journal::remove(&part.progress).map_err(output_error(&part.progress))?;
    Ok(file)
}

/// Scores an eval set held in memory, read exactly as a file of those bytes
/// named `name` would be ([`Reader::from_bytes`]): the summary and the
/// lines of `samples.jsonl`, with nothing written anywhere. What the Python
/// API calls; the numbers are those `assay run` gives the file.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_bytes(
    host: &Host,
    plugins: &[LoadedPlugin],
    name: &Path,
    bytes: std::sync::Arc<[u8]>,
    format: Format,
    fields: &FieldMap,
    options: &EvaluateOptions,
    progress: &dyn Progress,
) -> Result<(EvaluationSummary, Vec<u8>), RunError> {
    let started_at = jiff::Timestamp::now();
    let slots = MetricSlots::new(plugins);
    let mut tally = EvaluationTally::new(plugins.len(), slots.keys.len());
    let mut reader = Reader::from_bytes(name, bytes, format, options.block_bytes)?;
    let mut samples = Collected(Vec::new());
    score_records(host, plugins, &slots, &mut reader, name, fields, options, &mut tally, &mut samples, progress)?;
    let input = InputSummary { path: name.display().to_string(), sha256: reader.finish()?, format };
    Ok((summarize(host, plugins, tally, options, input, started_at, None), samples.0))
}

/// The summary of a whole run.
fn summarize(
    host: &Host,
    plugins: &[LoadedPlugin],
    tally: EvaluationTally,
    options: &EvaluateOptions,
    input: InputSummary,
    started_at: jiff::Timestamp,
    resumed_after: Option<u64>,
) -> EvaluationSummary {
    let schedule = &options.schedule;
    Evaluation::finalize(host, plugins, tally, &schedule.determinism).summary(
        input,
        RunInfo {
            models: host.model_usage(),
            resumed_after,
            ..RunInfo::finished(started_at, schedule.jobs, schedule.batch_size, &schedule.determinism)
        },
    )
}

/// Where scored samples go, chunk by chunk in input order.
trait SampleSink {
    /// Takes a chunk's lines of `samples.jsonl`, and each sample's id and
    /// input line.
    fn append(&mut self, samples: &[u8], ids: &[(Box<RawValue>, u64)]) -> std::io::Result<()>;
    /// Called before a chunk that starts a block at `next_offset`, with the
    /// sums so far: a file may take a checkpoint.
    fn block_done(&mut self, next_offset: u64, sums: &RunSums) -> std::io::Result<()>;
    /// Where the samples go, for messages.
    fn place(&self) -> &Path;
}

impl SampleSink for Journal {
    fn append(&mut self, samples: &[u8], ids: &[(Box<RawValue>, u64)]) -> std::io::Result<()> {
        Journal::append(self, samples, ids.iter().map(|(_, line)| *line))
    }

    fn block_done(&mut self, next_offset: u64, sums: &RunSums) -> std::io::Result<()> {
        Journal::block_done(self, next_offset, sums)
    }

    fn place(&self) -> &Path {
        self.dir()
    }
}

/// Samples kept in memory.
struct Collected(Vec<u8>);

impl SampleSink for Collected {
    fn append(&mut self, samples: &[u8], _: &[(Box<RawValue>, u64)]) -> std::io::Result<()> {
        self.0.extend_from_slice(samples);
        Ok(())
    }

    fn block_done(&mut self, _: u64, _: &RunSums) -> std::io::Result<()> {
        Ok(())
    }

    fn place(&self) -> &Path {
        Path::new("samples in memory")
    }
}

/// A run of one shard (the whole input unless sharded), scored, with its
/// samples in place.
struct Part {
    run: ShardRun,
    tally: EvaluationTally,
    /// The sha256 of the shard's bytes, and which they are.
    digest: assay_runtime::Digest,
    range: (u64, u64),
    started_at: jiff::Timestamp,
    /// Samples a killed run's checkpoint held, when this run resumed it.
    resumed_after: Option<u64>,
    /// The progress folder, to remove once the results are written.
    progress: std::path::PathBuf,
}

/// Scores `shard` of `input` into `out_dir/samples.jsonl`, writing as it
/// goes into the progress folder, from which a killed run resumes.
#[allow(clippy::too_many_arguments)]
fn run_part(
    host: &Host,
    plugins: &[LoadedPlugin],
    input: &Path,
    format: Option<Format>,
    fields: &FieldMap,
    options: &EvaluateOptions,
    shard: Shard,
    out_dir: &Path,
    progress: &dyn Progress,
) -> Result<Part, RunError> {
    std::fs::create_dir_all(out_dir).map_err(output_error(out_dir))?;
    let format = format
        .or_else(|| Format::from_path(input))
        .ok_or_else(|| DatasetError::UnknownFormat { path: input.into() })?;
    let input_size = std::fs::metadata(input).map_err(|error| DatasetError::Io { path: input.into(), error })?.len();
    let schedule = &options.schedule;
    let kind = assay_runtime::Kind::Evaluator;
    let run = ShardRun {
        fields: fields.pairs(),
        on_bad_record: options.on_bad_record.name().into(),
        allow_duplicate_ids: options.allow_duplicate_ids,
        keep_statistics: options.keep_statistics,
        // Without the number of references, which is the whole run's.
        plugins: plugins
            .iter()
            .map(|loaded| PluginSummary::of(loaded, loaded.signature(), FuelTally::default().summary(), None))
            .collect(),
        ..ShardRun::of(
            kind,
            input_size,
            format,
            options.block_bytes,
            shard.count,
            schedule.batch_size,
            &schedule.determinism,
        )
    };
    let slots = MetricSlots::new(plugins);
    let mut tally = EvaluationTally::new(plugins.len(), slots.keys.len());
    let (mut journal, resumed) =
        Journal::open(out_dir, input, run, shard, options.resume, options.checkpoint_every, &mut tally, &slots)?;
    let started_at = resumed.as_ref().map_or_else(jiff::Timestamp::now, |r| r.started_at);
    let from = resumed.as_ref().map_or(0, |r| r.next_offset);
    let resumed_after = resumed.as_ref().map(|r| r.samples);
    let mut reader = Reader::open_shard_from(input, Some(format), options.block_bytes, shard, from)?;
    if let Err(error) =
        score_records(host, plugins, &slots, &mut reader, input, fields, options, &mut tally, &mut journal, progress)
    {
        // A run stopped by its input or its plugins would stop again where
        // it did: nothing to resume.
        let _ = journal::remove(journal.dir());
        return Err(error);
    }
    let range = reader.range();
    let digest = reader.finish()?;
    let samples_path = out_dir.join("samples.jsonl");
    let (progress_dir, run) = journal.commit(&samples_path).map_err(output_error(&samples_path))?;
    Ok(Part { run, tally, digest, range, started_at, resumed_after, progress: progress_dir })
}

/// Each plugin with the signature its metrics carry in this run: the host
/// cannot tell which plugins read references, and more references raise
/// reference-based scores, so every signature says how many.
fn run_plugins<'p>(plugins: &'p [LoadedPlugin], references: &ReferenceCounts) -> Vec<(&'p LoadedPlugin, String)> {
    let nrefs = references.setting();
    plugins.iter().map(|p| (p, p.signature_with(&[("nrefs", &nrefs)]))).collect()
}

/// What an evaluation found, before it is written up.
pub struct Evaluation<'p> {
    plugins: &'p [LoadedPlugin],
    slots: MetricSlots,
    tally: EvaluationTally,
    corpus: BTreeMap<String, f64>,
    corpus_errors: BTreeMap<String, ErrorEntry>,
}

/// Scores every record of `records` (called `input` in messages) into
/// `tally`, appending each sample's line to `journal`, in input order.
#[allow(clippy::too_many_arguments)]
fn score_records(
    host: &Host,
    plugins: &[LoadedPlugin],
    slots: &MetricSlots,
    records: &mut dyn RecordSource,
    input: &Path,
    fields: &FieldMap,
    options: &EvaluateOptions,
    tally: &mut EvaluationTally,
    sink: &mut dyn SampleSink,
    progress: &dyn Progress,
) -> Result<(), RunError> {
    let mut failure: Option<RunError> = None;
    let schedule = &options.schedule;
    let pipeline = ordered_pipeline(
        records,
        schedule.chunk_records(),
        schedule.jobs,
        || Worker { runtime: call_runtime(), slots: plugins.iter().map(|_| Slot::default()).collect() },
        |worker, chunk| worker.process(chunk, host, plugins, slots, fields, options),
        |result: ChunkResult| {
            progress.advance(result.bytes);
            // A chunk that starts a block follows a block done: a checkpoint
            // may be written before it.
            if result.position & u64::from(u32::MAX) == 0 {
                let next_offset = (result.position >> 32) * options.block_bytes;
                if let Err(error) = sink.block_done(next_offset, &tally.sums) {
                    failure = Some(RunError::Output { path: sink.place().into(), error });
                    return false;
                }
            }
            if options.on_bad_record == BadRecordPolicy::Fail
                && let Some(bad) = result.sums.skipped.first()
            {
                failure =
                    Some(RunError::BadRecord { path: input.into(), line: bad.line, message: bad.message.clone() });
                return false;
            }
            for (id, line) in &result.ids {
                if let Err(duplicate) = tally.see_id(id, *line, options.allow_duplicate_ids) {
                    failure = Some(RunError::DuplicateId { path: input.into(), duplicate });
                    return false;
                }
            }
            if let Err(error) = sink.append(&result.lines, &result.ids) {
                failure = Some(RunError::Output { path: sink.place().into(), error });
                return false;
            }
            tally.add(result);
            if let Some(error) = options.early_stop.and_then(|stop| stop.check(plugins, tally)) {
                failure = Some(error);
                return false;
            }
            true
        },
    );
    pipeline?;
    match failure {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

impl<'p> Evaluation<'p> {
    /// The evaluation `tally` describes, with its corpus metrics computed.
    pub(crate) fn finalize(
        host: &Host,
        plugins: &'p [LoadedPlugin],
        tally: EvaluationTally,
        determinism: &assay_runtime::Determinism,
    ) -> Evaluation<'p> {
        let runtime = call_runtime();
        let statistics = &tally.sums.statistics;
        let mut corpus = BTreeMap::new();
        let mut corpus_errors = BTreeMap::new();
        for (index, loaded) in plugins.iter().enumerate() {
            if !loaded.plugin.metrics.iter().any(|m| m.level == MetricLevel::Corpus) {
                continue;
            }
            match runtime.block_on(finalize(host, loaded, &statistics[index], determinism)) {
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
                        let message = format!(
                            "finalize returned no value for the declared corpus metrics {}",
                            missing.join(", ")
                        );
                        corpus_errors
                            .insert(loaded.name.clone(), ErrorEntry { kind: "invalid-output".into(), message });
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
        Evaluation { plugins, slots: MetricSlots::new(plugins), tally, corpus, corpus_errors }
    }
}

impl Evaluation<'_> {
    /// The summary of this evaluation of `input`.
    pub fn summary(mut self, input: InputSummary, run: RunInfo) -> EvaluationSummary {
        let plugins = self.plugins;
        let tally = &mut self.tally;
        let signatures: Vec<String> =
            run_plugins(plugins, &tally.sums.references).into_iter().map(|(_, s)| s).collect();
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
        let skipped = std::mem::take(&mut tally.sums.skipped);
        let duplicate_ids = std::mem::take(&mut tally.duplicate_ids);
        EvaluationSummary {
            assay_version: env!("CARGO_PKG_VERSION").into(),
            metrics,
            details,
            counts: EvaluationCounts {
                records: tally.sums.samples + skipped.len() as u64,
                samples: tally.sums.samples,
                errors: tally.sums.samples_with_errors,
                skipped: skipped.len() as u64,
            },
            errors: plugins
                .iter()
                .zip(&tally.sums.failures)
                .filter(|(_, kinds)| !kinds.is_empty())
                .map(|(p, kinds)| (p.name.clone(), kinds.clone()))
                .collect(),
            first_errors: plugins
                .iter()
                .zip(std::mem::take(&mut tally.sums.first_failures))
                .filter_map(|(p, first)| Some((p.name.clone(), first?)))
                .collect(),
            corpus_errors: self.corpus_errors,
            skipped,
            duplicate_ids,
            plugins: plugins
                .iter()
                .zip(&tally.sums.fuel)
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
pub(crate) struct MetricSlots {
    pub(crate) keys: Vec<String>,
    /// First slot of each plugin.
    first: Vec<usize>,
}

impl MetricSlots {
    pub(crate) fn new(plugins: &[LoadedPlugin]) -> Self {
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
    /// Where the chunk is in the input ([`Chunk::position`]).
    position: u64,
    bytes: u64,
    /// The chunk's lines of `samples.jsonl`.
    lines: Vec<u8>,
    /// Each sample's id and line, in input order.
    ids: Vec<(Box<RawValue>, u64)>,
    /// Values per metric slot, in input order.
    values: Vec<Vec<f64>>,
    /// The chunk's sums: its statistics as its one chunk.
    sums: RunSums,
}

/// Everything summed over the chunks, in input order.
pub(crate) struct EvaluationTally {
    pub(crate) sums: RunSums,
    /// Each sample's input line.
    pub(crate) lines: Vec<u64>,
    /// Values per metric slot, in input order.
    pub(crate) values: Vec<Vec<f64>>,
    /// The first line of every id, to report a second sample with one.
    ids: SampleIds,
    duplicate_ids: Vec<DuplicateId>,
}

impl EvaluationTally {
    pub(crate) fn new(plugins: usize, slots: usize) -> Self {
        EvaluationTally {
            sums: RunSums::new(plugins),
            lines: Vec::new(),
            values: vec![Vec::new(); slots],
            ids: SampleIds::default(),
            duplicate_ids: Vec::new(),
        }
    }

    /// Notes the sample `id` at input `line`. A second sample with an id is
    /// listed when duplicates are `allow`ed, and returned otherwise.
    pub(crate) fn see_id(&mut self, id: &RawValue, line: u64, allow: bool) -> Result<(), DuplicateId> {
        if let Err(first_line) = self.ids.insert(id.get(), line) {
            let duplicate = DuplicateId { id: id_text(id), first_line, line };
            if !allow {
                return Err(duplicate);
            }
            self.duplicate_ids.push(duplicate);
        }
        Ok(())
    }

    /// Makes room for `samples` more samples, so a merge's go in without
    /// growing step by step.
    pub(crate) fn reserve(&mut self, samples: usize) {
        self.lines.reserve(samples);
        for values in &mut self.values {
            values.reserve(samples);
        }
    }

    /// Records the repeated ids a merge found ([`see_id`](Self::see_id)
    /// finds them one sample at a time), in input order.
    pub(crate) fn set_duplicate_ids(&mut self, duplicates: Vec<DuplicateId>) {
        self.duplicate_ids = duplicates;
    }

    fn add(&mut self, chunk: ChunkResult) {
        for (total, values) in self.values.iter_mut().zip(chunk.values) {
            total.extend(values);
        }
        self.lines.extend(chunk.ids.iter().map(|(_, line)| line));
        self.sums.extend(chunk.sums);
    }
}

/// Evaluators for samples that arrive a request at a time rather than from
/// a file (`assay serve`'s `POST /v1/evaluate`): each request is scored as
/// `assay run` scores one chunk of a file, on fresh instances, so a
/// sample's scores are those `assay run` gives it.
pub struct Scorer<'a> {
    host: &'a Host,
    plugins: &'a [LoadedPlugin],
    slots: MetricSlots,
    fields: &'a FieldMap,
    options: &'a EvaluateOptions,
    worker: Worker,
}

impl<'a> Scorer<'a> {
    pub fn new(
        host: &'a Host,
        plugins: &'a [LoadedPlugin],
        fields: &'a FieldMap,
        options: &'a EvaluateOptions,
    ) -> Self {
        let worker = Worker { runtime: call_runtime(), slots: plugins.iter().map(|_| Slot::default()).collect() };
        Scorer { host, plugins, slots: MetricSlots::new(plugins), fields, options, worker }
    }

    /// Scores `records`: each sample's line of `samples.jsonl` (with its
    /// newline), in order, or the records that could not be read.
    pub fn score(&mut self, records: Vec<RawRecord>) -> Result<Vec<u8>, Vec<BadRecord>> {
        let chunk = Chunk { index: 0, position: 0, bytes: 0, records };
        let result = self.worker.process(chunk, self.host, self.plugins, &self.slots, self.fields, self.options);
        match result.sums.skipped.is_empty() {
            true => Ok(result.lines),
            false => Err(result.sums.skipped),
        }
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
        let mut sums = RunSums::new(plugins.len());
        sums.samples = samples.len() as u64;
        sums.skipped = bad;
        sums.references = samples.iter().map(|s| s.references.len()).collect();
        let mut result = ChunkResult {
            position: chunk.position,
            bytes: chunk.bytes,
            lines: Vec::with_capacity(samples.len() * 64),
            ids: Vec::new(),
            values: vec![Vec::with_capacity(samples.len()); slots.keys.len()],
            sums,
        };
        if !result.sums.skipped.is_empty() && options.on_bad_record == BadRecordPolicy::Fail {
            return result;
        }
        let sums = &mut result.sums;

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
                let call_seed = call_seed(chunk.position, b);
                let recipe = Recipe { loaded, host, determinism };
                let mut results = self.slots[p].call_isolating(
                    &self.runtime,
                    recipe,
                    batch,
                    &mut sums.fuel[p],
                    &mut splits,
                    &async |instance: &mut EvaluatorInstance, items: &[Sample]| instance.score(items, call_seed).await,
                );
                // Summed as soon as they arrive, so a chunk
                // holds one batch's statistics at a time, not every sample's
                // until its lines are written (unless the lines keep them).
                for scores in results.iter_mut().flatten() {
                    for statistic in &scores.statistics {
                        sums.statistics[p].add(&statistic.name, statistic.value);
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
                        sums.first_failures[p].get_or_insert_with(|| entry.clone());
                        line.errors.0.push((Cow::Borrowed(&plugins[p].name), entry));
                        *sums.failures[p].entry(failure.kind().to_string()).or_insert(0) += 1;
                    }
                }
            }
            if !line.errors.is_empty() {
                sums.samples_with_errors += 1;
            }
            line.write_to(&mut result.lines);
        }
        result.ids = ids.into_iter().zip(record_lines).collect();
        result
    }
}
