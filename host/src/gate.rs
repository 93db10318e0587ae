//! Gates: thresholds on a run's numbers that CI enforces.
//!
//! ```toml
//! [gates]
//! "exact/exact_match" = ">= 0.5"   # a metric's headline value
//! "errors" = "== 0"                # a count of the summary
//! "rejected_share" = "<= 0.1"      # a count divided by the records read
//! "facts/reject" = "<= 5"          # a guard run: records one guard rejected
//! ```
//!
//! Gates read the typed summary of any kind of run: its metrics, its
//! counts, and for a guard run the records each guard routed.

use std::fmt;
use std::str::FromStr;

use assay_data::output::{Route, Summary};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use assay_compare::choice::Op;

/// `OP NUMBER`, such as `>= 0.5`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Condition {
    pub op: Op,
    pub threshold: f64,
}

impl FromStr for Condition {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (symbol, op) = Op::ALL
            .iter()
            .find(|(symbol, _)| text.starts_with(symbol))
            .ok_or_else(|| format!("{text:?} does not start with an operator (>=, >, <=, <, ==, !=)"))?;
        let number = text[symbol.len()..].trim();
        let threshold: f64 = number.parse().map_err(|_| format!("{number:?} in {text:?} is not a number"))?;
        if !threshold.is_finite() {
            return Err(format!("{number:?} in {text:?} is not a finite number"));
        }
        Ok(Condition { op: *op, threshold })
    }
}

impl TryFrom<String> for Condition {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<Condition> for String {
    fn from(condition: Condition) -> String {
        condition.to_string()
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op.symbol(), self.threshold)
    }
}

/// Gates by name, in the order written.
pub type Gates = IndexMap<String, Condition>;

/// A gate that names nothing the run produces.
#[derive(Debug, thiserror::Error)]
#[error("gate {gate:?}: no such metric or count (metrics: {metrics}; counts: {counts}, each also as NAME_share)")]
pub struct UnknownGate {
    pub gate: String,
    pub metrics: String,
    pub counts: String,
}

/// Checks, before a run, that every gate names one of `counts`, a
/// `COUNT_share`, or a metric `is_metric` accepts, so a typo fails fast
/// instead of after the whole run.
pub fn check_names(
    gates: &Gates,
    counts: &[&str],
    metrics: &[String],
    is_metric: impl Fn(&str) -> bool,
) -> Result<(), UnknownGate> {
    let is_count =
        |name: &str| counts.contains(&name) || name.strip_suffix("_share").is_some_and(|c| counts.contains(&c));
    match gates.keys().find(|name| !is_count(name) && !is_metric(name)) {
        None => Ok(()),
        Some(gate) => Err(UnknownGate { gate: gate.clone(), metrics: metrics.join(", "), counts: counts.join(", ") }),
    }
}

/// How one gate went.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub name: String,
    pub condition: Condition,
    /// None when the run has no value for it (no sample was scored).
    pub value: Option<f64>,
    pub passed: bool,
}

impl Outcome {
    /// `exact/exact_match = 0.4, expected >= 0.5`.
    pub fn describe(&self) -> String {
        let value = self.value.map_or_else(|| "no value".to_string(), |v| format!("{v}"));
        format!("{} = {value}, expected {}", self.name, self.condition)
    }
}

/// Checks every gate against a summary.
pub fn check(gates: &Gates, summary: &Summary) -> Vec<Outcome> {
    gates
        .iter()
        .map(|(name, condition)| {
            let value = value_of(summary, name);
            let passed = value.is_some_and(|v| condition.op.holds(v, condition.threshold));
            Outcome { name: name.clone(), condition: *condition, value, passed }
        })
        .collect()
}

