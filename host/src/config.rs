//! The `assay.toml` configuration file.
//!
//! ```toml
//! [run]
//! jobs = 4                  # worker threads (default: all cores)
//! batch_size = 64           # samples per plugin call
//! on_bad_record = "fail"    # or "skip"
//! seed = 0                  # seed of the plugins' virtual randomness
//! max_failure_rate = 0.5    # stop once a plugin fails on over half the samples
//! min_samples = 100         # ... checked after this many (default: no early stop)
//!
//! [dataset]
//! fields = { output = "prediction" }
//!
//! [plugins.rouge]           # the instance name used in results
//! source = "rouge"          # a built-in name, a path to a .wasm component, or oci://...
//! config = { stemmer = true }
//! limits = { timeout_ms = 5000 }
//!
//! [plugins.rouge_plain]     # the same plugin again, other settings
//! source = "rouge"
//!
//! [plugins.facts]           # a feedback guard (`assay guard`)
//! grants = ["./facts:/data"]  # read-only: HOST_DIR (relative to this file):GUEST_PATH
//! on_failure = "accept"     # when the guard fails on a record; default "quarantine"
//!
//! [gates]                   # checked after the run; exit code 4 if one fails
//! "rouge/rougeL_f" = ">= 0.3"
//! "errors" = "== 0"
//!
//! [plugins.team_metric]     # from an OCI registry; pinned by assay.lock
//! source = "oci://registry.example.com/nlp/team-metric:1.0"
//!
//! [trust]                   # see the `trust` module
//! require_signatures = true
//! keys.nlp = { public_key = "keys/nlp.pub", repositories = ["registry.example.com/nlp"] }
//! ```

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

use crate::dataset::{FieldMap, Format};
use crate::run::EarlyStop;
use crate::sandbox::{Determinism, Limits};

/// A parsed configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    pub run: RunSettings,
    pub dataset: DatasetSettings,
    /// Plugin instances by name, in the order written.
    pub plugins: IndexMap<String, PluginEntry>,
    /// CI gates: a metric or count name and its condition, such as `">= 0.5"`.
    pub gates: crate::gate::Gates,
    /// Whose signatures registry plugins need.
    pub trust: crate::trust::TrustPolicy,
    /// Folder the file is in: relative paths in it are relative to this.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSettings {
    pub jobs: Option<usize>,
    pub batch_size: usize,
    pub on_bad_record: BadRecordPolicy,
    /// Seed of the plugins' virtual randomness.
    pub seed: u64,
    /// Give plugins the real clocks (the run is then not reproducible).
    pub real_clock: bool,
    pub cache_dir: Option<PathBuf>,
    /// Stop the run when a plugin fails on more than this fraction of the
    /// samples scored so far. Off by default: every sample is tried.
    pub max_failure_rate: Option<f64>,
    /// Samples scored before `max_failure_rate` is checked.
    pub min_samples: u64,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            jobs: None,
            batch_size: 64,
            on_bad_record: BadRecordPolicy::Fail,
            seed: 0,
            real_clock: false,
            cache_dir: None,
            max_failure_rate: None,
            min_samples: 100,
        }
    }
}

impl RunSettings {
    pub fn determinism(&self) -> Determinism {
        Determinism { seed: self.seed, real_clock: self.real_clock }
    }

    pub fn early_stop(&self) -> Option<EarlyStop> {
        self.max_failure_rate.map(|max_failure_rate| EarlyStop { max_failure_rate, min_samples: self.min_samples })
    }
}

/// What to do with a record that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BadRecordPolicy {
    /// Stop with `FILE:LINE: what is wrong` before writing any output.
    Fail,
    /// Leave the record out and list it in the summary.
    Skip,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatasetSettings {
    pub format: Option<Format>,
    pub fields: FieldMap,
}

/// One plugin instance.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginEntry {
    /// A built-in plugin's name, a path to a component, or an `oci://`
    /// reference; defaults to the instance name.
    pub source: Option<String>,
    /// The plugin's own configuration, passed to it as JSON.
    pub config: toml::Table,
    pub limits: Limits,
    /// Directories the plugin may read, as `HOST_DIR:GUEST_PATH`.
    pub grants: Vec<String>,
    /// Guards only: what a record gets when the guard fails on it.
    pub on_failure: Option<FailurePolicy>,
}

/// Where a record goes when a guard fails on it (traps, times out, breaches
/// a limit, returns an error or an invalid decision).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Fail closed: hold the record for review.
    #[default]
    Quarantine,
    /// Fail open: count the guard as accepting it.
    Accept,
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.into(), error })?;
        let mut config: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: describe_toml_error(&text, &e) })?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if config.run.batch_size == 0 {
            return Err(ConfigError::Parse { path: path.into(), message: "run.batch_size must be at least 1".into() });
        }
        if config.run.max_failure_rate.is_some_and(|rate| !(0.0..=1.0).contains(&rate)) {
            return Err(ConfigError::Parse { path: path.into(), message: "run.max_failure_rate must be between 0 and 1".into() });
        }
        Ok(config)
    }
}

/// `LINE:COLUMN: message` for a TOML error, so the file position reads as
/// `assay.toml:LINE:COLUMN: ...` once the path is in front.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message();
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("{line}:{column}: {message}")
        }
        None => message.to_string(),
    }
}

/// Applies `KEY=VALUE` to a plugin configuration. The value is read as a
/// TOML value when it is one (`true`, `3`, `"x"`, `[1, 2]`) and as a string
/// otherwise; `KEY` may be dotted to reach into tables.
pub fn set_value(config: &mut toml::Table, key: &str, value: &str) -> Result<(), String> {
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().filter(|k| !k.is_empty()).ok_or_else(|| format!("empty key in {key:?}"))?;
    let mut table = config;
    for part in parts {
        let entry = table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry.as_table_mut().ok_or_else(|| format!("{key:?}: {part:?} is not a table"))?;
    }
    table.insert(last.to_string(), parsed);
    Ok(())
}

/// A plugin configuration as the JSON text plugins receive.
pub fn config_json(config: &toml::Table) -> String {
    serde_json::to_string(config).expect("TOML values serialize to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_value_types_values_and_reaches_into_tables() {
        let mut table = toml::Table::new();
        set_value(&mut table, "stemmer", "true").unwrap();
        set_value(&mut table, "n", "4").unwrap();
        set_value(&mut table, "tok", "13a").unwrap();
        set_value(&mut table, "schema.type", "\"object\"").unwrap();
        assert_eq!(config_json(&table), r#"{"stemmer":true,"n":4,"tok":"13a","schema":{"type":"object"}}"#);
        assert!(set_value(&mut table, "stemmer.x", "1").is_err());
    }

    #[test]
    fn parse_errors_carry_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assay.toml");
        std::fs::write(&path, "[run]\njobs = 2\nbatch_sise = 3\n").unwrap();
        let message = ConfigFile::load(&path).unwrap_err().to_string();
        assert!(message.contains("assay.toml: 3:1: unknown field `batch_sise`"), "{message}");
    }

    #[test]
    fn plugins_keep_their_order_and_limits_default_per_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assay.toml");
        std::fs::write(&path, "[plugins.z]\nlimits = { timeout_ms = 5 }\n[plugins.a]\nsource = \"x.wasm\"\n").unwrap();
        let config = ConfigFile::load(&path).unwrap();
        assert_eq!(config.plugins.keys().collect::<Vec<_>>(), vec!["z", "a"]);
        assert_eq!(config.plugins["z"].limits.timeout_ms, 5);
        assert_eq!(config.plugins["z"].limits.memory_mib, Limits::default().memory_mib);
    }
}
