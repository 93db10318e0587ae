//! `assay guard`: screen user feedback with guard plugins.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use assay::config::ConfigFile;
use assay::dataset::FeedbackFieldMap;
use assay::guard::{BadFeedbackPolicy, Guard, GuardOptions};
use assay::plugin::Kind;
use assay::run::Host;

use super::gates::{CiArgs, OutputFormat};
use super::run::{CommonArgs, Setup};

#[derive(Args)]
pub struct GuardArgs {
    /// The feedback: JSON Lines (.jsonl) or CSV (.csv, .tsv).
    feedback: PathBuf,
    /// A guard to run: a built-in name, a name from the config, a path to a
    /// .wasm component, or oci://HOST/NAMESPACE/NAME:TAG (or @sha256:...).
    /// Repeat for several. Default: every plugin in the config.
    #[arg(short = 'g', long = "guard", value_name = "PLUGIN")]
    guards: Vec<String>,
    /// The folder for accepted/quarantined/rejected records, decisions.jsonl
    /// and summary.json. It is replaced as a whole.
    #[arg(short, long, value_name = "DIR")]
    out: PathBuf,
    /// What to do with a record that cannot be read.
    #[arg(long, value_enum, default_value = "quarantine")]
    on_bad_record: BadFeedbackPolicy,
    /// Options shared with `assay run`; `-j` sets the parsing threads, and
    /// each guard runs on a thread of its own besides.
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    ci: CiArgs,
}

pub fn guard(args: GuardArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let Setup { config, specs, jobs, batch_size, determinism, cache } = args.common.setup(&args.guards)?;
    let mut fields = FeedbackFieldMap::default();
    args.common.apply_fields(|canonical, source| fields.set(canonical, source))?;
    let options = GuardOptions { jobs, batch_size, on_bad_record: args.on_bad_record, determinism, progress: !args.common.quiet };

    // Each guard holds one instance on a thread of its own, beside the parsers.
    let host = Host::new(&specs, jobs + specs.len(), cache)?;
    let guards: Vec<Guard> = host
        .prepare(&specs, Kind::Guard, &options.determinism)?
        .into_iter()
        .map(|loaded| {
            let on_failure = config.plugins.get(&loaded.spec.name).and_then(|entry| entry.on_failure).unwrap_or_default();
            Guard { loaded, on_failure }
        })
        .collect();
    check_gate_names(args.common.config.as_deref(), &config, &guards)?;
    let format = args.common.format.or(config.dataset.format);
    let summary = assay::guard::screen(&host, &guards, &args.feedback, format, &fields, &options, &args.out)?;

    if !args.common.quiet && args.ci.output_format == OutputFormat::Table {
        println!("{}", assay::guard::table(&summary));
        let counts = &summary.counts;
        println!(
            "{} records: {} accepted, {} quarantined, {} rejected; {} unreadable, {} with guard errors; results in {}",
            counts.records,
            counts.accepted,
            counts.quarantined,
            counts.rejected,
            counts.bad_records,
            counts.guard_errors,
            args.out.display()
        );
    }
    super::gates::finish(&args.ci, &config.gates, &summary, summary.has_errors(), &args.out, started)
}

/// Fails before screening when a gate names no count of a guard run and no
/// `GUARD/accept|quarantine|reject` of the guards being run.
fn check_gate_names(config_path: Option<&Path>, config: &ConfigFile, guards: &[Guard]) -> Result<()> {
    const ROUTES: [&str; 3] = ["accept", "quarantine", "reject"];
    let per_guard: Vec<String> = guards.iter().flat_map(|g| ROUTES.iter().map(move |r| format!("{}/{r}", g.loaded.spec.name))).collect();
    let is_per_guard = |name: &str| per_guard.iter().any(|p| p == name);
    super::gates::check_names(config_path, &config.gates, &GUARD_COUNTS, &per_guard, is_per_guard)
}

/// The `counts` of a guard summary, which gates may name.
const GUARD_COUNTS: [&str; 6] = ["records", "accepted", "quarantined", "rejected", "bad_records", "guard_errors"];
