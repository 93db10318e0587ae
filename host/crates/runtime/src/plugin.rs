//! Loading plugin components: checked once, instantiated many times.
//!
//! Loading checks, before any plugin code runs, that a component is an Assay
//! plugin of a contract version this host speaks and that it imports nothing
//! the sandbox does not provide; then a throwaway instance says who the
//! plugin is and what it reports, and that answer is checked too.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker, types::ComponentItem};

use crate::cache::ComponentCache;
use crate::capability::{NOT_PROVIDED, capability};
use crate::contract::{self, ACCEPTED_VERSIONS, Scope, WIT_PACKAGE, since_v0_1};
use crate::digest::Digest;
use crate::engine::Sandbox;
use crate::failure::Failure;
use crate::instance::{EvaluatorInstance, GuardInstance, Instance as _, call_runtime, guard_scope};
use crate::limits::Limits;
use crate::wasi::{Determinism, Grant, StoreState};

/// Why a component could not be loaded, or a loaded plugin not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{source_name}: cannot read the component: {error}")]
    Read {
        source_name: String,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "{source_name}: the component is {size_mib} MiB, over the {limit_mib} MiB limit (limits.max_component_mib)"
    )]
    TooLarge { source_name: String, size_mib: u64, limit_mib: u64 },
    #[error("{source_name}: not a WebAssembly component")]
    Compile {
        source_name: String,
        #[source]
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A valid component that needs more than the engine gives any instance
    /// (memories, tables, table elements, core instances): see
    /// [`SandboxBounds`](crate::engine::SandboxBounds).
    #[error("{source_name}: needs more than the sandbox gives a plugin ({})", crate::engine::SandboxBounds)]
    SandboxLimit {
        source_name: String,
        #[source]
        error: Box<dyn std::error::Error + Send + Sync>,
    },
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
    #[error("{source_name}: is {} plugin, but was given where {} is expected", found.with_article(), expected.with_article())]
    WrongKind { source_name: String, found: Kind, expected: Kind },
    #[error("{source_name}: imports `{import}`, which the sandbox does not provide{hint}")]
    UnsupportedImport { source_name: String, import: String, hint: String },
    #[error("{source_name}: {call} failed: {failure}")]
    Setup {
        source_name: String,
        call: &'static str,
        #[source]
        failure: Failure,
    },
    #[error("{source_name}: {message}")]
    Invalid { source_name: String, message: String },
    /// An instance name that cannot key results, or a plugin that refused
    /// its configuration.
    #[error("plugin {name:?}: {message}")]
    Instance { name: String, message: String },
}

/// The two plugin kinds of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Evaluator,
    Guard,
}

impl Kind {
    /// "an evaluator", "a guard".
    pub fn with_article(self) -> &'static str {
        match self {
            Kind::Evaluator => "an evaluator",
            Kind::Guard => "a guard",
        }
    }
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
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub description: String,
}

/// Whether a metric has a value per sample or one for the whole corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricLevel {
    Sample,
    Corpus,
}

impl From<contract::Level> for MetricLevel {
    fn from(level: contract::Level) -> Self {
        match level {
            contract::Level::Sample => MetricLevel::Sample,
            contract::Level::Corpus => MetricLevel::Corpus,
        }
    }
}

/// A metric an evaluator declares.
#[derive(Debug, Clone, Serialize)]
pub struct MetricInfo {
    pub name: String,
    pub description: String,
    pub higher_is_better: bool,
    pub level: MetricLevel,
}

impl MetricInfo {
    /// Whether a corpus-level name returned by `finalize` is this metric or
    /// a member of its `*` family.
    /// Whether this declares a family (`f1[*]`), whose members `finalize` names.
    pub fn is_family(&self) -> bool {
        self.name.contains('*')
    }

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
    /// Where it came from, for messages: `builtin:NAME`, a path, a reference.
    pub origin: String,
    pub sha256: Digest,
    pub size: u64,
    pub kind: Kind,
    /// The contract version it targets, such as `0.1.0`.
    pub contract_version: String,
    pub info: Info,
    /// Declared metrics (evaluators only), sample-level first in declared order.
    pub metrics: Arc<[MetricInfo]>,
    /// What a guard's decisions depend on, when it says (it exports
    /// `guard-scope`, since contract 0.1.2). `None` for evaluators and for
    /// guards that do not say, which are taken to keep state across records.
    pub scope: Option<Scope>,
    /// Whether it is a guard that may take back decisions on earlier
    /// records (it exports `guard-recall`, since contract 0.1.3).
    pub recalls: bool,
    /// Whether it is a guard that may save and restore its state (it
    /// exports `guard-state`, since contract 0.1.4).
    pub saves: bool,
    /// Every interface the component imports.
    pub imports: Vec<String>,
    /// What compiled it (its fuel counts are that compiler's).
    pub compiler: crate::Compiler,
    pub(crate) pre: Pre,
}

