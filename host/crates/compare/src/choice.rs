//! Choosing among candidates: hard requirements that exclude (each with its
//! reason), a ranking by the team's weights, and the Pareto front of
//! quality against speed and cost.

use std::collections::BTreeMap;

use crate::candidates::Value;

/// A requirement such as `commercial_use == "allowed"`, `parameters <= 13e9`,
/// `license in ["MIT", "Apache-2.0"]` or `bleu/bleu >= 30`.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub text: String,
    criterion: String,
    relation: Relation,
    expected: Expected,
}

/// How a value compares with a threshold: what requirements here and the
/// binary's CI gates both use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
}

impl Op {
    // Two-character operators first, so `>=` is not read as `>` and `=0.5`.
    pub const ALL: [(&'static str, Op); 6] =
        [(">=", Op::Ge), ("<=", Op::Le), ("==", Op::Eq), ("!=", Op::Ne), (">", Op::Gt), ("<", Op::Lt)];

    pub fn symbol(self) -> &'static str {
        Op::ALL.iter().find(|(_, op)| *op == self).expect("every operator is listed").0
    }

    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Ge => value >= threshold,
            Op::Gt => value > threshold,
            Op::Le => value <= threshold,
            Op::Lt => value < threshold,
            Op::Eq => value == threshold,
            Op::Ne => value != threshold,
        }
    }
}

/// A requirement's relation: a comparison, or membership of a list.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Relation {
    Compare(Op),
    In,
}

#[derive(Debug, Clone, PartialEq)]
enum Expected {
    One(Value),
    Any(Vec<Value>),
}

fn value_of(json: &serde_json::Value) -> Option<Value> {
    match json {
        serde_json::Value::Number(n) => n.as_f64().map(Value::Number),
        serde_json::Value::String(s) => Some(Value::Text(s.clone())),
        _ => None,
    }
}

impl Requirement {
    pub fn parse(text: &str) -> Result<Requirement, String> {
        let relations =
            Op::ALL.iter().map(|&(symbol, op)| (symbol, Relation::Compare(op))).chain([(" in ", Relation::In)]);
        let (at, symbol, relation) = relations
            .filter_map(|(symbol, relation)| text.find(symbol).map(|at| (at, symbol, relation)))
            .min_by_key(|(at, symbol, _)| (*at, std::cmp::Reverse(symbol.len())))
            .ok_or_else(|| format!("{text:?}: expected CRITERION OP VALUE, with OP one of == != <= >= < > in"))?;
        let criterion = text[..at].trim().to_string();
        let right = text[at + symbol.len()..].trim();
        if criterion.is_empty() || right.is_empty() {
            return Err(format!("{text:?}: expected CRITERION OP VALUE"));
        }
        // JSON for numbers, "text" and [lists]; a bare word is text.
        let parsed: serde_json::Value =
            serde_json::from_str(right).unwrap_or_else(|_| serde_json::Value::String(right.to_string()));
        let expected = match (relation, &parsed) {
            (Relation::In, serde_json::Value::Array(items)) => Expected::Any(
                items
                    .iter()
                    .map(value_of)
                    .collect::<Option<_>>()
                    .ok_or(format!("{text:?}: a list of numbers or texts"))?,
            ),
            (Relation::In, _) => return Err(format!("{text:?}: `in` takes a list, such as [\"MIT\", \"Apache-2.0\"]")),
            (_, value) => Expected::One(value_of(value).ok_or(format!("{text:?}: {right} is not a number or a text"))?),
        };
        let ordering = matches!(relation, Relation::Compare(Op::Le | Op::Ge | Op::Lt | Op::Gt));
        if ordering && !matches!(expected, Expected::One(Value::Number(_))) {
            return Err(format!("{text:?}: {symbol} compares numbers"));
        }
        Ok(Requirement { text: text.to_string(), criterion, relation, expected })
    }

    /// Whether a candidate with these values meets it; if not, why.
    pub fn check(&self, values: &BTreeMap<String, Value>) -> Result<(), String> {
        let Some(value) = values.get(&self.criterion) else {
            return Err(format!("{} is unknown, so `{}` cannot hold", self.criterion, self.text));
        };
        let holds = match (&self.expected, self.relation) {
            (Expected::Any(options), _) => options.contains(value),
            (Expected::One(expected), Relation::Compare(Op::Eq)) => value == expected,
            (Expected::One(expected), Relation::Compare(Op::Ne)) => value != expected,
            (Expected::One(Value::Number(expected)), Relation::Compare(op)) => match value {
                Value::Number(actual) => op.holds(*actual, *expected),
                Value::Text(_) => return Err(format!("{} is {value}, not a number (`{}`)", self.criterion, self.text)),
            },
            (Expected::One(_), _) => unreachable!("parse allows only numbers there"),
        };
        if holds { Ok(()) } else { Err(format!("{} is {value}; required: {}", self.criterion, self.text)) }
    }
}

