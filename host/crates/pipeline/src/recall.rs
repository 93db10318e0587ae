//! Recalls: decisions a guard takes back after later records showed what
//! earlier ones were (contract 0.1.3), applied before a guard run's outputs
//! are final.
//!
//! A streaming guard decides each record in input order, so the first
//! records of a campaign are accepted before the campaign shows. A guard
//! that exports `guard-recall` names such records after a batch, with a
//! tighter verdict. `assay guard` writes each record to its route file as
//! soon as every guard has decided it, so memory stays flat whatever the
//! input's size; when the run made recalls, one more pass over the staged
//! files moves each recalled record to its new route (the files stay in
//! input order) and rewrites its line of `decisions.jsonl` with the history.
//! The pass reads and writes the staged outputs once, and only runs when a
//! guard recalled something.
//!
//! A recall only ever tightens what *its guard* decided on a record (see
//! [`RecallOutcome::of`]); the record's route is then the most severe of the
//! guards' routes again. Anything else, and a recall of an id the guard had
//! not yet screened, is refused and counted, never applied.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use assay_data::Format;
use assay_data::output::tally::ScreeningSums;
use assay_data::output::{DecisionLine, RecallEntry, RecallOutcome, Route};
use assay_runtime::Recall;

/// A guard's recall, as the run received it.
#[derive(Debug, Clone)]
pub struct PendingRecall {
    /// The guard's place in the run's list of guards.
    pub guard: usize,
    pub recall: Recall,
    /// The line of the last record the guard had screened when it recalled:
    /// only records up to it can be meant.
    pub after_line: u64,
}

/// Applies recalls to decision lines, one line at a time in input order,
/// counting what happened in the run's sums: the rule both the staged files
/// of `assay guard` and the in-memory screening of the Python API go by.
pub struct Amender<'a> {
    recalls: &'a [PendingRecall],
    by_id: HashMap<&'a str, Vec<usize>>,
    matched: Vec<bool>,
}

impl<'a> Amender<'a> {
    pub fn new(recalls: &'a [PendingRecall]) -> Self {
        let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
        for (k, pending) in recalls.iter().enumerate() {
            by_id.entry(pending.recall.id.as_str()).or_default().push(k);
        }
        Amender { recalls, by_id, matched: vec![false; recalls.len()] }
    }

    /// Applies the recalls that name `line`'s record; returns whether any
    /// did (then `line` holds the history and the record's route now).
    pub fn amend(&mut self, line: &mut DecisionLine<'_>, sums: &mut ScreeningSums) -> bool {
        let targets = match &line.id {
            Some(_) => self.by_id.get(line.id_text().as_str()),
            None => None,
        };
        let Some(targets) = targets else { return false };
        let first = line.decision;
        for &k in targets {
            let pending = &self.recalls[k];
            // A guard can only mean a record it had screened, and a record
            // that could not be read has no guard entries.
            if pending.after_line < line.line || line.guards.0.is_empty() {
                continue;
            }
            self.matched[k] = true;
            let entry = &mut line.guards.0[pending.guard].1;
            let (from, to) = (entry.decision, Route::of(pending.recall.verdict));
            let outcome = RecallOutcome::of(from, to);
            sums.guards[pending.guard].recalls.add(outcome, || {
                format!(
                    "recalled record {:?} (line {}) to {}, but had decided {}: a recall only tightens",
                    pending.recall.id,
                    line.line,
                    to.name(),
                    from.name()
                )
            });
            if outcome == RecallOutcome::Applied {
                entry.decision = to;
                sums.guards[pending.guard].reroute(from, to);
            }
            entry.recalls.push(RecallEntry {
                from,
                to,
                // Owned: the line outlives neither the recalls nor its text.
                reason: pending.recall.reason.clone().into(),
                after_line: pending.after_line,
                outcome,
            });
        }
        let route = Route::most_severe(line.guards.0.iter().map(|(_, e)| e.decision));
        if route != first {
            line.decision = route;
            line.recalled_from = Some(first);
            sums.counts.reroute(first, route);
        }
        true
    }

    /// Counts the recalls that named no record screened by then as refused.
    pub fn finish(self, sums: &mut ScreeningSums) {
        for (pending, _) in self.recalls.iter().zip(&self.matched).filter(|(_, matched)| !**matched) {
            sums.guards[pending.guard].recalls.add(RecallOutcome::Refused, || {
                format!(
                    "recalled record {:?}, but no record with that id had been screened by line {}",
                    pending.recall.id, pending.after_line
                )
            });
        }
    }
}

/// Applies `recalls` to the outputs staged in `dir`: each recalled record
/// moves to the route its guards now give it, its `decisions.jsonl` line
/// records the history, and `sums` count the result. `lengths` holds each
/// record's length in its route file (without the newline) in input order;
/// `header` is the header row each route file of a table starts with.
pub(crate) fn apply(
    dir: &Path,
    format: Format,
    header: &[u8],
    lengths: &[u64],
    recalls: &[PendingRecall],
    sums: &mut ScreeningSums,
) -> std::io::Result<()> {
    let mut amender = Amender::new(recalls);
    let names: Vec<String> = Route::ALL.iter().map(|r| r.records_file(format)).collect();
    let open = |name: &str| File::open(dir.join(name)).map(|f| BufReader::with_capacity(1 << 20, f));
    let create =
        |name: &str| File::create(dir.join(format!("{name}.recalled"))).map(|f| BufWriter::with_capacity(1 << 20, f));
    let mut old_routes = Vec::new();
    let mut new_routes = Vec::new();
    for name in &names {
        let mut old = open(name)?;
        let mut skipped = vec![0; header.len()];
        old.read_exact(&mut skipped)?;
        let mut new = create(name)?;
        new.write_all(header)?;
        old_routes.push(old);
        new_routes.push(new);
    }
    let mut old_decisions = open("decisions.jsonl")?;
    let mut new_decisions = create("decisions.jsonl")?;

    let (mut text, mut raw, mut rewritten) = (Vec::new(), Vec::new(), Vec::new());
    for &length in lengths {
        text.clear();
        old_decisions.read_until(b'\n', &mut text)?;
        let mut line: DecisionLine = serde_json::from_slice(&text).map_err(std::io::Error::other)?;
        let first = line.decision;
        raw.resize(length as usize + 1, 0);
        old_routes[first as usize].read_exact(&mut raw)?;
        if !amender.amend(&mut line, sums) {
            new_decisions.write_all(&text)?;
            new_routes[first as usize].write_all(&raw)?;
            continue;
        }
        rewritten.clear();
        line.write_to(&mut rewritten);
        new_decisions.write_all(&rewritten)?;
        new_routes[line.decision as usize].write_all(&raw)?;
    }
    amender.finish(sums);

    let files = names.iter().map(String::as_str).chain(["decisions.jsonl"]);
    for (name, writer) in files.zip(new_routes.into_iter().chain([new_decisions])) {
        writer.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(dir.join(format!("{name}.recalled")), dir.join(name))?;
    }
    Ok(())
}
