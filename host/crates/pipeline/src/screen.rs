//! Screening feedback with guards: what `assay guard` does.
//!
//! Every guard sees every record, in input order, on one instance for the
//! whole run, because guards keep state (counts per user, texts seen) and the
//! contract promises them that. So the work is split the other way round from
//! [`evaluate`](crate::evaluate): `jobs` workers parse chunks in parallel, each
//! guard runs on a thread of its own over every chunk in order, and a writer
//! thread joins the guards' decisions per record and routes each record, byte
//! for byte as read, to `accepted`, `quarantined` or `rejected`. Batch
//! boundaries depend only on the input, so the outputs are identical for
//! every `-j`.
//!
//! A guard that fails on a batch (trap, deadline, fuel, memory, an invalid
//! answer) or on a record (its own error) fails only those records: they go
//! where its failure policy says, with the failure as the reason, and a
//! fresh, reconfigured instance carries on when the old one cannot be
//! entered again. That instance starts without the state the old one had
//! built, and the decisions it makes say so.
//!
//! The output files are replaced as a set: they are written into a fresh
//! folder beside `OUT_DIR` and swapped in with one rename, so a crash leaves
//! either the old outputs or the complete new ones.
//!
//! A guard that exports `guard-recall` (contract 0.1.3) may take back
//! decisions on earlier records after each batch; the writer collects the
//! recalls, and [`recall`](crate::recall) applies them to the staged
//! outputs before they are swapped in.
//!
//! A run may be split into shards ([`Screening::screen_shard`], `assay guard --shard
//! K/N`) only when every guard declared that its decisions depend on each
//! record alone (`guard-scope`, contract 0.1.2): a guard that counts per
//! user would see only its shard's records. Seeds come from each chunk's
//! place in the input, so a shard's decisions are those one run would make,
//! and [`merge_screening`](crate::merge::merge_screening) puts them together.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use assay_data::output::tally::ScreeningSums;
use assay_data::output::{
    DecisionLine, ErrorEntry, FailurePolicy, GuardEntry, GuardSummary, InputSummary, Pairs, PluginSummary, Route,
    RunInfo, ShardFile, ShardRun, ShardTally,
};
use assay_data::{BadRecord, Body, Chunk, FieldMap, Format, Reader, RecordSource, Shard, feedback_record};
use assay_runtime::instance::StateError;
use assay_runtime::{
    Decision, Digest, Failure, Feedback, GuardInstance, Host, Kind, LoadedPlugin, Recall, Scope, Screened, call_runtime,
};
use serde_json::value::RawValue;

use crate::recall::PendingRecall;
use crate::staging::{Staging, swap_in};
use crate::worker::{
    FuelTally, Progress, Recipe, RunError, Schedule, Slot, TRAP_SPLITS_PER_CHUNK, call_seed, ordered_pipeline,
    output_error,
};

/// What to do with a feedback record that cannot be read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BadFeedbackPolicy {
    /// Hold it for review, unchanged, with the reason in `decisions.jsonl`.
    #[default]
    Quarantine,
    /// Stop with `FILE:LINE: what is wrong` before writing any output.
    Fail,
}

impl BadFeedbackPolicy {
    /// As `[guard] on_bad_record` writes it.
    pub fn name(self) -> &'static str {
        match self {
            BadFeedbackPolicy::Quarantine => "quarantine",
            BadFeedbackPolicy::Fail => "fail",
        }
    }
}

/// A loaded guard and where records go when it fails on them.
pub struct Guard {
    pub loaded: LoadedPlugin,
    pub on_failure: FailurePolicy,
}

impl Guard {
    /// How `summary.json` and `shard.json` record it, fuel aside.
    fn summary(&self) -> PluginSummary {
        PluginSummary::of(&self.loaded, self.loaded.signature(), Default::default(), Some(self.on_failure))
    }
}

/// How a guard run goes, beyond what it runs. `schedule.jobs` counts the
/// parsing workers; each guard has a thread of its own besides.
#[derive(Debug, Clone)]
pub struct ScreenOptions {
    pub schedule: Schedule,
    pub on_bad_record: BadFeedbackPolicy,
    /// Input bytes per block: chunks never cross one, and a shard is whole
    /// blocks ([`assay_data::DEFAULT_BLOCK_BYTES`] unless a run says).
    pub block_bytes: u64,
}

