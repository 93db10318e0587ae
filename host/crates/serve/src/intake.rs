//! The intake: the one thread that orders, logs, screens and answers.
//!
//! Requests queue in a bounded channel (a full queue is answered 503 with
//! `Retry-After` by the HTTP side, so memory does not grow under overload).
//! The intake takes whatever has queued, up to `max_batch` records, as one
//! group: it appends the group to the log and syncs it (group commit), has
//! every guard screen it (each guard on its own thread, as offline), applies
//! the recalls the guards made, appends the decisions and recalls to their
//! logs, and only then answers each request. Under load the groups grow,
//! so the cost of a sync and of a guard call is shared by more records.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use assay_data::{Body, FieldMap, RawRecord, feedback_record};
use assay_pipeline::{Guard, Schedule, Screener};
use assay_runtime::{Feedback, Host, Scope};
use serde_json::value::RawValue;

use crate::ServeError;
use crate::journal::{Entry, Journal, JournalError, Place};
use crate::metrics::Metrics;
use crate::recalls::{Feed, Ledger};
use crate::snapshot::{self, Snapshot, SnapshotError};

/// One record of a request, read and checked by the HTTP side.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) raw: Box<RawValue>,
    pub(crate) feedback: Feedback,
    pub(crate) id: Box<RawValue>,
}

/// A request's records and where its answer goes: the JSON text of each
/// record's decision, or why there is none.
pub(crate) struct Submission {
    pub(crate) records: Vec<Incoming>,
    pub(crate) reply: tokio::sync::oneshot::Sender<Result<Vec<String>, String>>,
}

/// Reads one record of a request body (or of the log), as `assay guard`
/// reads a line of a file.
pub(crate) fn read_record(raw: &RawValue, seq: u64, fields: &FieldMap) -> Result<Incoming, String> {
    let record = RawRecord { line: seq, body: Body::Json(raw.get().as_bytes().to_vec()) };
    let parsed = feedback_record(&record, fields).map_err(|bad| bad.message)?;
    Ok(Incoming { raw: raw.to_owned(), feedback: parsed.feedback, id: parsed.id_json })
}

/// What the service has decided: the guards, the ledger of routes, and the
/// files and feed decisions and recalls go to.
struct Decider<'a> {
    dir: PathBuf,
    screener: Screener<'a>,
    guards: &'a [Guard],
    ledger: Ledger,
    decisions: BufWriter<File>,
    recalls: BufWriter<File>,
    feed: Arc<Feed>,
    metrics: Arc<Metrics>,
    /// Whether screening counts in the metrics: not while the log is
    /// screened again at start.
    counting: bool,
}

pub(crate) struct Intake<'a> {
    journal: Journal,
    decider: Decider<'a>,
    retention: Retention,
}

/// How much of the past the service keeps in memory.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    /// The latest records a recall can reach (`[serve] recall_window`).
    pub records: usize,
    /// The latest recall events `GET /v1/recalls` answers from
    /// (`[serve] recall_events`).
    pub events: usize,
}

/// How the log is cut into segments and how many are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// A new segment begins, and a snapshot is taken, once the last one
    /// holds this many bytes (`[serve] segment_bytes`).
    pub segment_bytes: u64,
    /// Of the segments the newest snapshot covers, how many to keep, newest
    /// first (`[serve] keep_segments`); `None` keeps every one.
    pub keep_segments: Option<usize>,
}

/// How the service started.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    /// Records logged before this start.
    pub logged: u64,
    /// Of them, those screened again (the ones after the snapshot).
    pub replayed: u64,
    /// The last record the snapshot it continued from covers, if any.
    pub snapshot: Option<u64>,
}

