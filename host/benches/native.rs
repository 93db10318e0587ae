//! The sandbox against native code: each built-in text metric and guard,
//! compiled natively (the plugin crate itself, as its unit tests build it)
//! and as the component `assay` runs, on the same records, one thread each.
//!
//! `cargo bench -p assay --bench native [-- PAIRS [RECORDS]]` (default
//! 25,560 output/reference pairs like the metrics bench's, and 100,000
//! feedback records like the guard bench's) prints, per plugin, µs per
//! record:
//!
//! - native: the plugin's `score` or `screen` called directly, built with
//!   the bench profile (release; the guests are built with LTO besides);
//! - sandbox: the component's calls alone, in batches of 64 on one instance
//!   with the default limits (fuel and the deadline on), as a worker calls
//!   it, from records already read; and its ratio to native;
//! - run: the whole `assay run -j 1` path in-process (reading, calls,
//!   writing `samples.jsonl`), for the evaluators; and its ratio to native.
//!
//! Both sides must agree: every score (to the conformance tolerance; how
//! many differ in their last bits is printed) and every verdict is
//! compared, so the timings are of the same work. `facts` is left out: it
//! reads its facts from a directory only the sandbox maps.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use assay_data::{Body, FieldMap, RawRecord, eval_record, feedback_record};
use assay_runtime::instance::{EvaluatorInstance, GuardInstance, Instance};
use assay_runtime::{Determinism, Host, Kind, LoadedPlugin, call_runtime};
use assay_sdk::evaluator::Evaluator;
use assay_sdk::guard::Guard;

const BATCH: usize = 64;

fn main() {
    let numbers: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let pairs = numbers.first().copied().unwrap_or(25_560);
    let records = numbers.get(1).copied().unwrap_or(100_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.jsonl");
    common::pairs::generate(&root, &input, pairs);
    let samples: Vec<assay_runtime::Sample> =
        read(&input).iter().map(|record| eval_record(record, &FieldMap::samples()).unwrap().sample).collect();
    println!("{pairs} pairs; µs per record, one thread; ratios to native");
    println!("{:<12} {:>8} {:>8} {:>6} {:>8} {:>6}", "plugin", "native", "sandbox", "", "run", "");
    let evaluators: [(&str, &str, NativeEvaluator); 6] = [
        ("exact_match", "", native_evaluator::<assay_plugin_exact_match::ExactMatch>),
        ("token_f1", "", native_evaluator::<assay_plugin_token_f1::TokenF1>),
        ("rouge", "{\"stemmer\":true}", native_evaluator::<assay_plugin_rouge::Rouge>),
        ("bleu", "{}", native_evaluator::<assay_plugin_bleu::Bleu>),
        ("chrf", "{}", native_evaluator::<assay_plugin_chrf::Chrf>),
        ("ter", "{}", native_evaluator::<assay_plugin_ter::Ter>),
    ];
    for (name, config, native) in evaluators {
        let config = if config.is_empty() { "{}" } else { config };
        let (native_time, native_scores) = native(config, &samples);
        let (host, loaded) = load(name, config, Kind::Evaluator, dir.path());
        let (sandbox_time, sandbox_scores) = sandbox_scores(&host, &loaded[0], &samples);
        agree(name, &native_scores, &sandbox_scores);
        let options = common::options(1);
        let out = dir.path().join(name);
        let started = Instant::now();
        let summary =
            assay_pipeline::evaluate(&host, &loaded, &input, None, &FieldMap::samples(), &options, &out, &()).unwrap();
        let run_time = started.elapsed();
        assert_eq!(summary.counts.samples, pairs as u64);
        row(name, pairs, native_time, sandbox_time, Some(run_time));
    }

    let feedback_path = dir.path().join("feedback.jsonl");
    common::feedback(&feedback_path, records);
    let feedback: Vec<assay_runtime::Feedback> = read(&feedback_path)
        .iter()
        .map(|record| feedback_record(record, &FieldMap::feedback()).unwrap().feedback)
        .collect();
    println!("{records} feedback records");
    let guards: [(&str, NativeGuard); 4] = [
        ("arithmetic", native_guard::<assay_plugin_arithmetic::Arithmetic>),
        ("flood", native_guard::<assay_plugin_flood::Flood>),
        ("injection", native_guard::<assay_plugin_injection::Injection>),
        ("consensus", native_guard::<assay_plugin_consensus::Consensus>),
    ];
    for (name, native) in guards {
        let (native_time, native_verdicts) = native(&feedback);
        let (host, loaded) = load(name, "{}", Kind::Guard, dir.path());
        let (sandbox_time, sandbox_verdicts) = sandbox_verdicts(&host, &loaded[0], &feedback);
        assert_eq!(native_verdicts, sandbox_verdicts, "{name}: native and sandboxed decisions differ");
        row(name, records, native_time, sandbox_time, None);
    }
}

fn row(name: &str, records: usize, native: Duration, sandbox: Duration, run: Option<Duration>) {
    let per = |d: Duration| d.as_secs_f64() * 1e6 / records as f64;
    let ratio = |d: Duration| d.as_secs_f64() / native.as_secs_f64();
    let run = run.map_or(String::new(), |run| format!("{:>8.2} {:>5.2}x", per(run), ratio(run)));
    println!("{name:<12} {:>8.2} {:>8.2} {:>5.2}x {run}", per(native), per(sandbox), ratio(sandbox));
}

/// Every record of a JSON Lines file, as the pipelines read them.
fn read(path: &Path) -> Vec<RawRecord> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .enumerate()
        .map(|(i, line)| RawRecord { line: i as u64 + 1, body: Body::Json(line.as_bytes().to_vec()) })
        .collect()
}

