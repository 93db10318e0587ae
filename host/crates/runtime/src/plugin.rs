//! Loading plugin components: checked once, instantiated many times.
//!
//! Loading checks, before any plugin code runs, that a component is an Assay
//! plugin of a contract version this host speaks and that it imports nothing
//! the sandbox does not provide; then a throwaway instance says who the
//! plugin is and what it reports, and that answer is checked too.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker, types::ComponentItem};

use crate::cache::ComponentCache;
use crate::capability::{NOT_PROVIDED, capability};
use crate::contract::{self, ACCEPTED_VERSIONS, WIT_PACKAGE, since_v0_1};
use crate::digest::Digest;
use crate::engine::Sandbox;
use crate::failure::Failure;
use crate::instance::{EvaluatorInstance, GuardInstance, Instance as _, call_runtime};
use crate::limits::Limits;
use crate::wasi::{Determinism, StoreState};

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
    /// Every interface the component imports.
    pub imports: Vec<String>,
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
    ) -> Result<Plugin, LoadError> {
        let size = bytes.len() as u64;
        if size > limits.max_component_mib << 20 {
            return Err(LoadError::TooLarge {
                source_name: origin.into(),
                size_mib: size >> 20,
                limit_mib: limits.max_component_mib,
            });
        }
        let component = cache
            .load_or_compile(sandbox.engine(), bytes, &sha256)
            .map_err(|e| LoadError::Compile { source_name: origin.into(), error: format!("{e:#}") })?;

        let (kind, export, contract_version) = find_plugin_export(sandbox.engine(), &component, origin)?;
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
            imports,
            pre,
        };
        plugin.describe(sandbox, limits)?;
        Ok(plugin)
    }

    /// Asks a throwaway instance who the plugin is and what it reports.
    fn describe(&mut self, sandbox: &Sandbox, limits: &Limits) -> Result<(), LoadError> {
        let setup = |call: &'static str| {
            let source_name = self.origin.clone();
            move |failure: Failure| LoadError::Setup { source_name, call, failure }
        };
        let runtime = call_runtime();
        let determinism = Determinism::default();
        let (info, metrics) = match self.kind {
            Kind::Evaluator => {
                let mut instance = runtime
                    .block_on(EvaluatorInstance::new(self, sandbox, limits, &determinism, &[]))
                    .map_err(setup("instantiation"))?;
                runtime.block_on(instance.describe()).map_err(setup("describe"))?
            }
            Kind::Guard => {
                let mut instance = runtime
                    .block_on(GuardInstance::new(self, sandbox, limits, &determinism, &[]))
                    .map_err(setup("instantiation"))?;
                (runtime.block_on(instance.describe()).map_err(setup("describe"))?, Vec::new())
            }
        };
        check_description(&info, &metrics)
            .map_err(|message| LoadError::Invalid { source_name: self.origin.clone(), message })?;
        let mut metrics = metrics;
        // Sample-level values arrive positionally, so their declared order
        // is kept; corpus metrics follow.
        metrics.sort_by_key(|m| m.level == MetricLevel::Corpus);
        self.info = info;
        self.metrics = metrics.into();
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

/// The most metrics a plugin may declare; each is a column of every line of
/// `samples.jsonl` and a row of every table.
pub const MAX_METRICS: usize = 256;
/// The longest name of a plugin or a metric, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// The longest version, in bytes: it is in every metric's signature.
pub const MAX_VERSION_BYTES: usize = 64;
/// The longest description of a plugin or a metric, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;

