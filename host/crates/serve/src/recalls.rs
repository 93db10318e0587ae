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

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use assay_data::output::{DecisionLine, RecallOutcome, Route};
use assay_pipeline::recall::PendingRecall;
use serde::{Deserialize, Serialize};

/// What a recall did, as the feed and `recalls.jsonl` say it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recalled_from: Option<Route>,
}

/// A [`Ledger`] as a snapshot keeps it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SavedLedger {
    /// The `seq` of the oldest record kept.
    oldest: u64,
    next_event: u64,
    /// Per record kept, oldest first, each guard's route and then the
    /// record's, one letter each (`a`, `q`, `r`): a million records of five
    /// guards take six megabytes, not the tens that words would.
    routes: String,
    /// Per record kept, oldest first, its id.
    ids: Vec<String>,
}

fn letter(route: Route) -> char {
    route.name().as_bytes()[0] as char
}

fn route_of(letter: char) -> Option<Route> {
    Route::ALL.into_iter().find(|&r| self::letter(r) == letter)
}

/// The latest records' routes, and where each of their ids was seen.
///
/// It keeps the last `window` records (`[serve] recall_window`), so its
/// memory stays flat however long the service runs: a recall that names
/// only records older than that finds none, and is refused as one naming an
/// id never screened.
pub(crate) struct Ledger {
    guards: usize,
    window: usize,
    /// The `seq` of the oldest record kept.
    oldest: u64,
    /// Per record kept, oldest first: each guard's route.
    routes: VecDeque<Route>,
    /// Per record kept, oldest first: the record's route and its id.
    decided: VecDeque<(Route, Arc<str>)>,
    /// Per id, the `seq`s of the records kept with it, ascending. The id
    /// is shared with `decided`: one allocation per record, not two.
    ids: HashMap<Arc<str>, Vec<u64>>,
    next_event: u64,
}

impl Ledger {
    pub(crate) fn new(guards: usize, window: usize) -> Ledger {
        Ledger {
            guards,
            window: window.max(1),
            oldest: 1,
            routes: VecDeque::new(),
            decided: VecDeque::new(),
            ids: HashMap::new(),
            next_event: 1,
        }
    }

    /// What a snapshot keeps of it.
    pub(crate) fn save(&self) -> SavedLedger {
        let mut routes = String::with_capacity(self.routes.len() + self.decided.len());
        for (k, (route, _)) in self.decided.iter().enumerate() {
            routes.extend(self.routes.range(k * self.guards..(k + 1) * self.guards).map(|&r| letter(r)));
            routes.push(letter(*route));
        }
        let ids = self.decided.iter().map(|(_, id)| id.to_string()).collect();
        SavedLedger { oldest: self.oldest, next_event: self.next_event, routes, ids }
    }

    /// The ledger `saved` was made from, for `guards` guards, keeping the
    /// latest `window` of its records (the window may have changed since).
    pub(crate) fn restore(saved: SavedLedger, guards: usize, window: usize) -> Result<Ledger, String> {
        let letters: Vec<char> = saved.routes.chars().collect();
        if letters.len() != saved.ids.len() * (guards + 1) {
            return Err(format!("{} route letters for {} records of {guards} guards", letters.len(), saved.ids.len()));
        }
        let mut ledger = Ledger::new(guards, window);
        ledger.next_event = saved.next_event;
        ledger.oldest = saved.oldest;
        for (k, (record, id)) in letters.chunks(guards + 1).zip(saved.ids).enumerate() {
            let routes: Option<Vec<Route>> = record.iter().map(|&l| route_of(l)).collect();
            let routes = routes.ok_or_else(|| format!("a route letter other than a, q or r: {record:?}"))?;
            ledger.push(saved.oldest + k as u64, routes[..guards].iter().copied(), routes[guards], id.into());
        }
        Ok(ledger)
    }

    /// Records the decision on record `seq` (the next one), and lets the
    /// oldest go when the window is full.
    pub(crate) fn add(&mut self, seq: u64, decision: &DecisionLine) {
        let routes = decision.guards.0.iter().map(|(_, e)| e.decision);
        self.push(seq, routes, decision.decision, decision.id_text().into());
    }

    fn push(&mut self, seq: u64, routes: impl Iterator<Item = Route>, decision: Route, id: Arc<str>) {
        debug_assert_eq!(seq, self.oldest + self.decided.len() as u64);
        if self.decided.len() == self.window {
            let (_, id) = self.decided.pop_front().expect("the window is full");
            self.routes.drain(..self.guards);
            if let Some(seqs) = self.ids.get_mut(&id) {
                // Seqs are added in order, so the oldest record is the first.
                seqs.remove(0);
                if seqs.is_empty() {
                    self.ids.remove(&id);
                }
            }
            self.oldest += 1;
        }
        self.routes.extend(routes);
        self.ids.entry(id.clone()).or_default().push(seq);
        self.decided.push_back((decision, id));
    }

