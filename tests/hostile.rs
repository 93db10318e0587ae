//! The hostile corpus: a plugin that misbehaves on command, run through the
//! real binary to prove that the host survives every misbehavior, types each
//! failure, stops it in bounded time, keeps scoring the other samples and
//! plugins, and always writes complete, valid output files.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// A safety bound on any one run, not a benchmark.
const BOUND: Duration = Duration::from_secs(30);

/// What one run of the hostile plugin beside `exact_match` produced.
struct Run {
    output: std::process::Output,
    samples: Vec<Value>,
    summary: Value,
    elapsed: Duration,
}

/// Writes `commands` as an eval set (each sample's reference equals its
/// output, so `exact_match` scores 1 everywhere) and runs it, with extra
/// lines for the `[plugins.hostile]` table (limits, grants) and for `[run]`.
/// Checks that both output files are complete and that `exact_match` scored
/// every sample, whatever the hostile plugin did.
fn run_commands(dir: &Path, commands: &[&str], plugin_settings: &str, run_settings: &str, args: &[&str]) -> Run {
    let (output, elapsed) = invoke(dir, commands, plugin_settings, run_settings, args);
    let out = dir.join("out");
    let run = Run {
        samples: read_jsonl(&out.join("samples.jsonl")),
        summary: read_json(&out.join("summary.json")),
        output,
        elapsed,
    };
    assert_eq!(run.samples.len(), commands.len(), "one complete line per sample");
    for (i, sample) in run.samples.iter().enumerate() {
        assert_eq!(sample["id"], json!(i), "samples keep input order");
        assert_eq!(
            sample["scores"]["exact_match/exact_match"],
            json!(1.0),
            "the other plugin scores sample {i}: {sample}"
        );
    }
    run
}

/// Runs the binary as [`run_commands`] does, into `dir/out`, without reading the results.
fn invoke(
    dir: &Path,
    commands: &[&str],
    plugin_settings: &str,
    run_settings: &str,
    args: &[&str],
) -> (std::process::Output, Duration) {
    let lines: Vec<Value> =
        commands.iter().enumerate().map(|(i, c)| json!({"id": i, "output": c, "reference": c})).collect();
    let eval_set = jsonl(dir, "hostile.jsonl", &lines);
    let config = dir.join("assay.toml");
    std::fs::write(
        &config,
        format!(
            "[run]\nbatch_size = 1\n{run_settings}\n\n[plugins.hostile]\nsource = {:?}\n{plugin_settings}\n\n[plugins.exact_match]\n",
            artifacts::HOSTILE
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let started = Instant::now();
    let output = run(assay().arg("run").arg("--config").arg(&config).args(args).arg("-o").arg(&out).arg(&eval_set));
    let elapsed = started.elapsed();
    assert!(elapsed < BOUND, "the run took {elapsed:?}");
    (output, elapsed)
}

/// What the hostile plugin got for each sample: its error kind, or its value.
fn outcomes(run: &Run) -> Vec<Value> {
    run.samples
        .iter()
        .map(|s| match s["errors"].get("hostile") {
            Some(error) => error["kind"].clone(),
            None => s["scores"]["hostile/value"].clone(),
        })
        .collect()
}

/// Generous fuel, so that wall-clock deadlines decide.
const TIMEOUT_DECIDES: &str = "limits = { timeout_ms = 1000, memory_mib = 64, fuel_per_sample = 1000000000000 }";

#[test]
fn every_misbehavior_fails_only_its_own_sample_with_its_own_kind() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, Value)] = &[
        ("ok", json!(1.0)),
        ("loop", json!("timeout")),
        ("ok", json!(1.0)),
        ("recurse", json!("stack-overflow")),
        ("ok", json!(1.0)),
        ("grow", json!("memory-limit")),
        ("ok", json!(1.0)),
        ("huge", json!("invalid-output")),
        ("panic", json!("trap")),
        ("sleep", json!("timeout")),
        ("nan", json!("invalid-output")),
        ("inf", json!("invalid-output")),
        ("few", json!("invalid-output")),
        ("many", json!("invalid-output")),
        ("fail", json!("plugin-error")),
        ("ok", json!(1.0)),
    ];
    let commands: Vec<&str> = cases.iter().map(|(c, _)| *c).collect();
    let run = run_commands(dir.path(), &commands, TIMEOUT_DECIDES, "jobs = 1", &[]);
    expect_code(&run.output, 3);
    let expected: Vec<Value> = cases.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(outcomes(&run), expected);

    let errors = &run.summary["errors"]["hostile"];
    assert_eq!(
        errors,
        &json!({"timeout": 2, "stack-overflow": 1, "memory-limit": 1, "invalid-output": 5, "trap": 1, "plugin-error": 1})
    );
    assert_eq!(run.summary["counts"], json!({"records": 16, "samples": 16, "errors": 11, "skipped": 0}));
    assert_eq!(run.summary["metrics"]["hostile/value"], json!(1.0), "the mean is over the scored samples only");
    assert!(run.summary["errors"].get("exact_match").is_none());
    let message = |i: usize| run.samples[i]["errors"]["hostile"]["message"].as_str().unwrap().to_string();
    assert!(message(1).contains("1000 ms deadline"), "{}", message(1));
    assert!(message(5).contains("64 MiB cap"), "{}", message(5));
    assert!(message(7).contains("limits.max_output_bytes"), "{}", message(7));
    assert!(message(8).contains("panicked on purpose"), "{}", message(8));
    // Two one-second deadlines and some fast failures.
    assert!(run.elapsed < Duration::from_secs(20), "{:?}", run.elapsed);
}