/// One record as the parsing workers leave it.
struct Parsed {
    line: u64,
    raw: Vec<u8>,
    /// The JSON text of its id, or why it cannot be read.
    id: Result<Box<RawValue>, String>,
}

/// A chunk, parsed: every record, and the readable ones as guards take them.
struct ParsedChunk {
    bytes: u64,
    /// Where the chunk is in the input ([`Chunk::position`]): its calls' seeds.
    position: u64,
    records: Vec<Parsed>,
    feedback: Vec<Feedback>,
}

/// What one guard decided on the readable records of a chunk.
struct Verdicts {
    outcomes: Vec<Result<Decision, Failure>>,
    fuel: FuelTally,
    /// What it recalled after each batch, with the place among the chunk's
    /// readable records of that batch's last record.
    recalls: Vec<(usize, Recall)>,
}

/// A guard run: the feedback, the guards and how they run.
pub struct Screening<'a> {
    pub host: &'a Host,
    pub guards: &'a [Guard],
    pub input: &'a Path,
    /// The input's format, when its name does not say.
    pub format: Option<Format>,
    pub fields: &'a FieldMap,
    pub options: &'a ScreenOptions,
}

impl Screening<'_> {
    /// Screens the whole feedback and writes the routed records,
    /// `decisions.jsonl` and `summary.json` into `out_dir`, replacing what
    /// it held.
    pub fn screen(&self, out_dir: &Path, progress: &dyn Progress) -> Result<GuardSummary, RunError> {
        let part = self.part(Shard::WHOLE, out_dir, progress)?;
        let summary = self.summary(part.sums, part.digest, part.format, part.started_at);
        let summary_path = part.dir.path().join("summary.json");
        summary.write(&summary_path).map_err(output_error(&summary_path))?;
        swap_in(part.dir, out_dir).map_err(output_error(out_dir))?;
        Ok(summary)
    }

    /// Screens `shard` of the feedback and writes the shard's routed
    /// records, `decisions.jsonl` and `shard.json` into `out_dir` (replacing
    /// what it held), for `assay merge` to put together with the other
    /// shards'. Refused unless every guard's decisions depend on each
    /// record alone.
    pub fn screen_shard(&self, shard: Shard, out_dir: &Path, progress: &dyn Progress) -> Result<ShardFile, RunError> {
        if let Some(guard) = self.guards.iter().find(|g| !g.loaded.plugin.shardable()) {
            let (guard, scope) = (guard.loaded.name.clone(), guard.loaded.plugin.scope_text());
            return Err(RunError::Unshardable { guard, scope });
        }
        let part = self.part(shard, out_dir, progress)?;
        let schedule = &self.options.schedule;
        let (size, format, blocks) = (part.input_size, part.format, self.options.block_bytes);
        let file = ShardFile {
            run: ShardRun {
                fields: self.fields.pairs(),
                on_bad_record: self.options.on_bad_record.name().into(),
                plugins: self.guards.iter().map(Guard::summary).collect(),
                ..ShardRun::of(
                    Kind::Guard,
                    size,
                    format,
                    blocks,
                    shard.count,
                    schedule.batch_size,
                    &schedule.determinism,
                )
            },
            shard,
            input_path: self.input.display().to_string(),
            range: part.range,
            range_sha256: part.digest,
            started_at: part.started_at.to_string(),
            finished_at: jiff::Timestamp::now().to_string(),
            jobs: schedule.jobs,
            tally: ShardTally::Guard(part.sums),
            models: self.host.model_usage(),
        };
        file.write(part.dir.path()).map_err(output_error(part.dir.path()))?;
        swap_in(part.dir, out_dir).map_err(output_error(out_dir))?;
        Ok(file)
    }

    /// Screens feedback held in memory, read exactly as a file of those
    /// bytes named `self.input` would be ([`Reader::from_bytes`]), with
    /// recalls applied by the rule `assay guard` applies them by: the
    /// summary, each route's records and `decisions.jsonl`'s lines, with
    /// nothing written anywhere (the Python API).
    pub fn screen_bytes(
        &self,
        bytes: Arc<[u8]>,
        format: Format,
        progress: &dyn Progress,
    ) -> Result<(GuardSummary, ScreenedBytes), RunError> {
        let started_at = jiff::Timestamp::now();
        let mut reader = Reader::from_bytes(self.input, bytes, format, self.options.block_bytes)?;
        let header = match reader.headers() {
            Some(headers) => crate::staging::header_row(format, headers).map_err(output_error(self.input))?,
            None => Vec::new(),
        };
        let mut kept = Kept::default();
        let (host, guards, input, fields, options) = (self.host, self.guards, self.input, self.fields, self.options);
        let ScreenedRecords { mut sums, recalls } =
            screen_records(host, guards, &mut reader, input, fields, options, &mut kept, progress)?;
        let mut screened = ScreenedBytes { routes: [header.clone(), header.clone(), header], decisions: Vec::new() };
        let mut amender = crate::recall::Amender::new(&recalls);
        let mut lines = kept.decisions.split_inclusive(|&b| b == b'\n');
        for (route, raw) in kept.records {
            let text = lines.next().expect("a decision line per record");
            let mut route = route;
            if recalls.is_empty() {
                screened.decisions.extend_from_slice(text);
            } else {
                let mut line: DecisionLine = serde_json::from_slice(text).expect("a decision line read back");
                amender.amend(&mut line, &mut sums);
                route = line.decision;
                line.write_to(&mut screened.decisions);
            }
            let out = &mut screened.routes[route as usize];
            out.extend_from_slice(&raw);
            out.push(b'\n');
        }
        amender.finish(&mut sums);
        Ok((self.summary(sums, reader.finish()?, format, started_at), screened))
    }

    /// The `summary.json` of a whole run of these guards over this input.
    fn summary(
        &self,
        sums: ScreeningSums,
        sha256: Digest,
        format: Format,
        started_at: jiff::Timestamp,
    ) -> GuardSummary {
        let schedule = &self.options.schedule;
        guard_summary(
            self.guards.iter().map(Guard::summary).collect(),
            sums,
            InputSummary { path: self.input.display().to_string(), sha256, format },
            RunInfo {
                models: self.host.model_usage(),
                ..RunInfo::finished(started_at, schedule.jobs, schedule.batch_size, &schedule.determinism)
            },
        )
    }

    /// Screens `shard` (all of the feedback for [`Shard::WHOLE`]) into a
    /// staging folder beside `out_dir`.
    fn part(&self, shard: Shard, out_dir: &Path, progress: &dyn Progress) -> Result<Part, RunError> {
        let started_at = jiff::Timestamp::now();
        let mut reader = Reader::open_shard(self.input, self.format, self.options.block_bytes, shard)?;
        let (format, input_size, range) = (reader.format(), reader.size(), reader.range());
        let may_recall = self.guards.iter().any(|g| g.loaded.plugin.recalls);
        let Staging { dir, mut writers, header } = Staging::new(out_dir, format, reader.headers(), may_recall)?;
        let (host, guards, input, fields, options) = (self.host, self.guards, self.input, self.fields, self.options);
        let ScreenedRecords { mut sums, recalls } =
            screen_records(host, guards, &mut reader, input, fields, options, &mut writers, progress)?;
        let lengths = writers.finish().map_err(output_error(dir.path()))?;
        if !recalls.is_empty() {
            crate::recall::apply(dir.path(), format, &header, &lengths, &recalls, &mut sums)
                .map_err(output_error(dir.path()))?;
        }
        let digest = reader.finish()?;
        Ok(Part { dir, sums, format, input_size, range, digest, started_at })
    }
}

