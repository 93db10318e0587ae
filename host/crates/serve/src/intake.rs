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

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use assay_data::{Body, FieldMap, RawRecord, feedback_record};
use assay_pipeline::{Guard, Schedule, Screener};
use assay_runtime::{Feedback, Host};
use serde_json::value::RawValue;

use crate::ServeError;
use crate::journal::{Entry, Journal, JournalError};
use crate::metrics::Metrics;
use crate::recalls::{Feed, Ledger};

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

impl<'a> Intake<'a> {
    /// Opens the log in `dir` and screens what it holds again, group by
    /// group as it is read, so the guards' state and every decision are as
    /// they were. `decisions.jsonl` and `recalls.jsonl` are written afresh
    /// from it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open(
        dir: &Path,
        host: &'a Host,
        guards: &'a [Guard],
        schedule: &'a Schedule,
        fields: &FieldMap,
        windows: Windows,
        feed: Arc<Feed>,
        metrics: Arc<Metrics>,
    ) -> Result<Intake<'a>, ServeError> {
        std::fs::create_dir_all(dir).map_err(|error| ServeError::State { path: dir.to_path_buf(), error })?;
        let create = |name: &str| {
            let path = dir.join(name);
            File::create(&path).map(BufWriter::new).map_err(|error| ServeError::State { path, error })
        };
        let mut decider = Decider {
            dir: dir.to_path_buf(),
            screener: Screener::new(host, guards, schedule),
            guards,
            ledger: Ledger::new(guards.len(), windows.records),
            decisions: create("decisions.jsonl")?,
            recalls: create("recalls.jsonl")?,
            feed,
            metrics,
            counting: false,
        };
        let mut group: Vec<Incoming> = Vec::new();
        let mut first = 1;
        let journal = Journal::open(dir, |Entry { seq, batch, record }| {
            if batch != first && !group.is_empty() {
                decider.screen(first, std::mem::take(&mut group))?;
            }
            first = batch;
            let read = read_record(&record, seq, fields).map_err(|message| JournalError::Corrupt {
                path: dir.join("feedback.wal"),
                line: seq,
                message,
            })?;
            group.push(read);
            Ok::<_, ServeError>(())
        })?;
        if !group.is_empty() {
            decider.screen(first, group)?;
        }
        decider.flush()?;
        decider.counting = true;
        decider.metrics.log_bytes.set(journal.bytes() as i64);
        Ok(Intake { journal, decider })
    }

    /// Records logged so far.
    pub(crate) fn logged(&self) -> u64 {
        self.journal.next_seq() - 1
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
        }
        let decider = &mut self.decider;
        decider.flush()?;
        decider.decisions.get_ref().sync_all().map_err(decider.state_error("decisions.jsonl"))?;
        decider.recalls.get_ref().sync_all().map_err(decider.state_error("recalls.jsonl"))
    }
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

    fn state_error(&self, name: &str) -> impl Fn(std::io::Error) -> ServeError + use<> {
        let path = self.dir.join(name);
        move |error| ServeError::State { path: path.clone(), error }
    }

    fn flush(&mut self) -> Result<(), ServeError> {
        self.decisions.flush().map_err(self.state_error("decisions.jsonl"))?;
        self.recalls.flush().map_err(self.state_error("recalls.jsonl"))
    }
}
