//! The `assay` command line.
//!
//! Exit codes: 0 success; 1 the run could not be done (bad input, bad
//! configuration, a plugin that cannot load); 2 usage error; 3 the run
//! finished but some samples or corpus metrics failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};

use assay::cache::ComponentCache;
use assay::config::{BadRecordPolicy, ConfigFile, PluginEntry, set_value};
use assay::dataset::Format;
use assay::plugin::{Kind, Level, Plugin};
use assay::run::{Host, Options, PluginSpec, Source};
use assay::sandbox::Limits;

/// Score model outputs and screen user feedback with sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(name = "assay", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run evaluator plugins over an eval set.
    Run(RunArgs),
    /// List the built-in plugins and their metrics.
    Plugins,
    /// Show what a plugin component is: its contract, metrics, imports, digest.
    Inspect(InspectArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The eval set: JSON Lines (.jsonl) or CSV (.csv, .tsv).
    eval_set: PathBuf,
    /// A plugin to run: a built-in name, a name from the config, or a path to
    /// a .wasm component. Repeat for several. Default: every plugin in the config.
    #[arg(short = 'e', long = "evaluator", value_name = "NAME_OR_PATH")]
    evaluators: Vec<String>,
    /// A configuration file (assay.toml).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where to write samples.jsonl and summary.json.
    #[arg(short, long, value_name = "DIR", default_value = "assay-out")]
    out: PathBuf,
    /// Worker threads. Default: all cores. Results are identical for every value.
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// Set one plugin configuration value, such as rouge.stemmer=true.
    #[arg(long = "set", value_name = "PLUGIN.KEY=VALUE")]
    sets: Vec<String>,
    /// Read a canonical field from another field name, such as output=prediction.
    #[arg(long = "field", value_name = "FIELD=NAME")]
    fields: Vec<String>,
    /// Input format, when the file name does not tell.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// What to do with a record that cannot be read.
    #[arg(long, value_enum)]
    on_bad_record: Option<BadRecordPolicy>,
    /// Samples per plugin call.
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// Seed of the plugins' virtual randomness.
    #[arg(long)]
    seed: Option<u64>,
    /// Compile every plugin afresh instead of using the compiled-component cache.
    #[arg(long)]
    no_cache: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
struct InspectArgs {
    /// A built-in plugin's name or a path to a .wasm component.
    plugin: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Plugins => plugins().map(|()| ExitCode::SUCCESS),
        Command::Inspect(args) => inspect(args).map(|()| ExitCode::SUCCESS),
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(1)
    })
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let config = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let mut specs = select_plugins(&args.evaluators, &config)?;
    for set in &args.sets {
        let (target, value) = set.split_once('=').ok_or_else(|| anyhow!("--set {set:?}: expected PLUGIN.KEY=VALUE"))?;
        let (plugin, key) = target.split_once('.').ok_or_else(|| anyhow!("--set {set:?}: expected PLUGIN.KEY=VALUE"))?;
        let spec = specs
            .iter_mut()
            .find(|s| s.name == plugin)
            .ok_or_else(|| anyhow!("--set {set:?}: no plugin named {plugin:?} in this run"))?;
        set_value(&mut spec.config, key, value).map_err(|e| anyhow!("--set {set:?}: {e}"))?;
    }
    let mut fields = config.dataset.fields.clone();
    for field in &args.fields {
        let (canonical, source) = field.split_once('=').ok_or_else(|| anyhow!("--field {field:?}: expected FIELD=NAME"))?;
        fields.set(canonical, source).map_err(|e| anyhow!("--field {field:?}: {e}"))?;
    }
    let jobs = args.jobs.or(config.run.jobs).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let mut determinism = config.run.determinism();
    if let Some(seed) = args.seed {
        determinism.seed = seed;
    }
    let options = Options {
        jobs,
        batch_size: args.batch_size.unwrap_or(config.run.batch_size).max(1),
        on_bad_record: args.on_bad_record.unwrap_or(config.run.on_bad_record),
        determinism,
        progress: !args.quiet,
    };
    let cache = cache(args.no_cache, config.run.cache_dir.as_deref().map(|d| config.base_dir.join(d)));

    let host = Host::new(&specs, jobs, cache)?;
    let plugins = host.prepare(&specs, Kind::Evaluator, &options.determinism)?;
    let format = args.format.or(config.dataset.format);
    let summary = assay::run::evaluate(&host, &plugins, &args.eval_set, format, &fields, &options, &args.out)?;

    if !args.quiet {
        println!("{}", assay::report::metrics_table(&summary));
        let counts = &summary.counts;
        println!(
            "{} samples, {} with errors, {} skipped; results in {}",
            counts.samples,
            counts.errors,
            counts.skipped,
            args.out.display()
        );
        for (plugin, kinds) in &summary.errors {
            let kinds: Vec<String> = kinds.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
            println!("  {plugin}: {}", kinds.join(", "));
        }
        for (plugin, error) in &summary.corpus_errors {
            println!("  {plugin}: corpus metrics failed: {}", error.message);
        }
    }
    Ok(if summary.has_errors() { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

/// The plugins of a run: those named with `-e`, or every configured one.
fn select_plugins(names: &[String], config: &ConfigFile) -> Result<Vec<PluginSpec>> {
    let from_config = |name: &str, entry: &PluginEntry| -> Result<PluginSpec> {
        let source = entry.source.as_deref().unwrap_or(name);
        Ok(PluginSpec {
            name: name.to_string(),
            source: resolve_source(source, &config.base_dir)?,
            config: entry.config.clone(),
            limits: entry.limits,
        })
    };
    if names.is_empty() {
        if config.plugins.is_empty() {
            bail!("no plugins to run: pass -e NAME (see `assay plugins`) or list [plugins.NAME] in a --config file");
        }
        return config.plugins.iter().map(|(name, entry)| from_config(name, entry)).collect();
    }
    let mut specs: Vec<PluginSpec> = Vec::new();
    for name in names {
        let spec = match config.plugins.get(name) {
            Some(entry) => from_config(name, entry)?,
            None => {
                let source = resolve_source(name, Path::new(""))?;
                // A component given by path takes the name it gives itself.
                let name = match &source {
                    Source::Builtin(name) => name.clone(),
                    Source::Path(_) => String::new(),
                };
                PluginSpec { name, source, config: toml::Table::new(), limits: Limits::default() }
            }
        };
        specs.push(spec);
    }
    Ok(specs)
}

/// A built-in name, or a path (relative to `base`) to a component.
fn resolve_source(text: &str, base: &Path) -> Result<Source> {
    let looks_like_path = text.contains('/') || text.ends_with(".wasm");
    if !looks_like_path {
        if assay::builtin::get(text).is_some() {
            return Ok(Source::Builtin(text.to_string()));
        }
        let names: Vec<&str> = assay::builtin::names().collect();
        bail!("no built-in plugin named {text:?} (built-ins: {}); a component path must end in .wasm", names.join(", "));
    }
    let path = base.join(text);
    if !path.is_file() {
        bail!("{}: no such plugin file", path.display());
    }
    Ok(Source::Path(path))
}

fn cache(disabled: bool, dir: Option<PathBuf>) -> ComponentCache {
    match (disabled, dir.or_else(ComponentCache::default_dir)) {
        (false, Some(dir)) => ComponentCache::new(dir),
        _ => ComponentCache::disabled(),
    }
}

fn plugins() -> Result<()> {
    let host = Host::new(&[], 1, cache(false, None))?;
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["plugin", "kind", "version", "metrics", "description"]);
    for name in assay::builtin::names() {
        let plugin = host.load(&Source::Builtin(name.to_string()), &Limits::default(), None)?;
        let metrics: Vec<&str> = plugin.metrics.iter().map(|m| m.name.as_str()).collect();
        table.add_row([name, &plugin.kind.to_string(), &plugin.info.version, &metrics.join(" "), &plugin.info.description]);
    }
    println!("{table}");
    Ok(())
}

fn inspect(args: InspectArgs) -> Result<()> {
    let source = resolve_source(&args.plugin, Path::new(""))?;
    let host = Host::new(&[], 1, cache(false, None))?;
    let plugin = host.load(&source, &Limits::default(), None).with_context(|| format!("inspecting {}", source.label()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inspection(&plugin))?);
        return Ok(());
    }
    println!("{} {} ({})", plugin.info.name, plugin.info.version, plugin.kind);
    println!("  {}", plugin.info.description);
    println!("contract  {}", plugin.contract());
    println!("source    {}", plugin.source);
    println!("size      {} bytes", plugin.size);
    println!("sha256    {}", plugin.sha256);
    if !plugin.metrics.is_empty() {
        println!("metrics");
        for metric in &plugin.metrics {
            let level = if metric.level == Level::Sample { "sample" } else { "corpus" };
            let direction = if metric.higher_is_better { "higher is better" } else { "lower is better" };
            println!("  {:<22} {level}, {direction}: {}", metric.name, metric.description);
        }
    }
    println!("imports");
    for import in &plugin.imports {
        println!("  {import}");
    }
    Ok(())
}

fn inspection(plugin: &Plugin) -> serde_json::Value {
    serde_json::json!({
        "name": plugin.info.name,
        "version": plugin.info.version,
        "description": plugin.info.description,
        "kind": plugin.kind,
        "contract": plugin.contract(),
        "source": plugin.source,
        "size": plugin.size,
        "sha256": plugin.sha256,
        "metrics": plugin.metrics,
        "imports": plugin.imports,
    })
}