/// A screening held in memory: each route's records, in input order, as
/// the route's file of `assay guard` holds them (indexed by [`Route`]), and
/// the lines of `decisions.jsonl`.
pub struct ScreenedBytes {
    pub routes: [Vec<u8>; 3],
    pub decisions: Vec<u8>,
}

/// Screened records kept in memory until recalls are applied.
#[derive(Default)]
struct Kept {
    decisions: Vec<u8>,
    records: Vec<(Route, Vec<u8>)>,
}

impl RouteSink for Kept {
    fn record(&mut self, route: Route, decision: &[u8], raw: &[u8]) -> std::io::Result<()> {
        self.decisions.extend_from_slice(decision);
        self.records.push((route, raw.to_vec()));
        Ok(())
    }
}

/// A part of the feedback (all of it unless sharded), screened, its outputs
/// complete in a staging folder that is not yet in place.
struct Part {
    dir: tempfile::TempDir,
    sums: ScreeningSums,
    format: Format,
    input_size: u64,
    /// The bytes read, and their sha256.
    range: (u64, u64),
    digest: Digest,
    started_at: jiff::Timestamp,
}

/// The `summary.json` of a guard run: `plugins` as the run recorded them,
/// with the fuel `sums` counted for each.
pub(crate) fn guard_summary(
    mut plugins: Vec<PluginSummary>,
    sums: ScreeningSums,
    input: InputSummary,
    run: RunInfo,
) -> GuardSummary {
    let mut outputs: BTreeMap<String, String> =
        Route::ALL.iter().map(|&r| (r.file_stem().to_string(), r.records_file(input.format))).collect();
    outputs.insert("decisions".into(), "decisions.jsonl".into());
    for (plugin, fuel) in plugins.iter_mut().zip(&sums.fuel) {
        plugin.fuel = fuel.summary();
    }
    GuardSummary {
        assay_version: env!("CARGO_PKG_VERSION").into(),
        counts: sums.counts,
        guards: plugins.iter().map(|p| p.name.clone()).zip(sums.guards).collect(),
        bad_records: sums.bad_records,
        plugins,
        input,
        outputs,
        run,
    }
}

