//! `assay merge`: put the shards of a sharded run (`assay run --shard` or
//! `assay guard --shard`) together into the run's results, exactly those
//! one process would have written.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use assay_data::output::Summary;
use assay_pipeline::Shards;
use assay_runtime::Kind;
use clap::Args;

use super::finish::Finish;
use crate::config::{CiOptions, ConfigFile, SharedOptions};

#[derive(Args)]
pub struct MergeArgs {
    /// The shards' folders (each `assay run --shard K/N -o DIR`, or `assay
    /// guard --shard K/N -o DIR`): every shard of the run, each once, in any
    /// order.
    #[arg(required = true, value_name = "SHARD_DIR")]
    shards: Vec<PathBuf>,
    /// Where to write samples.jsonl and summary.json (a guard run's: its
    /// routed records, decisions.jsonl and summary.json, replacing the folder).
    #[arg(short, long, value_name = "DIR")]
    out: PathBuf,
    /// The eval set (or feedback), when it is not where the first shard read
    /// it (another machine's mount). Its bytes are checked against what each
    /// shard read.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// A configuration file whose [gates] and [ci] the merged run is checked against.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    ci: CiOptions,
}

pub fn merge(args: MergeArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let config = ConfigFile::load_or_default(args.config.as_deref())?;
    let ci = args.ci.over(config.ci.clone());
    let shards = Shards::read(&args.shards)?;
    let run = shards.run();
    let input = args.input.unwrap_or_else(|| shards.input_path());
    let shared = SharedOptions { quiet: args.quiet, ..SharedOptions::default() };
    let finish = Finish::new(&ci, &config.gates, &args.out, started, &shared);
    if run.kind == Kind::Guard {
        // Guards' decisions are in the shards already: no plugin is loaded.
        return finish.report(&Summary::Guard(assay_pipeline::merge_screening(&shards, &input, &args.out)?));
    }
    let summaries: Vec<_> = run.plugins.iter().collect();
    let (host, plugins) = super::setup::reload_plugins(&summaries, &run.determinism())?;
    for (plugin, recorded) in plugins.iter().zip(&run.plugins) {
        if plugin.signature() != recorded.signature {
            bail!(
                "plugin {:?} loads as {}, but the shards scored with {}: its numbers would not be comparable",
                plugin.name,
                plugin.signature(),
                recorded.signature
            );
        }
    }
    let summary = assay_pipeline::merge(&host, &plugins, &shards, &input, &args.out)?;
    finish.report(&Summary::Evaluation(summary))
}