pub(crate) enum Pre {
    Evaluator(since_v0_1::evaluator::EvaluatorPluginPre<StoreState>),
    Guard(since_v0_1::guard::GuardPluginPre<StoreState>),
}

impl Plugin {
    /// Checks and compiles a component whose digest is `sha256`. `origin`
    /// names it in errors.
    pub(crate) fn load(
        sandbox: &Sandbox,
        linker: &Linker<StoreState>,
        cache: &ComponentCache,
        origin: &str,
        (bytes, sha256): (&[u8], Digest),
        limits: &Limits,
        grants: &[Grant],
    ) -> Result<Plugin, LoadError> {
        let size = bytes.len() as u64;
        if size > limits.max_component_mib << 20 {
            return Err(LoadError::TooLarge {
                source_name: origin.into(),
                size_mib: size >> 20,
                limit_mib: limits.max_component_mib,
            });
        }
        let component =
            cache.load_or_compile(sandbox.engine(), bytes, &sha256).map_err(|error| compile_error(origin, error))?;

        let PluginExports { kind, export, contract_version, scoped, recalls, saves } =
            find_plugin_export(sandbox.engine(), &component, origin)?;
        if !contract::version_accepted(&contract_version) {
            return Err(LoadError::UnsupportedVersion {
                source_name: origin.into(),
                export,
                host: env!("CARGO_PKG_VERSION"),
            });
        }
        let imports = component_imports(sandbox.engine(), &component);
        if let Some(import) = imports.iter().find(|i| capability(i).is_none()) {
            return Err(LoadError::UnsupportedImport {
                source_name: origin.into(),
                import: import.clone(),
                hint: NOT_PROVIDED.into(),
            });
        }

        let instance_pre = linker.instantiate_pre(&component).map_err(|e| LoadError::UnsupportedImport {
            source_name: origin.into(),
            import: format!("{e:#}"),
            hint: String::new(),
        })?;
        let invalid = |e: wasmtime::Error| LoadError::Invalid { source_name: origin.into(), message: format!("{e:#}") };
        let scope_pre = match kind {
            Kind::Guard if scoped => {
                Some(since_v0_1::scope::GuardScopePre::new(instance_pre.clone()).map_err(invalid)?)
            }
            _ => None,
        };
        let pre = match kind {
            Kind::Evaluator => {
                Pre::Evaluator(since_v0_1::evaluator::EvaluatorPluginPre::new(instance_pre).map_err(invalid)?)
            }
            Kind::Guard => Pre::Guard(since_v0_1::guard::GuardPluginPre::new(instance_pre).map_err(invalid)?),
        };
        let mut plugin = Plugin {
            origin: origin.into(),
            sha256,
            size,
            kind,
            contract_version,
            info: Info { name: String::new(), version: String::new(), description: String::new() },
            metrics: Arc::from([]),
            scope: None,
            recalls: kind == Kind::Guard && recalls,
            saves: kind == Kind::Guard && saves,
            imports,
            compiler: sandbox.compiler(),
            pre,
        };
        plugin.describe(sandbox, limits, grants, scope_pre.as_ref())?;
        Ok(plugin)
    }

