//! End-to-end throughput of `assay guard`: reading feedback, screening every
//! record with all five built-in guards and writing the routed records,
//! `decisions.jsonl` and `summary.json`.
//!
//! `cargo bench -p assay --bench guard [-- RECORDS]` generates RECORDS
//! (default 1,000,000) feedback records shaped like `examples/feedback`, runs
//! the guards with every core and prints records per second. Each guard keeps
//! one instance for the whole run, so the slowest guard sets the pace.

mod common;

use std::io::Write;
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
    generate(&input, records);
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

/// Feedback shaped like the example set's, at product scale: 20,000
/// distinct prompts rated by 50,000 users, a few well-known questions among
/// them, with some corrections and comments. The guards keep state per
/// prompt and per user, so how the records spread over prompts, users and
/// time sets their cost as much as the count does.
fn generate(path: &Path, records: usize) {
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
