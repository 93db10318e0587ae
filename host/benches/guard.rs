//! End-to-end throughput of `assay guard`: reading feedback, screening every
//! record with all five built-in guards and writing the routed records,
//! `decisions.jsonl` and `summary.json`.
//!
//! `cargo bench -p assay --bench guard [-- RECORDS]` generates RECORDS
//! (default 1,000,000) feedback records shaped like `examples/feedback`, runs
//! the guards with every core and prints records per second. Each guard keeps
//! one instance for the whole run, so the slowest guard sets the pace.

mod common;

use std::path::Path;
use std::time::Instant;

use assay_data::output::FailurePolicy;
use assay_data::{DEFAULT_BLOCK_BYTES, FieldMap};
use assay_pipeline::{BadFeedbackPolicy, Guard, Schedule, ScreenOptions, Screening};
use assay_runtime::host::PluginSpec;
use assay_runtime::{ComponentCache, Determinism, Grant, Host, Kind};

const GUARDS: [&str; 5] = ["arithmetic", "facts", "flood", "injection", "consensus"];

fn main() {
    let records: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("feedback.jsonl");
    common::feedback(&input, records);
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{records} records, {} MiB, {jobs} parsing workers, {} guards",
        std::fs::metadata(&input).unwrap().len() >> 20,
        GUARDS.len()
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let facts = Grant::parse("examples/feedback/facts:/data", root).unwrap();
    let specs: Vec<PluginSpec> = GUARDS
        .iter()
        .map(|name| {
            let grants = if *name == "facts" { vec![facts.clone()] } else { Vec::new() };
            common::spec(name, common::builtin(name), &toml::Table::new(), grants)
        })
        .collect();
    let schedule = Schedule { jobs, batch_size: 64, determinism: Determinism::default() };
    let options =
        ScreenOptions { schedule, on_bad_record: BadFeedbackPolicy::Quarantine, block_bytes: DEFAULT_BLOCK_BYTES };
    let host = Host::new(
        &specs,
        jobs + specs.len(),
        ComponentCache::new(dir.path().join("cache"), assay_runtime::cache::CacheKey::ephemeral()),
    )
    .unwrap();
    let guards: Vec<Guard> = host
        .prepare(&specs, Kind::Guard, &schedule.determinism)
        .unwrap()
        .into_iter()
        .map(|loaded| Guard { loaded, on_failure: FailurePolicy::Quarantine })
        .collect();

    let fields = FieldMap::feedback();
    let screening =
        Screening { host: &host, guards: &guards, input: &input, format: None, fields: &fields, options: &options };
    let start = Instant::now();
    let summary = screening.screen(&dir.path().join("out"), &()).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(summary.counts.records, records as u64);
    assert_eq!(summary.counts.guard_errors, 0, "{:?}", summary.guards);
    println!(
        "all five guards {:>10.0} records/s  {:>7.2} s  {:>6.2} µs/record  ({} accepted, {} quarantined, {} rejected)",
        records as f64 / seconds,
        seconds,
        seconds * 1e6 / records as f64,
        summary.counts.accepted,
        summary.counts.quarantined,
        summary.counts.rejected
    );
}