impl<'a> Intake<'a> {
    /// Opens the log in `dir` and rebuilds what the service had decided:
    /// from the newest snapshot, if it was taken with these guards, and the
    /// records logged after it, screened again group by group as they are
    /// read; otherwise from the whole log. `decisions.jsonl` and
    /// `recalls.jsonl` are cut back to where the snapshot left them (or
    /// begun afresh) and written again from what is screened.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open(
        dir: &Path,
        host: &'a Host,
        guards: &'a [Guard],
        schedule: &'a Schedule,
        fields: &FieldMap,
        windows: Windows,
        retention: Retention,
        feed: Arc<Feed>,
        metrics: Arc<Metrics>,
    ) -> Result<(Intake<'a>, Start), ServeError> {
        std::fs::create_dir_all(dir).map_err(|error| ServeError::State { path: dir.to_path_buf(), error })?;
        if retention.keep_segments.is_some()
            && let Some(guard) =
                guards.iter().find(|g| g.loaded.plugin.scope != Some(Scope::Record) && !g.loaded.plugin.saves)
        {
            return Err(ServeError::Unsaved { guard: guard.loaded.name.clone() });
        }
        let mut screener = Screener::new(host, guards, schedule);
        let mut resumed = None;
        if let Some((snapshot, states)) = snapshot::newest(dir)? {
            let seq = snapshot.seq;
            if !snapshot.taken_with(guards) {
                tracing::warn!(
                    event = "snapshot_unused",
                    seq,
                    "the snapshot at seq {seq} was taken with other guards or settings ({}); screening the whole \
                     log again",
                    snapshot.guard_names()
                );
            } else {
                match screener.restore(&states) {
                    Ok(()) => resumed = Some(snapshot),
                    Err(failure) => {
                        tracing::warn!(
                            event = "snapshot_unused",
                            seq,
                            "the snapshot at seq {seq} cannot be restored ({failure}); screening the whole log again"
                        );
                        screener = Screener::new(host, guards, schedule);
                    }
                }
            }
        }
        let (decisions, recalls, ledger, after) = match resumed {
            Some(snapshot) => {
                let ledger = Ledger::restore(snapshot.ledger, guards.len(), windows.records).map_err(|message| {
                    SnapshotError::Damaged { path: dir.join("snapshots"), message: format!("its ledger: {message}") }
                })?;
                feed.publish(snapshot.events);
                (
                    cut_back(dir, "decisions.jsonl", snapshot.decisions_bytes)?,
                    cut_back(dir, "recalls.jsonl", snapshot.recalls_bytes)?,
                    ledger,
                    snapshot.seq,
                )
            }
            None => (
                begin(dir, "decisions.jsonl")?,
                begin(dir, "recalls.jsonl")?,
                Ledger::new(guards.len(), windows.records),
                0,
            ),
        };
        let mut decider = Decider {
            dir: dir.to_path_buf(),
            screener,
            guards,
            ledger,
            decisions,
            recalls,
            feed,
            metrics,
            counting: false,
        };
        let mut group: Vec<Incoming> = Vec::new();
        let mut first = after + 1;
        let mut replayed = 0;
        let journal = Journal::open(dir, after, |Entry { seq, batch, record }, Place { path, line }| {
            if batch != first && !group.is_empty() {
                decider.screen(first, std::mem::take(&mut group))?;
            }
            first = batch;
            let read = read_record(&record, seq, fields).map_err(|message| JournalError::Corrupt {
                path: path.to_path_buf(),
                line,
                message,
            })?;
            group.push(read);
            replayed += 1;
            Ok::<_, ServeError>(())
        })?;
        if !group.is_empty() {
            decider.screen(first, group)?;
        }
        decider.flush()?;
        decider.counting = true;
        decider.metrics.log_bytes.set(journal.bytes() as i64);
        let start = Start { logged: journal.next_seq() - 1, replayed, snapshot: (after > 0).then_some(after) };
        Ok((Intake { journal, decider, retention }, start))
    }

    /// Takes requests until the channel closes (the server stopped), then
    /// syncs what it wrote.
    pub(crate) fn run(
        mut self,
        mut queue: tokio::sync::mpsc::Receiver<Submission>,
        max_batch: usize,
    ) -> Result<(), ServeError> {
        while let Some(first) = queue.blocking_recv() {
            let mut group = vec![first];
            let mut records = group[0].records.len();
            while records < max_batch {
                match queue.try_recv() {
                    Ok(more) => {
                        records += more.records.len();
                        group.push(more);
                    }
                    Err(_) => break,
                }
            }
            let raws: Vec<&RawValue> = group.iter().flat_map(|s| s.records.iter().map(|r| &*r.raw)).collect();
            let first_seq = match self.journal.append(&raws) {
                Ok(seq) => {
                    self.decider.metrics.log_bytes.set(self.journal.bytes() as i64);
                    seq
                }
                Err(error) => {
                    // Nothing of the group is logged: none of it is answered 200.
                    let message = format!("the feedback log cannot be written: {error}");
                    for submission in group {
                        let _ = submission.reply.send(Err(message.clone()));
                    }
                    return Err(error.into());
                }
            };
            let lengths: Vec<usize> = group.iter().map(|s| s.records.len()).collect();
            let incoming: Vec<Incoming> = group.iter_mut().flat_map(|s| std::mem::take(&mut s.records)).collect();
            let mut answers = self.decider.screen(first_seq, incoming)?.into_iter();
            self.decider.flush()?;
            for (submission, length) in group.into_iter().zip(lengths) {
                // A client that went away still has its records logged and screened.
                let _ = submission.reply.send(Ok(answers.by_ref().take(length).collect()));
            }
            if self.journal.last_segment_bytes() >= self.retention.segment_bytes {
                self.rotate()?;
            }
        }
        let decider = &mut self.decider;
        decider.flush()?;
        decider.decisions.get_ref().sync_all().map_err(decider.state_error("decisions.jsonl"))?;
        decider.recalls.get_ref().sync_all().map_err(decider.state_error("recalls.jsonl"))
    }

    /// Begins a new segment of the log and takes a snapshot at it; once
    /// the snapshot is on disk, deletes what `keep_segments` lets go. A
    /// snapshot that fails is told and costs nothing but the log's length:
    /// no segment is deleted until one succeeds.
    fn rotate(&mut self) -> Result<(), ServeError> {
        self.journal.rotate()?;
        let seq = self.journal.next_seq() - 1;
        let started = std::time::Instant::now();
        match self.decider.snapshot(seq) {
            Ok(()) => {
                self.decider.metrics.snapshot("taken");
                let deleted = match self.retention.keep_segments {
                    Some(keep) => self.journal.retire(seq, keep)?,
                    None => 0,
                };
                let millis = started.elapsed().as_millis() as u64;
                tracing::info!(
                    event = "snapshot",
                    seq,
                    deleted,
                    millis,
                    "a snapshot at seq {seq} in {millis} ms; {deleted} segments deleted"
                );
            }
            Err(error) => {
                self.decider.metrics.snapshot("failed");
                tracing::warn!(
                    event = "snapshot_failed",
                    seq,
                    "no snapshot at seq {seq}, so the log is kept whole for now: {error}"
                );
            }
        }
        self.decider.metrics.log_bytes.set(self.journal.bytes() as i64);
        Ok(())
    }
}

