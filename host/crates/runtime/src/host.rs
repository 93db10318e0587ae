//! The engine, linker and compiled-component cache a process shares, and
//! the plugins it has loaded and configured for a run.

use std::borrow::Cow;
use std::sync::Arc;

use wasmtime::component::Linker;

use crate::cache::ComponentCache;
use crate::digest::Digest;
use crate::engine::{Compiler, EngineOptions, Sandbox};
use crate::instance::{EvaluatorInstance, GuardInstance, Instance as _, call_runtime};
use crate::limits::Limits;
use crate::models::{ModelAccess, ModelBroker};
use crate::plugin::{Kind, LoadError, Plugin};
use crate::wasi::{Determinism, Grant, StoreState};

/// A plugin instance to run: which component, under which name, how configured.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// The instance name; results are keyed `NAME/METRIC`. Empty means the
    /// name the plugin gives itself.
    pub name: String,
    /// Where the component came from, for messages and summaries.
    pub origin: String,
    /// The component's bytes, as resolved (and checked against any lock).
    pub component: Arc<Cow<'static, [u8]>>,
    /// Their sha256, computed once by whoever read them.
    pub sha256: Digest,
    /// The plugin's own configuration, as the JSON text it receives.
    pub config_json: String,
    pub limits: Limits,
    /// Directories the plugin may read.
    pub grants: Vec<Grant>,
    /// Model aliases the plugin may ask (`[plugins.NAME] models`).
    pub models: Vec<String>,
}

/// A plugin, loaded, checked and configured once for a run.
pub struct LoadedPlugin {
    /// The instance name results are keyed by.
    pub name: String,
    pub origin: String,
    pub plugin: Plugin,
    pub config_json: String,
    pub limits: Limits,
    pub grants: Vec<Grant>,
    pub models: Vec<String>,
    /// Effective settings the plugin reported, for signatures.
    pub settings: Vec<(String, String)>,
}

impl LoadedPlugin {
    /// `name|v:VERSION|sha256:DIGEST|key:value|...`, in the style of
    /// sacreBLEU's signatures: equal signatures mean comparable numbers.
    pub fn signature(&self) -> String {
        self.signature_with(&[])
    }

    /// The signature with settings that come from the data rather than the
    /// plugin, such as `nrefs`, put first as sacreBLEU does.
    pub fn signature_with(&self, data: &[(&str, &str)]) -> String {
        let info = &self.plugin.info;
        let mut signature = format!("{}|v:{}|sha256:{}", info.name, info.version, self.plugin.sha256.short(12));
        let settings = self.settings.iter().map(|(key, value)| (key.as_str(), value.as_str()));
        for (key, value) in data.iter().copied().chain(settings) {
            signature.push_str(&format!("|{key}:{value}"));
        }
        signature
    }
}

/// Why the WebAssembly engine could not start (an unsupported platform, too
/// little address space for the pooling allocator).
#[derive(Debug, thiserror::Error)]
#[error("cannot start the WebAssembly engine")]
pub struct EngineError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl From<wasmtime::Error> for EngineError {
    fn from(error: wasmtime::Error) -> Self {
        EngineError(error.into())
    }
}

/// The engine, linker and cache shared by every plugin of a process.
pub struct Host {
    sandbox: Sandbox,
    linker: Linker<StoreState>,
    cache: ComponentCache,
    /// Who answers plugins' model requests, when the run configures models.
    models: Option<Arc<dyn ModelBroker>>,
    /// Who reads what plugins print, when anyone does.
    log: Option<Arc<dyn PluginLog>>,
}

/// Where plugins' logs (their stdout and stderr) go, call by call, when
/// someone reads them: `assay run -v` prints them, `assay test` shows them
/// under each case. Without one, a log is read only by the error of a call
/// that fails.
pub trait PluginLog: Send + Sync {
    /// `text` is what the plugin instance `plugin` printed during one call.
    fn write(&self, plugin: &str, text: &str);
}

