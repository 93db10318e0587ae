//! Recalls online: which earlier records a guard's recall reaches, what it
//! does to them, and the feed consumers read them from
//! (`GET /v1/recalls?after=N`).
//!
//! Offline, `assay guard` applies recalls to its staged files; a service has
//! already answered for the records, so it keeps, per record, each guard's
//! route and the record's route, applies each recall by the same rule
//! ([`RecallOutcome::of`]), and publishes what happened as a numbered event.
//! A consumer that took a record as accepted polls the feed and pulls it
//! back when an event says its route changed.

use std::collections::HashMap;
use std::sync::Mutex;

use assay_data::output::{DecisionLine, RecallOutcome, Route};
use assay_pipeline::recall::PendingRecall;
use serde::Serialize;

/// What a recall did, as the feed and `recalls.jsonl` say it.
#[derive(Debug, Clone, Serialize)]
pub struct RecallEvent {
    /// The event's number, from 1: `GET /v1/recalls?after=N` returns those above N.
    pub n: u64,
    /// The recalled record's `seq`; absent when no record matched.
    pub seq: Option<u64>,
    /// The id the guard named.
    pub id: String,
    pub guard: String,
    /// The guard's route for the record before the recall.
    pub from: Option<Route>,
    pub to: Route,
    pub reason: String,
    /// The `seq` of the last record the guard had screened when it recalled.
    pub after_seq: u64,
    pub outcome: RecallOutcome,
    /// The record's route after the recall, and before, when it changed.
    pub decision: Option<Route>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recalled_from: Option<Route>,
}

/// Every record's routes, and where each id was seen.
pub(crate) struct Ledger {
    guards: usize,
    /// Per `seq - 1`, each guard's route.
    routes: Vec<Route>,
    /// Per `seq - 1`, the record's route.
    decided: Vec<Route>,
    ids: HashMap<String, Vec<u64>>,
    next_event: u64,
}

impl Ledger {
    pub(crate) fn new(guards: usize) -> Ledger {
        Ledger { guards, routes: Vec::new(), decided: Vec::new(), ids: HashMap::new(), next_event: 1 }
    }

    /// Records the decision on record `seq` (the next one).
    pub(crate) fn add(&mut self, seq: u64, decision: &DecisionLine) {
        debug_assert_eq!(seq as usize, self.decided.len() + 1);
        self.routes.extend(decision.guards.0.iter().map(|(_, e)| e.decision));
        self.decided.push(decision.decision);
        self.ids.entry(decision.id_text()).or_default().push(seq);
    }

    /// Applies `pending` (from guard `name`) to every record with its id
    /// screened by then; returns what happened, one event per record (one
    /// for none when it matched nothing).
    pub(crate) fn apply(&mut self, pending: &PendingRecall, name: &str) -> Vec<RecallEvent> {
        let to = Route::of(pending.recall.verdict);
        let after_seq = pending.after_line;
        let seqs: Vec<u64> = self
            .ids
            .get(&pending.recall.id)
            .map(|seqs| seqs.iter().copied().filter(|&s| s <= after_seq).collect())
            .unwrap_or_default();
        let mut event = |seq, from, outcome, decision, recalled_from| {
            let n = self.next_event;
            self.next_event += 1;
            RecallEvent {
                n,
                seq,
                id: pending.recall.id.clone(),
                guard: name.to_string(),
                from,
                to,
                reason: pending.recall.reason.clone(),
                after_seq,
                outcome,
                decision,
                recalled_from,
            }
        };
        if seqs.is_empty() {
            return vec![event(None, None, RecallOutcome::Refused, None, None)];
        }
        let mut events = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let at = (seq - 1) as usize;
            let slot = at * self.guards + pending.guard;
            let from = self.routes[slot];
            let outcome = RecallOutcome::of(from, to);
            if outcome == RecallOutcome::Applied {
                self.routes[slot] = to;
            }
            let before = self.decided[at];
            let after = Route::most_severe(self.routes[at * self.guards..(at + 1) * self.guards].iter().copied());
            self.decided[at] = after;
            events.push(event(Some(seq), Some(from), outcome, Some(after), (after != before).then_some(before)));
        }
        events
    }
}

/// The events so far, for the long-polling readers.
pub(crate) struct Feed {
    events: Mutex<Vec<RecallEvent>>,
    count: tokio::sync::watch::Sender<u64>,
}

impl Feed {
    pub(crate) fn new() -> Feed {
        Feed { events: Mutex::new(Vec::new()), count: tokio::sync::watch::Sender::new(0) }
    }

    pub(crate) fn publish(&self, events: Vec<RecallEvent>) {
        if events.is_empty() {
            return;
        }
        let mut all = self.events.lock().expect("the feed's lock is never poisoned");
        all.extend(events);
        self.count.send_replace(all.len() as u64);
    }

    /// The events after number `after`, at most `limit`.
    pub(crate) fn after(&self, after: u64, limit: usize) -> Vec<RecallEvent> {
        let all = self.events.lock().expect("the feed's lock is never poisoned");
        all.iter().skip(after as usize).take(limit).cloned().collect()
    }

    /// Waits until there are more than `after` events, or `wait` passes.
    pub(crate) async fn wait_past(&self, after: u64, wait: std::time::Duration) {
        let mut count = self.count.subscribe();
        let _ = tokio::time::timeout(wait, count.wait_for(|&n| n > after)).await;
    }
}
