//! What every command that runs plugins does first: read the config, merge
//! it with the flags, and settle which plugins, with which exact bytes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use assay_pipeline::Schedule;
use assay_registry::lock::LockFile;
use assay_registry::resolve::{Mode, Origin, Resolved, Resolver};
use assay_registry::store::LocalStore;
use std::sync::Arc;

use assay_data::output::PluginSummary;
use assay_models::broker::Policy;
use assay_models::contract::Brokered;
use assay_models::{Broker, Budget, ResponseCache};
use assay_runtime::cache::{CacheKey, CacheKeyError};
use assay_runtime::host::PluginSpec;
use assay_runtime::{Compiler, ComponentCache, Determinism, Grant, Host, Kind, Limits};
use clap::Args;

use crate::config::{ConfigFile, PluginEntry, SharedOptions, config_json, set_value};

/// The local plugin store every command shares.
pub fn store() -> Result<LocalStore> {
    LocalStore::default_location().context("no cache directory for the plugin store: set ASSAY_CACHE_DIR or HOME")
}

/// The compiled-component cache: in `dir`, the default place, or none. A
/// cache key that cannot be used turns the cache off, with a warning.
pub fn cache(disabled: bool, dir: Option<PathBuf>) -> ComponentCache {
    let Some(dir) = dir.or_else(ComponentCache::default_dir).filter(|_| !disabled) else {
        return ComponentCache::disabled();
    };
    let key = CacheKey::default_path().ok_or(CacheKeyError::NoPlace).and_then(|path| CacheKey::load_or_create(&path));
    match key {
        Ok(key) => ComponentCache::new(dir, key),
        Err(error) => {
            let error = anyhow::Error::from(error);
            eprintln!("warning: {}; compiling without the cache", crate::text::terminal(&format!("{error:#}")));
            ComponentCache::disabled()
        }
    }
}

/// A host for commands that load one plugin at a time.
pub fn single_host(compiler: Compiler) -> Result<Host> {
    Ok(Host::with_compiler(&[], 1, cache(false, None), compiler)?)
}

/// The plugins a run used, from where the run says each came, each refused
/// unless its bytes are the ones the run recorded: what `assay compare` and
/// `assay merge` compute corpus metrics with.
pub fn reload_plugins(
    summaries: &[&PluginSummary],
    determinism: &Determinism,
) -> Result<(Host, Vec<assay_runtime::LoadedPlugin>)> {
    let mut specs = Vec::with_capacity(summaries.len());
    for summary in summaries {
        // A run records a built-in as `builtin:NAME`; the command line names it NAME.
        let source = summary.source.strip_prefix("builtin:").unwrap_or(&summary.source);
        let resolved = resolve_source(source)?;
        if resolved.sha256 != summary.sha256 {
            bail!(
                "plugin {:?}: {} now has sha256 {}, not {} as when the run scored with it; its corpus metrics \
                 cannot be recomputed",
                summary.name,
                summary.source,
                resolved.sha256,
                summary.sha256
            );
        }
        specs.push(resolved.spec(
            &summary.name,
            serde_json::to_string(&summary.config)?,
            summary.limits,
            summary.grants.clone(),
            Vec::new(),
        ));
    }
    // The run's compiler, so that a merged summary says which one counted
    // the fuel it sums (the shards of one run agree on it).
    let compiler = summaries.first().map(|summary| summary.compiler).unwrap_or_default();
    let host = Host::with_compiler(&specs, 1, cache(false, None), compiler)?;
    let mut plugins = host.prepare(&specs, Kind::Evaluator, determinism)?;
    // Which provider and model each alias stood for is the run's host's
    // knowledge ([models] of its config), not the plugin's: taken from what
    // the run recorded, in its order.
    for (plugin, summary) in plugins.iter_mut().zip(summaries) {
        for part in summary.signature.split('|') {
            if let Some((key, value)) = part.split_once(':').filter(|(key, _)| key.starts_with("models.")) {
                plugin.settings.push((key.to_string(), value.to_string()));
            }
        }
    }
    Ok((host, plugins))
}

/// A resolver for one command: the config's lock and trust policy, the
/// default local store.
pub fn resolver(config: &ConfigFile, lock: bool, mode: Mode) -> Result<Resolver<'_>> {
    let lock = match (&config.path, lock) {
        (Some(path), true) => {
            let lock_path = LockFile::path_for(path);
            let lock = LockFile::load(&lock_path)?;
            Some((lock_path, lock))
        }
        _ => None,
    };
    Ok(Resolver::new(store()?, lock, &config.trust, &config.base_dir, mode, config.registry)?)
}

/// Resolves one source given on the command line, with no lock or policy.
pub fn resolve_source(text: &str) -> Result<Resolved> {
    resolve_in(&ConfigFile::default(), text)
}

/// Resolves one plugin through `config`: a name of its `[plugins.NAME]`
/// takes that table's source, and the config's lock and trust policy apply.
pub fn resolve_in(config: &ConfigFile, text: &str) -> Result<Resolved> {
    let mut resolver = resolver(config, true, Mode::default())?;
    Ok(match config.plugins.get(text) {
        Some(entry) => {
            let source = entry.source.as_deref().unwrap_or(text);
            resolver.resolve(text, source, &config.base_dir, entry.limits.max_component_mib)?
        }
        None => resolver.resolve("", text, Path::new(""), Limits::default().max_component_mib)?,
    })
}

