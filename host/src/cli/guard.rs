//! `assay guard`: screen user feedback with guard plugins.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Args;

use assay::config::ConfigFile;
use assay::dataset::{FeedbackFieldMap, Format};
use assay::guard::{BadFeedbackPolicy, Guard, GuardOptions};
use assay::plugin::Kind;
use assay::run::Host;

use super::gates::{CiArgs, OutputFormat};
use super::run::{apply_sets, cache, jobs, select_plugins, split_field};

#[derive(Args)]
pub struct GuardArgs {
    /// The feedback: JSON Lines (.jsonl) or CSV (.csv, .tsv).
    feedback: PathBuf,
    /// A guard to run: a built-in name, a name from the config, or a path to
    /// a .wasm component. Repeat for several. Default: every plugin in the config.
    #[arg(short = 'g', long = "guard", value_name = "NAME_OR_PATH")]
    guards: Vec<String>,
    /// A configuration file (assay.toml).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The folder for accepted/quarantined/rejected records, decisions.jsonl
    /// and summary.json. It is replaced as a whole.
    #[arg(short, long, value_name = "DIR")]
    out: PathBuf,
    /// Parsing threads; each guard runs on a thread of its own besides.
    /// Default: all cores. Results are identical for every value.
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// Set one guard configuration value, such as flood.max_per_user=10.
    #[arg(long = "set", value_name = "GUARD.KEY=VALUE")]
    sets: Vec<String>,
    /// Read a canonical field from another field name, such as user=author.
    #[arg(long = "field", value_name = "FIELD=NAME")]
    fields: Vec<String>,
    /// Input format, when the file name does not tell.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// What to do with a record that cannot be read.
    #[arg(long, value_enum, default_value = "quarantine")]
    on_bad_record: BadFeedbackPolicy,
    /// Records per guard call.
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// Seed of the guards' virtual randomness.
    #[arg(long)]
    seed: Option<u64>,
    /// Compile every plugin afresh instead of using the compiled-component cache.
    #[arg(long)]
    no_cache: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    ci: CiArgs,
}

pub fn guard(args: GuardArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let config = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let mut specs = select_plugins(&args.guards, &config)?;
    apply_sets(&mut specs, &args.sets)?;
    let mut fields = FeedbackFieldMap::default();
    for field in &args.fields {
        let (canonical, source) = split_field(field)?;
        fields.set(canonical, source).map_err(|e| anyhow!("--field {field:?}: {e}"))?;
    }
    let jobs = jobs(args.jobs, &config);
    let mut determinism = config.run.determinism();
    if let Some(seed) = args.seed {
        determinism.seed = seed;
    }
    let options = GuardOptions {
        jobs,
        batch_size: args.batch_size.unwrap_or(config.run.batch_size).max(1),
        on_bad_record: args.on_bad_record,
        determinism,
        progress: !args.quiet,
    };
    let cache = cache(args.no_cache, config.run.cache_dir.as_deref().map(|d| config.base_dir.join(d)));

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
    check_gate_names(args.config.as_deref(), &config, &guards)?;
    let format = args.format.or(config.dataset.format);
    let summary = assay::guard::screen(&host, &guards, &args.feedback, format, &fields, &options, &args.out)?;

    if !args.quiet && args.ci.output_format == OutputFormat::Table {
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
