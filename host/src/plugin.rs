//! Loading plugin components and calling them safely.
//!
//! Loading checks, before any plugin code runs, that a component is an Assay
//! plugin of a contract version this host speaks and that it imports nothing
//! the sandbox does not provide. Calling goes through [`Instance`], which
//! applies the plugin's limits to every call and turns every way a call can
//! end into a [`Failure`].

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, types::ComponentItem};
use wasmtime::{Engine, Store};

use crate::cache::ComponentCache;
use crate::sandbox::{Determinism, Failure, Grant, Limits, Sandbox, StoreState, classify, deadline_ticks};

/// The WIT package this host implements.
pub const WIT_PACKAGE: &str = "assay:plugin";
/// The contract versions this host accepts, for messages.
pub const ACCEPTED_VERSIONS: &str = "0.1.x";

fn version_accepted(version: &str) -> bool {
    let mut parts = version.split('.');
    matches!((parts.next(), parts.next(), parts.next()), (Some("0"), Some("1"), Some(patch)) if !patch.is_empty())
}

/// Fuel granted to instantiation and `configure`, which run once per
/// instance: enough for a Python interpreter to start.
const SETUP_FUEL: u64 = 50_000_000_000;

/// Host-side bindings, generated from the same WIT the guests use.
pub mod bindings {
    pub mod evaluator {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "evaluator-plugin",
            exports: { default: async },
        });
    }
    pub mod guard {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "guard-plugin",
            exports: { default: async },
        });
    }
}

use bindings::evaluator::exports::assay::plugin::evaluator as wit_eval;
use bindings::guard::exports::assay::plugin::guard as wit_guard;

pub use wit_eval::{Level, Sample, Scores, Statistic};
pub use wit_guard::{Decision, Feedback, Instant, Rating, Verdict};

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{source_name}: cannot read the component: {error}")]
    Read { source_name: String, error: std::io::Error },
    #[error("{source_name}: the component is {size_mib} MiB, over the {limit_mib} MiB limit (limits.max_component_mib)")]
    TooLarge { source_name: String, size_mib: u64, limit_mib: u64 },
    #[error("{source_name}: not a WebAssembly component: {error}")]
    Compile { source_name: String, error: String },
    #[error(
        "{source_name}: not an Assay plugin: it exports {exports}, but a plugin exports \
         `{WIT_PACKAGE}/evaluator@{ACCEPTED_VERSIONS}` or `{WIT_PACKAGE}/guard@{ACCEPTED_VERSIONS}`"
    )]
    NotAPlugin { source_name: String, exports: String },
    #[error(
        "{source_name}: targets `{export}`, but this host (assay {host}) accepts \
         {WIT_PACKAGE} {ACCEPTED_VERSIONS}; rebuild the plugin against a supported version of the WIT package"
    )]
    UnsupportedVersion { source_name: String, export: String, host: &'static str },
    #[error("{source_name}: is a {found} plugin, but was given where a {expected} is expected")]
    WrongKind { source_name: String, found: Kind, expected: Kind },
    #[error("{source_name}: imports `{import}`, which the sandbox does not provide{hint}")]
    UnsupportedImport { source_name: String, import: String, hint: String },
    #[error("{source_name}: {call} failed: {failure}")]
    Setup { source_name: String, call: &'static str, failure: Failure },
    #[error("{source_name}: {message}")]
    Invalid { source_name: String, message: String },
}

/// The two plugin kinds of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Evaluator,
    Guard,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Evaluator => "evaluator",
            Kind::Guard => "guard",
        })
    }
}

/// Who a plugin says it is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub description: String,
}

/// A metric an evaluator declares.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MetricInfo {
    pub name: String,
    pub description: String,
    pub higher_is_better: bool,
    #[serde(serialize_with = "serialize_level")]
    pub level: Level,
}

fn serialize_level<S: serde::Serializer>(level: &Level, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match level {
        Level::Sample => "sample",
        Level::Corpus => "corpus",
    })
}

impl MetricInfo {
    /// Whether a corpus-level name returned by `finalize` is this metric or
    /// a member of its `*` family.
    pub fn matches(&self, name: &str) -> bool {
        match self.name.split_once('*') {
            None => self.name == name,
            Some((prefix, suffix)) => {
                name.len() > prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix)
            }
        }
    }
}