/// Everything a run command settles before any plugin is loaded.
pub struct Setup {
    pub config: ConfigFile,
    pub options: SharedOptions,
    pub specs: Vec<PluginSpec>,
    pub schedule: Schedule,
    pub cache: ComponentCache,
    /// The run's language models, when the config has any.
    pub models: Option<Arc<Broker>>,
}

impl Setup {
    /// Reads the config at `config_path`, merges `flags` over it, and
    /// settles the plugins `names` select (every configured one when empty),
    /// with `plugin_flags` (`--set`, `--grant`) applied.
    pub fn new(
        config_path: Option<&Path>,
        flags: SharedOptions,
        names: &[String],
        plugin_flags: &PluginFlags,
    ) -> Result<Setup> {
        let config = ConfigFile::load_or_default(config_path)?;
        let options = flags.over(config.shared.clone());
        let mode = Mode { locked: options.locked, offline: options.offline };
        let mut resolver = resolver(&config, true, mode)?;
        let mut plugins = select_plugins(names, &config, &mut resolver)?;
        for warning in &resolver.warnings {
            eprintln!("warning: {warning}");
        }
        drop(resolver);
        for set in &plugin_flags.sets {
            let (target, value) =
                set.split_once('=').ok_or_else(|| anyhow!("--set {set:?}: expected PLUGIN.KEY=VALUE"))?;
            let (plugin, key) =
                target.split_once('.').ok_or_else(|| anyhow!("--set {set:?}: expected PLUGIN.KEY=VALUE"))?;
            let (_, config) = named(&mut plugins, plugin)
                .ok_or_else(|| anyhow!("--set {set:?}: no plugin named {plugin:?} in this run"))?;
            set_value(config, key, value).map_err(|e| anyhow!("--set {set:?}: {e}"))?;
        }
        for grant in &plugin_flags.grants {
            let (plugin, dirs) = grant
                .split_once('=')
                .ok_or_else(|| anyhow!("--grant {grant:?}: expected PLUGIN=HOST_DIR:GUEST_PATH"))?;
            let (spec, _) = named(&mut plugins, plugin)
                .ok_or_else(|| anyhow!("--grant {grant:?}: no plugin named {plugin:?} in this run"))?;
            spec.grants.push(Grant::parse(dirs, Path::new("")).map_err(|e| anyhow!("--grant: {e}"))?);
        }
        for (spec, config) in &plugins {
            let name = if spec.name.is_empty() { spec.origin.as_str() } else { spec.name.as_str() };
            finite(config).map_err(|key| {
                anyhow!(
                    "plugin {name:?}: {key} is not a finite number; plugins receive JSON, which has no NaN or \
                     infinity (quote it to pass text)"
                )
            })?;
        }
        let specs = plugins
            .into_iter()
            .map(|(spec, config)| PluginSpec { config_json: config_json(&config), ..spec })
            .collect();
        let jobs = options.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let batch_size = options.batch_size.unwrap_or(64);
        if jobs == 0 || batch_size == 0 {
            bail!("jobs and batch_size must be at least 1 (-j, --batch-size, or [run] in {})", config.display_name());
        }
        let determinism = Determinism { seed: options.seed.unwrap_or(0), real_clock: options.real_clock };
        let cache = cache(options.no_cache, options.cache_dir.clone());
        let models = models(&config, &options)?;
        Ok(Setup { config, options, specs, schedule: Schedule { jobs, batch_size, determinism }, cache, models })
    }

    /// A host for this run's plugins and `workers` threads that hold instances.
    pub fn host(&self, workers: usize) -> Result<Host> {
        let compiler = self.options.compiler.unwrap_or_default();
        let mut host = Host::with_compiler(&self.specs, workers, self.cache.clone(), compiler)?;
        if self.options.verbose {
            host = host.with_log(Arc::new(PrintedLog));
        }
        Ok(match &self.models {
            Some(broker) => host.with_models(Arc::new(Brokered(broker.clone()))),
            None => host,
        })
    }

    /// Prints the warnings the model broker gathered (a request the cache
    /// made deterministic, an answer it could not keep).
    pub fn print_model_notes(&self) {
        for note in self.models.as_ref().map(|broker| broker.take_notes()).unwrap_or_default() {
            eprintln!("warning: {}", crate::text::terminal(&note));
        }
    }
}

/// Plugins' logs on stderr, for `-v`: each line after the plugin's name,
/// so that the lines of plugins run side by side can be told apart.
struct PrintedLog;

impl assay_runtime::PluginLog for PrintedLog {
    fn write(&self, plugin: &str, text: &str) {
        let mut lines = String::new();
        for line in text.lines() {
            lines.push_str(&format!("{plugin}| {}\n", crate::text::terminal(line)));
        }
        // One write per call, so two workers' lines do not interleave.
        eprint!("{lines}");
    }
}