/// Checks what `describe` and `metrics` said against the contract and the
/// host's bounds. Names become keys of result files and columns of tables, so
/// they are identifiers; everything a plugin says is bounded, because names
/// and versions are repeated on every line and in every signature.
fn check_description(info: &Info, metrics: &[MetricInfo]) -> Result<(), String> {
    let name_chars = |name: &str, extra: &str| name.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
    if info.name.is_empty() || info.name.len() > MAX_NAME_BYTES || !name_chars(&info.name, "_-") {
        return Err(format!(
            "`describe` gave the name {:?}: use 1 to {MAX_NAME_BYTES} letters, digits, `_` and `-`",
            crate::failure::clip(&info.name, MAX_NAME_BYTES)
        ));
    }
    if info.version.len() > MAX_VERSION_BYTES || info.version.chars().any(char::is_control) {
        return Err(format!(
            "`describe` gave a version of {} bytes or with control characters; the most is {MAX_VERSION_BYTES}",
            info.version.len()
        ));
    }
    if info.description.len() > MAX_DESCRIPTION_BYTES {
        return Err(format!(
            "`describe` gave a description of {} bytes; the most is {MAX_DESCRIPTION_BYTES}",
            info.description.len()
        ));
    }
    if metrics.len() > MAX_METRICS {
        return Err(format!("`metrics` declared {} metrics; the most is {MAX_METRICS}", metrics.len()));
    }
    let mut seen = BTreeSet::new();
    for metric in metrics {
        let name = crate::failure::clip(&metric.name, MAX_NAME_BYTES);
        if metric.name.is_empty() || metric.name.len() > MAX_NAME_BYTES || !name_chars(&metric.name, "_-.[]*") {
            return Err(format!(
                "metric name {name:?}: use 1 to {MAX_NAME_BYTES} letters, digits, `_`, `-`, `.`, `[`, `]` and `*`"
            ));
        }
        if !seen.insert(metric.name.as_str()) {
            return Err(format!("metric name {name:?} is declared twice"));
        }
        if metric.name.contains('*') && (metric.level == MetricLevel::Sample || metric.name.matches('*').count() > 1) {
            return Err(format!("metric {name:?}: only corpus-level names may declare a family, with a single `*`"));
        }
        if metric.description.len() > MAX_DESCRIPTION_BYTES {
            return Err(format!(
                "metric {name:?} has a description of {} bytes; the most is {MAX_DESCRIPTION_BYTES}",
                metric.description.len()
            ));
        }
    }
    Ok(())
}

/// Finds the `assay:plugin/{evaluator,guard}@V` export of a component.
fn find_plugin_export(
    engine: &Engine,
    component: &Component,
    origin: &str,
) -> Result<(Kind, String, String), LoadError> {
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
    fn descriptions_are_bounded_and_names_are_identifiers() {
        let info =
            |name: &str, version: &str| Info { name: name.into(), version: version.into(), description: String::new() };
        let metric = |name: &str, level| MetricInfo {
            name: name.into(),
            description: String::new(),
            higher_is_better: true,
            level,
        };
        let ok = info("rouge", "0.1.0");
        let fine = [
            metric("rougeL_f", MetricLevel::Sample),
            metric("f1[*]", MetricLevel::Corpus),
            metric("p.1", MetricLevel::Sample),
        ];
        assert_eq!(check_description(&ok, &fine), Ok(()));
        let refused = |info: &Info, metrics: &[MetricInfo]| check_description(info, metrics).unwrap_err();
        assert!(refused(&info("a b", "1"), &[]).contains("the name \"a b\""));
        assert!(refused(&info("p", &"9".repeat(65)), &[]).contains("version of 65 bytes"));
        assert!(refused(&info("p", "1\u{1b}[2J"), &[]).contains("control characters"));
        assert!(refused(&ok, &[metric("| forged\n## heading", MetricLevel::Sample)]).contains("letters, digits"));
        assert!(refused(&ok, &[metric(&"m".repeat(129), MetricLevel::Sample)]).contains("1 to 128"));
        assert!(refused(&ok, &[metric("f1[*]", MetricLevel::Sample)]).contains("family"));
        assert!(refused(&ok, &[metric("a", MetricLevel::Sample), metric("a", MetricLevel::Corpus)]).contains("twice"));
        let many: Vec<MetricInfo> = (0..257).map(|i| metric(&format!("m{i}"), MetricLevel::Sample)).collect();
        assert!(refused(&ok, &many).contains("declared 257 metrics"));
        let wordy = MetricInfo { description: "x".repeat(4097), ..metric("m", MetricLevel::Sample) };
        assert!(refused(&ok, &[wordy]).contains("description of 4097 bytes"));
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