/// A compiled, checked component, ready to instantiate many times.
pub struct Plugin {
    /// Where it came from: `builtin:NAME` or a path.
    pub source: String,
    pub sha256: String,
    pub size: u64,
    pub kind: Kind,
    /// The contract version it targets, such as `0.1.0`.
    pub contract_version: String,
    pub info: Info,
    /// Declared metrics (evaluators only), sample-level first in declared order.
    pub metrics: Vec<MetricInfo>,
    /// Every interface the component imports.
    pub imports: Vec<String>,
    pre: Pre,
}

enum Pre {
    Evaluator(bindings::evaluator::EvaluatorPluginPre<StoreState>),
    Guard(bindings::guard::GuardPluginPre<StoreState>),
}

/// What the sandbox gives a plugin through an interface it imports, and the
/// configuration key, if any, that gives it more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Capability {
    /// What the plugin gets without any grant.
    pub default: &'static str,
    /// The configuration that grants more, when something can.
    pub grant: Option<&'static str>,
}

const fn provides(default: &'static str, grant: Option<&'static str>) -> Capability {
    Capability { default, grant }
}

const REAL_CLOCK: Option<&str> = Some("[run] real_clock = true (the run is then not reproducible)");

/// The interfaces a plugin may import, by name prefix: the WASI 0.2
/// interfaces that language toolchains link by default, and the contract's
/// types. Linking one grants nothing by itself. Sockets in particular are
/// linked, because Rust's std and componentize-py import them whether or not
/// a plugin opens a connection, but no configuration enables them: refusing
/// them would refuse most components for code they never run.
const PROVIDED_IMPORTS: &[(&str, Capability)] = &[
    ("wasi:cli/environment@0.2", provides("no environment variables, no arguments", None)),
    ("wasi:cli/exit@0.2", provides("exiting ends the call as a trap", None)),
    ("wasi:cli/stdin@0.2", provides("an empty input", None)),
    ("wasi:cli/stdout@0.2", provides("output that goes nowhere", None)),
    ("wasi:cli/stderr@0.2", provides("a log kept up to limits.max_log_bytes and quoted in the plugin's errors", None)),
    ("wasi:cli/terminal-", provides("no terminal", None)),
    ("wasi:io/", provides("streams and polling over what the other interfaces give", None)),
    ("wasi:clocks/wall-clock@0.2", provides("a clock stopped at 2000-01-01T00:00:00Z", REAL_CLOCK)),
    ("wasi:clocks/monotonic-clock@0.2", provides("a clock that never advances; sleeping waits, under the call's deadline", REAL_CLOCK)),
    (
        "wasi:filesystem/",
        provides("no files at all", Some("[plugins.NAME] grants = [\"HOST_DIR:GUEST_PATH\"] (read-only)")),
    ),
    ("wasi:random/", provides("numbers from [run] seed, reseeded before every call", None)),
    ("wasi:sockets/", provides("linked, every operation denied; no setting grants network access", None)),
    ("assay:plugin/types@0.1", provides("the contract's shared types", None)),
];

/// What the sandbox gives through `import`, or `None` when it does not
/// provide that interface (and refuses components that import it).
pub fn capability(import: &str) -> Option<Capability> {
    PROVIDED_IMPORTS.iter().find(|(prefix, _)| import.starts_with(prefix)).map(|(_, capability)| *capability)
}

/// Said of an interface the sandbox does not provide.
const NOT_PROVIDED: &str = "; no setting grants it: a plugin may import only the WASI 0.2 interfaces \
    (wasi:cli, wasi:clocks, wasi:filesystem, wasi:io, wasi:random, wasi:sockets) and assay:plugin/types; \
    `assay inspect` lists what each gives";

