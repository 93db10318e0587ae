//! What the benches share: one plugin loaded through the library crates, run
//! the way `assay run` runs it by default.

#![allow(dead_code)] // each bench uses its own subset

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use assay_pipeline::{BadRecordPolicy, EvaluateOptions, Schedule};
use assay_runtime::host::PluginSpec;
use assay_runtime::{ComponentCache, Determinism, Digest, Grant, Host, Kind, Limits, LoadedPlugin};

/// `assay run`'s defaults, with `jobs` workers.
pub fn options(jobs: usize) -> EvaluateOptions {
    EvaluateOptions {
        schedule: Schedule { jobs, batch_size: 64, determinism: Determinism::default() },
        on_bad_record: BadRecordPolicy::Fail,
        early_stop: None,
        allow_duplicate_ids: false,
        keep_statistics: false,
        block_bytes: assay_data::DEFAULT_BLOCK_BYTES,
        resume: false,
        checkpoint_every: std::time::Duration::from_secs(2),
    }
}

/// A plugin instance named `name` of `component`, configured with `config`.
pub fn spec(name: &str, component: Component, config: &toml::Table, grants: Vec<Grant>) -> PluginSpec {
    let (origin, component) = component;
    PluginSpec {
        name: name.into(),
        origin,
        sha256: Digest::of(&component),
        component: Arc::new(component),
        config_json: serde_json::to_string(config).unwrap(),
        limits: Limits::default(),
        grants,
        models: Vec::new(),
    }
}

/// Where a component came from, and its bytes.
pub type Component = (String, Cow<'static, [u8]>);

pub fn builtin(name: &str) -> Component {
    (format!("builtin:{name}"), Cow::Borrowed(assay_builtins::get(name).expect("a built-in plugin")))
}

pub fn file(path: &str) -> Component {
    (path.to_string(), Cow::Owned(std::fs::read(path).unwrap()))
}

/// A host with one evaluator, compiled (into `cache`) and configured.
pub fn load(
    name: &str,
    component: Component,
    config: toml::Table,
    options: &EvaluateOptions,
    cache: &Path,
) -> (Host, Vec<LoadedPlugin>) {
    let spec = spec(name, component, &config, Vec::new());
    let host = Host::new(
        std::slice::from_ref(&spec),
        options.schedule.jobs,
        ComponentCache::new(cache.to_path_buf(), assay_runtime::cache::CacheKey::ephemeral()),
    )
    .unwrap();
    let plugins = host.prepare(std::slice::from_ref(&spec), Kind::Evaluator, &options.schedule.determinism).unwrap();
    (host, plugins)
}