    /// Asks a throwaway instance who the plugin is and what it reports. It
    /// sees the directories the plugin's other instances will see, so what
    /// a plugin says of itself may come from them (`assay dev`'s Python
    /// shell reads the author's code from one).
    /// A guard exporting `guard-scope` (`scope_pre`) is asked its scope too.
    fn describe(
        &mut self,
        sandbox: &Sandbox,
        limits: &Limits,
        grants: &[Grant],
        scope_pre: Option<&since_v0_1::scope::GuardScopePre<StoreState>>,
    ) -> Result<(), LoadError> {
        let setup = |call: &'static str| {
            let source_name = self.origin.clone();
            move |failure: Failure| LoadError::Setup { source_name, call, failure }
        };
        let runtime = call_runtime();
        let determinism = Determinism::default();
        let (info, metrics) = match self.kind {
            Kind::Evaluator => {
                let mut instance = runtime
                    .block_on(EvaluatorInstance::new(self, sandbox, limits, &determinism, grants, None))
                    .map_err(setup("instantiation"))?;
                runtime.block_on(instance.describe()).map_err(setup("describe"))?
            }
            Kind::Guard => {
                let mut instance = runtime
                    .block_on(GuardInstance::new(self, sandbox, limits, &determinism, grants, None))
                    .map_err(setup("instantiation"))?;
                let info = runtime.block_on(instance.describe()).map_err(setup("describe"))?;
                if let Some(pre) = scope_pre {
                    let scope = runtime.block_on(guard_scope(pre, sandbox, limits, grants));
                    self.scope = Some(scope.map_err(setup("scope"))?);
                }
                (info, Vec::new())
            }
        };
        crate::bounds::check_description(&info, &metrics)
            .map_err(|message| LoadError::Invalid { source_name: self.origin.clone(), message })?;
        let mut metrics = metrics;
        // Sample-level values arrive positionally, so their declared order
        // is kept; corpus metrics follow.
        metrics.sort_by_key(|m| m.level == MetricLevel::Corpus);
        self.info = info;
        self.metrics = metrics.into();
        Ok(())
    }

    /// The WIT interface it exports, such as `assay:plugin/evaluator@0.1.4`.
    pub fn contract(&self) -> String {
        format!("{WIT_PACKAGE}/{}@{}", self.kind, self.contract_version)
    }

    /// The WIT world it targets, such as `assay:plugin/evaluator-plugin@0.1.4`:
    /// the world a plugin author names to their bindings generator. The
    /// contract's worlds and interfaces share one versioned package. (A
    /// plugin that imports `model` targets the `model-` world of the same
    /// name; its imports say so.)
    pub fn world(&self) -> String {
        let extent = match (self.saves, self.recalls, self.scope.is_some()) {
            (true, _, _) => "saving-",
            (false, true, _) => "recalling-",
            (false, false, true) => "scoped-",
            (false, false, false) => "",
        };
        format!("{WIT_PACKAGE}/{extent}{}-plugin@{}", self.kind, self.contract_version)
    }

    /// Whether a run may be split across instances: only a guard that
    /// declared [`Scope::Record`] may be (evaluators always may: the
    /// contract gives them no state across batches).
    pub fn shardable(&self) -> bool {
        self.kind == Kind::Evaluator || self.scope == Some(Scope::Record)
    }

    /// The scope in words, for `assay inspect` and refusals: `record`,
    /// `run`, or `run (not declared)`.
    pub fn scope_text(&self) -> &'static str {
        match self.scope {
            Some(Scope::Record) => "record",
            Some(Scope::Run) => "run",
            None => "run (not declared)",
        }
    }

    /// The sample-level metrics, in the order `score` returns their values.
    pub fn sample_metrics(&self) -> impl Iterator<Item = &MetricInfo> {
        self.metrics.iter().filter(|m| m.level == MetricLevel::Sample)
    }

    /// The level of the metric (or family member) `name`, if declared.
    pub fn metric_level(&self, name: &str) -> Option<MetricLevel> {
        self.metrics.iter().find(|m| m.matches(name)).map(|m| m.level)
    }

    /// Fails unless this plugin is of the `expected` kind.
    pub fn expect_kind(&self, expected: Kind) -> Result<(), LoadError> {
        if self.kind == expected {
            Ok(())
        } else {
            Err(LoadError::WrongKind { source_name: self.origin.clone(), found: self.kind, expected })
        }
    }
}