impl Plugin {
    /// Checks and compiles a component. `source_name` names it in errors.
    pub fn load(
        sandbox: &Sandbox,
        linker: &Linker<StoreState>,
        cache: &ComponentCache,
        source_name: &str,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<Plugin, LoadError> {
        let size = bytes.len() as u64;
        if size > limits.max_component_mib << 20 {
            return Err(LoadError::TooLarge {
                source_name: source_name.into(),
                size_mib: size >> 20,
                limit_mib: limits.max_component_mib,
            });
        }
        let sha256 = hex(&Sha256::digest(bytes));
        let component = cache
            .load_or_compile(sandbox.engine(), bytes, &sha256)
            .map_err(|e| LoadError::Compile { source_name: source_name.into(), error: format!("{e:#}") })?;

        let (kind, export, contract_version) = find_plugin_export(sandbox.engine(), &component, source_name)?;
        if !version_accepted(&contract_version) {
            return Err(LoadError::UnsupportedVersion {
                source_name: source_name.into(),
                export,
                host: env!("CARGO_PKG_VERSION"),
            });
        }
        let imports = component_imports(sandbox.engine(), &component);
        if let Some(import) = imports.iter().find(|i| capability(i).is_none()) {
            return Err(LoadError::UnsupportedImport {
                source_name: source_name.into(),
                import: import.clone(),
                hint: NOT_PROVIDED.into(),
            });
        }

        let instance_pre = linker.instantiate_pre(&component).map_err(|e| LoadError::UnsupportedImport {
            source_name: source_name.into(),
            import: format!("{e:#}"),
            hint: String::new(),
        })?;
        let invalid = |e: wasmtime::Error| LoadError::Invalid { source_name: source_name.into(), message: format!("{e:#}") };
        let pre = match kind {
            Kind::Evaluator => Pre::Evaluator(bindings::evaluator::EvaluatorPluginPre::new(instance_pre).map_err(invalid)?),
            Kind::Guard => Pre::Guard(bindings::guard::GuardPluginPre::new(instance_pre).map_err(invalid)?),
        };
        let mut plugin = Plugin {
            source: source_name.into(),
            sha256,
            size,
            kind,
            contract_version,
            info: Info { name: String::new(), version: String::new(), description: String::new() },
            metrics: Vec::new(),
            imports,
            pre,
        };
        plugin.describe(sandbox, limits)?;
        Ok(plugin)
    }

    /// Asks a throwaway instance who the plugin is and what it reports.
    fn describe(&mut self, sandbox: &Sandbox, limits: &Limits) -> Result<(), LoadError> {
        let setup = |call: &'static str| {
            let source_name = self.source.clone();
            move |failure: Failure| LoadError::Setup { source_name, call, failure }
        };
        let runtime = call_runtime();
        let mut instance = runtime.block_on(Instance::new(self, sandbox, limits, &Determinism::default(), &[])).map_err(setup("instantiation"))?;
        let (info, metrics) = runtime.block_on(instance.describe()).map_err(setup("describe"))?;
        let invalid = |message: String| LoadError::Invalid { source_name: self.source.clone(), message };
        if info.name.is_empty() || !info.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(invalid(format!("`describe` gave the name {:?}: use letters, digits, `_` and `-`", info.name)));
        }
        let mut seen = BTreeSet::new();
        for metric in &metrics {
            if metric.name.is_empty() || !seen.insert(metric.name.as_str()) {
                return Err(invalid(format!("metric name {:?} is empty or declared twice", metric.name)));
            }
            if metric.name.contains('*') && (metric.level == Level::Sample || metric.name.matches('*').count() > 1) {
                return Err(invalid(format!(
                    "metric {:?}: only corpus-level names may declare a family, with a single `*`",
                    metric.name
                )));
            }
        }
        let mut metrics = metrics;
        // Sample-level values arrive positionally, so their declared order
        // is kept; corpus metrics follow.
        metrics.sort_by_key(|m| m.level == Level::Corpus);
        self.info = info;
        self.metrics = metrics;
        Ok(())
    }

    /// The WIT interface it exports, such as `assay:plugin/evaluator@0.1.0`.
    pub fn contract(&self) -> String {
        format!("{WIT_PACKAGE}/{}@{}", self.kind, self.contract_version)
    }

    /// The WIT world it targets, such as `assay:plugin/evaluator-plugin@0.1.0`:
    /// the world a plugin author names to their bindings generator. The
    /// contract's worlds and interfaces share one versioned package.
    pub fn world(&self) -> String {
        format!("{WIT_PACKAGE}/{}-plugin@{}", self.kind, self.contract_version)
    }

    /// The sample-level metrics, in the order `score` returns their values.
    pub fn sample_metrics(&self) -> impl Iterator<Item = &MetricInfo> {
        self.metrics.iter().filter(|m| m.level == Level::Sample)
    }

    /// Fails unless this plugin is of the `expected` kind.
    pub fn expect_kind(&self, expected: Kind) -> Result<(), LoadError> {
        if self.kind == expected {
            Ok(())
        } else {
            Err(LoadError::WrongKind { source_name: self.source.clone(), found: self.kind, expected })
        }
    }
}

