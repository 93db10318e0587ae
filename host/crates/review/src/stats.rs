//! What `assay review stats` reports: how often each reviewer passed an
//! item, how much the reviewers agree (each pair, and all together), and
//! how well each automatic metric agrees with the human majority. Each
//! number says how many items it rests on.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::agreement::{self, Level, Weights};
use crate::verdicts::{Decision, Verdict};

/// A statistic and the number of items it rests on; `value` is `None`
/// where the statistic is undefined for those items.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub value: Option<f64>,
    pub items: usize,
}

/// One reviewer's share of passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewerRate {
    pub items: usize,
    pub pass_rate: f64,
}

/// Two reviewers' agreement on the items both judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairAgreement {
    pub reviewers: [String; 2],
    /// Cohen's kappa of their pass/fail verdicts.
    pub kappa: Measured,
    /// Cohen's kappa of their scores, linearly and quadratically weighted,
    /// when both gave scores.
    pub kappa_linear: Option<Measured>,
    pub kappa_quadratic: Option<Measured>,
}

/// Krippendorff's alpha of the verdicts, and of the scores when given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alphas {
    /// Pass/fail as nominal categories.
    pub nominal: Measured,
    pub ordinal: Option<Measured>,
    pub interval: Option<Measured>,
}

/// An automatic metric against the human majority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricAgreement {
    /// A metric value at or above this is a pass.
    pub threshold: f64,
    /// Of the items with a majority, the share where the metric's pass or
    /// fail equals it.
    pub accuracy: Measured,
    /// Cohen's kappa of the metric's pass/fail and the majority's.
    pub kappa: Measured,
    /// Rank correlations of the metric with the human score (the mean of
    /// the reviewers' scores, else the share who passed the item).
    pub spearman: Measured,
    pub kendall_tau_b: Measured,
}

/// Everything `assay review stats` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub items: usize,
    pub verdicts: usize,
    pub reviewers: BTreeMap<String, ReviewerRate>,
    /// Items whose reviewers split evenly have no majority.
    pub majority: MajorityRate,
    pub pairs: Vec<PairAgreement>,
    /// Over the items with the most common number of verdicts.
    pub fleiss_kappa: Measured,
    pub krippendorff_alpha: Alphas,
    pub metrics: BTreeMap<String, MetricAgreement>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MajorityRate {
    pub items: usize,
    pub pass_rate: Option<f64>,
    /// Items with as many passes as fails.
    pub ties: usize,
}

/// Per item, each reviewer's latest verdict (a reviewer who changed their
/// mind counts once, as they last decided).
pub fn latest(verdicts: &[Verdict]) -> BTreeMap<&str, BTreeMap<&str, &Verdict>> {
    let mut items: BTreeMap<&str, BTreeMap<&str, &Verdict>> = BTreeMap::new();
    for verdict in verdicts {
        let slot = items.entry(verdict.item.as_str()).or_default().entry(verdict.reviewer.as_str()).or_insert(verdict);
        if verdict.at >= slot.at {
            *slot = verdict;
        }
    }
    items
}

/// The decision of most of an item's reviewers (by reviewer, as
/// [`latest`] gives them), or `None` on a tie.
pub fn majority(by: &BTreeMap<&str, &Verdict>) -> Option<Decision> {
    let passes = by.values().filter(|v| v.verdict == Decision::Pass).count();
    match passes.cmp(&(by.len() - passes)) {
        std::cmp::Ordering::Greater => Some(Decision::Pass),
        std::cmp::Ordering::Less => Some(Decision::Fail),
        std::cmp::Ordering::Equal => None,
    }
}

pub(crate) fn pass(decision: Decision) -> f64 {
    f64::from(u8::from(decision == Decision::Pass))
}

