//! Sharded runs: N shards side by side against one process, on the same
//! machine, and the time `assay merge` takes.
//!
//! `cargo bench -p assay --bench shard [-- SAMPLES]` generates SAMPLES
//! (default 1,000,000) short translations and scores them with the built-in
//! `chrf`, whose corpus score the merge recomputes from summed statistics:
//!
//! - one process with every core (`assay run -j CORES`);
//! - CORES shards at once, one worker each, each on a host of its own as
//!   separate processes on one node would be: total throughput;
//! - `assay merge` of 4 shards of SAMPLES/4, three times (median), beside
//!   the time it takes only to read the shards' files and the input.
//!
//! Every merge is checked to give the unsharded run's chrF bit for bit.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use assay_data::{FieldMap, Shard};
use assay_pipeline::{Shards, evaluate, evaluate_shard, merge};

fn main() {
    let samples: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bench.jsonl");
    generate(&input, samples);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{samples} samples, {} MiB, {cores} cores", std::fs::metadata(&input).unwrap().len() >> 20);
    let cache = dir.path().join("cache");
    let load = |jobs| {
        let options = common::options(jobs);
        let (host, plugins) = common::load("chrf", common::builtin("chrf"), toml::Table::new(), &options, &cache);
        (options, host, plugins)
    };

    let (options, host, plugins) = load(cores);
    let start = Instant::now();
    let whole = evaluate(&host, &plugins, &input, None, &FieldMap::samples(), &options, &dir.path().join("whole"), &())
        .unwrap();
    let one = start.elapsed().as_secs_f64();
    println!("one process, -j {cores}:      {:>9.0} samples/s  {one:>6.2} s", samples as f64 / one);

    let start = Instant::now();
    std::thread::scope(|scope| {
        for index in 0..cores as u64 {
            let (dir, input, load) = (dir.path(), &input, &load);
            scope.spawn(move || {
                let (options, host, plugins) = load(1);
                let shard = Shard { index, count: cores as u64 };
                let out = dir.join(format!("side-{index}"));
                evaluate_shard(&host, &plugins, input, None, &FieldMap::samples(), &options, shard, &out, &()).unwrap();
            });
        }
    });
    let sharded = start.elapsed().as_secs_f64();
    println!(
        "{cores} shards side by side, -j 1: {:>9.0} samples/s  {sharded:>6.2} s  ({:.2}x one process)",
        samples as f64 / sharded,
        one / sharded
    );

    let dirs: Vec<PathBuf> = (0..4).map(|k| dir.path().join(format!("shard-{k}"))).collect();
    for (index, out) in dirs.iter().enumerate() {
        let shard = Shard { index: index as u64, count: 4 };
        evaluate_shard(&host, &plugins, &input, None, &FieldMap::samples(), &options, shard, out, &()).unwrap();
    }
    let mut merges = Vec::new();
    let mut reads = Vec::new();
    for round in 0..3 {
        let start = Instant::now();
        let mut bytes = std::fs::read(&input).unwrap().len();
        for shard in &dirs {
            bytes += std::fs::read(shard.join("samples.jsonl")).unwrap().len();
            bytes += std::fs::read(shard.join("shard.json")).unwrap().len();
        }
        reads.push(start.elapsed().as_secs_f64());
        std::hint::black_box(bytes);

        let start = Instant::now();
        let shards = Shards::read(&dirs).unwrap();
        let merged = merge(&host, &plugins, &shards, &input, &dir.path().join(format!("merged-{round}"))).unwrap();
        merges.push(start.elapsed().as_secs_f64());
        assert_eq!(merged.metrics, whole.metrics, "the merge is the unsharded run");
        assert_eq!(merged.counts.samples, samples as u64);
    }
    merges.sort_by(f64::total_cmp);
    reads.sort_by(f64::total_cmp);
    println!(
        "merge of 4 shards of {}: {:.3} s (median of 3); reading their files and the input alone: {:.3} s",
        samples / 4,
        merges[1],
        reads[1]
    );
}

/// Short translations with one reference each.
fn generate(path: &Path, samples: usize) {
    let words = ["the", "cat", "sat", "on", "a", "warm", "mat", "kedi", "sıcak", "bir", "minderde", "oturdu"];
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..samples {
        let sentence = |seed: usize| -> String {
            (0..4 + seed % 9).map(|k| words[(seed + k * 5 + k * k) % words.len()]).collect::<Vec<_>>().join(" ")
        };
        writeln!(out, r#"{{"id":"s{i}","output":"{}","reference":"{}"}}"#, sentence(i), sentence(i / 2)).unwrap();
    }
    out.flush().unwrap();
}