impl Host {
    /// A host sized for `specs` run by `jobs` workers.
    pub fn new(specs: &[PluginSpec], jobs: usize, cache: ComponentCache) -> Result<Host, EngineError> {
        Host::with_compiler(specs, jobs, cache, Compiler::default())
    }

    /// A host sized for `specs` run by `jobs` workers, compiling with `compiler`.
    pub fn with_compiler(
        specs: &[PluginSpec],
        jobs: usize,
        cache: ComponentCache,
        compiler: Compiler,
    ) -> Result<Host, EngineError> {
        let max_memory_mib = specs.iter().map(|s| s.limits.memory_mib).max().unwrap_or(Limits::default().memory_mib);
        // Each worker holds one instance per plugin; loading, finalizing and
        // replacing trapped instances need a few more.
        let max_instances = ((jobs + 2) * specs.len().max(1) * 2) as u32;
        let function_cache = cache.function_cache();
        let sandbox = Sandbox::new(EngineOptions { max_instances, max_memory_mib, function_cache, compiler })?;
        let linker = sandbox.linker()?;
        Ok(Host { sandbox, linker, cache, models: None, log: None })
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// This host's plugins ask their models through `broker`.
    pub fn with_models(mut self, broker: Arc<dyn ModelBroker>) -> Host {
        self.models = Some(broker);
        self
    }

    /// This host's plugins' logs go to `log`.
    pub fn with_log(mut self, log: Arc<dyn PluginLog>) -> Host {
        self.log = Some(log);
        self
    }

    /// Passes what `plugin` printed during one call to whoever reads logs.
    pub fn log(&self, plugin: &str, text: &str) {
        if let Some(log) = &self.log
            && !text.is_empty()
        {
            log.write(plugin, text);
        }
    }

    /// What each model was used for so far in this run; empty without models.
    pub fn model_usage(&self) -> std::collections::BTreeMap<String, crate::models::ModelUsage> {
        self.models.as_ref().map(|broker| broker.usage()).unwrap_or_default()
    }

    /// What an instance granted the aliases `grants` may ask; `None` when the
    /// run has no models, and every request then fails `not-granted`.
    pub fn model_access(&self, grants: &[String]) -> Option<ModelAccess> {
        let broker = self.models.clone()?;
        Some(ModelAccess { broker, grants: grants.into() })
    }

    /// Checks and compiles one component (`origin` names it in errors), and
    /// checks it is of the `expected` kind.
    pub fn load(
        &self,
        origin: &str,
        bytes: &[u8],
        limits: &Limits,
        expected: Option<Kind>,
    ) -> Result<Plugin, LoadError> {
        self.load_digested(origin, (bytes, Digest::of(bytes)), limits, &[], expected)
    }

    /// [`Host::load`] for a plugin that will be given `grants`: it sees them
    /// from its first call on, `describe` included.
    pub fn load_granted(
        &self,
        origin: &str,
        bytes: &[u8],
        limits: &Limits,
        grants: &[Grant],
    ) -> Result<Plugin, LoadError> {
        self.load_digested(origin, (bytes, Digest::of(bytes)), limits, grants, None)
    }

    fn load_digested(
        &self,
        origin: &str,
        component: (&[u8], Digest),
        limits: &Limits,
        grants: &[Grant],
        expected: Option<Kind>,
    ) -> Result<Plugin, LoadError> {
        let plugin = Plugin::load(&self.sandbox, &self.linker, &self.cache, origin, component, limits, grants)?;
        if let Some(kind) = expected {
            plugin.expect_kind(kind)?;
        }
        Ok(plugin)
    }

    /// Loads and configures every plugin of a run, failing on the first
    /// that cannot be used. Plugins are loaded side by side, one thread per
    /// core: each is read from the compiled cache (its tag checked over
    /// every byte) or compiled, then instantiated and configured, all of it
    /// independent of the others, and most of a warm start.
    pub fn prepare(
        &self,
        specs: &[PluginSpec],
        kind: Kind,
        determinism: &Determinism,
    ) -> Result<Vec<LoadedPlugin>, LoadError> {
        self.prepare_kinds(specs, Some(kind), determinism)
    }

    /// As [`Host::prepare`], for plugins of either kind, each taken as its
    /// component says (`assay serve` runs a config's guards and evaluators).
    pub fn prepare_any(&self, specs: &[PluginSpec], determinism: &Determinism) -> Result<Vec<LoadedPlugin>, LoadError> {
        self.prepare_kinds(specs, None, determinism)
    }

    fn prepare_kinds(
        &self,
        specs: &[PluginSpec],
        kind: Option<Kind>,
        determinism: &Determinism,
    ) -> Result<Vec<LoadedPlugin>, LoadError> {
        let mut loaded: Vec<LoadedPlugin> = Vec::with_capacity(specs.len());
        let sizes: Vec<usize> = specs.iter().map(|spec| spec.component.len()).collect();
        for plugin in on_cores(specs, &sizes, |spec| self.prepare_one(spec, kind, determinism)) {
            let plugin = plugin?;
            if loaded.iter().any(|l| l.name == plugin.name) {
                return Err(LoadError::Instance {
                    name: plugin.name,
                    message: "two plugins of this run have this name; give one another name in the config \
                              ([plugins.OTHER] source = ...)"
                        .into(),
                });
            }
            loaded.push(plugin);
        }
        Ok(loaded)
    }

    /// Loads and configures one plugin of a run.
    fn prepare_one(
        &self,
        spec: &PluginSpec,
        kind: Option<Kind>,
        determinism: &Determinism,
    ) -> Result<LoadedPlugin, LoadError> {
        let component = (&**spec.component, spec.sha256);
        let plugin = self.load_digested(&spec.origin, component, &spec.limits, &spec.grants, kind)?;
        let name = if spec.name.is_empty() { plugin.info.name.clone() } else { spec.name.clone() };
        if name.contains('/') || name.contains(char::is_whitespace) {
            let message = "an instance name must not contain `/` or spaces".into();
            return Err(LoadError::Instance { name, message });
        }
        let (limits, grants, config) = (&spec.limits, &spec.grants, spec.config_json.as_str());
        let models = || self.model_access(&spec.models);
        let settings = call_runtime()
            .block_on(async {
                match plugin.kind {
                    Kind::Evaluator => {
                        EvaluatorInstance::new(&plugin, &self.sandbox, limits, determinism, grants, models())
                            .await?
                            .configure(config)
                            .await
                    }
                    Kind::Guard => {
                        GuardInstance::new(&plugin, &self.sandbox, limits, determinism, grants, models())
                            .await?
                            .configure(config)
                            .await
                    }
                }
            })
            .map_err(|failure| LoadError::Instance { name: name.clone(), message: failure.to_string() })?;
        // A model alias is a name in one configuration: the signature
        // names the provider and model it stands for, so that scores
        // from two judges are never taken for comparable.
        let mut settings = settings;
        if let Some(broker) = &self.models {
            for alias in &spec.models {
                if let Some(identity) = broker.identity(alias) {
                    settings.push((format!("models.{alias}"), identity));
                }
            }
        }
        Ok(LoadedPlugin {
            name,
            origin: spec.origin.clone(),
            plugin,
            config_json: spec.config_json.clone(),
            limits: spec.limits,
            grants: spec.grants.clone(),
            models: spec.models.clone(),
            settings,
        })
    }
}

/// `f` of every item, in order, computed on up to one thread per core, the
/// items of largest `cost` first (so that no core is left with a large one
/// at the end while the others wait).
fn on_cores<T: Sync, R: Send>(items: &[T], cost: &[usize], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&index| std::cmp::Reverse(cost[index]));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let taken = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&index) = order.get(taken) else { return mine };
                        mine.push((index, f(&items[index])));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}