/// The model cache's folder: `models` in the cache directory.
pub fn model_cache_dir(options: &SharedOptions) -> Option<PathBuf> {
    options.cache_dir.clone().or_else(ComponentCache::default_dir).map(|dir| dir.join("models"))
}

/// The broker for the config's `[models.NAME]` tables, after checking that
/// every plugin's grant names one of them.
pub fn models(config: &ConfigFile, options: &SharedOptions) -> Result<Option<Arc<Broker>>> {
    for (name, entry) in &config.plugins {
        if let Some(alias) = entry.models.iter().find(|alias| !config.models.contains_key(*alias)) {
            bail!(
                "{}: [plugins.{name}] models names {alias:?}, which no [models.{alias}] table configures",
                config.display_name()
            );
        }
    }
    if config.models.is_empty() {
        return Ok(None);
    }
    let mode = options.model_cache.unwrap_or_default();
    let policy = Policy {
        cache: model_cache_dir(options).map(ResponseCache::new),
        mode,
        replay: options.replay,
        budget: Budget {
            max_requests: options.max_model_requests,
            max_tokens: options.max_model_tokens,
            max_cost: options.max_cost,
        },
    };
    let broker = Broker::new(&config.models, policy).with_context(|| config.display_name())?;
    Ok(Some(broker))
}

/// Flags of `assay run` and `assay guard` that address one plugin of the run.
#[derive(Args, Default)]
pub struct PluginFlags {
    /// Set one plugin configuration value, such as rouge.stemmer=true.
    /// Repeatable.
    #[arg(long = "set", value_name = "PLUGIN.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Let one plugin read a directory, as `grants` in its config table
    /// does: PLUGIN=HOST_DIR:GUEST_PATH, such as facts=./facts:/data.
    /// Read-only. Repeatable.
    #[arg(long = "grant", value_name = "PLUGIN=HOST_DIR:GUEST_PATH")]
    pub grants: Vec<String>,
}

/// The plugin of the run that `name` addresses. A plugin given as a path
/// takes the name it gives itself, known only once it is loaded; until then
/// its file name (without .wasm) addresses it, as people type it.
fn named<'a>(plugins: &'a mut [(PluginSpec, toml::Table)], name: &str) -> Option<&'a mut (PluginSpec, toml::Table)> {
    plugins.iter_mut().find(|(spec, _)| {
        spec.name == name || (spec.name.is_empty() && Path::new(&spec.origin).file_stem().is_some_and(|s| s == name))
    })
}

/// The first key (dotted) of `config` holding a NaN or an infinity, which
/// JSON cannot carry.
fn finite(config: &toml::Table) -> Result<(), String> {
    fn check(value: &toml::Value, key: String) -> Result<(), String> {
        match value {
            toml::Value::Float(f) if !f.is_finite() => Err(key),
            toml::Value::Table(table) => table.iter().try_for_each(|(k, v)| check(v, format!("{key}.{k}"))),
            toml::Value::Array(items) => {
                items.iter().enumerate().try_for_each(|(i, v)| check(v, format!("{key}[{i}]")))
            }
            _ => Ok(()),
        }
    }
    config.iter().try_for_each(|(k, v)| check(v, k.clone()))
}

/// The plugins of a run, each with its configuration still as TOML (so
/// `--set` can change it): those named with `-e`, or every configured one,
/// with their sources resolved to exact bytes.
fn select_plugins(
    names: &[String],
    config: &ConfigFile,
    resolver: &mut Resolver,
) -> Result<Vec<(PluginSpec, toml::Table)>> {
    let from_config = |resolver: &mut Resolver, name: &str, entry: &PluginEntry| -> Result<(PluginSpec, toml::Table)> {
        let source = entry.source.as_deref().unwrap_or(name);
        let grants = entry
            .grants
            .iter()
            .map(|grant| Grant::parse(grant, &config.base_dir))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow!("[plugins.{name}] {e}"))?;
        let resolved = resolver.resolve(name, source, &config.base_dir, entry.limits.max_component_mib)?;
        let spec = resolved.spec(name, String::new(), entry.limits, grants, entry.models.clone());
        Ok((spec, entry.config.clone()))
    };
    if names.is_empty() {
        if config.plugins.is_empty() {
            bail!("no plugins to run: pass -e NAME (see `assay plugins`) or list [plugins.NAME] in a --config file");
        }
        return config.plugins.iter().map(|(name, entry)| from_config(resolver, name, entry)).collect();
    }
    let mut specs = Vec::new();
    for name in names {
        let spec = match config.plugins.get(name) {
            Some(entry) => from_config(resolver, name, entry)?,
            None => {
                let resolved = resolver.resolve("", name, Path::new(""), Limits::default().max_component_mib)?;
                // A component given by path or reference takes the name it
                // gives itself.
                let name = match &resolved.origin {
                    Origin::Builtin(name) => name.clone(),
                    Origin::Path(_) | Origin::Oci { .. } => String::new(),
                };
                let spec = resolved.spec(&name, String::new(), Limits::default(), Vec::new(), Vec::new());
                (spec, toml::Table::new())
            }
        };
        specs.push(spec);
    }
    Ok(specs)
}
