//! What every run command does after its run: check the gates and write the
//! files CI systems read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::{Args, ValueEnum};

use assay::gate::{Gates, Outcome};

/// Exit code of a run whose results are complete but miss a gate.
const GATE_FAILED: u8 = 4;

#[derive(Args)]
pub struct CiArgs {
    /// Write a JUnit XML file with one test case per gate.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also put one failed test case per failing sample in the JUnit file
    /// (for a guard run: per record not accepted).
    #[arg(long, requires = "junit")]
    junit_samples: bool,
    /// Write a Markdown summary (metrics, gates, counts) for a pull request or job summary.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// What to print on stdout: the table, or the summary and gate results as JSON.
    // Not `--format`: that flag already names the eval set's format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output_format: OutputFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// Fails before a run when a gate names nothing it will produce: one of
/// `counts`, or what `is_metric` accepts (`metrics` lists those).
pub fn check_names(config_path: Option<&Path>, gates: &Gates, counts: &[&str], metrics: &[String], is_metric: impl Fn(&str) -> bool) -> Result<()> {
    assay::gate::check_names(gates, counts, metrics, is_metric).map_err(|e| anyhow!("{}: {e}", config_path.unwrap_or(Path::new("config")).display()))
}

/// Checks the gates against a finished run, writes the requested files,
/// reports failing gates on stderr, and gives the exit code: a missed gate
/// is what CI acts on, so it wins over failed samples (`has_errors`).
pub fn finish(args: &CiArgs, gates: &Gates, summary: &impl serde::Serialize, has_errors: bool, out_dir: &Path, started: std::time::Instant) -> Result<ExitCode> {
    let summary = serde_json::to_value(summary)?;
    let outcomes = assay::gate::check(gates, &summary);
    if let Some(path) = &args.junit {
        let samples = if args.junit_samples {
            let guard_run = summary["kind"] == "guard";
            let path = out_dir.join(if guard_run { "decisions.jsonl" } else { "samples.jsonl" });
            let samples = if guard_run { assay::ci::held_records(&path) } else { assay::ci::failing_samples(&path, gates) };
            Some(samples.with_context(|| format!("reading {}", path.display()))?)
        } else {
            None
        };
        let xml = assay::ci::junit(&outcomes, samples.as_deref(), started.elapsed().as_secs_f64());
        write(path, &xml)?;
    }
    if let Some(path) = &args.markdown {
        write(path, &assay::ci::markdown(&summary, &outcomes))?;
    }
    if args.output_format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&assay::ci::json(&summary, &outcomes))?);
    }
    report_failures(&outcomes);
    Ok(if outcomes.iter().any(|o| !o.passed) {
        ExitCode::from(GATE_FAILED)
    } else if has_errors {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn report_failures(outcomes: &[Outcome]) {
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.passed).collect();
    if failed.is_empty() {
        return;
    }
    eprintln!("{} of {} gates failed:", failed.len(), outcomes.len());
    for outcome in failed {
        eprintln!("  FAIL {}", outcome.describe());
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