/// Opens `dir/name` afresh.
fn begin(dir: &Path, name: &str) -> Result<BufWriter<File>, ServeError> {
    let path = dir.join(name);
    File::create(&path).map(BufWriter::new).map_err(|error| ServeError::State { path, error })
}

/// Opens `dir/name` for appending, cut back to its first `bytes` bytes
/// (what a snapshot covers; the rest is written again).
fn cut_back(dir: &Path, name: &str, bytes: u64) -> Result<BufWriter<File>, ServeError> {
    let path = dir.join(name);
    let open = || -> std::io::Result<File> {
        let mut file = OpenOptions::new().write(true).open(&path)?;
        let length = file.metadata()?.len();
        if length < bytes {
            let message = format!("{length} bytes long, and the snapshot it was taken with says {bytes}");
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, message));
        }
        file.set_len(bytes)?;
        file.seek(std::io::SeekFrom::End(0))?;
        Ok(file)
    };
    open().map(BufWriter::new).map_err(|error| ServeError::State { path: path.clone(), error })
}

impl Decider<'_> {
    /// Screens `records`, the group whose first `seq` is `first`; returns
    /// each record's decision as JSON text.
    fn screen(&mut self, first: u64, records: Vec<Incoming>) -> Result<Vec<String>, ServeError> {
        let seqs: Vec<u64> = (first..first + records.len() as u64).collect();
        let (feedback, ids): (Vec<Feedback>, Vec<Box<RawValue>>) =
            records.into_iter().map(|r| (r.feedback, r.id)).unzip();
        let (decisions, recalls) = self.screener.screen(&feedback, ids, &seqs, first);
        let mut answers = Vec::with_capacity(decisions.len());
        let mut line = Vec::new();
        for (decision, &seq) in decisions.iter().zip(&seqs) {
            self.ledger.add(seq, decision);
            if self.counting {
                self.metrics.record(decision.decision.name());
                for (guard, entry) in &decision.guards.0 {
                    self.metrics.verdict(guard, entry.decision.name());
                }
            }
            line.clear();
            decision.write_to(&mut line);
            self.decisions.write_all(&line).map_err(self.state_error("decisions.jsonl"))?;
            answers.push(String::from_utf8(line[..line.len() - 1].to_vec()).expect("JSON is UTF-8"));
        }
        let mut events = Vec::new();
        for pending in &recalls {
            events.extend(self.ledger.apply(pending, &self.guards[pending.guard].loaded.name));
        }
        for event in events.iter().filter(|_| self.counting) {
            self.metrics.recall(&event.guard, event.outcome.name());
        }
        for event in &events {
            serde_json::to_writer(&mut self.recalls, event)
                .map_err(std::io::Error::other)
                .map_err(self.state_error("recalls.jsonl"))?;
            self.recalls.write_all(b"\n").map_err(self.state_error("recalls.jsonl"))?;
        }
        self.feed.publish(events);
        Ok(answers)
    }

    /// Saves the guards' states and what the service keeps beside them, as
    /// of record `seq`, the last screened.
    fn snapshot(&mut self, seq: u64) -> Result<(), SnapshotError> {
        let states = self.screener.save()?;
        let mut lengths = [0u64; 2];
        let files = [(&mut self.decisions, "decisions.jsonl"), (&mut self.recalls, "recalls.jsonl")];
        for (length, (file, name)) in lengths.iter_mut().zip(files) {
            let path = self.dir.join(name);
            let io = |error| SnapshotError::Io { path: path.clone(), error };
            file.flush().map_err(io)?;
            file.get_ref().sync_data().map_err(io)?;
            *length = file.get_ref().metadata().map_err(io)?.len();
        }
        let snapshot = Snapshot::new(seq, (lengths[0], lengths[1]), self.ledger.save(), self.feed.saved());
        snapshot::write(&self.dir, snapshot, self.guards, &states)
    }

    fn state_error(&self, name: &str) -> impl Fn(std::io::Error) -> ServeError + use<> {
        let path = self.dir.join(name);
        move |error| ServeError::State { path: path.clone(), error }
    }

    fn flush(&mut self) -> Result<(), ServeError> {
        self.decisions.flush().map_err(self.state_error("decisions.jsonl"))?;
        self.recalls.flush().map_err(self.state_error("recalls.jsonl"))
    }
}
