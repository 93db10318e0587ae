//! `assay guard`: screen user feedback with guard plugins.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use assay_data::FieldMap;
use assay_data::output::{Route, ScreeningCounts, Summary};
use assay_pipeline::{Guard, ScreenOptions};
use assay_runtime::Kind;
use clap::Args;

use super::finish::Finish;
use super::setup::{PluginFlags, Setup};
use crate::config::{CiOptions, GuardOptions, InputOptions, SharedOptions};

#[derive(Args)]
pub struct GuardArgs {
    /// The feedback: JSON Lines (.jsonl) or CSV (.csv, .tsv).
    feedback: PathBuf,
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
    #[command(flatten)]
    guard: GuardOptions,
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
    let setup = Setup::new(args.config.as_deref(), args.shared, &args.guards, &args.plugin_flags)?;
    let config = &setup.config;
    let options = args.guard.over(config.guard.clone());
    let input = args.input.over(config.input.clone());
    let ci = args.ci.over(config.ci.clone());
    let fields = input.field_map(FieldMap::feedback()).map_err(anyhow::Error::msg)?;
    let out =
        options.out.ok_or_else(|| anyhow!("name the output folder with -o DIR (or [guard] out in the config)"))?;
    let screen_options =
        ScreenOptions { schedule: setup.schedule, on_bad_record: options.on_bad_record.unwrap_or_default() };

    // Each guard holds one instance on a thread of its own, beside the parsers.
    let host = setup.host(setup.schedule.jobs + setup.specs.len())?;
    let guards: Vec<Guard> = host
        .prepare(&setup.specs, Kind::Guard, &setup.schedule.determinism)?
        .into_iter()
        .map(|loaded| {
            let on_failure = config.plugins.get(&loaded.name).and_then(|entry| entry.on_failure).unwrap_or_default();
            Guard { loaded, on_failure }
        })
        .collect();
    check_gate_names(&setup, &guards)?;
    let finish = Finish::new(&ci, &config.gates, &out, started, &setup.options);
    let code = finish.run(&args.feedback, |progress| {
        let summary = assay_pipeline::screen(
            &host,
            &guards,
            &args.feedback,
            input.format,
            &fields,
            &screen_options,
            &out,
            progress,
        );
        Ok(Summary::Guard(summary?))
    });
    setup.print_model_notes();
    code
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
