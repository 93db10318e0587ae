//! Speed of the built-in text-overlap metrics against their reference
//! implementations.
//!
//! `cargo bench -p assay --bench metrics [-- PAIRS [REFERENCE_PAIRS]]`
//! generates PAIRS (default 100,000) output/reference pairs of 20 to 60 words
//! from the texts of the conformance vectors, runs the built-in `rouge` (with
//! the stemmer), `bleu` (with the `13a` and `intl` tokenizers), `chrf`, `ter`
//! and the `noop` test plugin (the host's own cost of these pairs) over them
//! with every core, then has rouge-score and sacreBLEU do the same work (every sentence score, then the
//! corpus score) on the first REFERENCE_PAIRS (default 20,000: Python takes
//! minutes per metric for all of them) and prints samples/s and the ratio.
//!
//! The reference side runs `benches/metrics_reference.py` with
//! `$ASSAY_REFERENCE_PYTHON`, or the venv `~/.cache/assay/conformance-venv`,
//! made from tests/conformance/requirements.txt when missing.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use assay_data::FieldMap;
use assay_pipeline::evaluate;
use serde_json::Value;

/// A plugin to time: its instance name, source and configuration, and for
/// the metrics, the reference's name and the sample metric both report.
struct Case {
    name: &'static str,
    source: common::Component,
    config: &'static str,
    reference: Option<(&'static str, &'static str)>,
}

fn cases() -> [Case; 6] {
    let builtin = common::builtin;
    [
        Case {
            name: "rouge",
            source: builtin("rouge"),
            config: "stemmer = true",
            reference: Some(("rouge-score", "rouge1_f")),
        },
        Case { name: "bleu", source: builtin("bleu"), config: "", reference: Some(("sacreBLEU", "sentence_bleu")) },
        Case {
            name: "bleu_intl",
            source: builtin("bleu"),
            config: "tokenize = \"intl\"",
            reference: Some(("sacreBLEU", "sentence_bleu")),
        },
        Case { name: "chrf", source: builtin("chrf"), config: "", reference: Some(("sacreBLEU", "sentence_chrf")) },
        Case { name: "ter", source: builtin("ter"), config: "", reference: Some(("sacreBLEU", "sentence_ter")) },
        // Does nothing: the host's own cost of these pairs.
        Case { name: "noop", source: common::file(assay_test_artifacts::NOOP), config: "", reference: None },
    ]
}

fn main() {
    let numbers: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let pairs = numbers.first().copied().unwrap_or(100_000);
    let reference_pairs = numbers.get(1).copied().unwrap_or(20_000).min(pairs);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.jsonl");
    let words = common::pairs::generate(&root, &input, pairs);
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{pairs} pairs, {:.1} words per output on average, {jobs} workers", words as f64 / pairs as f64);

    let timings = reference_timings(&root, &input, reference_pairs);
    if let Err(why) = &timings {
        println!("no reference timings, so no ratios: {why}");
    }
    let options = common::options(jobs);
    for Case { name, source, config, reference } in cases() {
        let (host, plugins) =
            common::load(name, source, toml::from_str(config).unwrap(), &options, &dir.path().join("cache"));
        let out = dir.path().join(name);
        let start = Instant::now();
        let summary = evaluate(&host, &plugins, &input, None, &FieldMap::samples(), &options, &out, &()).unwrap();
        let seconds = start.elapsed().as_secs_f64();
        assert_eq!((summary.counts.samples, summary.counts.errors), (pairs as u64, 0));
        let ours = pairs as f64 / seconds;
        let fuel = summary.plugins[0].fuel.mean_per_sample;
        print!(
            "{:<22} assay {ours:>7.0} samples/s ({seconds:5.2} s, fuel {fuel:>7.0}/sample)",
            format!("{name} {{{config}}}")
        );
        let (Some((reference_name, metric)), Ok(timings)) = (reference, &timings) else {
            println!();
            continue;
        };
        let timing = &timings[name];
        let theirs = reference_pairs as f64 / timing["seconds"].as_f64().unwrap();
        println!("   {reference_name:<11} {theirs:>5.0} samples/s   {:>5.1}x", ours / theirs);
        // Same work: the mean sentence score over the timed pairs agrees.
        let key = format!("mean {metric}");
        let mean = prefix_mean(&out.join("samples.jsonl"), &format!("{name}/{metric}"), reference_pairs);
        let expected = timing[&key].as_f64().unwrap();
        assert!(
            (mean - expected).abs() <= 1e-9 * expected.abs().max(1.0),
            "{name}: {key} {mean}, reference {expected}"
        );
    }
}

/// The mean of `key` over the first `count` lines of a samples.jsonl.
fn prefix_mean(path: &Path, key: &str, count: usize) -> f64 {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let sum: f64 = file
        .lines()
        .take(count)
        .map(|line| serde_json::from_str::<Value>(&line.unwrap()).unwrap()["scores"][key].as_f64().unwrap())
        .sum();
    sum / count as f64
}

/// Runs the reference script; its JSON output, or why it could not run.
fn reference_timings(root: &Path, input: &Path, pairs: usize) -> Result<Value, String> {
    let python = reference_python(root)?;
    println!("timing the reference packages on {pairs} pairs with {} ...", python.display());
    let output = Command::new(&python)
        .arg(root.join("host/benches/metrics_reference.py"))
        .arg(input)
        .arg(pairs.to_string())
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !output.status.success() {
        return Err(format!("metrics_reference.py failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("metrics_reference.py printed no JSON: {e}"))
}

/// A Python with the pinned reference packages.
fn reference_python(root: &Path) -> Result<PathBuf, String> {
    if let Some(python) = std::env::var_os("ASSAY_REFERENCE_PYTHON") {
        return Ok(python.into());
    }
    let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
    let venv = Path::new(&home).join(".cache/assay/conformance-venv");
    let python = venv.join("bin/python");
    let has_packages = |python: &Path| {
        Command::new(python).args(["-c", "import rouge_score, sacrebleu"]).output().is_ok_and(|o| o.status.success())
    };
    if has_packages(&python) {
        return Ok(python);
    }
    println!("creating {} from tests/conformance/requirements.txt ...", venv.display());
    let step = |command: &mut Command| match command.output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr))),
        Err(e) => Err(format!("{command:?}: {e}")),
    };
    step(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    step(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(root.join("tests/conformance/requirements.txt")),
    )?;
    Ok(python)
}