/// A weight: `NAME=W`; a negative weight prefers lower values (cost, latency).
pub fn parse_weight(text: &str) -> Result<(String, f64), String> {
    let (name, weight) = text.rsplit_once('=').ok_or(format!("--weight {text:?}: expected CRITERION=WEIGHT"))?;
    let weight: f64 = weight.trim().parse().map_err(|_| format!("--weight {text:?}: {weight:?} is not a number"))?;
    if weight == 0.0 || !weight.is_finite() {
        return Err(format!("--weight {text:?}: a weight is a non-zero number"));
    }
    Ok((name.trim().to_string(), weight))
}

/// Each candidate's weighted score in 0..=1 (every criterion scaled from the
/// worst candidate, 0, to the best, 1), or why it has none; in the order given.
pub fn rank(numbers: &[BTreeMap<String, f64>], weights: &[(String, f64)]) -> Vec<Result<f64, String>> {
    let total: f64 = weights.iter().map(|(_, w)| w.abs()).sum();
    numbers
        .iter()
        .map(|values| {
            let mut score = 0.0;
            for (criterion, weight) in weights {
                let Some(value) = values.get(criterion) else {
                    return Err(format!("{criterion} is unknown"));
                };
                let known: Vec<f64> = numbers.iter().filter_map(|v| v.get(criterion).copied()).collect();
                let (low, high) =
                    known.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
                let scaled = if high > low { (value - low) / (high - low) } else { 1.0 };
                score += weight.abs() * if *weight > 0.0 { scaled } else { 1.0 - scaled };
            }
            Ok(score / total)
        })
        .collect()
}

/// Which points no other point dominates (at least as good on every axis,
/// better on one). Each axis: the value and whether higher is better.
pub fn pareto_front(points: &[Vec<(f64, bool)>]) -> Vec<bool> {
    let better_or_equal = |a: &[(f64, bool)], b: &[(f64, bool)]| {
        a.iter().zip(b).all(|(&(x, up), &(y, _))| if up { x >= y } else { x <= y })
    };
    let strictly = |a: &[(f64, bool)], b: &[(f64, bool)]| {
        a.iter().zip(b).any(|(&(x, up), &(y, _))| if up { x > y } else { x < y })
    };
    points.iter().map(|p| !points.iter().any(|q| better_or_equal(q, p) && strictly(q, p))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn requirements_hold_or_say_why() {
        let small = values(&[
            ("commercial_use", Value::Text("allowed".into())),
            ("parameters", Value::Number(7e9)),
            ("license", Value::Text("Apache-2.0".into())),
        ]);
        let check = |text: &str| Requirement::parse(text).unwrap().check(&small);
        assert_eq!(check("commercial_use == \"allowed\""), Ok(()));
        assert_eq!(check("commercial_use == allowed"), Ok(()), "a bare word is text");
        assert_eq!(check("parameters <= 13e9"), Ok(()));
        assert_eq!(check("license in [\"MIT\", \"Apache-2.0\"]"), Ok(()));
        assert_eq!(check("parameters > 13e9").unwrap_err(), "parameters is 7000000000; required: parameters > 13e9");
        assert_eq!(
            check("p95_latency_ms <= 800").unwrap_err(),
            "p95_latency_ms is unknown, so `p95_latency_ms <= 800` cannot hold"
        );
        assert!(check("license >= 3").unwrap_err().contains("not a number"));
        assert!(Requirement::parse("license ~ MIT").is_err());
        assert!(Requirement::parse("license in MIT").unwrap_err().contains("takes a list"));
        assert!(Requirement::parse("license <= \"MIT\"").unwrap_err().contains("compares numbers"));
    }

    #[test]
    fn ranking_scales_each_criterion_and_respects_direction() {
        let numbers = vec![
            BTreeMap::from([("bleu".to_string(), 30.0), ("cost".to_string(), 1.0)]),
            BTreeMap::from([("bleu".to_string(), 40.0), ("cost".to_string(), 3.0)]),
            BTreeMap::from([("bleu".to_string(), 35.0)]),
        ];
        let ranked = rank(&numbers, &[("bleu".into(), 1.0), ("cost".into(), -1.0)]);
        assert_eq!(ranked[0], Ok(0.5));
        assert_eq!(ranked[1], Ok(0.5));
        assert_eq!(ranked[2], Err("cost is unknown".into()));
        let ranked = rank(&numbers, &[("bleu".into(), 3.0), ("cost".into(), -1.0)]);
        assert_eq!(ranked[1], Ok(0.75));
        assert_eq!(parse_weight("cost_per_1000=-0.5"), Ok(("cost_per_1000".into(), -0.5)));
        assert!(parse_weight("bleu").is_err());
    }

    #[test]
    fn the_front_keeps_what_nothing_beats() {
        // (quality up, latency down)
        let points = vec![
            vec![(40.0, true), (900.0, false)],
            vec![(35.0, true), (300.0, false)],
            vec![(30.0, true), (400.0, false)], // beaten by the second on both
            vec![(40.0, true), (900.0, false)], // equal to the first: neither beats the other
        ];
        assert_eq!(pareto_front(&points), [true, true, false, true]);
    }
}