#[test]
fn a_loop_is_a_timeout_or_out_of_fuel_depending_on_limits() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_commands(
        dir.path(),
        &["loop", "ok"],
        "limits = { timeout_ms = 500, fuel_per_sample = 1000000000000 }",
        "",
        &[],
    );
    assert_eq!(outcomes(&run), [json!("timeout"), json!(1.0)]);
    assert!(run.elapsed >= Duration::from_millis(500));

    let run = run_commands(
        dir.path(),
        &["loop", "ok"],
        "limits = { timeout_ms = 60000, fuel_per_sample = 20000000 }",
        "",
        &[],
    );
    assert_eq!(outcomes(&run), [json!("out-of-fuel"), json!(1.0)]);
    assert!(run.samples[0]["errors"]["hostile"]["message"].as_str().unwrap().contains("20000000 units"));
}

#[test]
fn a_plugin_sleeping_in_a_host_call_is_stopped_by_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_commands(dir.path(), &["sleep", "ok"], "limits = { timeout_ms = 300 }", "", &[]);
    assert_eq!(outcomes(&run), [json!("timeout"), json!(1.0)]);
    assert!(run.elapsed < Duration::from_secs(10), "an hour-long sleep took {:?}", run.elapsed);
}

#[test]
fn a_plugin_that_misbehaves_after_its_first_call_fails_only_later_samples() {
    let dir = tempfile::tempdir().unwrap();
    // One worker, one sample per call: the first instance behaves on its
    // first call, breaks on its third, and its replacement starts afresh.
    let commands = ["later:panic", "ok", "later:panic", "ok", "later:nan", "later:grow"];
    let run = run_commands(dir.path(), &commands, TIMEOUT_DECIDES, "jobs = 1", &[]);
    assert_eq!(
        outcomes(&run),
        [json!(1.0), json!(1.0), json!("trap"), json!(1.0), json!("invalid-output"), json!("memory-limit")]
    );
}

#[test]
fn the_plugin_sees_no_files_environment_or_network() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let cwd = std::env::current_dir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "secret").unwrap();
    let target = dir.path().join("planted.txt");
    let commands = [
        "read:/etc/passwd".to_string(),
        "list:/".to_string(),
        format!("list:{home}"),
        format!("read:{}", victim.display()),
        "list:.".to_string(),
        format!("list:{}", cwd.display()),
        "read:Cargo.toml".to_string(),
        format!("write:{}", target.display()),
        "write:planted.txt".to_string(),
        "env".to_string(),
        format!("tcp:{address}"),
        "tcp:localhost:1".to_string(),
    ];
    let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
    let run = run_commands(dir.path(), &commands, "", "", &[]);
    expect_code(&run.output, 0);
    assert_eq!(outcomes(&run), vec![json!(0.0); commands.len()], "every attempt failed inside the plugin");
    assert!(!target.exists() && !dir.path().join("planted.txt").exists(), "nothing was written");
    assert_eq!(run.summary["plugins"][0]["grants"], json!([]), "nothing was granted");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the listener received a connection: {other:?}"),
    }
}