    /// Applies `pending` (from guard `name`) to every record with its id
    /// screened by then; returns what happened, one event per record (one
    /// for none when it matched nothing).
    pub(crate) fn apply(&mut self, pending: &PendingRecall, name: &str) -> Vec<RecallEvent> {
        let to = Route::of(pending.recall.verdict);
        let after_seq = pending.after_line;
        let seqs: Vec<u64> = self
            .ids
            .get(pending.recall.id.as_str())
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
            let at = (seq - self.oldest) as usize;
            let slot = at * self.guards + pending.guard;
            let from = self.routes[slot];
            let outcome = RecallOutcome::of(from, to);
            if outcome == RecallOutcome::Applied {
                self.routes[slot] = to;
            }
            let before = self.decided[at].0;
            let after = Route::most_severe(self.routes.range(at * self.guards..(at + 1) * self.guards).copied());
            self.decided[at].0 = after;
            events.push(event(Some(seq), Some(from), outcome, Some(after), (after != before).then_some(before)));
        }
        events
    }
}

/// The latest events, for the long-polling readers.
///
/// It keeps the last `window` events (`[serve] recall_events`); every event
/// is also in `recalls.jsonl`, where a reader that fell further behind finds
/// the ones it missed.
pub(crate) struct Feed {
    window: usize,
    events: Mutex<VecDeque<RecallEvent>>,
    count: tokio::sync::watch::Sender<u64>,
}

/// What a reader asked for: the events kept, and how many it asked for are
/// no longer kept.
pub(crate) struct Page {
    pub(crate) events: Vec<RecallEvent>,
    pub(crate) missed: u64,
}

impl Feed {
    pub(crate) fn new(window: usize) -> Feed {
        Feed { window: window.max(1), events: Mutex::new(VecDeque::new()), count: tokio::sync::watch::Sender::new(0) }
    }

    pub(crate) fn publish(&self, events: Vec<RecallEvent>) {
        let Some(last) = events.last().map(|e| e.n) else { return };
        let mut kept = self.events.lock().expect("the feed's lock is never poisoned");
        kept.extend(events);
        let over = kept.len().saturating_sub(self.window);
        kept.drain(..over);
        self.count.send_replace(last);
    }

    /// The events kept, for a snapshot.
    pub(crate) fn saved(&self) -> Vec<RecallEvent> {
        self.events.lock().expect("the feed's lock is never poisoned").iter().cloned().collect()
    }

    /// The events after number `after`, at most `limit`.
    pub(crate) fn after(&self, after: u64, limit: usize) -> Page {
        let kept = self.events.lock().expect("the feed's lock is never poisoned");
        let oldest = kept.front().map_or(u64::MAX, |e| e.n);
        let missed = oldest.saturating_sub(after + 1).min(kept.back().map_or(0, |e| e.n));
        let skip = (after + 1).saturating_sub(oldest) as usize;
        Page { events: kept.iter().skip(skip).take(limit).cloned().collect(), missed }
    }

