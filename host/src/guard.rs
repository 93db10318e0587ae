//! Screening feedback with guards: `assay guard`.
//!
//! Every guard sees every record, in input order, on one instance for the
//! whole run, because guards keep state (counts per user, texts seen) and the
//! contract promises them that. So the work is split the other way round from
//! `assay run`: `jobs` workers parse chunks in parallel, each guard runs on
//! a thread of its own over every chunk in order, and a writer thread joins
//! the guards' decisions per record and routes each record, byte for byte as
//! read, to `accepted`, `quarantined` or `rejected`. Batch boundaries depend
//! only on the input, so the outputs are identical for every `-j`.
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

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Serialize;

use crate::config::FailurePolicy;
use crate::dataset::{BadRecord, Chunk, FeedbackFieldMap, Format, Reader, feedback_record};
use crate::plugin::{Decision, Feedback, Instance, PerRecord, Verdict, call_runtime};
use crate::report::{self, ErrorEntry, InputSummary, PluginSummary, RunInfo};
use crate::run::{BATCHES_PER_CHUNK, FuelTally, Host, LoadedPlugin, RunError, check_output_bytes, ordered_pipeline, output_error};
use crate::sandbox::{Determinism, Failure, Limits};

/// What to do with a feedback record that cannot be read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BadFeedbackPolicy {
    /// Hold it for review, unchanged, with the reason in `decisions.jsonl`.
    #[default]
    Quarantine,
    /// Stop with `FILE:LINE: what is wrong` before writing any output.
    Fail,
}

/// A loaded guard and where records go when it fails on them.
pub struct Guard {
    pub loaded: LoadedPlugin,
    pub on_failure: FailurePolicy,
}

/// How a guard run goes, beyond what it runs.
#[derive(Debug, Clone)]
pub struct GuardOptions {
    /// Parsing workers; each guard has a thread of its own besides.
    pub jobs: usize,
    /// Records per guard call: a failing call fails this many records at most.
    pub batch_size: usize,
    pub on_bad_record: BadFeedbackPolicy,
    pub determinism: Determinism,
    pub progress: bool,
}

/// Where a record goes, in order of severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Accept,
    Quarantine,
    Reject,
}

impl Route {
    pub const ALL: [Route; 3] = [Route::Accept, Route::Quarantine, Route::Reject];

    pub fn name(self) -> &'static str {
        match self {
            Route::Accept => "accept",
            Route::Quarantine => "quarantine",
            Route::Reject => "reject",
        }
    }

    /// The file stem records of this route are written to.
    pub fn file_stem(self) -> &'static str {
        match self {
            Route::Accept => "accepted",
            Route::Quarantine => "quarantined",
            Route::Reject => "rejected",
        }
    }

    pub fn of(verdict: Verdict) -> Route {
        match verdict {
            Verdict::Accept => Route::Accept,
            Verdict::Quarantine => Route::Quarantine,
            Verdict::Reject => Route::Reject,
        }
    }

    fn on_failure(policy: FailurePolicy) -> Route {
        match policy {
            FailurePolicy::Quarantine => Route::Quarantine,
            FailurePolicy::Accept => Route::Accept,
        }
    }
}

/// The name of the file that holds one route's records, for an input format.
pub fn records_file(route: Route, format: Format) -> String {
    format!("{}.{format}", route.file_stem())
}

/// `summary.json` of a guard run.
#[derive(Debug, Serialize)]
pub struct GuardSummary {
    pub assay_version: String,
    pub kind: String,
    pub counts: Counts,
    /// Per guard: records by the route it chose (after its failure policy),
    /// and its failures by kind.
    pub guards: IndexMap<String, GuardCounts>,
    /// Records that could not be read, all quarantined.
    pub bad_records: Vec<BadRecord>,
    pub plugins: Vec<GuardPluginSummary>,
    pub input: InputSummary,
    /// The files written, by route, plus `decisions`.
    pub outputs: BTreeMap<String, String>,
    pub run: RunInfo,
}

