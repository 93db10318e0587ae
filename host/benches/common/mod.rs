//! What the benches share: one plugin loaded through the library API, run
//! the way `assay run` runs it by default.

use std::path::Path;

use assay::cache::ComponentCache;
use assay::config::BadRecordPolicy;
use assay::plugin::Kind;
use assay::run::{Host, LoadedPlugin, Options, PluginSpec, Source};
use assay::sandbox::{Determinism, Limits};

/// `assay run`'s defaults, with `jobs` workers and no progress bar.
pub fn options(jobs: usize) -> Options {
    Options {
        jobs,
        batch_size: 64,
        on_bad_record: BadRecordPolicy::Fail,
        determinism: Determinism::default(),
        progress: false,
        early_stop: None,
    }
}

/// A host with one plugin, compiled (into `cache`) and configured.
pub fn load(name: &str, source: Source, config: toml::Table, options: &Options, cache: &Path) -> (Host, Vec<LoadedPlugin>) {
    let spec = PluginSpec { name: name.into(), source, config, limits: Limits::default(), grants: Vec::new() };
    let host = Host::new(std::slice::from_ref(&spec), options.jobs, ComponentCache::new(cache.to_path_buf())).unwrap();
    let plugins = host.prepare(std::slice::from_ref(&spec), Kind::Evaluator, &options.determinism).unwrap();
    (host, plugins)
}
