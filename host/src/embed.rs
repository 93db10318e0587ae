//! Assay embedded in another program: what the Python bindings call.
//!
//! A caller that holds its records in memory (a notebook's DataFrame, a
//! training pipeline's feedback) hands them over as JSON Lines bytes, and
//! gets what `assay run` or `assay guard` would write for a file of those
//! bytes: the same config, plugins, limits, determinism and signatures,
//! because the setup is the binary's own ([`Setup`]), and the same numbers,
//! because the bytes are read exactly as a file holding them would be
//! (`Reader::from_bytes`). Nothing is written to disk. Errors are the
//! binary's, with a stable [`ErrorKind`] for the caller's exception types.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use assay_data::output::{EvaluationSummary, GuardSummary};
use assay_data::{DatasetError, FieldMap, Format};
use assay_pipeline::{RunError, ScreenedBytes, Screening};
use assay_registry::metadata::ComponentMetadata;
use assay_registry::resolve::ResolveError;
use assay_runtime::{Kind, LoadError, Plugin};

use crate::cli::guard::{load_guards, screen_options};
use crate::cli::run::evaluate_options;
use crate::cli::setup::{PluginFlags, Setup};
use crate::config::{ConfigError, EvalOptions, GuardOptions, InputOptions, ShardOptions, SharedOptions};

/// Which plugins run, and how: what the flags of `assay run` and
/// `assay guard` say on a command line.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    /// Built-in names, names from the config, `.wasm` paths or `oci://`
    /// references (`-e`, `-g`); none means every plugin of the config.
    pub plugins: Vec<String>,
    /// An `assay.toml`: its plugins, lock, trust policy and options.
    pub config: Option<std::path::PathBuf>,
    /// Worker threads (`-j`); default all cores. Results are identical for every value.
    pub jobs: Option<usize>,
    /// `PLUGIN.KEY=VALUE` settings (`--set`).
    pub sets: Vec<String>,
    /// Canonical field names read from other names (`--field output=prediction`).
    pub fields: Vec<(String, String)>,
}

impl Selection {
    fn setup(&self) -> Result<Setup> {
        let shared = SharedOptions { jobs: self.jobs, quiet: true, ..SharedOptions::default() };
        let flags = PluginFlags { sets: self.sets.clone(), grants: Vec::new() };
        Setup::new(self.config.as_deref(), shared, &self.plugins, &flags)
    }

    fn fields(&self, setup: &Setup, canonical: FieldMap) -> Result<FieldMap> {
        let input = InputOptions { fields: self.fields.clone(), format: None };
        input.over(setup.config.input.clone()).field_map(canonical).map_err(anyhow::Error::msg)
    }
}

/// Scores the eval set `records` (JSON Lines) as `assay run` scores a file
/// of those bytes named `name`: its summary and `samples.jsonl`'s lines.
pub fn evaluate(selection: &Selection, name: &Path, records: Arc<[u8]>) -> Result<(EvaluationSummary, Vec<u8>)> {
    let setup = selection.setup()?;
    let config = &setup.config;
    let eval = EvalOptions::default().over(config.eval.clone());
    let sharding = ShardOptions::default().over(config.shard.clone());
    let options = evaluate_options(&setup, &eval, &sharding)?;
    let fields = selection.fields(&setup, FieldMap::samples())?;
    let host = setup.host(options.schedule.jobs)?;
    let plugins = host.prepare(&setup.specs, Kind::Evaluator, &options.schedule.determinism)?;
    let scored = assay_pipeline::evaluate_bytes(&host, &plugins, name, records, Format::Jsonl, &fields, &options, &())?;
    setup.print_model_notes();
    Ok(scored)
}

/// Screens the feedback `records` (JSON Lines) as `assay guard` screens a
/// file of those bytes named `name`: its summary, the records of each
/// route and `decisions.jsonl`'s lines.
pub fn screen(selection: &Selection, name: &Path, records: Arc<[u8]>) -> Result<(GuardSummary, ScreenedBytes)> {
    let setup = selection.setup()?;
    let config = &setup.config;
    let guard = GuardOptions::default().over(config.guard.clone());
    let sharding = ShardOptions::default().over(config.shard.clone());
    let options = screen_options(&setup, &guard, &sharding)?;
    let fields = selection.fields(&setup, FieldMap::feedback())?;
    let host = setup.host(setup.schedule.jobs + setup.specs.len())?;
    let guards = load_guards(&setup, &host)?;
    let screening =
        Screening { host: &host, guards: &guards, input: name, format: None, fields: &fields, options: &options };
    let screened = screening.screen_bytes(records, Format::Jsonl, &())?;
    setup.print_model_notes();
    Ok(screened)
}

/// A plugin loaded to be looked at (`assay inspect`), resolved through
/// `config`'s plugins, lock and trust policy when one is given.
pub fn inspect(source: &str, config: Option<&Path>) -> Result<(Plugin, ComponentMetadata)> {
    crate::cli::inspect::load(source, config, Default::default())
}

/// What kind of failure an error is, for callers that branch on it (the
/// Python bindings raise one exception type per kind). Stable: names are
/// never reused for another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `assay.toml`, a flag or a setting is wrong.
    Config,
    /// The records cannot be read: a bad line, a missing field, a duplicate id.
    Dataset,
    /// A plugin cannot be found, fetched, trusted or matched to its lock.
    Resolve,
    /// A plugin's component does not load: not a plugin, a refused import, a
    /// configuration it refuses.
    Load,
    /// A plugin failed on too many samples (`max_failure_rate`).
    Plugin,
    /// Anything else (a file that cannot be written, a cache).
    Other,
}

impl ErrorKind {
    /// The kind of the first cause in `error`'s chain that has one.
    pub fn of(error: &anyhow::Error) -> ErrorKind {
        error.chain().find_map(kind_of).unwrap_or(ErrorKind::Other)
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Dataset => "dataset",
            ErrorKind::Resolve => "resolve",
            ErrorKind::Load => "load",
            ErrorKind::Plugin => "plugin",
            ErrorKind::Other => "other",
        }
    }
}

fn kind_of(cause: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    if cause.is::<ConfigError>() {
        return Some(ErrorKind::Config);
    }
    if cause.is::<DatasetError>() {
        return Some(ErrorKind::Dataset);
    }
    if cause.is::<ResolveError>() {
        return Some(ErrorKind::Resolve);
    }
    if cause.is::<LoadError>() {
        return Some(ErrorKind::Load);
    }
    match cause.downcast_ref::<RunError>()? {
        RunError::Dataset(_) | RunError::BadRecord { .. } | RunError::DuplicateId { .. } => Some(ErrorKind::Dataset),
        RunError::Load(_) => Some(ErrorKind::Load),
        RunError::TooManyFailures { .. } => Some(ErrorKind::Plugin),
        RunError::Unshardable { .. } => Some(ErrorKind::Config),
        RunError::Samples(_) | RunError::Read(_) | RunError::Output { .. } => Some(ErrorKind::Other),
    }
}
