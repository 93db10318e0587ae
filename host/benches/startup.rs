//! Startup: how long `assay` takes from process start to a result, with
//! every built-in plugin loaded, when the compiled-component cache is empty
//! (cold) and when it holds them (warm).
//!
//! `cargo bench -p assay --bench startup [-- RUNS]` runs the release binary
//! as a user would, on one sample and on one feedback record, so the time is
//! all fixed cost: reading the config, loading and configuring each plugin
//! (checking each cache entry's tag over every byte), scoring the one
//! record, writing the outputs and exiting.
//!
//! - `assay run` with every built-in evaluator that needs no language model
//!   (the judges do: they would wait on a server);
//! - `assay guard` with the five built-in guards, as `examples/feedback`
//!   configures them;
//! - `assay --version` in the same loop: the floor a process of this binary
//!   costs here, the reference the others are measured against.
//!
//! Cold is one run in a fresh cache folder; warm is the minimum, median and
//! 90th percentile of RUNS runs (default 30) after it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const EVALUATORS: &[&str] = &[
    "bleu",
    "chrf",
    "classification",
    "exact_match",
    "json",
    "length",
    "regex",
    "rouge",
    "similarity",
    "ter",
    "token_f1",
];

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(30);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("one.jsonl");
    std::fs::write(
        &sample,
        "{\"id\": \"a\", \"output\": \"the cat sat\", \"reference\": \"the cat sat\", \"label\": \"the cat sat\"}\n",
    )
    .unwrap();
    let feedback = dir.path().join("feedback.jsonl");
    std::fs::write(
        &feedback,
        "{\"id\": \"f\", \"user\": \"u\", \"prompt\": \"2+2?\", \"output\": \"4\", \"rating\": \"down\", \"correction\": \"5\"}\n",
    )
    .unwrap();
    let cache = dir.path().join("cache");

    let mut evaluate = vec!["run".to_string(), "-q".into(), sample.display().to_string()];
    for name in EVALUATORS {
        evaluate.extend(["-e".into(), name.to_string()]);
    }
    evaluate.extend(["--set".into(), "regex.pattern=cat".into(), "-o".into(), out(dir.path(), "run")]);
    let config = root.join("examples/feedback/assay.toml").display().to_string();
    let screen = vec![
        "guard".to_string(),
        "-q".into(),
        feedback.display().to_string(),
        "--config".into(),
        config,
        "-o".into(),
        out(dir.path(), "guard"),
    ];
    let version = vec!["--version".to_string()];
    let commands = [
        (format!("{} evaluators", EVALUATORS.len()), &evaluate),
        ("5 guards".to_string(), &screen),
        ("--version".to_string(), &version),
    ];

    println!("startup of {}, {runs} warm runs each", binary().display());
    let cold: Vec<Duration> = commands.iter().map(|(_, args)| time(args, &cache)).collect();
    let mut warm: Vec<Vec<Duration>> = vec![Vec::new(); commands.len()];
    // Interleaved, so that the machine's load changes every command alike.
    for _ in 0..runs {
        for ((_, args), times) in commands.iter().zip(&mut warm) {
            times.push(time(args, &cache));
        }
    }
    let floor = median(&mut warm[2].clone());
    for (((label, _), cold), times) in commands.iter().zip(&cold).zip(&mut warm) {
        let median = median(times);
        println!(
            "{label:<14} cold {:>7.0} ms   warm min {:>5.1} ms  median {:>5.1} ms  p90 {:>5.1} ms  ({:.1}x --version)",
            ms(*cold),
            ms(times[0]),
            ms(median),
            ms(times[times.len() * 9 / 10]),
            median.as_secs_f64() / floor.as_secs_f64()
        );
    }
}

/// The release binary next to this bench's.
fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_assay"))
}

fn out(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// How long one run of `assay ARGS` takes, with its cache in `cache`.
fn time(args: &[String], cache: &Path) -> Duration {
    let start = Instant::now();
    let output = Command::new(binary()).args(args).env("ASSAY_CACHE_DIR", cache).output().unwrap();
    let took = start.elapsed();
    assert!(output.status.success(), "assay {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    took
}

/// Sorts `times` and returns their median.
fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1000.0
}