/// Where screened records and their decisions go.
pub trait RouteSink: Send {
    /// Takes one record's line of `decisions.jsonl`, and the record as read,
    /// for the file of its route.
    fn record(&mut self, route: Route, decision: &[u8], raw: &[u8]) -> std::io::Result<()>;
}

/// What [`screen_records`] counted, and the recalls it received, in order.
pub struct ScreenedRecords {
    pub sums: ScreeningSums,
    pub recalls: Vec<PendingRecall>,
}

/// Screens every record of `records` (called `input` in messages) and hands
/// each one, with its decision, to `sink`, in input order. Recalls are
/// returned, not applied: `sink` has the records.
#[allow(clippy::too_many_arguments)]
pub fn screen_records(
    host: &Host,
    guards: &[Guard],
    records: &mut dyn RecordSource,
    input: &Path,
    fields: &FieldMap,
    options: &ScreenOptions,
    sink: &mut dyn RouteSink,
    progress: &dyn Progress,
) -> Result<ScreenedRecords, RunError> {
    let mut failure: Option<RunError> = None;
    let schedule = &options.schedule;
    let (tally, pipeline) = std::thread::scope(|scope| {
        let mut to_guards = Vec::new();
        let mut from_guards = Vec::new();
        for guard in guards {
            let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Arc<ParsedChunk>>(4);
            let (verdict_tx, verdict_rx) = crossbeam_channel::bounded::<Verdicts>(4);
            to_guards.push(chunk_tx);
            from_guards.push(verdict_rx);
            scope.spawn(move || {
                let mut runner = GuardRunner { host, guard, schedule, runtime: call_runtime(), slot: Slot::default() };
                for chunk in chunk_rx {
                    if verdict_tx.send(runner.screen(&chunk.feedback, chunk.position)).is_err() {
                        break;
                    }
                }
            });
        }
        let (to_writer, chunks) = crossbeam_channel::bounded::<Arc<ParsedChunk>>(4);
        let writer = scope.spawn(move || -> Result<ScreenedRecords, std::io::Error> {
            let mut screened = ScreenedRecords { sums: ScreeningSums::new(guards.len()), recalls: Vec::new() };
            for chunk in chunks {
                let verdicts: Vec<Verdicts> =
                    from_guards.iter().map(|rx| rx.recv().expect("every guard answers every chunk")).collect();
                route_chunk(&mut screened, &chunk, verdicts, guards, sink)?;
                progress.advance(chunk.bytes);
            }
            Ok(screened)
        });

        let pipeline = ordered_pipeline(
            records,
            schedule.chunk_records(),
            schedule.jobs,
            || (),
            |_: &mut (), chunk| parse(chunk, fields),
            |chunk: ParsedChunk| {
                if options.on_bad_record == BadFeedbackPolicy::Fail
                    && let Some((line, Err(message))) =
                        chunk.records.iter().map(|r| (r.line, &r.id)).find(|(_, id)| id.is_err())
                {
                    failure = Some(RunError::BadRecord { path: input.into(), line, message: message.clone() });
                    return false;
                }
                let chunk = Arc::new(chunk);
                to_guards.iter().all(|tx| tx.send(chunk.clone()).is_ok()) && to_writer.send(chunk).is_ok()
            },
        );
        // Closing the channels lets the guards and the writer finish.
        drop((to_guards, to_writer));
        (writer.join().expect("the writer thread panicked"), pipeline)
    });
    pipeline?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    tally.map_err(output_error(input))
}