#[test]
fn a_secret_in_the_hosts_environment_stays_there() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [json!({"output": "env", "reference": "env"})];
    let eval_set = jsonl(dir.path(), "env.jsonl", &lines);
    let output = run(assay()
        .env("ASSAY_TEST_SECRET", "hunter2")
        .args(["run", "-e", artifacts::HOSTILE, "-o"])
        .arg(dir.path().join("out"))
        .arg(&eval_set));
    expect_code(&output, 0);
    assert_eq!(read_jsonl(&dir.path().join("out/samples.jsonl"))[0]["scores"]["hostile/value"], json!(0.0));
}

/// Samples that try to depend on the clock and on randomness.
const NONDETERMINISTIC: &[&str] = &["time", "random", "ok", "random", "time", "random", "later:random", "random"];

#[test]
fn time_and_randomness_do_not_make_scores_nondeterministic() {
    let dir = tempfile::tempdir().unwrap();
    let commands: Vec<&str> = NONDETERMINISTIC.iter().cycle().take(200).copied().collect();
    let mut runs = Vec::new();
    for jobs in ["1", "1", "2", "3"] {
        let run = run_commands(dir.path(), &commands, "", "", &["-j", jobs, "--batch-size", "4"]);
        expect_code(&run.output, 0);
        runs.push((std::fs::read(dir.path().join("out/samples.jsonl")).unwrap(), run));
    }
    let (first, run) = &runs[0];
    for (samples, other) in &runs[1..] {
        assert!(samples == first, "samples.jsonl differs between runs or -j values");
        assert_eq!(other.summary["plugins"][0]["fuel"], run.summary["plugins"][0]["fuel"], "fuel is deterministic");
    }
    assert_eq!(run.summary["run"]["reproducible"], json!(true));
    // The clock is stopped at 2000-01-01; random numbers differ between calls.
    assert_eq!(run.samples[0]["scores"]["hostile/value"], json!(946_684_800.0));
    let randoms: std::collections::BTreeSet<String> = run
        .samples
        .iter()
        .filter(|s| s["id"].as_u64().unwrap() % 8 == 1)
        .map(|s| s["scores"]["hostile/value"].to_string())
        .collect();
    assert!(randoms.len() > 10, "random numbers vary between calls: {randoms:?}");
    assert!(run.summary["plugins"][0]["fuel"]["mean_per_sample"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_real_clock_makes_the_run_not_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_commands(dir.path(), &["time"], "", "real_clock = true", &[]);
    expect_code(&run.output, 0);
    assert_eq!(run.summary["run"]["reproducible"], json!(false));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let seen = run.samples[0]["scores"]["hostile/value"].as_f64().unwrap();
    assert!((now - seen).abs() < 600.0, "the plugin saw {seen}, the host {now}");
}

#[test]
fn a_granted_directory_is_readable_and_nothing_beyond_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("allowed.txt"), "public").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), data.join("link")).unwrap();
    std::os::unix::fs::symlink(dir.path(), data.join("up")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", data.join("passwd")).unwrap();
    let cases: &[(&str, f64)] = &[
        ("read:/data/allowed.txt", 1.0),
        ("list:/data", 1.0),
        ("read:/data/../secret.txt", 0.0),
        ("read:/secret.txt", 0.0),
        ("list:/data/..", 0.0),
        ("read:/data/link", 0.0),
        ("read:/data/up/secret.txt", 0.0),
        ("read:/data/passwd", 0.0),
        ("write:/data/allowed.txt", 0.0),
        ("write:/data/new.txt", 0.0),
        ("read:/etc/passwd", 0.0),
    ];
    let commands: Vec<&str> = cases.iter().map(|(c, _)| *c).collect();
    let run = run_commands(dir.path(), &commands, r#"grants = ["./data:/data"]"#, "", &[]);
    expect_code(&run.output, 0);
    let expected: Vec<Value> = cases.iter().map(|(_, v)| json!(v)).collect();
    assert_eq!(outcomes(&run), expected, "{:?}", commands);
    assert_eq!(
        std::fs::read_to_string(data.join("allowed.txt")).unwrap(),
        "public",
        "the read-only grant was not written"
    );
    assert!(!data.join("new.txt").exists());
    let grants = run.summary["plugins"][0]["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1);
    assert!(grants[0].as_str().unwrap().ends_with("data:/data"), "{grants:?}");
    assert_eq!(run.summary["plugins"][1]["grants"], json!([]), "a grant is per plugin");
}

#[test]
fn an_interface_the_sandbox_does_not_provide_is_refused_by_name_at_load_time() {
    let dir = tempfile::tempdir().unwrap();
    let eval_set = jsonl(dir.path(), "s.jsonl", &[json!({"output": "a", "reference": "a"})]);
    let out = dir.path().join("out");
    let output =
        run(assay().args(["run", "-e", artifacts::SECRET_IMPORT, "-e", "exact_match", "-o"]).arg(&out).arg(&eval_set));
    expect_code(&output, 1);
    let message = stderr(&output);
    assert!(
        message.contains("imports `acme:secrets/vault`, which the sandbox does not provide; no setting grants it"),
        "{message}"
    );
    assert!(!out.join("samples.jsonl").exists(), "nothing ran");

    let output = run(assay().arg("inspect").arg(artifacts::SECRET_IMPORT));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("`acme:secrets/vault`"), "{}", stderr(&output));
}

#[test]
fn inspect_says_what_each_import_gives_and_which_need_a_grant() {
    let output = run(assay().args(["inspect", "--json", artifacts::HOSTILE]));
    expect_code(&output, 0);
    let info: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let capabilities = info["capabilities"].as_array().unwrap();
    assert_eq!(capabilities.len(), info["imports"].as_array().unwrap().len(), "one entry per import");
    let of = |prefix: &str| {
        capabilities
            .iter()
            .find(|c| c["import"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}"))
    };
    // Rust's std links sockets for TcpStream: linked, never usable.
    assert!(of("wasi:sockets/tcp@").get("default").unwrap().as_str().unwrap().contains("every operation denied"));
    assert_eq!(of("wasi:sockets/tcp@")["grant"], Value::Null);
    assert!(of("wasi:filesystem/preopens@")["grant"].as_str().unwrap().contains("grants = "));
    assert!(of("wasi:clocks/wall-clock@")["grant"].as_str().unwrap().contains("real_clock"));
    assert_eq!(of("wasi:cli/environment@")["grant"], Value::Null);

    let output = run(assay().arg("inspect").arg(artifacts::HOSTILE));
    expect_code(&output, 0);
    let text = stdout(&output);
    let line = text.lines().find(|l| l.trim_start().starts_with("wasi:filesystem/types@")).unwrap();
    assert!(line.contains("no files at all; needs a grant for more: [plugins.NAME] grants ="), "{line}");
    // The description asks a terminal to retitle and clear itself.
    assert!(text.contains("misbehaves on command"), "{text}");
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "inspect prints control characters: {text:?}");
    assert!(!text.lines().any(|l| l.starts_with("## forged")), "{text}");
}

#[test]
fn a_plugin_that_says_too_much_of_itself_is_refused_in_a_few_words() {
    // 40 metric names of 512 KiB: refused when loaded, by `inspect` (what
    // people run to vet a plugin) and by `run`, each in one short message.
    let output = run(assay().arg("inspect").arg(artifacts::BOASTFUL));
    assert!(!output.status.success());
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(err.contains("use 1 to 128 letters, digits") && err.len() < 1000, "{err}");
    assert!(out.len() < 1000, "{out}");

    let dir = tempfile::tempdir().unwrap();
    let eval_set = jsonl(dir.path(), "s.jsonl", &[json!({"output": "a", "reference": "a"})]);
    let output = run(assay().args(["run", "-e", artifacts::BOASTFUL, "-o"]).arg(dir.path().join("out")).arg(&eval_set));
    assert!(!output.status.success());
    assert!(stderr(&output).len() < 1000, "{}", stderr(&output));
    assert!(!dir.path().join("out/samples.jsonl").exists(), "nothing is written for a refused plugin");
}

#[test]
fn a_plugin_failing_on_most_samples_stops_the_run_early_at_the_same_point_for_any_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let commands: Vec<&str> = (0..2000).map(|i| if i % 10 == 0 { "ok" } else { "panic" }).collect();
    let settings = "max_failure_rate = 0.5\nmin_samples = 50";
    let mut messages = Vec::new();
    for jobs in ["1", "2"] {
        let (output, _) = invoke(dir.path(), &commands, "", settings, &["-j", jobs]);
        expect_code(&output, 1);
        assert!(!dir.path().join("out/samples.jsonl").exists() && !dir.path().join("out/summary.json").exists());
        messages.push(stderr(&output));
    }
    // Calls of one sample make chunks of 16: the rate is first checked after 64.
    let expected = "plugin \"hostile\" failed on 57 of the first 64 samples (57 trap), over [run] max_failure_rate = 0.5; \
                    the run stopped early and wrote no results";
    assert!(messages[0].contains(expected), "{}", messages[0]);
    assert_eq!(messages[0], messages[1]);

    // Under the rate, every sample is tried.
    let commands: Vec<&str> = (0..200).map(|i| if i % 3 == 0 { "panic" } else { "ok" }).collect();
    let run = run_commands(dir.path(), &commands, "", settings, &[]);
    expect_code(&run.output, 3);
    assert_eq!(run.summary["errors"]["hostile"]["trap"], 67);
}

