//! `assay run`, `assay plugins`, `assay inspect` and `assay package`, driven
//! through the real binary.

mod common;

use common::*;
use serde_json::{Value, json};

#[test]
fn runs_the_bundled_example_and_scores_it_correctly() {
    let out = tempfile::tempdir().unwrap();
    let eval_set = root().join("examples/eval/qa.jsonl");
    let output = run(assay()
        .args(["run", "--config", "examples/eval/assay.toml", "-o"])
        .arg(out.path())
        .arg(&eval_set)
        .current_dir(root()));
    expect_code(&output, 0);

    let records = read_jsonl(&eval_set);
    let samples = read_jsonl(&out.path().join("samples.jsonl"));
    assert_eq!(samples.len(), records.len(), "one line per record");
    let summary = read_json(&out.path().join("summary.json"));

    // Recompute raw exact match independently of the plugin.
    let mut matches = 0;
    for (record, sample) in records.iter().zip(&samples) {
        assert_eq!(sample["id"], record["id"], "samples keep input order and ids");
        let references: Vec<&str> = match &record["reference"] {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap()).collect(),
            other => panic!("unexpected reference {other}"),
        };
        let hit = references.contains(&record["output"].as_str().unwrap());
        assert_eq!(sample["scores"]["exact/exact_match"], json!(if hit { 1.0 } else { 0.0 }), "{record}");
        matches += hit as usize;
        assert_eq!(sample["errors"], json!({}));
    }
    let mean = summary["metrics"]["exact/exact_match"].as_f64().unwrap();
    assert!((mean - matches as f64 / records.len() as f64).abs() < 1e-12);
    // SQuAD normalization can only add matches ("Mars." = "Mars", "The yen" = "yen").
    assert!(summary["metrics"]["exact_squad/exact_match"].as_f64().unwrap() > mean);
    // One sample apologizes.
    let refusals = samples.iter().filter(|s| s["scores"]["no_refusal/pass"] == json!(0.0)).count();
    assert_eq!(refusals, 1);

    assert_eq!(summary["counts"], json!({"records": 40, "samples": 40, "errors": 0, "skipped": 0}));
    let plugins = summary["plugins"].as_array().unwrap();
    assert_eq!(
        plugins.iter().map(|p| p["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["exact", "exact_squad", "no_refusal"]
    );
    for plugin in plugins {
        assert_eq!(plugin["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(plugin["contract"], "assay:plugin/evaluator@0.1.4");
    }
    assert_eq!(plugins[1]["config"], json!({"normalize": true}));
    assert_eq!(plugins[1]["settings"], json!({"norm": "squad"}));
    assert!(summary["details"]["exact_squad/exact_match"]["signature"].as_str().unwrap().contains("|norm:squad"));
    let digest = sha256_hex(&std::fs::read(&eval_set).unwrap());
    assert_eq!(summary["input"]["sha256"], json!(digest));
    assert!(stdout(&output).contains("exact_squad/exact_match"), "the table names each metric");
}

fn sha256_hex(bytes: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let mut child = out.expect("sha256sum is available");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()[..64].to_string()
}

/// A mixed eval set large enough to spread over several chunks and workers.
fn mixed_set(dir: &std::path::Path) -> std::path::PathBuf {
    let lines: Vec<Value> = (0..5000)
        .map(|i| {
            let output = match i % 7 {
                0 => "panic".to_string(),
                1 => "fail".to_string(),
                2 => "random".to_string(),
                _ => "ok".to_string(),
            };
            json!({"id": format!("s{i}"), "input": "q", "output": output, "reference": if i % 3 == 0 { "ok" } else { "no" }})
        })
        .collect();
    jsonl(dir, "mixed.jsonl", &lines)
}

#[test]
fn samples_are_identical_for_any_number_of_workers() {
    let dir = tempfile::tempdir().unwrap();
    let eval_set = mixed_set(dir.path());
    let mut results = Vec::new();
    for jobs in ["1", "2", "3"] {
        let out = dir.path().join(format!("out-j{jobs}"));
        let output = run(assay()
            .args(["run", "-e", "exact_match", "-e", artifacts::HOSTILE, "--batch-size", "16", "-j", jobs, "-o"])
            .arg(&out)
            .arg(&eval_set));
        expect_code(&output, 3);
        results.push((std::fs::read(out.join("samples.jsonl")).unwrap(), read_json(&out.join("summary.json"))));
    }
    for (samples, summary) in &results[1..] {
        assert!(samples == &results[0].0, "samples.jsonl differs between -j values");
        assert_eq!(summary["metrics"], results[0].1["metrics"]);
        assert_eq!(summary["errors"], results[0].1["errors"]);
    }
}

#[test]
fn a_trap_costs_only_the_sample_it_happened_on() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<Value> = ["ok", "ok", "panic", "ok", "fail", "ok", "ok", "ok"]
        .iter()
        .enumerate()
        .map(|(i, o)| json!({"id": i, "output": o, "reference": "ok"}))
        .collect();
    let eval_set = jsonl(dir.path(), "trap.jsonl", &lines);
    let out = dir.path().join("out");
    // Batches of 2: the panic ends the second batch's call; its two samples
    // are called again one by one on fresh instances, so sample 3 is scored.
    let output = run(assay()
        .args(["run", "-e", artifacts::HOSTILE, "-e", "exact_match", "--batch-size", "2", "-j", "1", "-o"])
        .arg(&out)
        .arg(&eval_set));
    expect_code(&output, 3);
    let samples = read_jsonl(&out.join("samples.jsonl"));
    let kinds: Vec<Value> = samples.iter().map(|s| s["errors"]["hostile"]["kind"].clone()).collect();
    assert_eq!(
        kinds,
        [
            json!(null),
            json!(null),
            json!("trap"),
            json!(null),
            json!("plugin-error"),
            json!(null),
            json!(null),
            json!(null)
        ]
    );
    assert!(
        samples[2]["errors"]["hostile"]["message"].as_str().unwrap().contains("panicked on purpose"),
        "stderr is attached: {}",
        samples[2]
    );
    for i in [0, 1, 3, 5, 6, 7] {
        assert_eq!(samples[i]["scores"]["hostile/value"], json!(1.0), "sample {i} is scored");
    }
    // The other plugin scored every sample, the trapped one included.
    assert!(samples.iter().all(|s| s["scores"]["exact_match/exact_match"].is_number()));
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["counts"]["errors"], 2);
    assert_eq!(summary["errors"]["hostile"], json!({"plugin-error": 1, "trap": 1}));
    let hostile = summary["plugins"].as_array().unwrap().iter().find(|p| p["name"] == "hostile").unwrap();
    assert_eq!(hostile["fuel"]["trap_splits"], 1);
    assert!(hostile["fuel"].get("unisolated").is_none());
    assert!(stdout(&output).contains("hostile: 1 plugin-error, 1 trap; first: "), "{}", stdout(&output));
    // The first failure in input order is kept, and -q still says it.
    assert_eq!(summary["first_errors"]["hostile"]["kind"], "trap");
    let output = run(assay()
        .args(["run", "-q", "-e", artifacts::HOSTILE, "--batch-size", "2", "-o"])
        .arg(dir.path().join("quiet"))
        .arg(&eval_set));
    expect_code(&output, 3);
    assert_eq!(stdout(&output), "");
    let said = stderr(&output);
    assert!(
        said.starts_with("hostile: 1 plugin-error, 1 trap; first: ") && said.contains("panicked on purpose"),
        "{said}"
    );
    // -v shows what the plugin wrote, each line after the plugin's name.
    let output = run(assay()
        .args(["run", "-v", "-e", artifacts::HOSTILE, "--batch-size", "2", "-o"])
        .arg(dir.path().join("verbose"))
        .arg(&eval_set));
    expect_code(&output, 3);
    let said = stderr(&output);
    assert!(said.lines().any(|l| l.starts_with("hostile| ") && l.contains("panicked on purpose")), "{said}");
}

#[test]
fn a_plugin_that_traps_on_everything_costs_at_most_twice_the_calls_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<Value> = (0..40).map(|i| json!({"id": i, "output": "panic", "reference": "ok"})).collect();
    let eval_set = jsonl(dir.path(), "traps.jsonl", &lines);
    let mut summaries = Vec::new();
    for jobs in ["1", "2"] {
        let out = dir.path().join(format!("out-{jobs}"));
        let output = run(assay()
            .args(["run", "-e", artifacts::HOSTILE, "--batch-size", "2", "-j", jobs, "-o"])
            .arg(&out)
            .arg(&eval_set));
        expect_code(&output, 3);
        summaries.push(read_json(&out.join("summary.json")));
    }
    // Chunks of 16 calls (32 samples), each with 8 splits: the first chunk
    // splits 8 of its 16 calls and fails the other 8 whole (16 samples); the
    // second (4 calls) splits all 4.
    let fuel = &summaries[0]["plugins"][0]["fuel"];
    assert_eq!((fuel["trap_splits"].as_u64(), fuel["unisolated"].as_u64()), (Some(12), Some(16)));
    assert_eq!(summaries[0]["errors"]["hostile"], json!({"trap": 40}), "every sample is accounted for");
    assert_eq!(summaries[1]["plugins"][0]["fuel"], *fuel, "the same for every -j");
}

