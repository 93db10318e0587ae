//! End-to-end throughput of `assay run`: reading the eval set, scoring in the
//! sandbox and writing `samples.jsonl` and `summary.json`.
//!
//! `cargo bench -p assay --bench throughput [-- SAMPLES]` generates SAMPLES
//! (default 1,000,000) QA-style samples, then runs the built-in `exact_match`
//! and the `noop` test plugin (which does no work, so its run is the host's
//! own cost per sample) with every core, three times each, and prints the
//! median.

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use assay_data::FieldMap;
use assay_pipeline::evaluate;

fn main() {
    let samples: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bench.jsonl");
    generate(&input, samples);
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{samples} samples, {} MiB, {jobs} workers", std::fs::metadata(&input).unwrap().len() >> 20);

    let cases = [
        ("exact_match", common::builtin("exact_match")),
        ("noop (host overhead)", common::file(assay_test_artifacts::NOOP)),
    ];
    for (label, source) in cases {
        let options = common::options(jobs);
        let (host, plugins) = common::load("p", source, toml::Table::new(), &options, &dir.path().join("cache"));
        let mut times: Vec<f64> = (0..3)
            .map(|_| {
                let start = Instant::now();
                let summary = evaluate(
                    &host,
                    &plugins,
                    &input,
                    None,
                    &FieldMap::samples(),
                    &options,
                    &dir.path().join("out"),
                    &(),
                )
                .unwrap();
                assert_eq!(summary.counts.samples, samples as u64);
                start.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[1];
        println!(
            "{label:<22} {:>10.0} samples/s  {:>6.3} s  {:>6.2} µs/sample (median of 3)",
            samples as f64 / median,
            median,
            median * 1e6 / samples as f64
        );
    }
}

/// QA-style samples: short prompts, answers and one or two references.
fn generate(path: &Path, samples: usize) {
    let answers =
        ["Paris", "Jane Austen", "1969", "the Pacific Ocean", "Carbon dioxide", "Mount Everest", "Au", "seven"];
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..samples {
        let answer = answers[i % answers.len()];
        let reference = answers[(i / 3) % answers.len()];
        writeln!(
            out,
            r#"{{"id":"s{i}","input":"Question number {i}: what is the answer?","output":"{answer}","reference":["{reference}","{}"],"split":"test"}}"#,
            reference.to_lowercase()
        )
        .unwrap();
    }
    out.flush().unwrap();
}