/// Reads every record of a chunk; runs on the parsing workers.
fn parse(chunk: Chunk, fields: &FieldMap) -> ParsedChunk {
    let mut feedback = Vec::with_capacity(chunk.records.len());
    let records = chunk
        .records
        .into_iter()
        .map(|record| {
            let id = match feedback_record(&record, fields) {
                Ok(parsed) => {
                    feedback.push(parsed.feedback);
                    Ok(parsed.id_json)
                }
                Err(bad) => Err(bad.message),
            };
            let line = record.line;
            let raw = match record.body {
                Body::Json(bytes) => bytes,
                Body::Row { raw, .. } => raw,
            };
            Parsed { line, raw, id }
        })
        .collect();
    ParsedChunk { bytes: chunk.bytes, position: chunk.position, records, feedback }
}

/// One guard's single instance, run over every record in input order.
struct GuardRunner<'a> {
    host: &'a Host,
    guard: &'a Guard,
    schedule: &'a Schedule,
    runtime: tokio::runtime::Runtime,
    slot: Slot<GuardInstance>,
}

impl<'a> GuardRunner<'a> {
    /// How this guard's instances are made.
    fn recipe(&self) -> Recipe<'a> {
        Recipe { loaded: &self.guard.loaded, host: self.host, determinism: &self.schedule.determinism }
    }

    /// Screens the readable records of the chunk at `position`.
    fn screen(&mut self, feedback: &[Feedback], position: u64) -> Verdicts {
        let mut verdicts =
            Verdicts { outcomes: Vec::with_capacity(feedback.len()), fuel: FuelTally::default(), recalls: Vec::new() };
        // A trap costs only the records it happened on (see Slot::call_isolating).
        let mut splits = TRAP_SPLITS_PER_CHUNK;
        for (b, batch) in feedback.chunks(self.schedule.batch_size).enumerate() {
            let call_seed = call_seed(position, b);
            let recipe = self.recipe();
            // Recalls of the calls that succeeded, when a trap split the batch.
            let recalled = std::cell::RefCell::new(Vec::new());
            let outcomes = self.slot.call_isolating(
                &self.runtime,
                recipe,
                batch,
                &mut verdicts.fuel,
                &mut splits,
                &async |instance: &mut GuardInstance, items: &[Feedback]| {
                    let Screened { decisions, recalls } = instance.screen(items, call_seed).await?;
                    recalled.borrow_mut().extend(recalls);
                    Ok(decisions)
                },
            );
            verdicts.outcomes.extend(outcomes);
            let last = verdicts.outcomes.len() - 1;
            verdicts.recalls.extend(recalled.into_inner().into_iter().map(|recall| (last, recall)));
        }
        verdicts
    }
}

/// Joins the guards' verdicts on a chunk, counts them into `sums` and hands
/// the chunk's records and decisions to `sink`.
fn route_chunk(
    screened: &mut ScreenedRecords,
    chunk: &ParsedChunk,
    verdicts: Vec<Verdicts>,
    guards: &[Guard],
    sink: &mut dyn RouteSink,
) -> std::io::Result<()> {
    let readable_lines: Vec<u64> = chunk.records.iter().filter(|r| r.id.is_ok()).map(|r| r.line).collect();
    let mut outcomes = join(&mut screened.sums, &mut screened.recalls, verdicts, &readable_lines);
    let sums = &mut screened.sums;
    let mut line = Vec::with_capacity(512);
    for record in &chunk.records {
        line.clear();
        let decision = match &record.id {
            Err(message) => {
                sums.counts.bad_records += 1;
                sums.bad_records.push(BadRecord { line: record.line, message: message.clone() });
                DecisionLine {
                    id: None,
                    line: record.line,
                    decision: Route::Quarantine,
                    recalled_from: None,
                    error: Some(ErrorEntry { kind: "bad-record".into(), message: message.clone() }),
                    guards: Pairs::default(),
                }
            }
            Ok(id) => decide(sums, guards, &mut outcomes, Cow::Borrowed(id.as_ref()), record.line),
        };
        sums.counts.add(decision.decision);
        decision.write_to(&mut line);
        sink.record(decision.decision, &line, &record.raw)?;
    }
    Ok(())
}

