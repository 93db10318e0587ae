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
//! ones; `fail` returns a plugin error; `say:TEXT` fails with TEXT;
//! `flood-panic` writes 1.2 MB to stderr, then panics; `long-error` fails with a 5,000-byte message; `bigframe` recurses with
//! 200 KB frames, which the guest fills with `memory.fill`; `stat-name:N`
//! gives one statistic with an N-byte name; `stats:N:TAG` gives N statistics
//! named `TAG-0` to `TAG-(N-1)`, each 200 bytes long.
//!
//! Its configuration misbehaves too: `configure = "huge-error"` rejects it
//! with a 1 MiB message, `configure = "many-settings"` reports 10,000
//! settings; `finalize = "members:N"` returns N members of the `member[*]`
//! family (besides `declared`, always 0), `finalize = "omit"` returns
//! nothing, not even the declared metric, `finalize = "huge-error"` fails
//! with a 1 MiB message.

// The export macro only exists on wasm: `cargo test --workspace` also builds
// this crate natively, where nothing uses the plugin.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use std::cell::{Cell, RefCell};

use assay_sdk::evaluator::bindings::exports::assay::plugin::evaluator::{
    CorpusScore, Guest, Level, Metric, Sample, Scores, Statistic,
};
use assay_sdk::{PluginInfo, Setting};

thread_local! {
    static CALLS: Cell<u64> = const { Cell::new(0) };
    static CONFIG: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The value of `key` in the configuration, read without a JSON parser:
/// the values are plain words.
fn setting(key: &str) -> Option<String> {
    CONFIG.with(|config| {
        let config = config.borrow();
        let rest = &config[config.find(&format!("\"{key}\":\""))? + key.len() + 4..];
        Some(rest[..rest.find('"')?].to_string())
    })
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
        "flood-panic" => {
            eprint!("{}", "noise ".repeat(200_000));
            panic!("hostile plugin panicked on purpose after a flood")
        }
        "loop" => loop {
            std::hint::black_box(0);
        },
        "recurse" => recurse(std::hint::black_box(1)) as f64,
        "bigframe" => recurse_big(std::hint::black_box(1)) as f64,
        "long-error" => return Err("e".repeat(5000)),
        "stat-name" | "stats" => 1.0,
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

// Frames too large for a load or store: the compiler fills them with
// `memory.fill`, whose fault carries no address.
#[allow(unconditional_recursion)]
fn recurse_big(depth: u64) -> u64 {
    let mut frame = [0u8; 200_000];
    frame[0] = depth as u8;
    std::hint::black_box(&mut frame);
    recurse_big(depth + 1) + u64::from(frame[199_999])
}

/// The statistics a command asks for.
fn statistics(command: &str) -> Vec<Statistic> {
    let (verb, arg) = command.split_once(':').unwrap_or((command, ""));
    match verb {
        "stat-name" => vec![Statistic { name: "s".repeat(arg.parse().unwrap_or(1)), value: 1.0 }],
        "stats" => {
            let (n, tag) = arg.split_once(':').unwrap_or((arg, ""));
            let n: usize = n.parse().unwrap_or(0);
            (0..n).map(|i| Statistic { name: format!("{tag}-{i}-{}", "s".repeat(180)), value: 1.0 }).collect()
        }
        _ => Vec::new(),
    }
}

impl Guest for Hostile {
    fn describe() -> PluginInfo {
        // A description that would set a terminal's title and clear its
        // screen, were it printed raw.
        assay_sdk::plugin_info!("hostile", "misbehaves on command\u{1b}]0;pwned\u{7}\u{1b}[2J\r\n## forged")
    }

    fn metrics() -> Vec<Metric> {
        vec![
            Metric {
                name: "value".into(),
                description: "what the command scored".into(),
                higher_is_better: true,
                level: Level::Sample,
            },
            Metric {
                name: "member[*]".into(),
                description: "whatever finalize was told to return".into(),
                higher_is_better: true,
                level: Level::Corpus,
            },
            Metric {
                name: "declared".into(),
                description: "0, unless finalize is told to omit it".into(),
                higher_is_better: true,
                level: Level::Corpus,
            },
        ]
    }

    fn configure(config: String) -> Result<Vec<Setting>, String> {
        CONFIG.with(|c| *c.borrow_mut() = config);
        match setting("configure").as_deref() {
            Some("huge-error") => Err("c".repeat(1 << 20)),
            Some("many-settings") => {
                Ok((0..10_000).map(|i| Setting { key: format!("k{i}"), value: i.to_string() }).collect())
            }
            _ => Ok(Vec::new()),
        }
    }

    fn score(batch: Vec<Sample>) -> Vec<Result<Scores, String>> {
        let first_call = CALLS.with(|c| {
            c.set(c.get() + 1);
            c.get() == 1
        });
        let mut results: Vec<Result<Scores, String>> = batch
            .iter()
            .map(|s| {
                let value =
                    run(s.output.strip_prefix("later:").filter(|_| first_call).map_or(&s.output, |_| "ok"), first_call);
                value.map(|v| Scores { values: vec![v], statistics: statistics(&s.output) })
            })
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
        let how = setting("finalize").unwrap_or_default();
        match how.as_str() {
            "huge-error" => return Err("f".repeat(1 << 20)),
            "omit" => return Ok(Vec::new()),
            _ => {}
        }
        let members: usize = how.strip_prefix("members:").and_then(|n| n.parse().ok()).unwrap_or(0);
        let declared = CorpusScore { name: "declared".into(), value: 0.0 };
        Ok(std::iter::once(declared)
            .chain((0..members).map(|i| CorpusScore { name: format!("member[{i}]"), value: i as f64 }))
            .collect())
    }
}

#[cfg(target_arch = "wasm32")]
assay_sdk::evaluator::bindings::__export_evaluator_bindings!(Hostile with_types_in assay_sdk::evaluator::bindings);