/// The report for `verdicts`; `metrics` holds automatic metric values per
/// item (`item -> metric -> value`) and `thresholds` the pass threshold of
/// any metric that is not 0.5.
pub fn report(
    verdicts: &[Verdict],
    metrics: &BTreeMap<String, BTreeMap<String, f64>>,
    thresholds: &BTreeMap<String, f64>,
) -> Report {
    let items = latest(verdicts);
    let names: BTreeSet<&str> = items.values().flat_map(|by| by.keys().copied()).collect();

    let reviewers = names
        .iter()
        .map(|name| {
            let mine: Vec<f64> = items.values().filter_map(|by| by.get(name)).map(|v| pass(v.verdict)).collect();
            let rate = ReviewerRate { items: mine.len(), pass_rate: mine.iter().sum::<f64>() / mine.len() as f64 };
            (name.to_string(), rate)
        })
        .collect();

    let majority: BTreeMap<&str, Option<Decision>> = items.iter().map(|(item, by)| (*item, majority(by))).collect();
    let decided: Vec<Decision> = majority.values().flatten().copied().collect();
    let majority_rate = MajorityRate {
        items: decided.len(),
        pass_rate: (!decided.is_empty()).then(|| decided.iter().map(|d| pass(*d)).sum::<f64>() / decided.len() as f64),
        ties: majority.len() - decided.len(),
    };

    let mut pairs = Vec::new();
    let names: Vec<&str> = names.into_iter().collect();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            let both: Vec<(&Verdict, &Verdict)> =
                items.values().filter_map(|by| Some((*by.get(a)?, *by.get(b)?))).collect();
            let decisions: Vec<(Decision, Decision)> = both.iter().map(|(x, y)| (x.verdict, y.verdict)).collect();
            // Scores as integers when they are (a 1-5 scale), so labels sort as numbers.
            let scores: Vec<(i64, i64)> =
                both.iter().filter_map(|(x, y)| Some((whole(x.score?)?, whole(y.score?)?))).collect();
            let weighted = |weights| {
                (!scores.is_empty())
                    .then(|| Measured { value: agreement::cohen_kappa(&scores, weights), items: scores.len() })
            };
            pairs.push(PairAgreement {
                reviewers: [a.to_string(), b.to_string()],
                kappa: Measured { value: agreement::cohen_kappa(&decisions, Weights::Unweighted), items: both.len() },
                kappa_linear: weighted(Weights::Linear),
                kappa_quadratic: weighted(Weights::Quadratic),
            });
        }
    }

    // Fleiss needs the same number of ratings per item: the most common one.
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for by in items.values() {
        *counts.entry(by.len()).or_default() += 1;
    }
    let raters = counts.iter().max_by_key(|(n, count)| (**count, **n)).map_or(0, |(n, _)| *n);
    let fleiss_items: Vec<Vec<Decision>> =
        items.values().filter(|by| by.len() == raters).map(|by| by.values().map(|v| v.verdict).collect()).collect();
    let fleiss_kappa = Measured { value: agreement::fleiss_kappa(&fleiss_items), items: fleiss_items.len() };

    let pairable = |units: &[Vec<f64>]| units.iter().filter(|u| u.len() >= 2).count();
    let nominal: Vec<Vec<f64>> = items.values().map(|by| by.values().map(|v| pass(v.verdict)).collect()).collect();
    let scored: Vec<Vec<f64>> = items.values().map(|by| by.values().filter_map(|v| v.score).collect()).collect();
    let any_score = scored.iter().any(|u| !u.is_empty());
    let alpha = |units: &Vec<Vec<f64>>, level| Measured {
        value: agreement::krippendorff_alpha(units, level),
        items: pairable(units),
    };
    let krippendorff_alpha = Alphas {
        nominal: alpha(&nominal, Level::Nominal),
        ordinal: any_score.then(|| alpha(&scored, Level::Ordinal)),
        interval: any_score.then(|| alpha(&scored, Level::Interval)),
    };

    // The human score of an item: the mean score, else the share of passes.
    let human: BTreeMap<&str, f64> = items
        .iter()
        .map(|(item, by)| {
            let scores: Vec<f64> = by.values().filter_map(|v| v.score).collect();
            let value = if scores.is_empty() {
                by.values().map(|v| pass(v.verdict)).sum::<f64>() / by.len() as f64
            } else {
                scores.iter().sum::<f64>() / scores.len() as f64
            };
            (*item, value)
        })
        .collect();
    let metric_names: BTreeSet<&str> = metrics.values().flat_map(|m| m.keys().map(String::as_str)).collect();
    let metrics = metric_names
        .into_iter()
        .map(|name| {
            let threshold = thresholds.get(name).copied().unwrap_or(0.5);
            let value = |item: &str| metrics.get(item).and_then(|m| m.get(name)).copied();
            let judged: Vec<(Decision, Decision)> = majority
                .iter()
                .filter_map(|(item, decision)| {
                    let machine = if value(item)? >= threshold { Decision::Pass } else { Decision::Fail };
                    Some((machine, (*decision)?))
                })
                .collect();
            let same = judged.iter().filter(|(m, h)| m == h).count();
            let ranked: Vec<(f64, f64)> = human.iter().filter_map(|(item, h)| Some((value(item)?, *h))).collect();
            let agreement = MetricAgreement {
                threshold,
                accuracy: Measured {
                    value: (!judged.is_empty()).then(|| same as f64 / judged.len() as f64),
                    items: judged.len(),
                },
                kappa: Measured { value: agreement::cohen_kappa(&judged, Weights::Unweighted), items: judged.len() },
                spearman: Measured { value: agreement::spearman_rho(&ranked), items: ranked.len() },
                kendall_tau_b: Measured { value: agreement::kendall_tau_b(&ranked), items: ranked.len() },
            };
            (name.to_string(), agreement)
        })
        .collect();

    Report {
        items: items.len(),
        verdicts: verdicts.len(),
        reviewers,
        majority: majority_rate,
        pairs,
        fleiss_kappa,
        krippendorff_alpha,
        metrics,
    }
}

