//! `assay run`: score an eval set with evaluator plugins.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use assay_data::output::{EvaluationCounts, Summary};
use assay_data::{DEFAULT_BLOCK_BYTES, FieldMap, Shard};
use assay_pipeline::{EarlyStop, EvaluateOptions};
use assay_runtime::{Kind, LoadedPlugin};
use clap::Args;

use super::finish::Finish;
use super::setup::{PluginFlags, Setup};
use crate::config::{CiOptions, EvalOptions, InputOptions, SharedOptions};

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
    if let Some(spec) = setup.specs.iter().find(|s| config.plugins.get(&s.name).is_some_and(|e| e.on_failure.is_some()))
    {
        bail!(
            "[plugins.{}] on_failure applies to guards (`assay guard`); an evaluator's failures are listed in its results",
            spec.name
        );
    }
    let eval = args.eval.over(config.eval.clone());
    let input = args.input.over(config.input.clone());
    let ci = args.ci.over(config.ci.clone());
    let fields = input.field_map(FieldMap::samples()).map_err(anyhow::Error::msg)?;
    if eval.max_failure_rate.is_some_and(|rate| !(0.0..=1.0).contains(&rate)) {
        bail!("max_failure_rate must be between 0 and 1 (--max-failure-rate, or [run] in {})", config.display_name());
    }
    let options = EvaluateOptions {
        schedule: setup.schedule,
        on_bad_record: eval.on_bad_record.unwrap_or_default(),
        early_stop: eval
            .max_failure_rate
            .map(|max_failure_rate| EarlyStop { max_failure_rate, min_samples: eval.min_samples.unwrap_or(100) }),
        allow_duplicate_ids: eval.allow_duplicate_ids,
        keep_statistics: eval.keep_statistics,
        block_bytes: eval.block_bytes.unwrap_or(DEFAULT_BLOCK_BYTES),
        resume: eval.resume,
        checkpoint_every: std::time::Duration::try_from_secs_f64(eval.checkpoint_seconds.unwrap_or(2.0))
            .map_err(|_| anyhow::anyhow!("checkpoint_seconds must be a number of seconds, 0 or more"))?,
    };
    if options.block_bytes == 0 {
        bail!("block_bytes must be at least 1 (--block-bytes, or [run] in {})", config.display_name());
    }
    let shard = match &eval.shard {
        Some(text) => Some(shard(text, eval.shards, &|name| std::env::var(name).ok())?),
        None => None,
    };
    if shard.is_some() && options.early_stop.is_some() {
        bail!(
            "max_failure_rate is checked over the whole run, in input order, and a shard sees only its part: leave \
             it out of sharded runs"
        );
    }
    let out = eval.out.unwrap_or_else(|| PathBuf::from("assay-out"));

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
            println!(
                "shard {shard}: {} samples ({} with errors, {} skipped) from bytes {start}..{end} of {}; written to {}",
                file.sums.samples,
                file.sums.samples_with_errors,
                file.sums.skipped.len(),
                args.eval_set.display(),
                out.display()
            );
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

/// The shard `text` names: `K/N`, or `auto` for the scheduler's, read from
/// the environment through `env`. Kubernetes gives a pod its index but not
/// the count, so that comes from `shards` or `ASSAY_SHARDS`.
fn shard(text: &str, shards: Option<u64>, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard> {
    if text != "auto" {
        return text.parse().map_err(anyhow::Error::msg);
    }
    let number = |name: &str| -> Result<Option<u64>> {
        env(name)
            .map(|value| value.trim().parse::<u64>().with_context(|| format!("${name} is {value:?}, not a number")))
            .transpose()
    };
    let (index, count) = if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        let count = match number("SLURM_ARRAY_TASK_COUNT")? {
            Some(count) => count,
            None => match number("SLURM_ARRAY_TASK_MAX")? {
                Some(max) => max.saturating_sub(min) / step + 1,
                None => bail!("--shard: Slurm gives SLURM_ARRAY_TASK_ID but neither SLURM_ARRAY_TASK_COUNT nor _MAX"),
            },
        };
        if let Some(shards) = shards.filter(|&n| n != count) {
            bail!("--shards {shards}, but the Slurm array has {count} tasks");
        }
        ((id.checked_sub(min).context("SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")?) / step, count)
    } else if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let count = match shards {
            Some(count) => count,
            None => number("ASSAY_SHARDS")?.context(
                "--shard: Kubernetes gives the pod's JOB_COMPLETION_INDEX but not the number of shards: pass \
                 --shards N or set ASSAY_SHARDS (the Job's completions)",
            )?,
        };
        (index, count)
    } else {
        bail!(
            "--shard without K/N takes the shard from the scheduler, but this is neither a Slurm array task \
             (SLURM_ARRAY_TASK_ID) nor a pod of a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)"
        );
    };
    format!("{index}/{count}").parse().map_err(|e: String| anyhow::anyhow!("--shard from the scheduler: {e}"))
}

/// Fails before the run when a gate names no count and no metric of the
/// plugins being run.
fn check_gate_names(setup: &Setup, plugins: &[LoadedPlugin]) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)], shards: Option<u64>) -> Result<Shard> {
        let vars: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        shard("auto", shards, &|name| vars.get(name).cloned())
    }

    #[test]
    fn shards_come_from_the_flag_or_the_scheduler() {
        assert_eq!(shard("1/3", None, &|_| None).unwrap(), Shard { index: 1, count: 3 });
        let slurm = [("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_MIN", "0"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        assert_eq!(from(&slurm, None).unwrap(), Shard { index: 2, count: 4 });
        // --array=1-7:2 runs tasks 1, 3, 5, 7.
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ];
        assert_eq!(from(&stepped, None).unwrap(), Shard { index: 2, count: 4 });
        assert!(from(&slurm, Some(5)).unwrap_err().to_string().contains("the Slurm array has 4 tasks"));
        let pod = [("JOB_COMPLETION_INDEX", "3")];
        assert_eq!(from(&pod, Some(8)).unwrap(), Shard { index: 3, count: 8 });
        assert_eq!(
            from(&[("JOB_COMPLETION_INDEX", "3"), ("ASSAY_SHARDS", "4")], None).unwrap(),
            Shard { index: 3, count: 4 }
        );
        assert!(from(&pod, None).unwrap_err().to_string().contains("--shards N or set ASSAY_SHARDS"));
        assert!(from(&pod, Some(3)).unwrap_err().to_string().contains("K from 0 to N-1"));
        assert!(from(&[], None).unwrap_err().to_string().contains("neither a Slurm array task"));
    }
}