#[test]
fn a_malformed_line_stops_the_run_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(
        &path,
        "{\"output\":\"a\",\"reference\":\"a\"}\n\n{\"output\": \"b\", \"reference\": }\n{\"output\":\"c\"}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = run(assay().args(["run", "-e", "exact_match", "-o"]).arg(&out).arg(&path));
    expect_code(&output, 1);
    let expected = format!("{}:3: invalid JSON at column", path.display());
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
    assert!(!out.join("samples.jsonl").exists() && !out.join("summary.json").exists());
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "no temporary file is left behind");

    // With skipping, the line is listed and every other record is scored.
    let output = run(assay().args(["run", "-e", "exact_match", "--on-bad-record", "skip", "-o"]).arg(&out).arg(&path));
    expect_code(&output, 3);
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["counts"], json!({"records": 3, "samples": 2, "errors": 1, "skipped": 1}));
    assert_eq!(summary["skipped"][0]["line"], 3);
    // Sample 2 has no reference: exact_match says so for that sample only.
    let samples = read_jsonl(&out.join("samples.jsonl"));
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[1]["id"], 4);
    assert_eq!(samples[1]["errors"]["exact_match"]["message"], "the sample has no reference");
}

#[test]
fn csv_eval_sets_and_field_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("set.csv");
    std::fs::write(&path, "id,prediction,reference\n1,Paris,Paris\n2,\"Lyon, France\",Paris\n").unwrap();
    let out = dir.path().join("out");
    let output =
        run(assay().args(["run", "-e", "exact_match", "--field", "output=prediction", "-o"]).arg(&out).arg(&path));
    expect_code(&output, 0);
    let samples = read_jsonl(&out.join("samples.jsonl"));
    assert_eq!(samples[0], json!({"id": "1", "scores": {"exact_match/exact_match": 1.0}, "errors": {}}));
    assert_eq!(samples[1]["scores"]["exact_match/exact_match"], 0.0);
}