/// Why a component did not compile. wasmtime checks it against the pooling
/// allocator's bounds after validating it, and says so only in words, all of
/// them "... exceeds the ... limit/maximum ..."; the hostile test component
/// with an oversized table notices if the words change.
fn compile_error(origin: &str, error: wasmtime::Error) -> LoadError {
    let over_bound = error.chain().any(|cause| {
        let text = cause.to_string();
        text.contains("exceeds the") && (text.contains("limit") || text.contains("maximum"))
    });
    let source_name = origin.into();
    let error = error.into();
    if over_bound { LoadError::SandboxLimit { source_name, error } } else { LoadError::Compile { source_name, error } }
}

/// What a component exports of the contract.
struct PluginExports {
    kind: Kind,
    /// The name of its `assay:plugin/{evaluator,guard}@V` export, and `V`.
    export: String,
    contract_version: String,
    /// Whether it also exports `guard-scope` (since 0.1.2).
    scoped: bool,
    /// Whether it also exports `guard-recall` (since 0.1.3).
    recalls: bool,
    /// Whether it also exports `guard-state` (since 0.1.4).
    saves: bool,
}

/// Finds the `assay:plugin/{evaluator,guard}@V` export of a component.
fn find_plugin_export(engine: &Engine, component: &Component, origin: &str) -> Result<PluginExports, LoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    fn interface_of(name: &str) -> Option<(&str, &str)> {
        let rest = name.strip_prefix(WIT_PACKAGE)?.strip_prefix('/')?;
        Some(rest.split_once('@').unwrap_or((rest, "")))
    }
    let exports_interface =
        |wanted: &str| exports.iter().any(|name| interface_of(name).is_some_and(|(interface, _)| interface == wanted));
    let (scoped, recalls, saves) =
        (exports_interface("guard-scope"), exports_interface("guard-recall"), exports_interface("guard-state"));
    for name in &exports {
        let Some((interface, version)) = interface_of(name) else { continue };
        let kind = match interface {
            "evaluator" => Kind::Evaluator,
            "guard" => Kind::Guard,
            _ => continue,
        };
        return Ok(PluginExports {
            kind,
            export: name.clone(),
            contract_version: version.to_string(),
            scoped,
            recalls,
            saves,
        });
    }
    let exports = if exports.is_empty() {
        "nothing".to_string()
    } else {
        exports.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")
    };
    Err(LoadError::NotAPlugin { source_name: origin.into(), exports })
}

/// Names of the interfaces (and functions) a component imports.
fn component_imports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .filter(|(_, item)| !matches!(item.ty, ComponentItem::Type(_)))
        .map(|(name, _)| name.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_larger_than_the_sandbox_is_refused_by_the_bound_it_passes() {
        let host = crate::Host::new(&[], 1, crate::ComponentCache::disabled()).unwrap();
        let load = |wat: &str| host.load("hostile.wasm", &wat::parse_str(wat).unwrap(), &Limits::default(), None);
        let table = r#"(component (core module (table 200000 funcref)))"#;
        let error = load(table).err().expect("a 200,000-element table is refused");
        assert!(matches!(error, LoadError::SandboxLimit { .. }), "{error}");
        let text = anyhow_like(&error);
        assert!(text.contains("100000 elements per table"), "{text}");
        assert!(text.contains("200000"), "the cause says what the component asked for: {text}");
        let garbage = load("(module)").err().expect("a core module is not a component");
        assert!(matches!(garbage, LoadError::Compile { .. }), "{garbage}");
    }

    /// The error and its causes, as the binary prints them.
    fn anyhow_like(error: &dyn std::error::Error) -> String {
        let mut text = error.to_string();
        let mut cause = error.source();
        while let Some(c) = cause {
            text.push_str(&format!(": {c}"));
            cause = c.source();
        }
        text
    }

    #[test]
    fn metric_families_match_members_only() {
        let family = MetricInfo {
            name: "f1[*]".into(),
            description: String::new(),
            higher_is_better: true,
            level: MetricLevel::Corpus,
        };
        assert!(family.matches("f1[cat]"));
        assert!(!family.matches("f1[]"));
        assert!(!family.matches("precision[cat]"));
        let plain = MetricInfo { name: "bleu".into(), ..family };
        assert!(plain.matches("bleu"));
        assert!(!plain.matches("bleu2"));
    }
}
