//! `assay guard`: screen user feedback with guard plugins.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use assay_data::FieldMap;
use assay_data::output::{Route, ScreeningCounts, ShardTally, Summary};
use assay_pipeline::{Guard, ScreenOptions, Screening};
use assay_runtime::Kind;
use clap::Args;

use super::finish::Finish;
use super::setup::{PluginFlags, Setup};
use crate::config::{CiOptions, GuardOptions, InputOptions, ShardOptions, SharedOptions};

/// Which guards run, and the config they come from: `assay guard` and
/// `assay serve` choose them alike.
#[derive(Args)]
pub struct GuardChoice {
    /// A guard to run: a built-in name, a name from the config, a path to a
    /// .wasm component, or oci://HOST/NAMESPACE/NAME:TAG (or @sha256:...).
    /// Repeat for several. Default: every plugin in the config.
    #[arg(short = 'g', long = "guard", value_name = "PLUGIN")]
    guards: Vec<String>,
    /// A configuration file (assay.toml); flags override it.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    plugin_flags: PluginFlags,
}

impl GuardChoice {
    /// The setup these guards run with.
    pub(crate) fn setup(&self, shared: SharedOptions) -> Result<Setup> {
        Setup::new(self.config.as_deref(), shared, &self.guards, &self.plugin_flags)
    }
}

#[derive(Args)]
pub struct GuardArgs {
    /// The feedback: JSON Lines (.jsonl) or CSV (.csv, .tsv).
    feedback: PathBuf,
    #[command(flatten)]
    choice: GuardChoice,
    #[command(flatten)]
    guard: GuardOptions,
    /// A shard may run only guards whose decisions depend on each record
    /// alone (`assay inspect` shows a guard's scope).
    #[command(flatten)]
    shard: ShardOptions,
    /// Options shared with `assay run`; `-j` sets the parsing threads, and
    /// each guard runs on a thread of its own besides.
    #[command(flatten)]
    shared: SharedOptions,
    #[command(flatten)]
    input: InputOptions,
    #[command(flatten)]
    ci: CiOptions,
}

pub fn guard(args: GuardArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let setup = args.choice.setup(args.shared)?;
    let config = &setup.config;
    let options = args.guard.over(config.guard.clone());
    let sharding = args.shard.over(config.shard.clone());
    let shard = sharding.shard()?;
    let input = args.input.over(config.input.clone());
    let ci = args.ci.over(config.ci.clone());
    let fields = input.field_map(FieldMap::feedback()).map_err(anyhow::Error::msg)?;
    let out = options
        .out
        .clone()
        .ok_or_else(|| anyhow!("name the output folder with -o DIR (or [guard] out in the config)"))?;
    let screen_options = screen_options(&setup, &options, &sharding)?;

    // Each guard holds one instance on a thread of its own, beside the parsers.
    let host = setup.host(setup.schedule.jobs + setup.specs.len())?;
    let guards = load_guards(&setup, &host)?;
    check_gate_names(&setup, &guards)?;
    let screening = Screening {
        host: &host,
        guards: &guards,
        input: &args.feedback,
        format: input.format,
        fields: &fields,
        options: &screen_options,
    };
    if let Some(shard) = shard {
        let quiet = setup.options.quiet;
        let file = crate::table::with_progress(!quiet && !setup.options.verbose, &args.feedback, |progress| {
            screening.screen_shard(shard, &out, progress)
        })?;
        if let (false, ShardTally::Guard(sums)) = (quiet, &file.tally) {
            let (start, end) = file.range;
            let counts = &sums.counts;
            println!(
                "shard {shard}: {} records ({} accepted, {} quarantined, {} rejected) from bytes {start}..{end} of \
                 {}; written to {}",
                counts.records,
                counts.accepted,
                counts.quarantined,
                counts.rejected,
                args.feedback.display(),
                out.display()
            );
            println!("merge the {} shards with `assay merge SHARD_DIR... -o OUT_DIR`", shard.count);
        }
        setup.print_model_notes();
        return Ok(ExitCode::SUCCESS);
    }
    let finish = Finish::new(&ci, &config.gates, &out, started, &setup.options);
    let code = finish.run(&args.feedback, |progress| Ok(Summary::Guard(screening.screen(&out, progress)?)));
    setup.print_model_notes();
    code
}

/// How the setup's guards screen, from `[guard]` and its flags.
pub fn screen_options(setup: &Setup, options: &GuardOptions, sharding: &ShardOptions) -> Result<ScreenOptions> {
    Ok(ScreenOptions {
        schedule: setup.schedule,
        on_bad_record: options.on_bad_record.unwrap_or_default(),
        block_bytes: sharding.block_bytes(&setup.config)?,
    })
}

/// The setup's guards, loaded, each with its failure policy from the config.
pub fn load_guards(setup: &Setup, host: &assay_runtime::Host) -> Result<Vec<Guard>> {
    let loaded = host.prepare(&setup.specs, Kind::Guard, &setup.schedule.determinism)?;
    Ok(guards_of(setup, loaded))
}

/// Loaded guards, each with its failure policy from the config.
pub(crate) fn guards_of(setup: &Setup, loaded: Vec<assay_runtime::LoadedPlugin>) -> Vec<Guard> {
    let config = &setup.config;
    loaded
        .into_iter()
        .map(|loaded| {
            let on_failure = config.plugins.get(&loaded.name).and_then(|entry| entry.on_failure).unwrap_or_default();
            Guard { loaded, on_failure }
        })
        .collect()
}

/// Fails before screening when a gate names no count of a guard run and no
/// `GUARD/accept|quarantine|reject` of the guards being run.
fn check_gate_names(setup: &Setup, guards: &[Guard]) -> Result<()> {
    let per_guard: Vec<String> =
        guards.iter().flat_map(|g| Route::ALL.iter().map(move |r| format!("{}/{}", g.loaded.name, r.name()))).collect();
    let is_per_guard = |name: &str| per_guard.iter().any(|p| p == name);
    let counts: Vec<&str> = ScreeningCounts::default().named().into_iter().map(|(name, _)| name).collect();
    super::finish::check_gate_names(&setup.config, &counts, &per_guard, is_per_guard)
}