impl GuardSummary {
    /// Whether a guard failed on any record.
    pub fn has_errors(&self) -> bool {
        self.counts.guard_errors > 0
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub records: u64,
    pub accepted: u64,
    pub quarantined: u64,
    pub rejected: u64,
    /// Records that could not be read (included in `quarantined`).
    pub bad_records: u64,
    /// Records on which at least one guard failed.
    pub guard_errors: u64,
}

impl Counts {
    fn add(&mut self, route: Route) {
        self.records += 1;
        *match route {
            Route::Accept => &mut self.accepted,
            Route::Quarantine => &mut self.quarantined,
            Route::Reject => &mut self.rejected,
        } += 1;
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct GuardCounts {
    pub accept: u64,
    pub quarantine: u64,
    pub reject: u64,
    pub errors: BTreeMap<String, u64>,
}

impl GuardCounts {
    fn add(&mut self, route: Route) {
        *match route {
            Route::Accept => &mut self.accept,
            Route::Quarantine => &mut self.quarantine,
            Route::Reject => &mut self.reject,
        } += 1;
    }
}

#[derive(Debug, Serialize)]
pub struct GuardPluginSummary {
    #[serde(flatten)]
    pub plugin: PluginSummary,
    pub on_failure: FailurePolicy,
}

/// One record as the parsing workers leave it.
struct Parsed {
    line: u64,
    raw: Vec<u8>,
    /// The JSON text of its id, or why it cannot be read.
    id_json: Result<String, String>,
}

/// A chunk, parsed: every record, and the readable ones as guards take them.
struct ParsedChunk {
    bytes: u64,
    records: Vec<Parsed>,
    feedback: Vec<Feedback>,
}

/// What one guard decided on the readable records of a chunk.
struct Verdicts {
    outcomes: Vec<Result<Decision, Failure>>,
    fuel: FuelTally,
}

/// Screens the feedback at `input` with `guards` and writes the routed
/// records, `decisions.jsonl` and `summary.json` into `out_dir`, replacing
/// what it held.
pub fn screen(
    host: &Host,
    guards: &[Guard],
    input: &Path,
    format: Option<Format>,
    fields: &FeedbackFieldMap,
    options: &GuardOptions,
    out_dir: &Path,
) -> Result<GuardSummary, RunError> {
    let started_at = jiff::Timestamp::now();
    let mut reader = Reader::open(input, format)?;
    let format = reader.format();
    let staging = Staging::new(out_dir, format, reader.headers())?;
    let progress = report::progress_bar(options.progress, input);
    let Staging { dir, mut writers } = staging;

    let mut failure: Option<RunError> = None;
    let (totals, pipeline) = std::thread::scope(|scope| {
        let mut to_guards = Vec::new();
        let mut from_guards = Vec::new();
        for guard in guards {
            let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Arc<ParsedChunk>>(4);
            let (verdict_tx, verdict_rx) = crossbeam_channel::bounded::<Verdicts>(4);
            to_guards.push(chunk_tx);
            from_guards.push(verdict_rx);
            scope.spawn(move || {
                let mut runner = GuardRunner::new(host, guard, options);
                for chunk in chunk_rx {
                    if verdict_tx.send(runner.screen(&chunk.feedback)).is_err() {
                        break;
                    }
                }
            });
        }
        let (to_writer, chunks) = crossbeam_channel::bounded::<Arc<ParsedChunk>>(4);
        let progress = &progress;
        let writer = scope.spawn(move || -> Result<Totals, std::io::Error> {
            let mut totals = Totals::new(guards);
            for chunk in chunks {
                let verdicts: Vec<Verdicts> = from_guards.iter().map(|rx| rx.recv().expect("every guard answers every chunk")).collect();
                totals.write_chunk(&chunk, verdicts, guards, &mut writers)?;
                progress.inc(chunk.bytes);
            }
            writers.finish()?;
            Ok(totals)
        });

        let pipeline = ordered_pipeline(
            &mut reader,
            options.batch_size * BATCHES_PER_CHUNK,
            options.jobs,
            || (),
            |_: &mut (), chunk| parse(chunk, fields),
            |chunk: ParsedChunk| {
                if options.on_bad_record == BadFeedbackPolicy::Fail
                    && let Some((line, Err(message))) = chunk.records.iter().map(|r| (r.line, &r.id_json)).find(|(_, id)| id.is_err())
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
    progress.finish_and_clear();
    pipeline?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    let totals = totals.map_err(output_error(dir.path()))?;
    let input_sha256 = reader.finish()?;

    let mut outputs: BTreeMap<String, String> = Route::ALL.iter().map(|&r| (r.file_stem().to_string(), records_file(r, format))).collect();
    outputs.insert("decisions".into(), "decisions.jsonl".into());
    let summary = GuardSummary {
        assay_version: env!("CARGO_PKG_VERSION").into(),
        kind: "guard".into(),
        counts: totals.counts,
        guards: guards.iter().map(|g| g.loaded.spec.name.clone()).zip(totals.per_guard).collect(),
        bad_records: totals.bad,
        plugins: guards
            .iter()
            .zip(&totals.fuel)
            .map(|(g, fuel)| GuardPluginSummary { plugin: g.loaded.summary(fuel.summary()), on_failure: g.on_failure })
            .collect(),
        input: InputSummary { path: input.display().to_string(), sha256: input_sha256, format },
        outputs,
        run: RunInfo {
            started_at: started_at.to_string(),
            finished_at: jiff::Timestamp::now().to_string(),
            jobs: options.jobs,
            batch_size: options.batch_size,
            seed: options.determinism.seed,
            reproducible: !options.determinism.real_clock,
        },
    };
    let summary_path = dir.path().join("summary.json");
    report::write_json(&summary_path, &summary).map_err(output_error(&summary_path))?;
    swap_in(dir, out_dir).map_err(output_error(out_dir))?;
    Ok(summary)
}

/// Reads every record of a chunk; runs on the parsing workers.
fn parse(chunk: Chunk, fields: &FeedbackFieldMap) -> ParsedChunk {
    let mut feedback = Vec::with_capacity(chunk.records.len());
    let records = chunk
        .records
        .into_iter()
        .map(|record| {
            let id_json = match feedback_record(&record, fields) {
                Ok(parsed) => {
                    feedback.push(parsed.feedback);
                    Ok(parsed.id_json)
                }
                Err(bad) => Err(bad.message),
            };
            let line = record.line;
            let raw = match record.body {
                crate::dataset::Body::Json(bytes) => bytes,
                crate::dataset::Body::Row { raw, .. } => raw,
            };
            Parsed { line, raw, id_json }
        })
        .collect();
    ParsedChunk { bytes: chunk.bytes, records, feedback }
}

/// One guard's single instance, run over every record in input order.
struct GuardRunner<'a> {
    host: &'a Host,
    guard: &'a Guard,
    determinism: Determinism,
    batch_size: usize,
    runtime: tokio::runtime::Runtime,
    instance: Option<Instance>,
    /// Calls made so far: the seed of the next one, the same for every `-j`.
    calls: u64,
}

impl<'a> GuardRunner<'a> {
    fn new(host: &'a Host, guard: &'a Guard, options: &GuardOptions) -> Self {
        GuardRunner {
            host,
            guard,
            determinism: options.determinism,
            batch_size: options.batch_size,
            runtime: call_runtime(),
            instance: None,
            calls: 0,
        }
    }

    fn screen(&mut self, feedback: &[Feedback]) -> Verdicts {
        let mut verdicts = Verdicts { outcomes: Vec::with_capacity(feedback.len()), fuel: FuelTally::default() };
        for batch in feedback.chunks(self.batch_size) {
            match self.call(batch, &mut verdicts.fuel) {
                Ok(outcomes) => verdicts.outcomes.extend(outcomes),
                Err(failure) => verdicts.outcomes.extend(batch.iter().map(|_| Err(failure.clone()))),
            }
        }
        verdicts
    }

    /// One call, on a fresh instance when the last one broke.
    fn call(&mut self, batch: &[Feedback], fuel: &mut FuelTally) -> Result<Vec<Result<Decision, Failure>>, Failure> {
        let call_seed = self.calls;
        self.calls += 1;
        let loaded = &self.guard.loaded;
        let spec = &loaded.spec;
        if self.instance.is_none() {
            let (instance, _) = self.runtime.block_on(Instance::configured(
                &loaded.plugin,
                &self.host.sandbox,
                &spec.limits,
                &self.determinism,
                &spec.grants,
                &loaded.config_json,
            ))?;
            self.instance = Some(instance);
        }
        let instance = self.instance.as_mut().expect("just created");
        let budget = instance.call_fuel(batch.len());
        let outcome = self.runtime.block_on(instance.screen(batch, call_seed));
        fuel.record(instance.fuel_used(budget), batch.len());
        match outcome {
            Ok(results) => validate_decisions(results, batch.len(), &spec.limits),
            Err(failure) => {
                if failure.poisons_instance() {
                    self.instance = None;
                }
                Err(failure)
            }
        }
    }
}

/// Checks a guard's answer for a batch against the contract.
fn validate_decisions(results: PerRecord<Decision>, batch: usize, limits: &Limits) -> Result<Vec<Result<Decision, Failure>>, Failure> {
    if results.len() != batch {
        return Err(Failure::InvalidOutput(format!("returned {} decisions for a batch of {batch}", results.len())));
    }
    let text_bytes: usize = results.iter().map(|r| r.as_ref().map_or_else(String::len, |d| d.reason.len())).sum();
    check_output_bytes(text_bytes, limits)?;
    Ok(results
        .into_iter()
        .map(|result| {
            let decision = result.map_err(Failure::PluginError)?;
            match decision.risk {
                Some(risk) if !(0.0..=1.0).contains(&risk) => Err(Failure::InvalidOutput(format!("returned the risk {risk}; a risk is in [0, 1]"))),
                _ => Ok(decision),
            }
        })
        .collect())
}

/// A guard's entry in a line of `decisions.jsonl`.
#[derive(Serialize)]
struct GuardEntry<'a> {
    decision: &'static str,
    reason: std::borrow::Cow<'a, str>,
    risk: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorEntry>,
}

/// Everything summed over the chunks, in input order.
struct Totals {
    counts: Counts,
    per_guard: Vec<GuardCounts>,
    fuel: Vec<FuelTally>,
    bad: Vec<BadRecord>,
    /// Each guard's name as JSON text, ready to write.
    names_json: Vec<String>,
}

impl Totals {
    fn new(guards: &[Guard]) -> Self {
        Totals {
            counts: Counts::default(),
            per_guard: vec![GuardCounts::default(); guards.len()],
            fuel: vec![FuelTally::default(); guards.len()],
            bad: Vec::new(),
            names_json: guards.iter().map(|g| serde_json::to_string(&g.loaded.spec.name).expect("a string serializes")).collect(),
        }
    }

    /// Joins the guards' verdicts on a chunk and writes its records and decisions.
    fn write_chunk(&mut self, chunk: &ParsedChunk, verdicts: Vec<Verdicts>, guards: &[Guard], writers: &mut Writers) -> std::io::Result<()> {
        let mut outcomes: Vec<_> = verdicts
            .into_iter()
            .zip(&mut self.fuel)
            .map(|(v, fuel)| {
                fuel.merge(&v.fuel);
                v.outcomes.into_iter()
            })
            .collect();
        let mut line = Vec::with_capacity(512);
        for record in &chunk.records {
            line.clear();
            line.extend_from_slice(b"{\"id\":");
            let route = match &record.id_json {
                Err(message) => {
                    self.counts.bad_records += 1;
                    self.bad.push(BadRecord { line: record.line, message: message.clone() });
                    line.extend_from_slice(b"null");
                    write!(line, ",\"line\":{},\"decision\":\"quarantine\",\"error\":", record.line)?;
                    serde_json::to_writer(&mut line, &ErrorEntry { kind: "bad-record", message: message.clone() })?;
                    line.extend_from_slice(b",\"guards\":{}}\n");
                    Route::Quarantine
                }
                Ok(id_json) => {
                    line.extend_from_slice(id_json.as_bytes());
                    let mut entries = Vec::with_capacity(guards.len());
                    let mut failed = false;
                    for (g, guard) in guards.iter().enumerate() {
                        let outcome = outcomes[g].next().expect("one outcome per readable record");
                        let (route, entry) = guard_entry(guard, &outcome);
                        failed |= entry.error.is_some();
                        if let Some(error) = &entry.error {
                            *self.per_guard[g].errors.entry(error.kind.to_string()).or_insert(0) += 1;
                        }
                        self.per_guard[g].add(route);
                        entries.push((route, serde_json::to_vec(&entry)?));
                    }
                    self.counts.guard_errors += u64::from(failed);
                    // Any reject rejects; else any quarantine holds; else accept.
                    let route = entries.iter().map(|(r, _)| *r).max().unwrap_or(Route::Accept);
                    write!(line, ",\"line\":{},\"decision\":\"{}\",\"guards\":{{", record.line, route.name())?;
                    for (g, (_, entry)) in entries.iter().enumerate() {
                        if g > 0 {
                            line.push(b',');
                        }
                        line.extend_from_slice(self.names_json[g].as_bytes());
                        line.push(b':');
                        line.extend_from_slice(entry);
                    }
                    line.extend_from_slice(b"}}\n");
                    route
                }
            };
            self.counts.add(route);
            writers.decisions.write_all(&line)?;
            let out = writers.route(route);
            out.write_all(&record.raw)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// Where one guard's outcome sends a record, and how `decisions.jsonl` says it.
fn guard_entry<'a>(guard: &Guard, outcome: &'a Result<Decision, Failure>) -> (Route, GuardEntry<'a>) {
    match outcome {
        Ok(decision) => {
            let route = Route::of(decision.verdict);
            (route, GuardEntry { decision: route.name(), reason: decision.reason.as_str().into(), risk: decision.risk, error: None })
        }
        Err(failure) => {
            let route = Route::on_failure(guard.on_failure);
            let policy = match guard.on_failure {
                FailurePolicy::Quarantine => "held for review (on_failure = \"quarantine\")",
                FailurePolicy::Accept => "accepted unchecked (on_failure = \"accept\")",
            };
            let restart = if failure.poisons_instance() { "; the guard restarts without the state it had built" } else { "" };
            let reason = format!("the guard failed ({}): {failure}; {policy}{restart}", failure.kind());
            (route, GuardEntry { decision: route.name(), reason: reason.into(), risk: None, error: Some(ErrorEntry::from(failure)) })
        }
    }
}

/// The output files, open in the staging folder.
struct Writers {
    routes: [BufWriter<File>; 3],
    decisions: BufWriter<File>,
}

impl Writers {
    fn route(&mut self, route: Route) -> &mut BufWriter<File> {
        &mut self.routes[route as usize]
    }

    /// Flushes and syncs every file, so the swap publishes complete ones.
    fn finish(self) -> std::io::Result<()> {
        for writer in self.routes.into_iter().chain([self.decisions]) {
            writer.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        Ok(())
    }
}

/// The folder the outputs are written in before they replace `OUT_DIR`.
struct Staging {
    dir: tempfile::TempDir,
    writers: Writers,
}

impl Staging {
    fn new(out_dir: &Path, format: Format, headers: Option<&[String]>) -> Result<Staging, RunError> {
        check_out_dir(out_dir)?;
        let parent = out_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(output_error(parent))?;
        // Beside OUT_DIR, so the swap is a rename within one file system.
        let dir = tempfile::Builder::new().prefix(".assay-guard-").tempdir_in(parent).map_err(output_error(parent))?;
        let create = |name: &str| -> Result<BufWriter<File>, RunError> {
            let path = dir.path().join(name);
            let file = File::create(&path).map_err(output_error(&path))?;
            Ok(BufWriter::with_capacity(1 << 20, file))
        };
        let mut routes = [
            create(&records_file(Route::Accept, format))?,
            create(&records_file(Route::Quarantine, format))?,
            create(&records_file(Route::Reject, format))?,
        ];
        if let Some(headers) = headers {
            // Each file of a table needs its header row to be read alone.
            let delimiter = if format == Format::Tsv { b'\t' } else { b',' };
            let mut header = csv::WriterBuilder::new().delimiter(delimiter).terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
            header.write_record(headers).map_err(|e| RunError::Output { path: dir.path().into(), error: e.into() })?;
            let header = header.into_inner().map_err(|e| RunError::Output { path: dir.path().into(), error: e.into_error() })?;
            for route in &mut routes {
                route.write_all(&header).map_err(output_error(dir.path()))?;
            }
        }
        let decisions = create("decisions.jsonl")?;
        Ok(Staging { dir, writers: Writers { routes, decisions } })
    }
}

/// The names `assay guard` writes in `OUT_DIR`.
fn is_output_name(name: &str) -> bool {
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    match stem {
        "accepted" | "quarantined" | "rejected" => ["jsonl", "csv", "tsv"].contains(&ext),
        "decisions" => ext == "jsonl",
        "summary" => ext == "json",
        _ => false,
    }
}

/// Refuses an `OUT_DIR` that holds anything but guard outputs: the whole
/// folder is replaced, and other files in it would be lost.
fn check_out_dir(out_dir: &Path) -> Result<(), RunError> {
    let output_error = |error| RunError::Output { path: out_dir.into(), error };
    if out_dir.file_name().is_none() {
        return Err(output_error(std::io::Error::other("name a folder of its own for the outputs, which it replaces as a whole")));
    }
    let entries = match std::fs::read_dir(out_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(output_error(e)),
    };
    for entry in entries {
        let name = entry.map_err(output_error)?.file_name();
        if !is_output_name(&name.to_string_lossy()) {
            return Err(output_error(std::io::Error::other(format!(
                "holds {:?}, which is not an output of `assay guard`; the folder is replaced as a whole, so give one of its own",
                name
            ))));
        }
    }
    Ok(())
}

/// Publishes the complete staging folder as `target` in one step.
fn swap_in(staging: tempfile::TempDir, target: &Path) -> std::io::Result<()> {
    if !target.exists() {
        return std::fs::rename(staging.path(), target);
    }
    exchange(staging.path(), target)?;
    // The staging folder now holds the old outputs; dropping it deletes them.
    drop(staging);
    Ok(())
}

/// Swaps two folders atomically: a crash leaves one or the other at each path.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let b = CString::new(b.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let result = unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) };
    if result == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Without an atomic exchange, the old folder is moved aside first; a crash
/// between the two renames leaves the old outputs complete under the staging
/// name beside `b`.
#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let aside = a.with_extension("old");
    std::fs::rename(b, &aside)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&aside, a)
}

/// The table printed after a guard run: records per route, per guard and in all.
pub fn table(summary: &GuardSummary) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["guard", "accept", "quarantine", "reject", "errors"]);
    for (name, counts) in &summary.guards {
        let errors: Vec<String> = counts.errors.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
        table.add_row([
            name.clone(),
            counts.accept.to_string(),
            counts.quarantine.to_string(),
            counts.reject.to_string(),
            if errors.is_empty() { "-".into() } else { errors.join(", ") },
        ]);
    }
    let c = &summary.counts;
    let bad = if c.bad_records > 0 { format!("{} bad-record", c.bad_records) } else { "-".into() };
    table.add_row(["all guards".to_string(), c.accepted.to_string(), c.quarantined.to_string(), c.rejected.to_string(), bad]);
    report::align_right(&mut table, 1..4);
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(verdict: Verdict, risk: Option<f64>) -> Result<Decision, String> {
        Ok(Decision { verdict, reason: String::new(), risk })
    }

    #[test]
    fn decisions_are_checked_against_the_contract() {
        let limits = Limits::default();
        let wrong_count = validate_decisions(vec![decision(Verdict::Accept, None)], 2, &limits);
        assert_eq!(wrong_count.unwrap_err().kind(), "invalid-output");
        let checked = validate_decisions(
            vec![decision(Verdict::Reject, Some(1.0)), decision(Verdict::Accept, Some(f64::NAN)), decision(Verdict::Accept, Some(-0.1)), Err("no".into())],
            4,
            &limits,
        )
        .unwrap();
        assert!(checked[0].is_ok());
        assert_eq!(checked[1].as_ref().unwrap_err().kind(), "invalid-output");
        assert_eq!(checked[2].as_ref().unwrap_err().kind(), "invalid-output");
        assert_eq!(checked[3].as_ref().unwrap_err(), &Failure::PluginError("no".into()));
    }

    #[test]
    fn the_most_severe_route_wins() {
        assert_eq!([Route::Accept, Route::Reject, Route::Quarantine].into_iter().max(), Some(Route::Reject));
        assert_eq!([Route::Accept, Route::Quarantine].into_iter().max(), Some(Route::Quarantine));
    }

    #[test]
    fn only_guard_outputs_may_be_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        assert!(check_out_dir(&out).is_ok());
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("accepted.csv"), "").unwrap();
        std::fs::write(out.join("summary.json"), "").unwrap();
        assert!(check_out_dir(&out).is_ok());
        std::fs::write(out.join("notes.txt"), "").unwrap();
        assert!(check_out_dir(&out).unwrap_err().to_string().contains("notes.txt"));
    }

    #[test]
    fn swapping_replaces_the_whole_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("rejected.jsonl"), "old").unwrap();
        let staging = tempfile::tempdir_in(dir.path()).unwrap();
        std::fs::write(staging.path().join("accepted.jsonl"), "new").unwrap();
        swap_in(staging, &out).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("accepted.jsonl")).unwrap(), "new");
        assert!(!out.join("rejected.jsonl").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the old folder is gone");
    }
}