#[test]
fn set_overrides_plugin_configuration_and_bad_configuration_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let eval_set = jsonl(dir.path(), "s.jsonl", &[json!({"output": "The Paris!", "reference": "paris"})]);
    let out = dir.path().join("out");
    let output = run(assay()
        .args(["run", "-e", "exact_match", "--set", "exact_match.normalize=true", "-o"])
        .arg(&out)
        .arg(&eval_set));
    expect_code(&output, 0);
    assert_eq!(read_jsonl(&out.join("samples.jsonl"))[0]["scores"]["exact_match/exact_match"], 1.0);

    let output = run(assay()
        .args(["run", "-e", "exact_match", "--set", "exact_match.normalise=true", "-o"])
        .arg(&out)
        .arg(&eval_set));
    expect_code(&output, 1);
    assert!(
        stderr(&output).contains(
            "plugin \"exact_match\": rejected its configuration: invalid configuration: unknown field `normalise`"
        ),
        "{}",
        stderr(&output)
    );

    let output = run(assay().args(["run", "-e", "rogue", "-o"]).arg(&out).arg(&eval_set));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("no built-in plugin named \"rogue\""), "{}", stderr(&output));
}

#[test]
fn a_plugin_built_against_contract_0_1_0_loads_and_scores_unchanged() {
    // Built from its own frozen copy of the 0.1.0 WIT, beside built-ins
    // built against the current 0.1.x.
    let dir = tempfile::tempdir().unwrap();
    let eval_set = jsonl(dir.path(), "s.jsonl", &[json!({"output": "ılık", "reference": "ılık"})]);
    let out = dir.path().join("out");
    let output = run(assay()
        .args(["run", "-e", artifacts::CONTRACT_V0_1_0, "-e", "exact_match", "-o"])
        .arg(&out)
        .arg(&eval_set));
    expect_code(&output, 0);
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["metrics"]["contract_v0_1_0/chars"], json!(4.0));
    assert_eq!(summary["metrics"]["exact_match/exact_match"], json!(1.0));
    assert_eq!(summary["plugins"][0]["contract"], "assay:plugin/evaluator@0.1.0");
    assert_eq!(summary["plugins"][1]["contract"], "assay:plugin/evaluator@0.1.4");
}

#[test]
fn components_of_another_contract_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let eval_set = jsonl(dir.path(), "s.jsonl", &[json!({"output": "a", "reference": "a"})]);
    let output =
        run(assay().args(["run", "-e", artifacts::FUTURE_VERSION, "-o"]).arg(dir.path().join("out")).arg(&eval_set));
    expect_code(&output, 1);
    let message = stderr(&output);
    assert!(message.contains("targets `assay:plugin/evaluator@0.2.0`"), "{message}");
    assert!(message.contains("accepts assay:plugin 0.1.x"), "{message}");

    // A core module is not a component at all.
    let module = dir.path().join("core.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0").unwrap();
    let output = run(assay().args(["inspect"]).arg(&module));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("not a WebAssembly component"), "{}", stderr(&output));
}

#[test]
fn plugins_and_inspect_describe_components() {
    let output = run(assay().arg("plugins"));
    expect_code(&output, 0);
    let listing = stdout(&output);
    for name in ["exact_match", "regex"] {
        assert!(listing.contains(name), "{listing}");
    }

    let output = run(assay().args(["inspect", "--json", "exact_match"]));
    expect_code(&output, 0);
    let info: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(info["name"], "exact_match");
    assert_eq!(info["kind"], "evaluator");
    assert_eq!(info["contract"], "assay:plugin/evaluator@0.1.4");
    assert_eq!(info["world"], "assay:plugin/evaluator-plugin@0.1.4");
    assert_eq!(info["metrics"][0]["name"], "exact_match");
    assert_eq!(info["metrics"][0]["level"], "sample");
    assert_eq!(info["sha256"].as_str().unwrap().len(), 64);
    let imports = info["imports"].as_array().unwrap();
    assert!(imports.iter().any(|i| i == "assay:plugin/types@0.1.4"), "{imports:?}");
    assert!(
        imports.iter().all(|i| i.as_str().unwrap().starts_with("wasi:") || i == "assay:plugin/types@0.1.4"),
        "{imports:?}"
    );
}

/// Writes the `exact_match` built-in as a component file, as a plugin author
/// would have it after a build.
fn exact_match_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("exact_match.wasm");
    std::fs::write(&path, assay_builtins::get("exact_match").unwrap()).unwrap();
    path
}

/// The value of a `label    value` line of `assay inspect` or `assay package`.
fn line_value(text: &str, label: &str) -> String {
    let line = text.lines().map(str::trim_start).find(|l| l.starts_with(&format!("{label} ")));
    let line = line.unwrap_or_else(|| panic!("no {label} line in\n{text}"));
    line[label.len()..].trim().to_string()
}

