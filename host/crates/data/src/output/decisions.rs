//! `decisions.jsonl`: what every guard decided on every feedback record, and
//! where the record went, in input order.
//!
//! ```json
//! {"id":"f-2","line":2,"decision":"reject","guards":{"facts":{"decision":"reject","reason":"2+2=5","risk":1.0}}}
//! {"id":null,"line":3,"decision":"quarantine","error":{"kind":"bad-record","message":"..."},"guards":{}}
//! ```

use std::borrow::Cow;

use assay_runtime::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{ErrorEntry, Pairs};
use crate::reader::Format;

/// Where a record goes, in order of severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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

    /// The name of the file that holds this route's records, for an input format.
    pub fn records_file(self, format: Format) -> String {
        format!("{}.{format}", self.file_stem())
    }

    /// A record's route from its guards' routes: any reject rejects; else
    /// any quarantine holds; else (no guard at all, too) accept.
    pub fn most_severe(routes: impl IntoIterator<Item = Route>) -> Route {
        routes.into_iter().max().unwrap_or(Route::Accept)
    }

    /// Where a guard's verdict sends a record.
    pub fn of(verdict: Verdict) -> Route {
        match verdict {
            Verdict::Accept => Route::Accept,
            Verdict::Quarantine => Route::Quarantine,
            Verdict::Reject => Route::Reject,
        }
    }

    /// Where a record goes when a guard fails on it.
    pub fn on_failure(policy: FailurePolicy) -> Route {
        match policy {
            FailurePolicy::Quarantine => Route::Quarantine,
            FailurePolicy::Accept => Route::Accept,
        }
    }
}

/// Where a record goes when a guard fails on it (traps, times out, breaches
/// a limit, returns an error or an invalid decision).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Fail closed: hold the record for review.
    #[default]
    Quarantine,
    /// Fail open: count the guard as accepting it.
    Accept,
}

/// One line of `decisions.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DecisionLine<'a> {
    /// The record's id as written in the input; `null` for a record that
    /// could not be read.
    pub id: Option<Cow<'a, RawValue>>,
    /// The line the record starts on.
    pub line: u64,
    /// Where the record went: the most severe of the guards' routes.
    pub decision: Route,
    /// Where it went when first decided, when a guard's recall has since
    /// sent it elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recalled_from: Option<Route>,
    /// Why the record could not be read, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorEntry>,
    /// Each guard's decision, in the order the guards run.
    pub guards: Pairs<Cow<'a, str>, GuardEntry<'a>>,
}

/// One guard's decision on a record.
#[derive(Debug, Serialize, Deserialize)]
pub struct GuardEntry<'a> {
    /// The route this guard chose, after its failure policy.
    pub decision: Route,
    pub reason: Cow<'a, str>,
    pub risk: Option<f64>,
    /// How the guard failed on the record, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorEntry>,
    /// The guard's recalls of this decision, in the order it made them
    /// (contract 0.1.3); `decision` is the route after them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recalls: Vec<RecallEntry<'a>>,
}

/// A guard's recall of its decision on a record: a tighter verdict it gave
/// once later records showed what this one was.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecallEntry<'a> {
    /// The guard's route for the record before this recall.
    pub from: Route,
    /// The verdict the recall asked for.
    pub to: Route,
    pub reason: Cow<'a, str>,
    /// The line of the last record the guard had screened when it recalled.
    pub after_line: u64,
    pub outcome: RecallOutcome,
}

/// What the host did with a recall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecallOutcome {
    /// It tightened the guard's decision.
    Applied,
    /// The guard's decision already had that verdict.
    Unchanged,
    /// It would have loosened the decision, or asked for `accept`: a recall
    /// only ever tightens.
    Refused,
}

impl RecallOutcome {
    /// As `decisions.jsonl` writes it.
    pub fn name(self) -> &'static str {
        match self {
            RecallOutcome::Applied => "applied",
            RecallOutcome::Unchanged => "unchanged",
            RecallOutcome::Refused => "refused",
        }
    }

    /// What a recall to `to` does to a guard's route `from`.
    pub fn of(from: Route, to: Route) -> RecallOutcome {
        if to == Route::Accept || to < from {
            RecallOutcome::Refused
        } else if to == from {
            RecallOutcome::Unchanged
        } else {
            RecallOutcome::Applied
        }
    }
}

impl DecisionLine<'_> {
    /// Appends the line, with its newline, to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(&mut *out, self).expect("writing to a Vec");
        out.push(b'\n');
    }

    /// The id as people read it, or the line of an unreadable record.
    pub fn id_text(&self) -> String {
        match &self.id {
            Some(id) => super::samples::id_text(id),
            None => format!("line {}", self.line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_severe_route_wins() {
        assert_eq!([Route::Accept, Route::Reject, Route::Quarantine].into_iter().max(), Some(Route::Reject));
        assert_eq!([Route::Accept, Route::Quarantine].into_iter().max(), Some(Route::Quarantine));
        assert_eq!(Route::most_severe([Route::Accept, Route::Reject, Route::Quarantine]), Route::Reject);
        assert_eq!(Route::most_severe([]), Route::Accept, "no guard holds nothing");
    }

    #[test]
    fn a_recall_only_tightens() {
        use Route::*;
        assert_eq!(RecallOutcome::of(Accept, Quarantine), RecallOutcome::Applied);
        assert_eq!(RecallOutcome::of(Accept, Reject), RecallOutcome::Applied);
        assert_eq!(RecallOutcome::of(Quarantine, Reject), RecallOutcome::Applied);
        assert_eq!(RecallOutcome::of(Quarantine, Quarantine), RecallOutcome::Unchanged);
        assert_eq!(RecallOutcome::of(Reject, Quarantine), RecallOutcome::Refused);
        assert_eq!(RecallOutcome::of(Accept, Accept), RecallOutcome::Refused);
        assert_eq!(RecallOutcome::of(Quarantine, Accept), RecallOutcome::Refused);
    }

    #[test]
    fn decision_lines_read_back_as_written() {
        for text in [
            r#"{"id":"b","line":2,"decision":"reject","guards":{"g":{"decision":"reject","reason":"2+2=5","risk":1.0},"h":{"decision":"accept","reason":"","risk":null}}}"#,
            r#"{"id":null,"line":3,"decision":"quarantine","error":{"kind":"bad-record","message":"invalid JSON"},"guards":{}}"#,
            r#"{"id":"c","line":4,"decision":"quarantine","recalled_from":"accept","guards":{"g":{"decision":"quarantine","reason":"","risk":null,"recalls":[{"from":"accept","to":"quarantine","reason":"campaign","after_line":9,"outcome":"applied"}]}}}"#,
        ] {
            let line: DecisionLine = serde_json::from_str(text).unwrap();
            let mut out = Vec::new();
            line.write_to(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), format!("{text}\n"));
        }
    }
}