/// `score` as an integer label, when it is one.
fn whole(score: f64) -> Option<i64> {
    (score.fract() == 0.0 && score.abs() < 1e15).then_some(score as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(item: &str, reviewer: &str, decision: Decision, score: Option<f64>, at: &str) -> Verdict {
        Verdict {
            item: item.into(),
            reviewer: reviewer.into(),
            verdict: decision,
            score,
            tags: Vec::new(),
            comment: String::new(),
            at: at.into(),
        }
    }

    #[test]
    fn a_changed_mind_counts_once_and_ties_have_no_majority() {
        use Decision::{Fail, Pass};
        let verdicts = [
            verdict("1", "ayşe", Fail, Some(2.0), "2026-12-01T10:00:00Z"),
            verdict("1", "ayşe", Pass, Some(4.0), "2026-12-01T10:05:00Z"),
            verdict("1", "bora", Pass, Some(5.0), "2026-12-01T10:01:00Z"),
            verdict("2", "ayşe", Fail, Some(1.0), "2026-12-01T10:02:00Z"),
            verdict("2", "bora", Pass, Some(3.0), "2026-12-01T10:03:00Z"),
            verdict("3", "ayşe", Fail, Some(1.0), "2026-12-01T10:02:00Z"),
            verdict("3", "bora", Fail, Some(2.0), "2026-12-01T10:03:00Z"),
        ];
        let metrics: BTreeMap<String, BTreeMap<String, f64>> = [("1", 0.9), ("2", 0.8), ("3", 0.1)]
            .into_iter()
            .map(|(item, v)| (item.to_string(), BTreeMap::from([("judge/normalized".to_string(), v)])))
            .collect();
        let report = report(&verdicts, &metrics, &BTreeMap::new());
        assert_eq!((report.items, report.verdicts), (3, 7));
        assert_eq!(report.reviewers["ayşe"], ReviewerRate { items: 3, pass_rate: 1.0 / 3.0 });
        assert_eq!(report.majority, MajorityRate { items: 2, pass_rate: Some(0.5), ties: 1 });
        assert_eq!(report.pairs[0].kappa.items, 3);
        let judge = &report.metrics["judge/normalized"];
        assert_eq!(judge.accuracy, Measured { value: Some(1.0), items: 2 });
        assert_eq!(judge.spearman.items, 3);
        let rho = judge.spearman.value.unwrap();
        assert!((rho - 1.0).abs() < 1e-12, "human means 4.5, 2, 1.5 rank as 0.9, 0.8, 0.1: {rho}");
    }
}
