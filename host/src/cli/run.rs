//! `assay run`, and how the command line names plugins and their sources.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use clap::Args;

use assay::cache::ComponentCache;
use assay::config::{BadRecordPolicy, ConfigFile, PluginEntry, set_value};
use assay::dataset::Format;
use assay::lock::LockFile;
use assay::resolve::{Mode, Resolver};
use assay::plugin::Kind;
use assay::run::{Host, LoadedPlugin, Options, PluginSpec, Source};
use assay::sandbox::{Determinism, Grant, Limits};

use super::gates::{CiArgs, OutputFormat};

#[derive(Args)]
pub struct RunArgs {
    /// The eval set: JSON Lines (.jsonl) or CSV (.csv, .tsv).
    eval_set: PathBuf,
    /// A plugin to run: a built-in name, a name from the config, a path to a
    /// .wasm component, or oci://HOST/NAMESPACE/NAME:TAG (or @sha256:...).
    /// Repeat for several. Default: every plugin in the config.
    #[arg(short = 'e', long = "evaluator", value_name = "PLUGIN")]
    evaluators: Vec<String>,
    /// Where to write samples.jsonl and summary.json.
    #[arg(short, long, value_name = "DIR", default_value = "assay-out")]
    out: PathBuf,
    /// What to do with a record that cannot be read.
    #[arg(long, value_enum)]
    on_bad_record: Option<BadRecordPolicy>,
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    ci: CiArgs,
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let Setup { config, specs, jobs, batch_size, determinism, cache } = args.common.setup(&args.evaluators)?;
    if let Some(spec) = specs.iter().find(|s| config.plugins.get(&s.name).is_some_and(|e| e.on_failure.is_some())) {
        bail!("[plugins.{}] on_failure applies to guards (`assay guard`); an evaluator's failures are listed in its results", spec.name);
    }
    let mut fields = config.dataset.fields.clone();
    args.common.apply_fields(|canonical, source| fields.set(canonical, source))?;
    let options = Options {
        jobs,
        batch_size,
        on_bad_record: args.on_bad_record.unwrap_or(config.run.on_bad_record),
        determinism,
        progress: !args.common.quiet,
        early_stop: config.run.early_stop(),
    };

    let host = Host::new(&specs, jobs, cache)?;
    let plugins = host.prepare(&specs, Kind::Evaluator, &options.determinism)?;
    check_gate_names(args.common.config.as_deref(), &config, &plugins)?;
    let format = args.common.format.or(config.dataset.format);
    let summary = assay::run::evaluate(&host, &plugins, &args.eval_set, format, &fields, &options, &args.out)?;

    if !args.common.quiet && args.ci.output_format == OutputFormat::Table {
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
    super::gates::finish(&args.ci, &config.gates, &summary, summary.has_errors(), &args.out, started)
}

/// Fails before the run when a gate names no count and no metric of the
/// plugins being run.
fn check_gate_names(config_path: Option<&Path>, config: &ConfigFile, plugins: &[LoadedPlugin]) -> Result<()> {
    let metrics: Vec<String> = plugins.iter().flat_map(|p| p.plugin.metrics.iter().map(move |m| format!("{}/{}", p.spec.name, m.name))).collect();
    let is_metric = |name: &str| {
        name.split_once('/').is_some_and(|(plugin, metric)| {
            plugins.iter().any(|p| p.spec.name == plugin && p.plugin.metrics.iter().any(|m| m.matches(metric)))
        })
    };
    super::gates::check_names(config_path, &config.gates, &EVALUATION_COUNTS, &metrics, is_metric)
}

/// The `counts` of an evaluation summary, which gates may name.
const EVALUATION_COUNTS: [&str; 4] = ["records", "samples", "errors", "skipped"];

/// Splits a `--field FIELD=NAME` option.
pub fn split_field(field: &str) -> Result<(&str, &str)> {
    field.split_once('=').ok_or_else(|| anyhow!("--field {field:?}: expected FIELD=NAME"))
}

/// The options `assay run` and `assay guard` share: the config, how plugins
/// are set up and run, and how the input is read.
#[derive(Args)]
pub struct CommonArgs {
    /// A configuration file (assay.toml).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Worker threads. Default: all cores. Results are identical for every value.
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Set one plugin configuration value, such as rouge.stemmer=true.
    #[arg(long = "set", value_name = "PLUGIN.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Read a canonical field from another field name, such as output=prediction.
    #[arg(long = "field", value_name = "FIELD=NAME")]
    pub fields: Vec<String>,
    /// Input format, when the file name does not tell.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Records per plugin call.
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Seed of the plugins' virtual randomness.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Compile every plugin afresh instead of using the compiled-component cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Refuse to run any plugin whose bytes assay.lock does not pin, naming
    /// the plugin and both digests; re-check registry tags the lock pins.
    #[arg(long)]
    pub locked: bool,
    /// Use no network: registry plugins must be in the local store.
    #[arg(long)]
    pub offline: bool,
}

/// What the shared options come to, before any plugin is loaded.
pub struct Setup {
    pub config: ConfigFile,
    pub specs: Vec<PluginSpec>,
    pub jobs: usize,
    pub batch_size: usize,
    pub determinism: Determinism,
    pub cache: ComponentCache,
}

impl CommonArgs {
    /// Reads the config and settles the plugins `names` select (every
    /// configured one when empty), with `--set` applied.
    pub fn setup(&self, names: &[String]) -> Result<Setup> {
        let config = match &self.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        let mode = Mode { locked: self.locked, offline: self.offline };
        let mut resolver = resolver(self.config.as_deref(), &config, mode)?;
        let mut specs = select_plugins(names, &config, &mut resolver)?;
        for warning in &resolver.warnings {
            eprintln!("warning: {warning}");
        }
        for set in &self.sets {
            let (target, value) = set.split_once('=').ok_or_else(|| anyhow!("--set {set:?}: expected PLUGIN.KEY=VALUE"))?;
            let (plugin, key) = target.split_once('.').ok_or_else(|| anyhow!("--set {set:?}: expected PLUGIN.KEY=VALUE"))?;
            let spec = specs
                .iter_mut()
                .find(|s| s.name == plugin)
                .ok_or_else(|| anyhow!("--set {set:?}: no plugin named {plugin:?} in this run"))?;
            set_value(&mut spec.config, key, value).map_err(|e| anyhow!("--set {set:?}: {e}"))?;
        }
        let jobs = self.jobs.or(config.run.jobs).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
        let mut determinism = config.run.determinism();
        if let Some(seed) = self.seed {
            determinism.seed = seed;
        }
        let batch_size = self.batch_size.unwrap_or(config.run.batch_size).max(1);
        let cache = cache(self.no_cache, config.run.cache_dir.as_deref().map(|d| config.base_dir.join(d)));
        Ok(Setup { config, specs, jobs, batch_size, determinism, cache })
    }

