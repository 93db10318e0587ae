//! `assay run`: score an eval set with evaluator plugins.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use assay_data::FieldMap;
use assay_data::output::{EvaluationCounts, ShardTally, Summary};
use assay_pipeline::{EarlyStop, EvaluateOptions};
use assay_runtime::{Kind, LoadedPlugin};
use clap::Args;

use super::finish::Finish;
use super::setup::{PluginFlags, Setup};
use crate::config::{CiOptions, EvalOptions, InputOptions, ShardOptions, SharedOptions};

#[derive(Args)]
pub struct RunArgs {
    /// The eval set: JSON Lines (.jsonl) or CSV (.csv, .tsv).
    eval_set: PathBuf,
    /// A plugin to run: a built-in name, a name from the config, a path to a
    /// .wasm component, or oci://HOST/NAMESPACE/NAME:TAG (or @sha256:...).
    /// Repeat for several. Default: every plugin in the config.
    #[arg(short = 'e', long = "evaluator", value_name = "PLUGIN")]
    evaluators: Vec<String>,
    /// A configuration file (assay.toml); flags override it.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    plugin_flags: PluginFlags,
    #[command(flatten)]
    eval: EvalOptions,
    #[command(flatten)]
    shard: ShardOptions,
    #[command(flatten)]
    shared: SharedOptions,
    #[command(flatten)]
    input: InputOptions,
    #[command(flatten)]
    ci: CiOptions,
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let setup = Setup::new(args.config.as_deref(), args.shared, &args.evaluators, &args.plugin_flags)?;
    let config = &setup.config;
    let eval = args.eval.over(config.eval.clone());
    let sharding = args.shard.over(config.shard.clone());
    let input = args.input.over(config.input.clone());
    let ci = args.ci.over(config.ci.clone());
    let fields = input.field_map(FieldMap::samples()).map_err(anyhow::Error::msg)?;
    let options = evaluate_options(&setup, &eval, &sharding)?;
    let shard = sharding.shard()?;
    if shard.is_some() && options.early_stop.is_some() {
        bail!(
            "max_failure_rate is checked over the whole run, in input order, and a shard sees only its part: leave \
             it out of sharded runs"
        );
    }
    let out = eval.out.clone().unwrap_or_else(|| PathBuf::from("assay-out"));

    let host = setup.host(options.schedule.jobs)?;
    let plugins = host.prepare(&setup.specs, Kind::Evaluator, &options.schedule.determinism)?;
    check_gate_names(&setup, &plugins)?;
    if let Some(shard) = shard {
        let file =
            crate::table::with_progress(!setup.options.quiet && !setup.options.verbose, &args.eval_set, |progress| {
                assay_pipeline::evaluate_shard(
                    &host,
                    &plugins,
                    &args.eval_set,
                    input.format,
                    &fields,
                    &options,
                    shard,
                    &out,
                    progress,
                )
            })?;
        if !setup.options.quiet {
            let (start, end) = file.range;
            if let ShardTally::Evaluator { sums, .. } = &file.tally {
                println!(
                    "shard {shard}: {} samples ({} with errors, {} skipped) from bytes {start}..{end} of {}; written to {}",
                    sums.samples,
                    sums.samples_with_errors,
                    sums.skipped.len(),
                    args.eval_set.display(),
                    out.display()
                );
            }
            println!("merge the {} shards with `assay merge SHARD_DIR... -o OUT_DIR`", shard.count);
        }
        setup.print_model_notes();
        return Ok(ExitCode::SUCCESS);
    }
    let finish = Finish::new(&ci, &config.gates, &out, started, &setup.options);
    let code = finish.run(&args.eval_set, |progress| {
        let summary =
            assay_pipeline::evaluate(&host, &plugins, &args.eval_set, input.format, &fields, &options, &out, progress);
        Ok(Summary::Evaluation(summary?))
    });
    setup.print_model_notes();
    code
}

/// How the setup's evaluators score, from `[run]` and its flags; refuses
/// what applies to guards only.
pub fn evaluate_options(setup: &Setup, eval: &EvalOptions, sharding: &ShardOptions) -> Result<EvaluateOptions> {
    let config = &setup.config;
    if let Some(spec) = setup.specs.iter().find(|s| config.plugins.get(&s.name).is_some_and(|e| e.on_failure.is_some()))
    {
        bail!(
            "[plugins.{}] on_failure applies to guards (`assay guard`); an evaluator's failures are listed in its results",
            spec.name
        );
    }
    if eval.max_failure_rate.is_some_and(|rate| !(0.0..=1.0).contains(&rate)) {
        bail!("max_failure_rate must be between 0 and 1 (--max-failure-rate, or [run] in {})", config.display_name());
    }
    Ok(EvaluateOptions {
        schedule: setup.schedule,
        on_bad_record: eval.on_bad_record.unwrap_or_default(),
        early_stop: eval
            .max_failure_rate
            .map(|max_failure_rate| EarlyStop { max_failure_rate, min_samples: eval.min_samples.unwrap_or(100) }),
        allow_duplicate_ids: eval.allow_duplicate_ids,
        keep_statistics: eval.keep_statistics,
        block_bytes: sharding.block_bytes(config)?,
        resume: eval.resume,
        checkpoint_every: std::time::Duration::try_from_secs_f64(eval.checkpoint_seconds.unwrap_or(2.0))
            .map_err(|_| anyhow::anyhow!("checkpoint_seconds must be a number of seconds, 0 or more"))?,
    })
}

/// Fails before the run when a gate names no count and no metric of the
/// plugins being run.
pub(crate) fn check_gate_names(setup: &Setup, plugins: &[LoadedPlugin]) -> Result<()> {
    let metrics: Vec<String> =
        plugins.iter().flat_map(|p| p.plugin.metrics.iter().map(move |m| format!("{}/{}", p.name, m.name))).collect();
    let is_metric = |name: &str| {
        name.split_once('/').is_some_and(|(plugin, metric)| {
            plugins.iter().any(|p| p.name == plugin && p.plugin.metric_level(metric).is_some())
        })
    };
    let counts: Vec<&str> = EvaluationCounts::default().named().into_iter().map(|(name, _)| name).collect();
    super::finish::check_gate_names(&setup.config, &counts, &metrics, is_metric)
}