#[test]
fn package_writes_metadata_that_inspect_shows() {
    let dir = tempfile::tempdir().unwrap();
    let component = exact_match_file(dir.path());
    let packaged = dir.path().join("out/exact_match.wasm");
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let output = run(assay().arg("package").arg(&component).arg("-o").arg(&packaged).args([
        "--version",
        "1.2.3",
        "--author",
        "Ada <ada@example.com>",
        "--author",
        "Grace",
        "--license",
        "MIT OR Apache-2.0",
        "--source",
        "https://example.com/exact_match",
        "--homepage",
        "https://example.com/",
        "--revision",
        "0123abc",
    ]));
    expect_code(&output, 0);
    let printed = stdout(&output);
    assert_eq!(line_value(&printed, "wrote"), packaged.display().to_string());
    let digest = line_value(&printed, "sha256");

    let output = run(assay().args(["inspect", "--json"]).arg(&packaged));
    expect_code(&output, 0);
    let info: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(info["sha256"], digest.as_str(), "package prints the digest inspect reports");
    assert_eq!(info["world"], "assay:plugin/evaluator-plugin@0.1.4");
    // Name and description default to what the plugin's describe() says.
    assert_eq!(
        info["metadata"],
        json!({
            "name": "exact_match",
            "version": "1.2.3",
            "description": info["description"],
            "authors": "Ada <ada@example.com>, Grace",
            "licenses": "MIT OR Apache-2.0",
            "source": "https://example.com/exact_match",
            "homepage": "https://example.com/",
            "revision": "0123abc",
        })
    );

    let output = run(assay().arg("inspect").arg(&packaged));
    expect_code(&output, 0);
    let text = stdout(&output);
    assert_eq!(line_value(&text, "sha256"), digest);
    assert_eq!(line_value(&text, "world"), "assay:plugin/evaluator-plugin@0.1.4");
    let fields = [
        ("version", "1.2.3"),
        ("authors", "Ada <ada@example.com>, Grace"),
        ("licenses", "MIT OR Apache-2.0"),
        ("revision", "0123abc"),
    ];
    for (label, value) in fields {
        assert_eq!(line_value(&text, label), value, "{text}");
    }

    // In place, with every default from describe(): the plugin's own version.
    let output = run(assay().arg("package").arg(&component).arg("-o").arg(&component));
    expect_code(&output, 0);
    let info: Value = serde_json::from_str(&stdout(&run(assay().args(["inspect", "--json"]).arg(&component)))).unwrap();
    assert_eq!(info["metadata"]["name"], info["name"]);
    assert_eq!(info["metadata"]["version"], info["version"]);
    assert_eq!(info["metadata"]["description"], info["description"]);
    assert_eq!(info["metadata"]["licenses"], Value::Null);
}

#[test]
fn package_refuses_what_is_not_a_plugin_and_bad_fields() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.wasm");
    let module = dir.path().join("core.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0").unwrap();
    let output = run(assay().arg("package").arg(&module).arg("-o").arg(&out));
    expect_code(&output, 1);
    let message = stderr(&output);
    assert!(message.contains("core.wasm") && message.contains("not a WebAssembly component"), "{message}");

    let output = run(assay().arg("package").arg(artifacts::FUTURE_VERSION).arg("-o").arg(&out));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("targets `assay:plugin/evaluator@0.2.0`"), "{}", stderr(&output));

    let output = run(assay().arg("package").arg(dir.path().join("missing.wasm")).arg("-o").arg(&out));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("missing.wasm: no such component file"), "{}", stderr(&output));

    let component = exact_match_file(dir.path());
    let output = run(assay().arg("package").arg(&component).arg("-o").arg(&out).args(["--license", "not a licence"]));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("license \"not a licence\""), "{}", stderr(&output));
    assert!(!out.exists(), "nothing is written when packaging fails");
}

#[test]
fn the_config_file_sets_run_options_ci_files_and_field_maps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("set.csv");
    std::fs::write(&path, "id,prediction,answer,reference\n1,Paris,Lyon,Paris\n2,Rome,Lyon,Rome\n").unwrap();
    let config = dir.path().join("assay.toml");
    std::fs::write(
        &config,
        "[run]\nout = \"results\"\nseed = 7\nquiet = true\n[dataset]\nfields = { output = \"prediction\" }\n\
         [ci]\nmarkdown = \"summary.md\"\n[plugins.exact_match]\n",
    )
    .unwrap();
    let output = run(assay().arg("run").arg(&path).arg("-c").arg(&config));
    expect_code(&output, 0);
    assert_eq!(stdout(&output), "", "[run] quiet = true");
    let results = dir.path().join("results");
    let summary = read_json(&results.join("summary.json"));
    assert_eq!((summary["kind"].as_str(), summary["run"]["seed"].as_u64()), (Some("evaluation"), Some(7)));
    assert_eq!(summary["metrics"]["exact_match/exact_match"], 1.0, "[dataset] fields read the prediction column");
    assert!(std::fs::read_to_string(dir.path().join("summary.md")).unwrap().contains("2 samples"));

    // Flags win: another output column, another seed, another folder.
    let flagged = dir.path().join("flagged");
    let output = run(assay().arg("run").arg(&path).arg("-c").arg(&config).args([
        "--field",
        "output=answer",
        "--seed",
        "3",
        "-o",
        flagged.to_str().unwrap(),
    ]));
    expect_code(&output, 0);
    let summary = read_json(&flagged.join("summary.json"));
    assert_eq!(
        (summary["metrics"]["exact_match/exact_match"].as_f64(), summary["run"]["seed"].as_u64()),
        (Some(0.0), Some(3))
    );
}