#[test]
fn the_memory_cap_is_recorded_when_it_is_also_the_pooling_allocators_slot_size() {
    // Alone in the run, the plugin's cap sizes the engine's memory slots, so
    // the pool and the limiter refuse the same growth.
    let dir = tempfile::tempdir().unwrap();
    let eval_set = jsonl(dir.path(), "s.jsonl", &[json!({"output": "grow"}), json!({"output": "ok"})]);
    let config = dir.path().join("assay.toml");
    std::fs::write(
        &config,
        format!(
            "[run]\nbatch_size = 1\n[plugins.hostile]\nsource = {:?}\nlimits = {{ memory_mib = 32 }}\n",
            artifacts::HOSTILE
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = run(assay().arg("run").arg("--config").arg(&config).arg("-o").arg(&out).arg(&eval_set));
    expect_code(&output, 3);
    let samples = read_jsonl(&out.join("samples.jsonl"));
    assert_eq!(samples[0]["errors"]["hostile"]["kind"], "memory-limit");
    assert_eq!(samples[1]["scores"]["hostile/value"], 1.0);
}

#[test]
fn plugin_text_reaches_ci_files_and_terminals_inert() {
    let dir = tempfile::tempdir().unwrap();
    let (junit, markdown) = (dir.path().join("junit.xml"), dir.path().join("summary.md"));
    let hostile = "say:\u{1b}]0;pwned\u{7}\u{1b}[2J\r\n## all gates passed ![t](http://e.x/t.png) </failure>\u{0}";
    let run = run_commands(
        dir.path(),
        &["ok", hostile],
        "",
        "",
        &["--junit", junit.to_str().unwrap(), "--junit-samples", "--markdown", markdown.to_str().unwrap()],
    );
    expect_code(&run.output, 3);
    // The message is kept whole in the result file, as data.
    assert_eq!(run.samples[1]["errors"]["hostile"]["message"], &hostile["say:".len()..]);

    let xml = std::fs::read_to_string(&junit).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut failures = Vec::new();
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("the JUnit file is not well-formed XML: {e}\n{xml}")) {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Text(text) => failures.push(text.decode().unwrap().into_owned()),
            _ => {}
        }
    }
    assert!(failures.iter().any(|f| f.contains("all gates passed")), "the failure is reported: {failures:?}");
    assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}'), "{xml}");

    for (what, text) in [
        ("stdout", stdout(&run.output)),
        ("stderr", stderr(&run.output)),
        ("markdown", std::fs::read_to_string(&markdown).unwrap()),
    ] {
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{what} holds control characters: {text:?}");
        // The plugin's text may be quoted, but never forge a line of its own.
        assert!(!text.lines().any(|l| l.trim_start().starts_with("## all gates")), "{what}: {text}");
    }
    assert!(!std::fs::read_to_string(&markdown).unwrap().contains("## all gates"), "the markdown quotes no heading");
}