/// Adds the guards' fuel to `sums` and their recalls to `recalls` (placed by
/// `lines`, the lines of the records screened), and returns each guard's
/// outcomes in record order.
fn join(
    sums: &mut ScreeningSums,
    recalls: &mut Vec<PendingRecall>,
    verdicts: Vec<Verdicts>,
    lines: &[u64],
) -> Vec<std::vec::IntoIter<Result<Decision, Failure>>> {
    let mut outcomes = Vec::with_capacity(verdicts.len());
    for (guard, (v, fuel)) in verdicts.into_iter().zip(&mut sums.fuel).enumerate() {
        fuel.merge(&v.fuel);
        outcomes.push(v.outcomes.into_iter());
        recalls.extend(v.recalls.into_iter().map(|(last, recall)| PendingRecall {
            guard,
            recall,
            after_line: lines[last],
        }));
    }
    outcomes
}

/// The decision on one readable record from each guard's next outcome,
/// counted into `sums` (all but the route, which the caller counts).
fn decide<'a>(
    sums: &mut ScreeningSums,
    guards: &'a [Guard],
    outcomes: &mut [std::vec::IntoIter<Result<Decision, Failure>>],
    id: Cow<'a, RawValue>,
    line: u64,
) -> DecisionLine<'a> {
    let mut entries = Pairs(Vec::with_capacity(guards.len()));
    let mut failed = false;
    for (g, guard) in guards.iter().enumerate() {
        let outcome = outcomes[g].next().expect("one outcome per readable record");
        let entry = guard_entry(guard, outcome);
        if let Some(error) = &entry.error {
            failed = true;
            let routes = &mut sums.guards[g];
            *routes.errors.entry(error.kind.to_string()).or_insert(0) += 1;
            routes.first_error.get_or_insert_with(|| error.clone());
        }
        sums.guards[g].add(entry.decision);
        entries.0.push((Cow::Borrowed(guard.loaded.name.as_str()), entry));
    }
    sums.counts.guard_errors += u64::from(failed);
    let route = Route::most_severe(entries.0.iter().map(|(_, e)| e.decision));
    DecisionLine { id: Some(id), line, decision: route, recalled_from: None, error: None, guards: entries }
}

/// The guards of a run, each on one instance, for feedback that arrives a
/// batch at a time rather than from a file (`assay serve`). Each guard sees
/// every record in arrival order, on its own thread during a batch, so the
/// decisions are those `assay guard` makes on a file of the same records
/// in the same order.
pub struct Screener<'a> {
    guards: &'a [Guard],
    runners: Vec<GuardRunner<'a>>,
    sums: ScreeningSums,
}

impl<'a> Screener<'a> {
    pub fn new(host: &'a Host, guards: &'a [Guard], schedule: &'a Schedule) -> Self {
        let runners = guards
            .iter()
            .map(|guard| GuardRunner { host, guard, schedule, runtime: call_runtime(), slot: Slot::default() })
            .collect();
        Screener { guards, runners, sums: ScreeningSums::new(guards.len()) }
    }

    /// Screens a batch: `feedback[i]` has the JSON text `ids[i]` and is
    /// record `lines[i]` of the stream; `position` seeds the calls, as a
    /// chunk's place in a file does. Returns each record's decision, in
    /// order, and the recalls the guards made after it.
    pub fn screen(
        &mut self,
        feedback: &[Feedback],
        ids: Vec<Box<RawValue>>,
        lines: &[u64],
        position: u64,
    ) -> (Vec<DecisionLine<'a>>, Vec<PendingRecall>) {
        let verdicts: Vec<Verdicts> = std::thread::scope(|scope| {
            let running: Vec<_> =
                self.runners.iter_mut().map(|runner| scope.spawn(move || runner.screen(feedback, position))).collect();
            running.into_iter().map(|r| r.join().expect("a guard thread panicked")).collect()
        });
        let mut recalls = Vec::new();
        let mut outcomes = join(&mut self.sums, &mut recalls, verdicts, lines);
        let decisions = ids
            .into_iter()
            .zip(lines)
            .map(|(id, &line)| {
                let decision = decide(&mut self.sums, self.guards, &mut outcomes, Cow::Owned(id), line);
                self.sums.counts.add(decision.decision);
                decision
            })
            .collect();
        (decisions, recalls)
    }
}

