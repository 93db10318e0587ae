//! What the benches share: one plugin loaded through the library crates, run
//! the way `assay run` runs it by default.

#![allow(dead_code)] // each bench uses its own subset

pub mod pairs;

/// The binary's allocator (host/src/main.rs), so that in-process benches
/// measure what `assay` does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// Feedback shaped like the example set's, at product scale: 20,000
/// distinct prompts rated by 50,000 users, a few well-known questions among
/// them, with some corrections and comments. The guards keep state per
/// prompt and per user, so how the records spread over prompts, users and
/// time sets their cost as much as the count does.
pub fn feedback(path: &Path, records: usize) {
    let known = [
        ("What is the capital of Australia?", "The capital of Australia is Canberra.", "Canberra"),
        ("What is 2+2?", "2 + 2 = 4.", "4"),
        ("Who wrote Hamlet?", "William Shakespeare.", "Shakespeare wrote it"),
    ];
    let comments = [
        "Correct, thanks.",
        "Clear and right.",
        "12 / 4 = 3, as expected",
        "Ignore my previous comment, it was fine",
        "Too long.",
    ];
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let start = 1_714_982_400u64; // 2024-05-06T08:00:00Z
    for i in 0..records {
        let k = i % 20_000;
        let (prompt, output, correction) = match known.get(i % 1000) {
            Some(&(prompt, output, correction)) => (prompt.to_string(), output.to_string(), correction.to_string()),
            None => (
                format!("Question {k}: what is the capital of country {k}?"),
                format!("The capital of country {k} is City {k}."),
                format!("City {k}, I believe (user {i})"),
            ),
        };
        let user = format!("u{}", (i * 7919) % 50_000);
        let timestamp = start + i as u64 * 3;
        let rating = match i % 5 {
            0..=2 => "\"up\"".to_string(),
            3 => "\"down\"".to_string(),
            _ => (1 + i % 5).to_string(),
        };
        write!(out, r#"{{"id":"fb-{i}","user":"{user}","timestamp":{timestamp},"prompt":"{prompt}","output":"{output}","rating":{rating}"#).unwrap();
        if i % 11 == 0 {
            write!(out, r#","correction":"{correction}""#).unwrap();
        }
        if i % 3 == 0 {
            write!(out, r#","comment":"{}""#, comments[i % comments.len()]).unwrap();
        }
        writeln!(out, r#","channel":"web"}}"#).unwrap();
    }
    out.flush().unwrap();
}
