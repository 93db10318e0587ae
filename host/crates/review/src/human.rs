//! Verdicts as metrics: what people decided about a run's samples, in the
//! shape of the run's own `summary.json` metrics, so that `assay report`
//! shows them beside the automatic ones and `assay review stats` reports
//! them in the same form.
//!
//! `human/pass` is sample-level: 1 where most of an item's reviewers passed
//! it, 0 where most failed it, no value on a tie; its mean is the pass rate
//! by majority. `human/pass[REVIEWER]` is each reviewer's own, and
//! `human/score` the mean of the reviewers' scores where the review asks
//! for one.

use std::borrow::Cow;
use std::collections::BTreeMap;

use assay_data::output::samples::id_text;
use assay_data::output::{MetricSummary, Summary};
use assay_data::run::RunData;
use assay_runtime::{MetricInfo, MetricLevel};
use serde::{Deserialize, Serialize};

use crate::folder::{Item, Review};
use crate::stats::{self, pass};
use crate::verdicts::Verdict;

pub const MAJORITY: &str = "human/pass";
pub const SCORE: &str = "human/score";

/// The metric of one reviewer's own verdicts.
pub fn reviewer_metric(reviewer: &str) -> String {
    format!("{MAJORITY}[{reviewer}]")
}

/// The human metrics of one run, as `summary.json` holds metrics.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct HumanMetrics {
    pub metrics: BTreeMap<String, Option<f64>>,
    pub details: BTreeMap<String, MetricSummary>,
    /// Per sample id, each metric's value.
    #[serde(skip)]
    pub samples: BTreeMap<String, BTreeMap<String, f64>>,
}

/// The human metrics of each run a review's items come from, by run name.
pub fn metrics(review: &Review, items: &[Item], verdicts: &[Verdict]) -> BTreeMap<String, HumanMetrics> {
    let latest = stats::latest(verdicts);
    let mut runs: BTreeMap<String, HumanMetrics> = BTreeMap::new();
    for item in items {
        let Some(by) = latest.get(item.id.as_str()) else { continue };
        let mut values = BTreeMap::new();
        if let Some(decision) = stats::majority(by) {
            values.insert(MAJORITY.to_string(), pass(decision));
        }
        for (reviewer, verdict) in by {
            values.insert(reviewer_metric(reviewer), pass(verdict.verdict));
        }
        let scores: Vec<f64> = by.values().filter_map(|v| v.score).collect();
        if !scores.is_empty() {
            values.insert(SCORE.to_string(), scores.iter().sum::<f64>() / scores.len() as f64);
        }
        let run = runs.entry(item.run.clone()).or_default();
        run.samples.insert(item.run_id(review).to_string(), values);
    }
    for run in runs.values_mut() {
        let mut columns: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for values in run.samples.values() {
            for (name, value) in values {
                columns.entry(name.clone()).or_default().push(*value);
            }
        }
        for (name, mut values) in columns {
            let info = MetricInfo {
                description: describe(&name, &review.question.text),
                name: name.clone(),
                higher_is_better: true,
                level: MetricLevel::Sample,
            };
            let summary = MetricSummary::of_samples(&info, String::new(), &mut values);
            run.metrics.insert(name.clone(), summary.headline());
            run.details.insert(name, summary);
        }
    }
    runs
}

fn describe(name: &str, question: &str) -> String {
    match name {
        MAJORITY => format!("people's verdict by majority (1 pass, 0 fail) on \"{question}\""),
        SCORE => format!("people's mean score on \"{question}\""),
        reviewer => format!(
            "{}'s verdict (1 pass, 0 fail) on \"{question}\"",
            &reviewer[MAJORITY.len() + 1..reviewer.len() - 1]
        ),
    }
}

/// Adds `human` to an evaluation run as read back, so that it is shown as
/// the run's own metrics are; whether the run had any of its samples.
pub fn add_to_run(run: &mut RunData, human: &HumanMetrics) -> bool {
    let Summary::Evaluation(summary) = &mut run.summary else { return false };
    let mut matched = false;
    for sample in &mut run.samples {
        if let Some(values) = human.samples.get(&id_text(&sample.line.id)) {
            matched = true;
            sample.line.scores.0.extend(values.iter().map(|(k, v)| (Cow::Owned(k.clone()), *v)));
        }
    }
    if matched {
        summary.metrics.extend(human.metrics.iter().map(|(k, v)| (k.clone(), *v)));
        summary.details.extend(human.details.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    matched
}