#[test]
fn a_plugin_that_keeps_state_scores_the_same_for_every_number_of_workers() {
    // `later:fail` succeeds on an instance's first call only: a plugin whose
    // answers depend on what it saw before. One sample per call, so a chunk
    // is 16 samples and 40 samples are three chunks.
    let commands = vec!["later:fail"; 40];
    let mut results = Vec::new();
    for jobs in ["1", "2", "3"] {
        let dir = tempfile::tempdir().unwrap();
        let (output, _) = invoke(dir.path(), &commands, "", "", &["-j", jobs]);
        expect_code(&output, 3);
        results.push(std::fs::read_to_string(dir.path().join("out/samples.jsonl")).unwrap());
    }
    assert_eq!(results[0], results[1], "-j 1 and -j 2");
    assert_eq!(results[0], results[2], "-j 1 and -j 3");
    let samples: Vec<Value> = results[0].lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let fresh: Vec<usize> =
        samples.iter().enumerate().filter(|(_, s)| s["scores"]["hostile/value"].is_number()).map(|(i, _)| i).collect();
    assert_eq!(fresh, [0, 16, 32], "each chunk starts on a fresh instance");
}

#[test]
fn answers_past_a_bound_fail_typed_and_say_which_bound() {
    let dir = tempfile::tempdir().unwrap();
    let many_names = "stats:40000:one-call";
    let cases: &[(&str, Value)] = &[
        ("ok", json!(1.0)),
        ("bigframe", json!("stack-overflow")),
        ("long-error", json!("invalid-output")),
        ("flood-panic", json!("trap")),
        ("stat-name:256", json!(1.0)),
        ("stat-name:257", json!("invalid-output")),
        (many_names, json!("invalid-output")),
        ("ok", json!(1.0)),
    ];
    let commands: Vec<&str> = cases.iter().map(|(c, _)| *c).collect();
    let run = run_commands(dir.path(), &commands, TIMEOUT_DECIDES, "", &[]);
    expect_code(&run.output, 3);
    let expected: Vec<Value> = cases.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(outcomes(&run), expected);
    let message = |i: usize| run.samples[i]["errors"]["hostile"]["message"].as_str().unwrap().to_string();
    assert!(message(2).contains("5000 bytes, over the 4096 byte limit") && message(2).len() < 300, "{}", message(2));
    // The flood is cut in the middle: the panic at its end is still quoted.
    assert!(message(3).contains("panicked on purpose after a flood") && message(3).len() < 4000, "{}", message(3));
    assert!(message(5).contains("1 to 256 bytes"), "{}", message(5));
    assert!(message(6).contains("40000 distinct statistic names in one call"), "{}", message(6));
}