/// The built-in `name`, configured with `config` (JSON), on a host of its own.
fn load(name: &str, config: &str, kind: Kind, dir: &Path) -> (Host, Vec<LoadedPlugin>) {
    let config: toml::Table = serde_json::from_str(config).unwrap();
    let spec = common::spec(name, common::builtin(name), &config, Vec::new());
    let cache = assay_runtime::ComponentCache::new(dir.join("cache"), assay_runtime::cache::CacheKey::ephemeral());
    let host = Host::new(std::slice::from_ref(&spec), 1, cache).unwrap();
    let loaded = host.prepare(std::slice::from_ref(&spec), kind, &Determinism::default()).unwrap();
    (host, loaded)
}

/// Each sample's scores.
type ScoreBits = Vec<Vec<f64>>;

/// Checks that both sides computed the same scores: to the conformance
/// tolerance, since `exp` and `ln` come from the platform's libm natively
/// and from Rust's own in the guest, which may differ in the last bit.
fn agree(name: &str, native: &ScoreBits, sandbox: &ScoreBits) {
    assert_eq!(native.len(), sandbox.len(), "{name}: sample counts differ");
    let (mut differ, mut worst) = (0, 0.0f64);
    for (a, b) in native.iter().zip(sandbox) {
        assert_eq!(a.len(), b.len(), "{name}: metric counts differ");
        for (x, y) in a.iter().zip(b) {
            let gap = (x - y).abs();
            assert!(gap <= 1e-9 * x.abs().max(1.0), "{name}: native {x}, sandboxed {y}");
            differ += usize::from(x.to_bits() != y.to_bits());
            worst = worst.max(gap);
        }
    }
    if differ > 0 {
        println!("{name}: {differ} values differ in their last bits (at most {worst:e})");
    }
}

type NativeEvaluator = fn(&str, &[assay_runtime::Sample]) -> (Duration, ScoreBits);

fn native_evaluator<E: Evaluator>(config: &str, samples: &[assay_runtime::Sample]) -> (Duration, ScoreBits) {
    let samples: Vec<assay_sdk::evaluator::Sample> = samples
        .iter()
        .map(|s| assay_sdk::evaluator::Sample {
            id: s.id.clone(),
            input: s.input.clone(),
            output: s.output.clone(),
            references: s.references.clone(),
            label: s.label.clone(),
            metadata: s.metadata.clone(),
        })
        .collect();
    let mut plugin = E::new(serde_json::from_str(config).unwrap()).unwrap();
    let started = Instant::now();
    let scores: Vec<_> = samples.iter().map(|sample| plugin.score(sample).unwrap()).collect();
    let elapsed = started.elapsed();
    (elapsed, scores.into_iter().map(|s| s.values).collect())
}

fn sandbox_scores(host: &Host, loaded: &LoadedPlugin, samples: &[assay_runtime::Sample]) -> (Duration, ScoreBits) {
    let runtime = call_runtime();
    let determinism = Determinism::default();
    let mut instance = runtime.block_on(EvaluatorInstance::instantiate(loaded, host, &determinism)).unwrap();
    let started = Instant::now();
    let mut scores = Vec::with_capacity(samples.len());
    for (b, batch) in samples.chunks(BATCH).enumerate() {
        scores.extend(runtime.block_on(instance.score(batch, b as u64)).unwrap());
    }
    let elapsed = started.elapsed();
    (elapsed, scores.into_iter().map(|s| s.unwrap().values).collect())
}

/// Each record's verdict, as text.
type Verdicts = Vec<String>;

type NativeGuard = fn(&[assay_runtime::Feedback]) -> (Duration, Verdicts);

fn native_guard<G: Guard>(feedback: &[assay_runtime::Feedback]) -> (Duration, Verdicts) {
    use assay_sdk::guard as sdk;
    let feedback: Vec<sdk::Feedback> = feedback
        .iter()
        .map(|f| sdk::Feedback {
            id: f.id.clone(),
            user: f.user.clone(),
            timestamp: f.timestamp.map(|t| sdk::Instant { seconds: t.seconds, nanoseconds: t.nanoseconds }),
            prompt: f.prompt.clone(),
            output: f.output.clone(),
            rating: f.rating.map(|r| match r {
                assay_runtime::Rating::Up => sdk::Rating::Up,
                assay_runtime::Rating::Down => sdk::Rating::Down,
                assay_runtime::Rating::Score(s) => sdk::Rating::Score(s),
            }),
            correction: f.correction.clone(),
            comment: f.comment.clone(),
            metadata: f.metadata.clone(),
        })
        .collect();
    let mut guard = G::new(serde_json::from_str("{}").unwrap()).unwrap();
    let started = Instant::now();
    let verdicts: Vec<_> = feedback.iter().map(|record| guard.screen(record).unwrap().verdict).collect();
    let elapsed = started.elapsed();
    (elapsed, verdicts.iter().map(|v| format!("{v:?}").to_lowercase()).collect())
}

fn sandbox_verdicts(host: &Host, loaded: &LoadedPlugin, feedback: &[assay_runtime::Feedback]) -> (Duration, Verdicts) {
    let runtime = call_runtime();
    let determinism = Determinism::default();
    let mut instance = runtime.block_on(GuardInstance::instantiate(loaded, host, &determinism)).unwrap();
    let started = Instant::now();
    let mut verdicts = Vec::with_capacity(feedback.len());
    for (b, batch) in feedback.chunks(BATCH).enumerate() {
        let screened = runtime.block_on(instance.screen(batch, b as u64)).unwrap();
        verdicts.extend(screened.decisions.into_iter().map(|d| d.unwrap().verdict));
    }
    let elapsed = started.elapsed();
    (elapsed, verdicts.iter().map(|v| format!("{v:?}").to_lowercase()).collect())
}