/// What a guard's instance held when a service saved it, for a restart to
/// continue from ([`Screener::save`]).
#[derive(Debug, Clone, PartialEq)]
pub enum SavedGuard {
    /// Nothing to restore: a guard whose decisions depend on each record
    /// alone, or one without a live instance (none yet, or a failure ended
    /// it), which the next record finds fresh either way.
    Fresh,
    /// What its instance saved (`guard-state.save`).
    State(Vec<u8>),
}

/// Why the guards' states could not be saved or restored.
#[derive(Debug, thiserror::Error)]
#[error("guard {guard:?}: {error}")]
pub struct StateFailure {
    pub guard: String,
    #[source]
    pub error: StateError,
}

impl Screener<'_> {
    /// Each guard's state, for a restart to continue from. A guard whose
    /// save fails in a way that ends its instance (a trap, a limit) is saved
    /// as [`SavedGuard::Fresh`], and is fresh from then on here too, so a
    /// restart from these states decides as this process goes on to; one
    /// that answers that it cannot save fails the whole save.
    pub fn save(&mut self) -> Result<Vec<SavedGuard>, StateFailure> {
        self.runners
            .iter_mut()
            .map(|runner| {
                if runner.guard.loaded.plugin.scope == Some(Scope::Record) {
                    return Ok(SavedGuard::Fresh);
                }
                let Some(instance) = runner.slot.live() else { return Ok(SavedGuard::Fresh) };
                match runner.runtime.block_on(instance.save()) {
                    Ok(state) => Ok(SavedGuard::State(state)),
                    Err(StateError::Failed(failure)) if failure.poisons_instance() => {
                        runner.slot.clear();
                        Ok(SavedGuard::Fresh)
                    }
                    Err(error) => Err(StateFailure { guard: runner.guard.loaded.name.clone(), error }),
                }
            })
            .collect()
    }

    /// Continues from `saved` (one per guard, as [`Screener::save`] gave
    /// them), before any record is screened.
    pub fn restore(&mut self, saved: &[SavedGuard]) -> Result<(), StateFailure> {
        assert_eq!(saved.len(), self.runners.len(), "one saved state per guard");
        for (runner, saved) in self.runners.iter_mut().zip(saved) {
            let failed = |error| StateFailure { guard: runner.guard.loaded.name.clone(), error };
            match saved {
                SavedGuard::Fresh => runner.slot.clear(),
                SavedGuard::State(state) => {
                    let recipe = runner.recipe();
                    let instance =
                        runner.slot.start(&runner.runtime, recipe).map_err(|f| failed(StateError::Failed(f)))?;
                    runner.runtime.block_on(instance.restore(state)).map_err(failed)?;
                }
            }
        }
        Ok(())
    }
}

/// Where one guard's outcome sends a record, and how `decisions.jsonl` says it.
fn guard_entry(guard: &Guard, outcome: Result<Decision, Failure>) -> GuardEntry<'static> {
    match outcome {
        Ok(decision) => GuardEntry {
            decision: Route::of(decision.verdict),
            reason: decision.reason.into(),
            risk: decision.risk,
            error: None,
            recalls: Vec::new(),
        },
        Err(failure) => {
            let route = Route::on_failure(guard.on_failure);
            let policy = match guard.on_failure {
                FailurePolicy::Quarantine => "held for review (on_failure = \"quarantine\")",
                FailurePolicy::Accept => "accepted unchecked (on_failure = \"accept\")",
            };
            let restart =
                if failure.poisons_instance() { "; the guard restarts without the state it had built" } else { "" };
            let reason = format!("the guard failed ({}): {failure}; {policy}{restart}", failure.kind());
            GuardEntry {
                decision: route,
                reason: reason.into(),
                risk: None,
                error: Some(ErrorEntry::from(&failure)),
                recalls: Vec::new(),
            }
        }
    }
}