#[test]
fn completions_cover_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let output = run(assay().args(["completions", shell]));
        expect_code(&output, 0);
        let script = stdout(&output);
        for command in ["run", "guard", "inspect", "report", "lock", "completions"] {
            assert!(script.contains(command), "{shell} completions lack {command}");
        }
    }
    expect_code(&run(assay().args(["completions", "tcsh"])), 2);
}

#[test]
fn duplicate_ids_stop_a_run_unless_allowed_and_then_are_listed_and_refused_by_report() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        json!({"id": "q1", "output": "Ankara", "reference": "Ankara"}),
        json!({"id": "q2", "output": "Paris", "reference": "Lyon"}),
        json!({"id": "q1", "output": "Bern", "reference": "Bern"}),
    ];
    let path = jsonl(dir.path(), "dup.jsonl", &lines);
    let out = dir.path().join("out");
    let output = run(assay().args(["run", "-q", "-e", "exact_match", "-e", "bleu", "-o"]).arg(&out).arg(&path));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("dup.jsonl:3: id \"q1\" is already the id of line 1"), "{}", stderr(&output));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "no output from a refused run");

    let output = run(assay()
        .args(["run", "-q", "-e", "exact_match", "-e", "bleu", "--allow-duplicate-ids", "--keep-statistics", "-o"])
        .arg(&out)
        .arg(&path));
    expect_code(&output, 0);
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["duplicate_ids"], json!([{"id": "q1", "first_line": 1, "line": 3}]));
    // Each sample's statistics are kept, and they sum to what the corpus metric was computed from.
    let samples = read_jsonl(&out.join("samples.jsonl"));
    let total = |name: &str| samples.iter().map(|s| s["statistics"]["bleu"][name].as_f64().unwrap()).sum::<f64>();
    assert_eq!((total("hyp_len"), total("ref_len"), total("match1")), (3.0, 3.0, 2.0));
    assert!(
        samples.iter().all(|s| s["statistics"].get("exact_match").is_none()),
        "a plugin without statistics has none"
    );

    // Runs are joined by id: a report comparing it with another run refuses.
    let other = dir.path().join("other");
    let unique = jsonl(dir.path(), "unique.jsonl", &lines[..2]);
    expect_code(&run(assay().args(["run", "-q", "-e", "exact_match", "-o"]).arg(&other).arg(&unique)), 0);
    let output = run(assay().arg("report").arg(&out).arg(&other).arg("-o").arg(dir.path().join("r.html")));
    expect_code(&output, 1);
    assert!(
        stderr(&output).contains("samples 1 and 3 of its samples.jsonl have the same id \"q1\""),
        "{}",
        stderr(&output)
    );
    // Without --keep-statistics, lines carry no statistics.
    let lines = read_jsonl(&other.join("samples.jsonl"));
    assert!(lines.iter().all(|l| l.get("statistics").is_none()));
}

