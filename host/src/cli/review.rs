//! `assay review`: what people decided about a run's outputs, measured.
//!
//! `assay review stats VERDICTS [--run RUN_DIR]` reads a verdict file (the
//! format of `assay-review`'s `verdicts` module, as a spreadsheet or
//! another tool can write it) and reports each reviewer's pass rate, the
//! majority's, the reviewers' agreement (Cohen's kappa per pair, Fleiss'
//! kappa, Krippendorff's alpha) and, given the run the verdicts are about,
//! how well each of its automatic metrics agrees with the human majority.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

use assay_data::output::samples::id_text;
use assay_data::output::{SampleLine, read_json_lines};
use assay_review::stats::{self, Measured, Report};
use assay_review::verdicts;

#[derive(Args)]
pub struct ReviewArgs {
    #[command(subcommand)]
    command: ReviewCommand,
}

#[derive(Subcommand)]
enum ReviewCommand {
    /// Agreement among reviewers, and of each automatic metric with them.
    Stats(StatsArgs),
}

#[derive(Args)]
struct StatsArgs {
    /// A verdict file: one JSON object per line, {"item", "reviewer",
    /// "verdict": "pass"|"fail", "score", "tags", "comment", "at"}.
    verdicts: PathBuf,
    /// The run folder the verdicts are about: each item is a sample id of
    /// its samples.jsonl, and each sample-level metric is measured against
    /// the human majority.
    #[arg(long, value_name = "RUN_DIR")]
    run: Option<PathBuf>,
    /// A metric value at or above this is a pass (default 0.5), as
    /// METRIC=VALUE, such as judge/score=4. Repeatable.
    #[arg(long, value_name = "METRIC=VALUE")]
    threshold: Vec<String>,
    #[arg(long, value_enum, default_value_t = StatsFormat::Text)]
    format: StatsFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum StatsFormat {
    Text,
    Json,
}

pub fn review(args: ReviewArgs) -> Result<()> {
    match args.command {
        ReviewCommand::Stats(args) => review_stats(args),
    }
}

fn review_stats(args: StatsArgs) -> Result<()> {
    let verdicts = verdicts::read(&args.verdicts)?;
    let mut thresholds = BTreeMap::new();
    for text in &args.threshold {
        let (metric, value) = text.split_once('=').context(format!("--threshold {text:?}: expected METRIC=VALUE"))?;
        let value: f64 = value.trim().parse().context(format!("--threshold {text:?}: {value:?} is not a number"))?;
        thresholds.insert(metric.trim().to_string(), value);
    }
    let mut metrics: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    if let Some(run) = &args.run {
        let path = run.join("samples.jsonl");
        let lines: Vec<SampleLine> =
            read_json_lines(&path).with_context(|| format!("{} is not a run folder", run.display()))?;
        for line in lines {
            let scores = line.scores.0.into_iter().map(|(k, v)| (k.into_owned(), v)).collect();
            metrics.insert(id_text(&line.id), scores);
        }
        // A verdict about an item the run does not have is a mistake to
        // report, not a line to drop.
        let unknown: Vec<&str> =
            verdicts.iter().map(|v| v.item.as_str()).filter(|item| !metrics.contains_key(*item)).collect();
        if let Some(first) = unknown.first() {
            bail!(
                "{}: {} verdicts are about items that {} does not have (the first: {first:?}); an item is a sample id",
                args.verdicts.display(),
                unknown.len(),
                path.display()
            );
        }
        if let Some(metric) = thresholds.keys().find(|m| !metrics.values().any(|s| s.contains_key(*m))) {
            bail!("--threshold names {metric:?}, which no sample of {} has", path.display());
        }
    }
    let report = stats::report(&verdicts, &metrics, &thresholds);
    match args.format {
        StatsFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        StatsFormat::Text => print_report(&report),
    }
    Ok(())
}

fn shown(measured: &Measured) -> String {
    match measured.value {
        Some(value) => format!("{value:.3} (n={})", measured.items),
        None => format!("undefined (n={})", measured.items),
    }
}

fn print_report(report: &Report) {
    println!("{} verdicts on {} items", report.verdicts, report.items);
    let mut reviewers = crate::table::new(&["reviewer", "items", "pass rate"]);
    for (name, rate) in &report.reviewers {
        reviewers.add_row(vec![
            crate::text::terminal(name).into_owned(),
            rate.items.to_string(),
            format!("{:.3}", rate.pass_rate),
        ]);
    }
    let majority = &report.majority;
    let rate = majority.pass_rate.map_or("undefined".into(), |r| format!("{r:.3}"));
    reviewers.add_row(vec!["majority".into(), majority.items.to_string(), rate]);
    println!("{reviewers}");
    if majority.ties > 0 {
        println!("{} items have as many passes as fails: no majority", majority.ties);
    }

    let mut agreement = crate::table::new(&["agreement", "value"]);
    for pair in &report.pairs {
        let [a, b] = &pair.reviewers;
        let label = format!("Cohen's kappa {} / {}", crate::text::terminal(a), crate::text::terminal(b));
        agreement.add_row(vec![label.clone(), shown(&pair.kappa)]);
        if let (Some(linear), Some(quadratic)) = (&pair.kappa_linear, &pair.kappa_quadratic) {
            agreement.add_row(vec![format!("{label}, scores, linear"), shown(linear)]);
            agreement.add_row(vec![format!("{label}, scores, quadratic"), shown(quadratic)]);
        }
    }
    agreement.add_row(vec!["Fleiss' kappa".into(), shown(&report.fleiss_kappa)]);
    let alpha = &report.krippendorff_alpha;
    agreement.add_row(vec!["Krippendorff's alpha, nominal".into(), shown(&alpha.nominal)]);
    for (level, measured) in [("ordinal", &alpha.ordinal), ("interval", &alpha.interval)] {
        if let Some(measured) = measured {
            agreement.add_row(vec![format!("Krippendorff's alpha, scores, {level}"), shown(measured)]);
        }
    }
    println!("{agreement}");

    if !report.metrics.is_empty() {
        let mut metrics = crate::table::new(&["metric", "threshold", "accuracy", "kappa", "Spearman", "Kendall tau-b"]);
        for (name, m) in &report.metrics {
            metrics.add_row(vec![
                crate::text::terminal(name).into_owned(),
                m.threshold.to_string(),
                shown(&m.accuracy),
                shown(&m.kappa),
                shown(&m.spearman),
                shown(&m.kendall_tau_b),
            ]);
        }
        println!("against the human majority:\n{metrics}");
    }
}
