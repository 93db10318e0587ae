//! Model-graded evaluation against a fake model on loopback that answers
//! after a fixed latency: judged samples per second as `max_concurrency`
//! grows, against the ideal `concurrency / latency`, and the host's own cost
//! per judged sample.
//!
//! `cargo bench -p assay --bench judge [-- SAMPLES [LATENCY_MS]]` (defaults:
//! 512 samples, 50 ms) runs the built-in `judge` through the real pipeline,
//! broker and cache. The reference each row is measured against is the
//! same run's ideal: with `C` requests in flight at `L` each, `C / L`
//! samples per second. The host's cost is measured twice: answered from the
//! cache with no network (everything but the provider: plugin, contract,
//! broker, cache), and as process CPU time per sample of a live run, which
//! also counts the fake server's own work, so it overstates the host's.

mod common;
#[path = "../../tests/common/fake_model.rs"]
mod fake_model;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use assay_data::FieldMap;
use assay_models::broker::Policy;
use assay_models::contract::Brokered;
use assay_models::{Broker, Budget, CacheMode, ModelConfig, ProviderKind, ResponseCache};
use assay_pipeline::evaluate;
use assay_runtime::{ComponentCache, Host, Kind};

fn main() {
    let mut numbers = std::env::args().skip(1).filter_map(|a| a.parse::<u64>().ok());
    let samples = numbers.next().unwrap_or(512) as usize;
    let latency = Duration::from_millis(numbers.next().unwrap_or(50));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("judged.jsonl");
    generate(&input, samples);
    let fake = fake_model::FakeModel::start();
    *fake.latency.lock().unwrap() = latency;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{samples} samples, fake model latency {latency:?}, {jobs} workers, batches of 64");
    println!("{:>11} {:>12} {:>12} {:>9} {:>10}", "concurrency", "samples/s", "ideal C/L", "of ideal", "in flight");

    for concurrency in [1, 2, 4, 8, 16, 32, 64, 128] {
        // Fewer samples where each takes long, so every row takes seconds.
        let n = samples.min(concurrency * 16);
        let input = dir.path().join(format!("judged-{n}.jsonl"));
        generate(&input, n);
        fake.most_in_flight.store(0, std::sync::atomic::Ordering::SeqCst);
        let (elapsed, _) = judge(&fake, concurrency, Policy::default(), &input, n, dir.path());
        let rate = n as f64 / elapsed.as_secs_f64();
        let ideal = concurrency as f64 / latency.as_secs_f64();
        let most = fake.most_in_flight.load(std::sync::atomic::Ordering::SeqCst);
        println!("{concurrency:>11} {rate:>12.1} {ideal:>12.1} {:>8.0}% {most:>10}", 100.0 * rate / ideal);
    }

    // The host's own cost: every answer from the cache, no network.
    *fake.latency.lock().unwrap() = Duration::ZERO;
    let cache = dir.path().join("models");
    let rw = Policy {
        cache: Some(ResponseCache::new(&cache)),
        mode: CacheMode::Rw,
        replay: false,
        budget: Budget::default(),
    };
    let (live, cpu) = judge(&fake, 64, rw.clone(), &input, samples, dir.path());
    let replay = Policy { replay: true, ..rw };
    let mut cached: Vec<Duration> =
        (0..3).map(|_| judge(&fake, 64, replay.clone(), &input, samples, dir.path()).0).collect();
    cached.sort();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / samples as f64;
    println!(
        "host cost per judged sample: {:.1} µs answered from the cache (median of 3); live at zero latency {:.1} µs wall, {:.1} µs CPU (fake server included)",
        per(cached[1]),
        per(live),
        per(cpu)
    );
}

/// Judges `input` (`n` samples) with the built-in `judge` through a broker
/// of `concurrency`; the wall time and the process CPU time it took.
fn judge(
    fake: &fake_model::FakeModel,
    concurrency: usize,
    policy: Policy,
    input: &Path,
    n: usize,
    dir: &Path,
) -> (Duration, Duration) {
    let config = ModelConfig {
        provider: ProviderKind::Openai,
        base_url: fake.base_url(),
        model: "fake-judge-1".into(),
        api_key_env: None,
        max_concurrency: concurrency,
        requests_per_minute: None,
        tokens_per_minute: None,
        timeout_ms: 60_000,
        max_retries: 0,
        price: None,
    };
    let broker = Broker::new(&BTreeMap::from([("grader".to_string(), config)]), policy).unwrap();
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let options = common::options(jobs);
    let judge_config: toml::Table = toml::from_str("model = \"grader\"\nrubric = \"Is the answer correct?\"").unwrap();
    let mut spec = common::spec("judge", common::builtin("judge"), &judge_config, Vec::new());
    spec.models = vec!["grader".into()];
    let cache = ComponentCache::new(dir.join("cache"), assay_runtime::cache::CacheKey::ephemeral());
    let host = Host::new(std::slice::from_ref(&spec), jobs, cache).unwrap().with_models(Arc::new(Brokered(broker)));
    let plugins = host.prepare(std::slice::from_ref(&spec), Kind::Evaluator, &options.schedule.determinism).unwrap();
    let (start, cpu) = (Instant::now(), cpu_time());
    let summary =
        evaluate(&host, &plugins, input, None, &FieldMap::samples(), &options, &dir.join("out"), &()).unwrap();
    let (elapsed, cpu) = (start.elapsed(), cpu_time() - cpu);
    assert_eq!(summary.counts.samples, n as u64);
    assert_eq!(summary.counts.errors, 0, "every sample judged");
    (elapsed, cpu)
}

/// This process's user and system CPU time so far.
fn cpu_time() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

fn generate(path: &Path, samples: usize) {
    let answers = ["Ankara", "Paris", "東京", "İzmir'de ılık bir gün", "1969", "Au"];
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..samples {
        let answer = answers[i % answers.len()];
        let reference = answers[(i / 2) % answers.len()];
        let line = serde_json::json!({"id": format!("s{i}"), "input": format!("Question {i}?"), "output": answer, "reference": reference});
        writeln!(out, "{line}").unwrap();
    }
    out.flush().unwrap();
}