#[test]
fn set_reaches_a_plugin_given_by_path_and_refuses_numbers_json_cannot_carry() {
    let dir = tempfile::tempdir().unwrap();
    let eval_set = jsonl(dir.path(), "e.jsonl", &[json!({"id": 1, "output": "ok", "reference": "ok"})]);
    let out = dir.path().join("out");
    // The component's file name addresses it before its own name is known.
    let stem = std::path::Path::new(artifacts::HOSTILE).file_stem().unwrap().to_str().unwrap().to_string();
    let output = run(assay()
        .args(["run", "-q", "-e", artifacts::HOSTILE, "--set", &format!("{stem}.finalize=omit"), "-o"])
        .arg(&out)
        .arg(&eval_set));
    expect_code(&output, 3);
    assert_eq!(read_json(&out.join("summary.json"))["corpus_errors"]["hostile"]["kind"], "invalid-output");
    let output = run(assay()
        .args(["run", "-e", "exact_match", "--set", "exact_match.normalize=nan", "-o"])
        .arg(&out)
        .arg(&eval_set));
    expect_code(&output, 1);
    assert!(
        stderr(&output).contains("plugin \"exact_match\": normalize is not a finite number"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missing_or_unbuilt_plugin_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let eval_set = jsonl(dir.path(), "e.jsonl", &[json!({"id": 1, "output": "ok", "reference": "ok"})]);
    let script = dir.path().join("app.py");
    std::fs::write(&script, "def score(sample):\n    return 1\n").unwrap();
    let output = run(assay().arg("run").arg("-e").arg(&script).arg("-o").arg(dir.path().join("o")).arg(&eval_set));
    expect_code(&output, 1);
    let said = stderr(&output);
    assert!(said.contains("app.py: not a plugin component") && said.lines().count() <= 2, "{said}");
    let missing = dir.path().join("numeric_close.wasm");
    let output = run(assay().arg("run").arg("-e").arg(&missing).arg("-o").arg(dir.path().join("o")).arg(&eval_set));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("numeric_close.wasm: no such plugin component; a plugin runs once built"));
    let output = run(assay().args(["guard", "-g", "exact_match", "-o"]).arg(dir.path().join("g")).arg(&eval_set));
    expect_code(&output, 1);
    assert!(
        stderr(&output).contains("is an evaluator plugin, but was given where a guard is expected"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_compiled_component_cache_is_capped_listed_pruned_and_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let eval_set = root().join("examples/eval/qa.jsonl");
    let assay_in = |cap: Option<&str>| {
        let mut command = assay();
        command.env("ASSAY_CACHE_DIR", &cache);
        match cap {
            Some(mib) => command.env("ASSAY_CACHE_MAX_MIB", mib),
            None => command.env_remove("ASSAY_CACHE_MAX_MIB"),
        };
        command
    };
    let listed = || -> Vec<Value> {
        let output = run(assay_in(None).args(["cache", "list", "--json"]));
        expect_code(&output, 0);
        stdout(&output).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let sha256 = |plugin: &str| -> Value {
        let output = run(assay_in(None).args(["inspect", "--json", plugin]));
        read_value(&stdout(&output))["sha256"].clone()
    };
    let out = dir.path().join("out");
    let output =
        run(assay_in(None).args(["run", "-q", "-e", "exact_match", "-e", "token_f1", "-o"]).arg(&out).arg(&eval_set));
    expect_code(&output, 0);
    let entries = listed();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.iter().all(|e| e["current"] == true && e["bytes"].as_u64() > Some(0)));

    // What the cache must never remove, and what prune removes first.
    std::fs::create_dir_all(cache.join("models")).unwrap();
    std::fs::write(cache.join("models/answer.json"), "paid for").unwrap();
    std::fs::write(cache.join(format!("{}-0000000000000000.cwasm", "0".repeat(64))), "another version").unwrap();
    let output = run(assay_in(None).args(["cache", "size"]));
    expect_code(&output, 0);
    assert!(stdout(&output).contains("compiled components") && stdout(&output).contains("3 entries; cap 1024 MiB"));
    let output = run(assay_in(None).args(["cache", "list"]));
    assert!(stdout(&output).contains("(another Assay version"), "{}", stdout(&output));
    let output = run(assay_in(None).args(["cache", "prune"]));
    expect_code(&output, 0);
    assert!(stdout(&output).starts_with("pruned 1 compiled components"), "{}", stdout(&output));
    assert_eq!(listed().len(), 2);

    // Under a cap of 0 MiB a run keeps only the entry it just wrote.
    let output = run(assay_in(Some("0")).args(["run", "-q", "-e", "length", "-o"]).arg(&out).arg(&eval_set));
    expect_code(&output, 0);
    let entries = listed();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["component"], sha256("length"));
    let output = run(assay_in(None).args(["cache", "prune", "--max-mib", "0"]));
    assert!(stdout(&output).starts_with("pruned 1 compiled components"), "{}", stdout(&output));

    let output = run(assay_in(None).args(["run", "-q", "-e", "length", "-o"]).arg(&out).arg(&eval_set));
    expect_code(&output, 0);
    assert!(cache.join("functions.log").exists(), "compiled functions are kept for the next compile");
    let output = run(assay_in(None).args(["cache", "clear"]));
    assert!(stdout(&output).starts_with("cleared 1 compiled components"), "{}", stdout(&output));
    assert!(stdout(&output).contains("MiB of compiled functions"), "{}", stdout(&output));
    assert!(listed().is_empty() && !cache.join("functions.log").exists());
    assert_eq!(std::fs::read_to_string(cache.join("models/answer.json")).unwrap(), "paid for");
}

fn read_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn assay_dev_rebuilds_on_every_change_and_says_what_changed() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    // A "build" that copies the component the file `source` names.
    std::fs::write(project.join("build.sh"), "cp \"$(cat source)\" plugin.wasm\n").unwrap();
    std::fs::write(project.join("source"), artifacts::NOOP).unwrap();
    let set = jsonl(
        dir.path(),
        "set.jsonl",
        &[
            json!({"id": "a", "output": "ok", "reference": "ok"}),
            json!({"id": "b", "output": "panic", "reference": "ok"}),
        ],
    );
    let mut child = assay()
        .args(["dev", "--input"])
        .arg(&set)
        .arg(&project)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    // The lines of one round, up to the loop's "watching" line.
    let round = || -> Vec<String> {
        let mut said = Vec::new();
        loop {
            match lines.recv_timeout(std::time::Duration::from_secs(120)) {
                Ok(line) if line.starts_with("watching ") => return said,
                Ok(line) => said.push(line),
                Err(e) => panic!("no round ended ({e}); it said: {said:?}"),
            }
        }
    };
    let first = round();
    assert!(first.iter().any(|l| l == "errors (count): 0.0000"), "{first:?}");
    assert!(first.last().unwrap().contains("rebuild-to-result"), "{first:?}");

    std::fs::write(project.join("source"), artifacts::HOSTILE).unwrap();
    let second = round();
    assert!(second.iter().any(|l| l == "errors (count): 0.0000 -> 1.0000"), "{second:?}");

    std::fs::write(project.join("source"), dir.path().join("missing.wasm").display().to_string()).unwrap();
    let third = round();
    assert!(third.iter().any(|l| l.starts_with("build failed after")), "{third:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A run killed with SIGKILL leaves its temporary samples file (it cannot
/// remove it); the next run writing in that folder removes it, and its
/// outputs are created with the umask's permissions, not the owner's alone.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_runs_progress_is_removed_by_the_next_run_that_does_not_resume_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.jsonl");
    let line = "{\"output\": \"the same answer\", \"reference\": \"the same answer\"}\n";
    std::fs::write(&big, line.repeat(400_000)).unwrap();
    let out = dir.path().join("out");
    let mut child =
        assay().args(["run", "-q", "-j", "1", "-e", "exact_match", "-o"]).arg(&out).arg(&big).spawn().unwrap();
    let temporaries = || -> Vec<String> {
        std::fs::read_dir(&out)
            .map(|listing| {
                listing
                    .flatten()
                    .map(|e| e.file_name().into_string().unwrap())
                    .filter(|name| name.starts_with(".assay-"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let started = std::time::Instant::now();
    let written = || std::fs::metadata(out.join(".assay-progress/samples.jsonl")).map_or(0, |m| m.len());
    while written() == 0 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it wrote anything");
        assert!(started.elapsed().as_secs() < 120, "no samples were written");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // What it wrote is in its progress folder, for `--resume`; nothing else.
    assert_eq!(temporaries(), [".assay-progress"]);
    assert!(!out.join("samples.jsonl").exists(), "no half-written results");

    let small = jsonl(dir.path(), "small.jsonl", &[json!({"output": "a", "reference": "a"})]);
    let mut again = std::process::Command::new("sh");
    again.arg("-c").arg("umask 027; exec \"$@\"").arg("sh").arg(env!("CARGO_BIN_EXE_assay"));
    again.args(["run", "-q", "-e", "exact_match", "-o"]).arg(&out).arg(&small);
    again.env("ASSAY_CACHE_DIR", std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("assay-cache"));
    expect_code(&run(&mut again), 0);
    assert_eq!(temporaries(), Vec::<String>::new(), "the killed run's progress is gone");
    for name in ["samples.jsonl", "summary.json"] {
        let mode = std::fs::metadata(out.join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "{name} follows umask 027");
    }
}

#[test]
fn turkish_answers_match_under_turkish_casing() {
    let dir = tempfile::tempdir().unwrap();
    let eval_set = jsonl(
        dir.path(),
        "tr.jsonl",
        &[
            json!({"id": "a", "output": "İSTANBUL", "reference": "istanbul"}),
            json!({"id": "b", "output": "ISPARTA", "reference": "ısparta"}),
            json!({"id": "c", "output": "Iğdır ve İzmir", "reference": "ığdır ve izmir"}),
        ],
    );
    let scores = |extra: &[&str]| -> (Vec<Value>, Value) {
        let out = dir.path().join("out");
        let output = run(assay()
            .args(["run", "-q", "-e", "exact_match", "-e", "token_f1", "--set", "exact_match.normalize=true"])
            .args(extra)
            .arg("-o")
            .arg(&out)
            .arg(&eval_set));
        expect_code(&output, 0);
        let samples = read_jsonl(&out.join("samples.jsonl"));
        let scores =
            samples.iter().map(|s| json!([s["scores"]["exact_match/exact_match"], s["scores"]["token_f1/f1"]]));
        let summary = read_json(&out.join("summary.json"));
        (scores.collect(), summary)
    };
    // Unicode's casing (Python's, the references'): only `ve` matches.
    let (default, summary) = scores(&[]);
    assert_eq!(default, [json!([0.0, 0.0]), json!([0.0, 0.0]), json!([0.0, 1.0 / 3.0])]);
    let signature = summary["details"]["exact_match/exact_match"]["signature"].as_str().unwrap().to_string();
    assert!(!signature.contains("locale"), "{signature}");
    let (turkish, summary) = scores(&["--set", "exact_match.locale=tr", "--set", "token_f1.locale=tr"]);
    assert_eq!(turkish, vec![json!([1.0, 1.0]); 3]);
    for metric in ["exact_match/exact_match", "token_f1/f1"] {
        let signature = summary["details"][metric]["signature"].as_str().unwrap();
        assert!(signature.contains("locale:tr"), "{signature}");
    }
    let out = dir.path().join("refused");
    let output =
        run(assay().args(["run", "-e", "token_f1", "--set", "token_f1.locale=de", "-o"]).arg(&out).arg(&eval_set));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("unknown locale \"de\""), "{}", stderr(&output));
}

#[test]
fn the_turkish_example_scores_with_turkish_casing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = run(assay()
        .args(["run", "-q", "examples/eval-tr/eval.jsonl", "--config", "examples/eval-tr/assay.toml", "-o"])
        .arg(&out)
        .current_dir(root()));
    expect_code(&output, 0);
    let samples = read_jsonl(&out.join("samples.jsonl"));
    let matched = |metric: &str| -> Vec<&str> {
        samples.iter().filter(|s| s["scores"][metric] == json!(1.0)).map(|s| s["id"].as_str().unwrap()).collect()
    };
    // Every answer and summary that is the reference up to Turkish casing
    // (and SQuAD's punctuation), and no other.
    let turkish =
        ["tr-001", "tr-002", "tr-003", "tr-005", "tr-007", "tr-008", "tr-009", "tr-010", "tr-012", "tr-015", "tr-020"];
    assert_eq!(matched("exact_tr/exact_match"), turkish);
    // Python's casing: H2O, and ISPARTA only because it lowers I to i on both sides.
    assert_eq!(matched("exact/exact_match"), ["tr-002", "tr-008"]);
    // The same under the Unicode tokenizer with Turkish casing, and tr-017,
    // whose words are its reference's in another order (ROUGE-1 counts
    // words); rouge-score's tokenizer loses the Turkish letters.
    let mut same_words = turkish.to_vec();
    same_words.insert(10, "tr-017");
    assert_eq!(matched("rouge_tr/rouge1_f"), same_words);
    assert!(matched("rouge/rouge1_f").len() < turkish.len());
    let summary = read_json(&out.join("summary.json"));
    let mean = |metric: &str| summary["metrics"][metric].as_f64().unwrap_or_else(|| panic!("{metric}"));
    assert!(mean("f1_tr/f1") > mean("f1/f1"));
    assert!(mean("rouge_tr/rouge1_f") > mean("rouge/rouge1_f"));
    for metric in ["bleu/bleu", "ter/ter", "chrf/chrf"] {
        assert!(mean(metric) > 0.0, "{metric}");
    }
    assert!(summary["details"]["bleu/bleu"]["signature"].as_str().unwrap().contains("|tok:intl|"));
    assert!(
        summary["details"]["rouge_tr/rouge1_f"]["signature"]
            .as_str()
            .unwrap()
            .ends_with("|tok:unicode|stem:false|locale:tr|unicode:nfc")
    );
    assert_eq!(summary["counts"], json!({"records": 20, "samples": 20, "errors": 0, "skipped": 0}));
}

/// Winch, the baseline compiler `assay dev` uses, must not change what a
/// plugin computes: every built-in evaluator of both examples and every
/// built-in guard, compiled by each compiler, give the same outputs byte for
/// byte and the same summary, but for fuel, which the compiled code counts
/// (Winch a few percent less): each plugin's summary says which compiler
/// counted it, and shards compiled otherwise are not merged into one run.
#[cfg(target_arch = "x86_64")]
#[test]
fn winch_gives_the_scores_and_decisions_cranelift_gives_and_says_it_counted_the_fuel() {
    let dir = tempfile::tempdir().unwrap();
    let runs = [
        ("run", "examples/eval/qa.jsonl", "examples/eval/assay.toml", "samples.jsonl"),
        ("run", "examples/eval-tr/eval.jsonl", "examples/eval-tr/assay.toml", "samples.jsonl"),
        ("guard", "examples/feedback/feedback.jsonl", "examples/feedback/assay.toml", "decisions.jsonl"),
    ];
    let compiled_by = |compiler: &str, args: &[&str], out: &std::path::Path, code: i32| {
        let output = run(assay().args(args).args(["--compiler", compiler, "-o"]).arg(out).current_dir(root()));
        expect_code(&output, code);
        output
    };
    for (index, (command, input, config, records)) in runs.into_iter().enumerate() {
        let [cranelift, winch] = ["cranelift", "winch"].map(|compiler| {
            let out = dir.path().join(format!("{index}-{compiler}"));
            compiled_by(compiler, &[command, "-q", input, "--config", config], &out, 0);
            out
        });
        assert!(
            std::fs::read(cranelift.join(records)).unwrap() == std::fs::read(winch.join(records)).unwrap(),
            "{input}: {records} differs between the compilers"
        );
        let (mut ours, mut theirs) =
            (read_json(&cranelift.join("summary.json")), read_json(&winch.join("summary.json")));
        for (summary, compiler) in [(&mut ours, "cranelift"), (&mut theirs, "winch")] {
            let summary = summary.as_object_mut().unwrap();
            summary.remove("run");
            for plugin in summary["plugins"].as_array_mut().unwrap() {
                let plugin = plugin.as_object_mut().unwrap();
                assert_eq!(plugin.remove("compiler").unwrap(), compiler, "{input}");
                let fuel = plugin.remove("fuel").unwrap();
                assert!(fuel["total"].as_u64() > Some(0), "{input}");
            }
        }
        assert_eq!(ours, theirs, "{input}: the summaries differ beyond fuel");
    }

    // Two shards compiled by different compilers are refused by name; by
    // one compiler, merged with it named.
    let shard = |k: &str, compiler: &str| {
        let out = dir.path().join(format!("shard-{k}-{compiler}"));
        let args = ["run", "-q", "examples/eval/qa.jsonl", "--config", "examples/eval/assay.toml", "--shard", k];
        compiled_by(compiler, &args, &out, 0);
        out
    };
    let (first, second) = (shard("0/2", "winch"), shard("1/2", "cranelift"));
    let merged = dir.path().join("merged");
    let merge = |second: &std::path::Path| {
        run(assay().args(["merge", "-q", "-o"]).arg(&merged).arg(&first).arg(second).current_dir(root()))
    };
    let output = merge(&second);
    expect_code(&output, 1);
    assert!(stderr(&output).contains(r#"plugins[0].compiler is "cranelift", not "winch""#), "{}", stderr(&output));
    let output = merge(&shard("1/2", "winch"));
    expect_code(&output, 0);
    let summary = read_json(&merged.join("summary.json"));
    assert!(summary["plugins"].as_array().unwrap().iter().all(|p| p["compiler"] == "winch"), "{summary}");
    let whole = read_json(&dir.path().join("0-winch/summary.json"));
    assert_eq!(summary["metrics"], whole["metrics"]);
}
