//! What every run command does after its run: check the gates, write the
//! files CI systems read, and choose the exit code.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use assay_data::output::Summary;
use assay_pipeline::{Progress, RunError};

use crate::config::{CiOptions, ConfigFile, OutputFormat};
use crate::exit::Exit;
use crate::gate::{Gates, Outcome};

/// Fails before a run when a gate names nothing it will produce: one of
/// `counts`, or what `is_metric` accepts (`metrics` lists those).
pub fn check_gate_names(
    config: &ConfigFile,
    counts: &[&str],
    metrics: &[String],
    is_metric: impl Fn(&str) -> bool,
) -> Result<()> {
    crate::gate::check_names(&config.gates, counts, metrics, is_metric)
        .map_err(|e| anyhow!("{}: {e}", config.display_name()))
}

/// A run about to be done and reported.
pub struct Finish<'a> {
    pub ci: &'a CiOptions,
    pub gates: &'a Gates,
    pub out_dir: &'a Path,
    pub started: std::time::Instant,
    /// Print nothing but errors.
    pub quiet: bool,
    /// Plugins' logs go to stderr, where a progress bar would garble them.
    pub verbose: bool,
}

impl<'a> Finish<'a> {
    /// A run's finish as the run's options (`-q`, `-v`) ask.
    pub fn new(
        ci: &'a CiOptions,
        gates: &'a Gates,
        out_dir: &'a Path,
        started: std::time::Instant,
        options: &crate::config::SharedOptions,
    ) -> Self {
        Finish { ci, gates, out_dir, started, quiet: options.quiet, verbose: options.verbose }
    }

    /// Runs `work` over `input`, with a progress bar unless quiet or verbose, and
    /// reports what it found.
    pub fn run(&self, input: &Path, work: impl FnOnce(&dyn Progress) -> Result<Summary, RunError>) -> Result<ExitCode> {
        let summary = crate::table::with_progress(!self.quiet && !self.verbose, input, work)?;
        self.report(&summary)
    }

    /// Checks the gates, writes the requested files, reports failing gates
    /// on stderr, and gives the exit code: a missed gate is what CI acts on,
    /// so it wins over failed samples.
    pub fn report(&self, summary: &Summary) -> Result<ExitCode> {
        let output_format = self.ci.output_format.unwrap_or_default();
        if !self.quiet && output_format == OutputFormat::Table {
            crate::table::print(summary, self.out_dir);
        } else if self.quiet {
            // "Nothing but errors" still means the errors.
            for line in crate::table::failures(summary) {
                eprintln!("{line}");
            }
        }
        let outcomes = crate::gate::check(self.gates, summary);
        if let Some(path) = &self.ci.junit {
            let samples = if self.ci.junit_samples {
                let samples = match summary {
                    Summary::Guard(_) => crate::ci::held_records(&self.out_dir.join("decisions.jsonl")),
                    Summary::Evaluation(_) => {
                        crate::ci::failing_samples(&self.out_dir.join("samples.jsonl"), self.gates)
                    }
                };
                Some(samples?)
            } else {
                None
            };
            let xml = crate::ci::junit(&outcomes, samples.as_deref(), self.started.elapsed().as_secs_f64());
            write(path, &xml)?;
        }
        if let Some(path) = &self.ci.markdown {
            write(path, &crate::ci::markdown(summary, &outcomes))?;
        }
        if output_format == OutputFormat::Json {
            println!("{}", serde_json::to_string_pretty(&crate::ci::json(summary, &outcomes))?);
        }
        report_failures(&outcomes);
        Ok(if outcomes.iter().any(|o| !o.passed) {
            Exit::GateFailed
        } else if summary.has_errors() {
            Exit::Errors
        } else {
            Exit::Success
        }
        .into())
    }
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