/// The number a gate name stands for in a summary.
pub fn value_of(summary: &Summary, name: &str) -> Option<f64> {
    if let Some(value) = summary.metric(name) {
        return value;
    }
    let counts = summary.counts();
    let count = |name: &str| counts.iter().find(|(n, _)| *n == name).map(|(_, v)| *v as f64);
    if let Some(count) = count(name) {
        return Some(count);
    }
    // A guard run's records by the route one guard chose: `facts/reject`.
    if let Summary::Guard(guard_run) = summary
        && let Some((guard, route)) = name.split_once('/')
    {
        let route = Route::ALL.into_iter().find(|r| r.name() == route)?;
        return guard_run.guards.get(guard).map(|routes| routes.get(route) as f64);
    }
    let share = count(name.strip_suffix("_share")?)?;
    let total = count("records")?;
    Some(if total == 0.0 { 0.0 } else { share / total })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    fn gates(pairs: &[(&str, &str)]) -> Gates {
        pairs.iter().map(|(name, text)| (name.to_string(), text.parse().unwrap())).collect()
    }

    #[test]
    fn conditions_parse_every_operator_and_print_back() {
        for (text, op) in [
            (">= 0.5", Op::Ge),
            (">0.5", Op::Gt),
            ("<= 0.5", Op::Le),
            ("< 0.5", Op::Lt),
            ("==0.5", Op::Eq),
            (" != 0.5 ", Op::Ne),
        ] {
            let condition: Condition = text.parse().unwrap();
            assert_eq!(condition, Condition { op, threshold: 0.5 }, "{text}");
            assert_eq!(condition.to_string().parse::<Condition>().unwrap(), condition);
        }
        assert_eq!(">= 0.5".parse::<Condition>().unwrap().to_string(), ">= 0.5");
        for bad in ["0.5", "=> 0.5", ">= x", ">=", "== inf", "= 1"] {
            assert!(bad.parse::<Condition>().is_err(), "{bad}");
        }
    }

    #[test]
    fn operators_compare_at_the_boundary() {
        assert!(Op::Ge.holds(0.5, 0.5) && !Op::Gt.holds(0.5, 0.5));
        assert!(Op::Le.holds(0.5, 0.5) && !Op::Lt.holds(0.5, 0.5));
        assert!(Op::Eq.holds(0.0, 0.0) && !Op::Ne.holds(0.0, 0.0) && Op::Ne.holds(1.0, 0.0));
    }

    /// A summary of `kind` with `fields` and everything else empty.
    pub(crate) fn summary(kind: &str, fields: serde_json::Value) -> Summary {
        let mut value = json!({
            "kind": kind, "assay_version": "0", "metrics": {}, "details": {}, "errors": {}, "corpus_errors": {}, "skipped": [],
            "plugins": [], "guards": {}, "bad_records": [], "outputs": {},
            "input": {"path": "in.jsonl", "sha256": "0".repeat(64), "format": "jsonl"},
            "run": {"started_at": "", "finished_at": "", "jobs": 1, "batch_size": 1, "seed": 0, "reproducible": true},
        });
        value["counts"] = if kind == "guard" {
            json!({"records": 0, "accepted": 0, "quarantined": 0, "rejected": 0, "bad_records": 0, "guard_errors": 0})
        } else {
            json!({"records": 0, "samples": 0, "errors": 0, "skipped": 0})
        };
        for (key, field) in fields.as_object().unwrap() {
            match (value[key].as_object_mut(), field.as_object()) {
                (Some(base), Some(fields)) if key == "counts" => base.extend(fields.clone()),
                _ => value[key] = field.clone(),
            }
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn gates_read_metrics_counts_and_shares() {
        let evaluation = summary(
            "evaluation",
            json!({"metrics": {"exact/exact_match": 0.4, "empty/score": null}, "counts": {"records": 40}}),
        );
        let outcomes =
            check(&gates(&[("exact/exact_match", ">= 0.5"), ("errors", "== 0"), ("empty/score", ">= 0")]), &evaluation);
        let seen: Vec<(Option<f64>, bool)> = outcomes.iter().map(|o| (o.value, o.passed)).collect();
        assert_eq!(seen, [(Some(0.4), false), (Some(0.0), true), (None, false)]);
        assert_eq!(outcomes[0].describe(), "exact/exact_match = 0.4, expected >= 0.5");
        assert_eq!(outcomes[2].describe(), "empty/score = no value, expected >= 0");
        let guard_run = summary(
            "guard",
            json!({"counts": {"records": 40, "rejected": 4}, "guards": {"facts": {"accept": 37, "quarantine": 0, "reject": 3, "errors": {}}}}),
        );
        let outcomes = check(
            &gates(&[("rejected_share", "<= 0.1"), ("facts/reject", "< 3"), ("facts/accept", "> 30")]),
            &guard_run,
        );
        let seen: Vec<(Option<f64>, bool)> = outcomes.iter().map(|o| (o.value, o.passed)).collect();
        assert_eq!(seen, [(Some(0.1), true), (Some(3.0), false), (Some(37.0), true)]);
    }

    #[test]
    fn unknown_names_are_reported_by_gate() {
        let counts = ["records", "errors"];
        let metrics = vec!["exact/exact_match".to_string()];
        let is_metric = |name: &str| metrics.iter().any(|m| m == name);
        assert!(
            check_names(
                &gates(&[("errors", "== 0"), ("errors_share", "< 0.1"), ("exact/exact_match", "> 0")]),
                &counts,
                &metrics,
                is_metric
            )
            .is_ok()
        );
        let error =
            check_names(&gates(&[("errors", "== 0"), ("exact/exact_macth", "> 0")]), &counts, &metrics, is_metric)
                .unwrap_err();
        assert_eq!(error.gate, "exact/exact_macth");
        assert!(error.to_string().starts_with("gate \"exact/exact_macth\": no such metric"), "{error}");
    }
}
