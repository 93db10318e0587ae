//! A plugin that misbehaves on command: each sample's `output` names what to
//! do. It implements the generated bindings directly, not the SDK trait, so
//! it can break the contract itself (wrong result counts, NaN), which the SDK
//! would not let a plugin do.
//!
//! Commands: `ok` scores 1; `panic`; `loop`; `recurse`; `grow` (allocates
//! without bound); `sleep`; `nan`; `inf`; `huge` (a 32 MiB error message);
//! `read:PATH` and `list:PATH` score 1 when the file or folder can be read;
//! `write:PATH` scores 1 when the file can be created; `env` scores the number
//! of environment variables and arguments; `tcp:ADDR` scores 1 when a
//! connection opens; `time` scores the wall clock's seconds; `random` scores
//! a random number; `few` and `many` return one result too few or too many
//! for the batch; `later:CMD` behaves on the first call and runs CMD on later
//! ones; `fail` returns a plugin error.

// The export macro only exists on wasm: `cargo test --workspace` also builds
// this crate natively, where nothing uses the plugin.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use std::cell::Cell;

use assay_sdk::evaluator::bindings::exports::assay::plugin::evaluator::{
    CorpusScore, Guest, Level, Metric, Sample, Scores, Statistic,
};
use assay_sdk::{PluginInfo, Setting};

thread_local! {
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

struct Hostile;

fn run(command: &str, first_call: bool) -> Result<f64, String> {
    let (verb, arg) = command.split_once(':').unwrap_or((command, ""));
    Ok(match verb {
        "ok" => 1.0,
        "fail" => return Err("this sample is not to my liking".into()),
        // An error message of the eval set's choosing: control bytes, markup.
        "say" => return Err(arg.into()),
        "panic" => panic!("hostile plugin panicked on purpose"),
        "loop" => loop {
            std::hint::black_box(0);
        },
        "recurse" => recurse(std::hint::black_box(1)) as f64,
        "grow" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            1.0
        }
        "nan" => f64::NAN,
        "inf" => f64::INFINITY,
        "huge" => return Err("x".repeat(32 << 20)),
        "read" => std::fs::read(arg).map_or(0.0, |_| 1.0),
        "list" => std::fs::read_dir(arg).map_or(0.0, |_| 1.0),
        "write" => std::fs::write(arg, b"pwned").map_or(0.0, |_| 1.0),
        "env" => (std::env::vars().count() + std::env::args().count()) as f64,
        "tcp" => std::net::TcpStream::connect(arg).map_or(0.0, |_| 1.0),
        "time" => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(-1.0, |d| d.as_secs_f64()),
        "random" => (getrandom::u64().map_err(|e| e.to_string())? >> 11) as f64,
        "later" if first_call => 1.0,
        "later" => run(arg, false)?,
        other => return Err(format!("unknown command {other:?}")),
    })
}

// Overflowing the stack is the point: `recurse` is how a test plugin hits
// the host's stack limit.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    recurse(frame[0] + 1) + frame[63]
}

impl Guest for Hostile {
    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("hostile", "misbehaves on command")
    }

    fn metrics() -> Vec<Metric> {
        vec![Metric {
            name: "value".into(),
            description: "what the command scored".into(),
            higher_is_better: true,
            level: Level::Sample,
        }]
    }

    fn configure(_: String) -> Result<Vec<Setting>, String> {
        Ok(Vec::new())
    }

    fn score(batch: Vec<Sample>) -> Vec<Result<Scores, String>> {
        let first_call = CALLS.with(|c| {
            c.set(c.get() + 1);
            c.get() == 1
        });
        let mut results: Vec<Result<Scores, String>> = batch
            .iter()
            .map(|s| {
                run(s.output.strip_prefix("later:").filter(|_| first_call).map_or(&s.output, |_| "ok"), first_call)
            })
            .map(|r| r.map(|v| Scores { values: vec![v], statistics: Vec::new() }))
            .collect();
        if batch.iter().any(|s| s.output == "few") {
            results.pop();
        }
        if batch.iter().any(|s| s.output == "many") {
            results.push(Ok(Scores { values: vec![1.0], statistics: Vec::new() }));
        }
        results
    }

    fn finalize(_: Vec<Statistic>) -> Result<Vec<CorpusScore>, String> {
        Ok(Vec::new())
    }
}

#[cfg(target_arch = "wasm32")]
assay_sdk::evaluator::bindings::__export_evaluator_bindings!(Hostile with_types_in assay_sdk::evaluator::bindings);