/// Finds the `assay:plugin/{evaluator,guard}@V` export of a component.
fn find_plugin_export(engine: &Engine, component: &Component, source_name: &str) -> Result<(Kind, String, String), LoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    for name in &exports {
        let Some(rest) = name.strip_prefix(WIT_PACKAGE).and_then(|r| r.strip_prefix('/')) else { continue };
        let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
        let kind = match interface {
            "evaluator" => Kind::Evaluator,
            "guard" => Kind::Guard,
            _ => continue,
        };
        return Ok((kind, name.clone(), version.to_string()));
    }
    let exports = if exports.is_empty() { "nothing".to_string() } else { exports.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ") };
    Err(LoadError::NotAPlugin { source_name: source_name.into(), exports })
}

/// Names of the interfaces (and functions) a component imports.
pub fn component_imports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .filter(|(_, item)| !matches!(item.ty, ComponentItem::Type(_)))
        .map(|(name, _)| name.to_string())
        .collect()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A runtime for driving plugin calls from a worker thread. Calls are async
/// only so that a deadline can interrupt a plugin blocked in a host call.
pub fn call_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("building a tokio runtime")
}

/// A live, configured plugin instance with its own store.
pub struct Instance {
    store: Store<StoreState>,
    bindings: Bindings,
    limits: Limits,
}

enum Bindings {
    Evaluator(bindings::evaluator::EvaluatorPlugin),
    Guard(bindings::guard::GuardPlugin),
}

/// Runs one guest call under the plugin's limits and types its failure.
async fn guarded<R>(
    store: &mut Store<StoreState>,
    limits: &Limits,
    fuel: u64,
    call_seed: u64,
    call: impl AsyncFnOnce(&mut Store<StoreState>) -> wasmtime::Result<R>,
) -> Result<R, Failure> {
    store.data_mut().reset_call(call_seed);
    store.set_fuel(fuel).expect("fuel is enabled");
    store.set_epoch_deadline(deadline_ticks(limits.timeout_ms));
    // The epoch deadline stops wasm code; this timeout also stops a plugin
    // parked in a host call. It fires a little later so that the epoch, which
    // says exactly what happened, normally wins.
    let grace = Duration::from_millis(limits.timeout_ms + 50);
    match tokio::time::timeout(grace, call(&mut *store)).await {
        Err(_elapsed) => Err(Failure::Timeout(limits.timeout_ms)),
        Ok(Err(error)) => Err(classify(&error, store.data(), limits, fuel)),
        Ok(Ok(value)) => Ok(value),
    }
}

/// A plugin's answer for one record: its value, or its own message.
pub type PerRecord<T> = Vec<Result<T, String>>;

impl Instance {
    /// Instantiates a plugin in a fresh store that can read the `grants` directories.
    pub async fn new(plugin: &Plugin, sandbox: &Sandbox, limits: &Limits, determinism: &Determinism, grants: &[Grant]) -> Result<Instance, Failure> {
        let mut store = sandbox.store(limits, determinism, grants)?;
        let bindings = match &plugin.pre {
            Pre::Evaluator(pre) => {
                Bindings::Evaluator(guarded(&mut store, limits, SETUP_FUEL, 0, async |s| pre.instantiate_async(s).await).await?)
            }
            Pre::Guard(pre) => Bindings::Guard(guarded(&mut store, limits, SETUP_FUEL, 0, async |s| pre.instantiate_async(s).await).await?),
        };
        Ok(Instance { store, bindings, limits: *limits })
    }

    /// Instantiates and configures; `config` is JSON text.
    pub async fn configured(
        plugin: &Plugin,
        sandbox: &Sandbox,
        limits: &Limits,
        determinism: &Determinism,
        grants: &[Grant],
        config: &str,
    ) -> Result<(Instance, Vec<(String, String)>), Failure> {
        let mut instance = Instance::new(plugin, sandbox, limits, determinism, grants).await?;
        let settings = instance.configure(config).await?;
        Ok((instance, settings))
    }

    async fn describe(&mut self) -> Result<(Info, Vec<MetricInfo>), Failure> {
        let limits = self.limits;
        match &self.bindings {
            Bindings::Evaluator(b) => {
                let api = b.assay_plugin_evaluator();
                let (info, metrics) = guarded(&mut self.store, &limits, SETUP_FUEL, 0, async |s| {
                    let info = api.call_describe(&mut *s).await?;
                    let metrics = api.call_metrics(&mut *s).await?;
                    Ok((info, metrics))
                })
                .await?;
                let metrics = metrics
                    .into_iter()
                    .map(|m| MetricInfo { name: m.name, description: m.description, higher_is_better: m.higher_is_better, level: m.level })
                    .collect();
                Ok((Info { name: info.name, version: info.version, description: info.description }, metrics))
            }
            Bindings::Guard(b) => {
                let api = b.assay_plugin_guard();
                let info = guarded(&mut self.store, &limits, SETUP_FUEL, 0, async |s| api.call_describe(s).await).await?;
                Ok((Info { name: info.name, version: info.version, description: info.description }, Vec::new()))
            }
        }
    }