/// Runs `assay run` and returns its exit code and the peak resident memory of
/// that process alone, in KiB, as the kernel counted it.
#[allow(clippy::zombie_processes)]
fn peak_memory_kib(cmd: &mut std::process::Command) -> (i32, i64) {
    let child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let mut status = 0;
    // SAFETY: plain POSIX call on our own child. wait4 reaps it, which is
    // what clippy's zombie lint guards against; `Child` is not used again.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

#[test]
fn statistics_are_bounded_over_a_run_and_host_memory_stays_flat() {
    // Each sample gives 500 statistics of ~200 bytes under names no other
    // sample uses: 66 samples pass the run's bound of 32,768 names. Without
    // the bound, 2,000 samples would make the host keep a million names.
    let peak = |samples: usize| {
        let dir = tempfile::tempdir().unwrap();
        let commands: Vec<String> = (0..samples).map(|i| format!("stats:500:{i}")).collect();
        let lines: Vec<Value> =
            commands.iter().enumerate().map(|(i, c)| json!({"id": i, "output": c, "reference": c})).collect();
        let eval_set = jsonl(dir.path(), "flood.jsonl", &lines);
        let config = dir.path().join("assay.toml");
        // Small batches: chunks of 64 samples, so both runs reach the steady
        // state of every worker holding a chunk.
        let plugins = format!(
            "[run]\nbatch_size = 4\n[plugins.hostile]\nsource = {:?}\n[plugins.exact_match]\n",
            artifacts::HOSTILE
        );
        std::fs::write(&config, plugins).unwrap();
        let out = dir.path().join("out");
        let (code, kib) =
            peak_memory_kib(assay().arg("run").arg("--config").arg(&config).arg("-o").arg(&out).arg(&eval_set));
        let summary = read_json(&out.join("summary.json"));
        assert_eq!(code, 3, "the corpus metrics failed: {summary}");
        assert_eq!(summary["counts"]["errors"], 0, "every sample is scored");
        assert_eq!(summary["metrics"]["exact_match/exact_match"], json!(1.0));
        assert_eq!(summary["metrics"]["hostile/value"], json!(1.0));
        let error = &summary["corpus_errors"]["hostile"];
        assert_eq!(error["kind"], "invalid-output", "{summary}");
        assert!(error["message"].as_str().unwrap().contains("distinct statistic names in the run"), "{error}");
        kib
    };
    let (small, large) = (peak(250), peak(2000));
    eprintln!("peak memory of the host: {small} KiB for 250 samples, {large} KiB for 2,000");
    assert!(
        large < small + (64 << 10),
        "8 times the eval set raised the host's peak memory from {small} KiB to {large} KiB"
    );
}

#[test]
fn configure_and_finalize_answers_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    for (config, expected) in [
        (r#"config = { configure = "huge-error" }"#, "over the 4096 byte limit"),
        (r#"config = { configure = "many-settings" }"#, "the most is 32"),
    ] {
        let (output, _) = invoke(dir.path(), &["ok"], config, "", &[]);
        assert!(!output.status.success());
        let error = stderr(&output);
        assert!(error.contains(expected) && error.len() < 2000, "{config}: {error}");
    }

    let run = run_commands(dir.path(), &["ok"], r#"config = { finalize = "members:100000" }"#, "", &[]);
    let error = &run.summary["corpus_errors"]["hostile"];
    assert_eq!(error["kind"], "invalid-output");
    assert!(error["message"].as_str().unwrap().contains("returned 100001 values; the most is 65536"), "{error}");
    assert!(stdout(&run.output).len() < 10_000, "{}", stdout(&run.output));

    let run = run_commands(dir.path(), &["ok"], r#"config = { finalize = "huge-error" }"#, "", &[]);
    let error = &run.summary["corpus_errors"]["hostile"];
    assert_eq!(error["kind"], "invalid-output");
    assert!(error["message"].as_str().unwrap().len() < 300, "{error}");

    // Many members within the bound: all in the summary, each once, and a
    // terminal table and a pull-request comment that stay short.
    let markdown = dir.path().join("summary.md");
    let run = run_commands(
        dir.path(),
        &["ok"],
        r#"config = { finalize = "members:5000" }"#,
        "",
        &["--markdown", markdown.to_str().unwrap()],
    );
    expect_code(&run.output, 0);
    assert_eq!(run.summary["metrics"]["hostile/member[4999]"], json!(4999.0));
    let member = &run.summary["details"]["hostile/member[7]"];
    assert_eq!(member["family"], "member[*]");
    assert!(member.get("description").is_none() && member.get("signature").is_none(), "{member}");
    let size = std::fs::metadata(dir.path().join("out/summary.json")).unwrap().len();
    assert!(size < 1 << 20, "5,000 members take {size} bytes");
    let table = stdout(&run.output);
    assert!(table.contains("hostile/member[*]") && table.contains("4992 more in summary.json"), "{table}");
    assert!(table.lines().count() < 60, "{table}");
    let comment = std::fs::read_to_string(&markdown).unwrap();
    assert!(comment.contains("4992 more in summary.json") && comment.lines().count() < 40, "{comment}");
}

#[test]
fn a_declared_corpus_metric_finalize_leaves_out_is_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_commands(dir.path(), &["ok"], r#"config = { finalize = "omit" }"#, "", &[]);
    expect_code(&run.output, 3);
    let error = &run.summary["corpus_errors"]["hostile"];
    assert_eq!(error["kind"], "invalid-output");
    assert!(
        error["message"].as_str().unwrap().contains("no value for the declared corpus metrics declared"),
        "{error}"
    );
    // Returned, it is simply a metric.
    let dir = tempfile::tempdir().unwrap();
    let run = run_commands(dir.path(), &["ok"], "", "", &[]);
    expect_code(&run.output, 0);
    assert_eq!(run.summary["metrics"]["hostile/declared"], json!(0.0));
}