    /// Waits until there are more than `after` events, or `wait` passes.
    pub(crate) async fn wait_past(&self, after: u64, wait: std::time::Duration) {
        let mut count = self.count.subscribe();
        let _ = tokio::time::timeout(wait, count.wait_for(|&n| n > after)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_data::output::RecallOutcome::{Applied, Refused};
    use assay_runtime::Verdict;
    use assay_runtime::instance::Recall;

    /// Two guards' decisions on a record with id `id`, both accepting.
    fn accepted(id: &str, line: u64) -> DecisionLine<'static> {
        let entry = r#"{"decision":"accept","reason":"","risk":null}"#;
        let text = format!(r#"{{"id":"{id}","line":{line},"decision":"accept","guards":{{"a":{entry},"b":{entry}}}}}"#);
        serde_json::from_str(Box::leak(text.into_boxed_str())).unwrap()
    }

    fn recall(guard: usize, id: &str, after_line: u64) -> PendingRecall {
        let recall = Recall { id: id.into(), verdict: Verdict::Quarantine, reason: "campaign".into() };
        PendingRecall { guard, recall, after_line }
    }

    fn outcomes(events: &[RecallEvent]) -> Vec<(Option<u64>, RecallOutcome, Option<Route>)> {
        events.iter().map(|e| (e.seq, e.outcome, e.recalled_from)).collect()
    }

    #[test]
    fn recalls_reach_the_records_in_the_window_only() {
        let mut ledger = Ledger::new(2, 3);
        for (seq, id) in (1..).zip(["x", "y", "x", "z", "x"]) {
            ledger.add(seq, &accepted(id, seq));
        }
        // Records 3, 4 and 5 are kept: "x" at 1 is gone, "y" entirely.
        assert_eq!(ledger.oldest, 3);
        assert_eq!(ledger.ids.len(), 2, "ids of records let go are forgotten");
        let events = ledger.apply(&recall(1, "x", 5), "b");
        assert_eq!(
            outcomes(&events),
            [(Some(3), Applied, Some(Route::Accept)), (Some(5), Applied, Some(Route::Accept))]
        );
        assert_eq!(events.iter().map(|e| e.n).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(events[0].decision, Some(Route::Quarantine));
        // Only records screened by the time of the recall are meant.
        assert_eq!(outcomes(&ledger.apply(&recall(0, "z", 3), "a")), [(None, Refused, None)]);
        assert_eq!(outcomes(&ledger.apply(&recall(0, "y", 5), "a")), [(None, Refused, None)]);
        // The other guard's recall of the same record tightens its own route only.
        let again = ledger.apply(&recall(0, "x", 5), "a");
        assert_eq!(again[0].from, Some(Route::Accept));
        assert_eq!(again[0].recalled_from, None, "the record was already quarantined");
        // Ids that keep recurring stay bounded by the window.
        for seq in 6..1006 {
            ledger.add(seq, &accepted("x", seq));
        }
        assert_eq!((ledger.decided.len(), ledger.routes.len(), ledger.ids["x"].len()), (3, 6, 3));
    }

    #[test]
    fn a_saved_ledger_restores_as_it_was() {
        let mut ledger = Ledger::new(2, 4);
        for (seq, id) in (1..).zip(["x", "y", "x", "z", "w", "x"]) {
            ledger.add(seq, &accepted(id, seq));
        }
        ledger.apply(&recall(1, "x", 6), "b");
        let saved = ledger.save();
        // Records 3 to 6: each guard's route, then the record's.
        assert_eq!(saved.routes, "aqq".to_string() + "aaa" + "aaa" + "aqq");
        let text = serde_json::to_string(&saved).unwrap();
        let mut restored = Ledger::restore(serde_json::from_str(&text).unwrap(), 2, 4).unwrap();
        assert_eq!((restored.oldest, restored.next_event), (3, ledger.next_event));
        assert_eq!(restored.routes, ledger.routes);
        assert_eq!(restored.decided, ledger.decided);
        assert_eq!(restored.ids, ledger.ids);
        // Both go on alike: the same events for the same recall.
        assert_eq!(restored.apply(&recall(0, "x", 6), "a"), ledger.apply(&recall(0, "x", 6), "a"));
        // A smaller window keeps the latest records.
        let small = Ledger::restore(ledger.save(), 2, 2).unwrap();
        assert_eq!((small.oldest, small.decided.len(), small.ids.len()), (5, 2, 2));
        let error = Ledger::restore(ledger.save(), 3, 4).err().unwrap();
        assert_eq!(error, "12 route letters for 4 records of 3 guards");
    }

    fn event(n: u64) -> RecallEvent {
        RecallEvent {
            n,
            seq: Some(n),
            id: n.to_string(),
            guard: "flood".into(),
            from: Some(Route::Accept),
            to: Route::Quarantine,
            reason: String::new(),
            after_seq: n,
            outcome: Applied,
            decision: Some(Route::Quarantine),
            recalled_from: Some(Route::Accept),
        }
    }

    #[test]
    fn the_feed_keeps_the_latest_events_and_says_how_many_a_reader_missed() {
        let feed = Feed::new(4);
        let page = feed.after(0, 10);
        assert!(page.events.is_empty() && page.missed == 0);
        feed.publish((1..=3).map(event).collect());
        let numbers = |page: &Page| page.events.iter().map(|e| e.n).collect::<Vec<_>>();
        assert_eq!(numbers(&feed.after(0, 10)), [1, 2, 3]);
        assert_eq!(numbers(&feed.after(1, 1)), [2]);
        feed.publish((4..=9).map(event).collect());
        // Events 6 to 9 are kept.
        let page = feed.after(2, 10);
        assert_eq!((numbers(&page), page.missed), (vec![6, 7, 8, 9], 3));
        let page = feed.after(5, 10);
        assert_eq!((numbers(&page), page.missed), (vec![6, 7, 8, 9], 0));
        let page = feed.after(9, 10);
        assert_eq!((numbers(&page), page.missed), (vec![], 0));
        assert_eq!(*feed.count.borrow(), 9);
    }
}