    /// Passes the configuration; returns the effective settings.
    pub async fn configure(&mut self, config: &str) -> Result<Vec<(String, String)>, Failure> {
        let limits = self.limits;
        let result = match &self.bindings {
            Bindings::Evaluator(b) => {
                let api = b.assay_plugin_evaluator();
                guarded(&mut self.store, &limits, SETUP_FUEL, 0, async |s| api.call_configure(s, config).await)
                    .await?
                    .map(|settings| settings.into_iter().map(|s| (s.key, s.value)).collect())
            }
            Bindings::Guard(b) => {
                let api = b.assay_plugin_guard();
                guarded(&mut self.store, &limits, SETUP_FUEL, 0, async |s| api.call_configure(s, config).await)
                    .await?
                    .map(|settings| settings.into_iter().map(|s| (s.key, s.value)).collect())
            }
        };
        result.map_err(|message| Failure::PluginError(format!("rejected its configuration: {message}")))
    }

    /// Scores a batch of samples. `call_seed` must depend only on the
    /// batch's position in the input, never on which worker runs it.
    pub async fn score(&mut self, batch: &[Sample], call_seed: u64) -> Result<PerRecord<Scores>, Failure> {
        let limits = self.limits;
        let Bindings::Evaluator(b) = &self.bindings else { unreachable!("score called on a guard") };
        let api = b.assay_plugin_evaluator();
        let fuel = limits.fuel_per_sample.saturating_mul(batch.len().max(1) as u64);
        guarded(&mut self.store, &limits, fuel, call_seed, async |s| api.call_score(s, batch).await).await
    }

    /// Corpus-level metrics from summed statistics.
    pub async fn finalize(&mut self, statistics: &[Statistic]) -> Result<Result<Vec<(String, f64)>, String>, Failure> {
        let limits = self.limits;
        let Bindings::Evaluator(b) = &self.bindings else { unreachable!("finalize called on a guard") };
        let api = b.assay_plugin_evaluator();
        let result = guarded(&mut self.store, &limits, SETUP_FUEL, 0, async |s| api.call_finalize(s, statistics).await).await?;
        Ok(result.map(|scores| scores.into_iter().map(|c| (c.name, c.value)).collect()))
    }

    /// Screens a batch of feedback records.
    pub async fn screen(&mut self, batch: &[Feedback], call_seed: u64) -> Result<PerRecord<Decision>, Failure> {
        let limits = self.limits;
        let Bindings::Guard(b) = &self.bindings else { unreachable!("screen called on an evaluator") };
        let api = b.assay_plugin_guard();
        let fuel = limits.fuel_per_sample.saturating_mul(batch.len().max(1) as u64);
        guarded(&mut self.store, &limits, fuel, call_seed, async |s| api.call_screen(s, batch).await).await
    }

    /// Fuel the last call used, given the budget it had.
    pub fn fuel_used(&self, budget: u64) -> u64 {
        budget.saturating_sub(self.store.get_fuel().unwrap_or(0))
    }

    /// Fuel budget of a call on `records` records.
    pub fn call_fuel(&self, records: usize) -> u64 {
        self.limits.fuel_per_sample.saturating_mul(records.max(1) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_0_1_x() {
        assert!(version_accepted("0.1.0"));
        assert!(version_accepted("0.1.7"));
        assert!(!version_accepted("0.2.0"));
        assert!(!version_accepted("1.1.0"));
        assert!(!version_accepted(""));
    }

    #[test]
    fn metric_families_match_members_only() {
        let family = MetricInfo { name: "f1[*]".into(), description: String::new(), higher_is_better: true, level: Level::Corpus };
        assert!(family.matches("f1[cat]"));
        assert!(!family.matches("f1[]"));
        assert!(!family.matches("precision[cat]"));
        let plain = MetricInfo { name: "bleu".into(), ..family };
        assert!(plain.matches("bleu"));
        assert!(!plain.matches("bleu2"));
    }
}