    /// Passes each `--field FIELD=NAME` to `set`, the field map of the command.
    pub fn apply_fields(&self, mut set: impl FnMut(&str, &str) -> Result<(), String>) -> Result<()> {
        for field in &self.fields {
            let (canonical, source) = split_field(field)?;
            set(canonical, source).map_err(|e| anyhow!("--field {field:?}: {e}"))?;
        }
        Ok(())
    }
}

/// The plugins of a run: those named with `-e`, or every configured one,
/// with their sources resolved to exact bytes.
pub fn select_plugins(names: &[String], config: &ConfigFile, resolver: &mut Resolver) -> Result<Vec<PluginSpec>> {
    let from_config = |resolver: &mut Resolver, name: &str, entry: &PluginEntry| -> Result<PluginSpec> {
        let source = entry.source.as_deref().unwrap_or(name);
        Ok(PluginSpec {
            name: name.to_string(),
            source: resolver.resolve(name, source, &config.base_dir)?.source,
            config: entry.config.clone(),
            limits: entry.limits,
            grants: entry
                .grants
                .iter()
                .map(|grant| Grant::parse(grant, &config.base_dir))
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow!("[plugins.{name}] {e}"))?,
        })
    };
    if names.is_empty() {
        if config.plugins.is_empty() {
            bail!("no plugins to run: pass -e NAME (see `assay plugins`) or list [plugins.NAME] in a --config file");
        }
        return config.plugins.iter().map(|(name, entry)| from_config(resolver, name, entry)).collect();
    }
    let mut specs: Vec<PluginSpec> = Vec::new();
    for name in names {
        let spec = match config.plugins.get(name) {
            Some(entry) => from_config(resolver, name, entry)?,
            None => {
                let source = resolver.resolve("", name, Path::new(""))?.source;
                // A component given by path or reference takes the name it
                // gives itself.
                let name = match &source {
                    Source::Builtin(name) => name.clone(),
                    Source::Path(_) | Source::Oci { .. } => String::new(),
                };
                PluginSpec { name, source, config: toml::Table::new(), limits: Limits::default(), grants: Vec::new() }
            }
        };
        specs.push(spec);
    }
    Ok(specs)
}

/// A resolver for one command: the config's lock and trust policy, the
/// default local store.
pub fn resolver<'a>(config_path: Option<&Path>, config: &'a ConfigFile, mode: Mode) -> Result<Resolver<'a>> {
    let store = super::registry::store()?;
    let lock = match config_path {
        Some(path) => {
            let lock_path = LockFile::path_for(path);
            let lock = LockFile::load(&lock_path)?;
            Some((lock_path, lock))
        }
        None => None,
    };
    Ok(Resolver::new(store, lock, &config.trust, &config.base_dir, mode)?)
}

/// Resolves one source given on the command line, with no lock or policy.
pub fn resolve_source(text: &str) -> Result<Source> {
    let config = ConfigFile::default();
    let mut resolver = resolver(None, &config, Mode::default())?;
    Ok(resolver.resolve("", text, Path::new(""))?.source)
}

pub fn cache(disabled: bool, dir: Option<PathBuf>) -> ComponentCache {
    match (disabled, dir.or_else(ComponentCache::default_dir)) {
        (false, Some(dir)) => ComponentCache::new(dir),
        _ => ComponentCache::disabled(),
    }
}

