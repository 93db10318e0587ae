//! Gates, CI files (`--junit`, `--markdown`, `--output-format json`) and
//! `assay report`, driven through the real binary.

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::path::{Path, PathBuf};

use browser::*;
use common::*;
use quick_xml::events::Event;
use serde_json::Value;

/// A config running exact_match on the bundled example (57.5% exact) with
/// the given `[gates]` lines.
fn gated_config(dir: &Path, gates: &str) -> PathBuf {
    let path = dir.join("assay.toml");
    std::fs::write(&path, format!("[plugins.exact]\nsource = \"exact_match\"\n\n[gates]\n{gates}")).unwrap();
    path
}

fn example() -> PathBuf {
    root().join("examples/eval/qa.jsonl")
}

fn gated_run(dir: &Path, gates: &str, extra: &[&str]) -> std::process::Output {
    let config = gated_config(dir, gates);
    run(assay().arg("run").arg(example()).arg("-c").arg(&config).arg("-o").arg(dir.join("out")).args(extra))
}

#[test]
fn passing_gates_exit_zero_and_failing_ones_exit_4_with_value_and_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let output = gated_run(dir.path(), "\"exact/exact_match\" = \">= 0.5\"\n\"errors\" = \"== 0\"\n", &[]);
    expect_code(&output, 0);
    assert!(!stderr(&output).contains("FAIL"), "{}", stderr(&output));

    let output = gated_run(
        dir.path(),
        "\"exact/exact_match\" = \"> 0.6\"\n\"errors\" = \"== 0\"\n\"samples\" = \"!= 40\"\n",
        &[],
    );
    expect_code(&output, 4);
    let err = stderr(&output);
    assert!(err.contains("2 of 3 gates failed"), "{err}");
    assert!(err.contains("FAIL exact/exact_match = 0.575, expected > 0.6"), "{err}");
    assert!(err.contains("FAIL samples = 40, expected != 40"), "{err}");
    assert!(!err.contains("FAIL errors"), "{err}");
    assert!(dir.path().join("out/summary.json").exists(), "results are written even when a gate fails");
}

#[test]
fn a_gate_on_an_unknown_metric_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = gated_run(dir.path(), "\"errors\" = \"== 0\"\n\"exact/exact_macth\" = \">= 0.5\"\n", &[]);
    expect_code(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("assay.toml: gate \"exact/exact_macth\": no such metric"), "{err}");
    assert!(err.contains("exact/exact_match"), "the message lists the metrics there are: {err}");
    assert!(!dir.path().join("out").exists(), "nothing runs");

    let output = gated_run(dir.path(), "\"errors\" = \"=> 0\"\n", &[]);
    expect_code(&output, 1);
    assert!(
        stderr(&output).contains("assay.toml: 5:12: \"=> 0\" does not start with an operator"),
        "a malformed condition points at its line: {}",
        stderr(&output)
    );
}

/// A parsed XML element: name, attributes, children, text.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> &str {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("<{}> has no {name}", self.name))
    }

    fn parse(xml: &str) -> Element {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut stack = vec![Element::default()];
        let open = |e: &quick_xml::events::BytesStart| Element {
            name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
            attributes: e
                .attributes()
                .map(|a| {
                    let a = a.expect("well-formed attributes");
                    (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), a.unescape_value().unwrap().into_owned())
                })
                .collect(),
            ..Element::default()
        };
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) => stack.push(open(&e)),
                Event::Empty(e) => stack.last_mut().unwrap().children.push(open(&e)),
                Event::End(_) => {
                    let done = stack.pop().unwrap();
                    stack.last_mut().unwrap().children.push(done);
                }
                Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.decode().unwrap()),
                // Entities in text come as events of their own.
                Event::GeneralRef(r) => {
                    let name = r.decode().unwrap();
                    let text = quick_xml::escape::resolve_predefined_entity(&name)
                        .unwrap_or_else(|| panic!("unknown entity &{name};"));
                    stack.last_mut().unwrap().text.push_str(text);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(stack.len(), 1, "every element is closed");
        let mut document = stack.pop().unwrap();
        assert_eq!(document.children.len(), 1, "one root element");
        document.children.pop().unwrap()
    }
}

#[test]
fn junit_and_markdown_files_describe_each_gate() {
    let dir = tempfile::tempdir().unwrap();
    let (junit, markdown) = (dir.path().join("gates.xml"), dir.path().join("summary.md"));
    let output = gated_run(
        dir.path(),
        "\"exact/exact_match\" = \">= 0.9\"\n\"errors\" = \"== 0\"\n",
        &["--junit", junit.to_str().unwrap(), "--junit-samples", "--markdown", markdown.to_str().unwrap()],
    );
    expect_code(&output, 4);

    // What JUnit consumers (Jenkins, GitLab, GitHub test reporters) read.
    let root = Element::parse(&std::fs::read_to_string(&junit).unwrap());
    assert_eq!(root.name, "testsuites");
    let suites = &root.children;
    assert_eq!(suites.iter().map(|s| s.attr("name")).collect::<Vec<_>>(), ["gates", "samples"]);
    let mut total = (0, 0);
    for suite in suites {
        assert_eq!(suite.name, "testsuite");
        let cases = &suite.children;
        assert!(cases.iter().all(|c| c.name == "testcase" && !c.attr("classname").is_empty()));
        assert!(suite.attr("time").parse::<f64>().is_ok());
        let failures = cases.iter().filter(|c| c.children.iter().any(|f| f.name == "failure")).count();
        assert_eq!(suite.attr("tests"), cases.len().to_string());
        assert_eq!(suite.attr("failures"), failures.to_string());
        assert_eq!(suite.attr("errors"), "0");
        total = (total.0 + cases.len(), total.1 + failures);
    }
    assert_eq!(
        (root.attr("tests"), root.attr("failures")),
        (total.0.to_string().as_str(), total.1.to_string().as_str())
    );
    let gates = &suites[0].children;
    assert_eq!(gates.iter().map(|c| c.attr("name")).collect::<Vec<_>>(), ["exact/exact_match", "errors"]);
    let failure = &gates[0].children[0];
    assert_eq!(failure.attr("message"), "exact/exact_match = 0.575, expected >= 0.9");
    assert!(gates[1].children.is_empty(), "a passing gate has no failure");
    // The example has 17 misses out of 40.
    let samples = &suites[1].children;
    assert_eq!(samples.len(), 17);
    assert_eq!(samples[0].attr("name"), "qa-004");
    assert_eq!(samples[0].children[0].text, "exact/exact_match = 0, expected >= 0.9");

    let md = std::fs::read_to_string(&markdown).unwrap();
    assert!(md.contains("❌ 1 of 2 gates failed."), "{md}");
    assert!(md.contains("| `exact/exact_match` | 0.5750 | `>= 0.9` | ❌ fail |"), "{md}");
    assert!(md.contains("| `errors` | 0 | `== 0` | ✅ pass |"), "{md}");
    assert!(md.contains("40 samples"), "{md}");
}

#[test]
fn output_format_json_prints_the_summary_and_gates_only() {
    let dir = tempfile::tempdir().unwrap();
    let output = gated_run(dir.path(), "\"exact/exact_match\" = \">= 0.5\"\n", &["--output-format", "json"]);
    expect_code(&output, 0);
    let printed: Value = serde_json::from_str(&stdout(&output)).expect("stdout is one JSON document");
    assert_eq!(printed["passed"], true);
    assert_eq!(printed["gates"][0]["name"], "exact/exact_match");
    assert_eq!(printed["gates"][0]["condition"], ">= 0.5");
    assert_eq!(printed["gates"][0]["value"], 0.575);
    assert_eq!(printed["summary"], read_json(&dir.path().join("out/summary.json")));
}

#[test]
fn guard_runs_are_gated_on_decision_counts_shares_and_per_guard_counts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("assay.toml");
    let gates = "\"rejected\" = \"<= 20\"\n\"quarantined_share\" = \"<= 0.01\"\n\"arithmetic/reject\" = \"== 0\"\n";
    std::fs::write(&config, format!("[plugins.arithmetic]\n\n[plugins.flood]\n\n[gates]\n{gates}")).unwrap();
    let junit = dir.path().join("junit.xml");
    let feedback = root().join("examples/feedback/feedback.jsonl");
    let output = run(assay()
        .arg("guard")
        .arg(&feedback)
        .arg("-c")
        .arg(&config)
        .arg("-o")
        .arg(dir.path().join("out"))
        .arg("--junit")
        .arg(&junit)
        .arg("--junit-samples"));
    expect_code(&output, 4);
    let err = stderr(&output);
    assert!(err.contains("2 of 3 gates failed"), "{err}");
    assert!(err.contains("FAIL arithmetic/reject = 12, expected == 0"), "{err}");
    assert!(err.contains("FAIL quarantined_share = "), "{err}");

    let summary = read_json(&dir.path().join("out/summary.json"));
    let held = summary["counts"]["quarantined"].as_u64().unwrap() + summary["counts"]["rejected"].as_u64().unwrap();
    let root = Element::parse(&std::fs::read_to_string(&junit).unwrap());
    let records = root.children.iter().find(|s| s.attr("name") == "samples").unwrap();
    assert_eq!(records.children.len() as u64, held, "one failed case per record not accepted");

    std::fs::write(&config, "[plugins.arithmetic]\n\n[gates]\n\"arithmetic/rejected\" = \"== 0\"\n").unwrap();
    let output = run(assay().arg("guard").arg(&feedback).arg("-c").arg(&config).arg("-o").arg(dir.path().join("out2")));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("gate \"arithmetic/rejected\": no such metric or count"), "{}", stderr(&output));
}

// ---- assay report ----------------------------------------------------------

/// Runs the bundled example's evaluators over `eval_set` into `out`.
fn example_run(eval_set: &Path, out: &Path) {
    let output = run(assay()
        .arg("run")
        .arg(eval_set)
        .args(["-c", "examples/eval/assay.toml", "-q", "-o"])
        .arg(out)
        .current_dir(root()));
    expect_code(&output, 0);
}

fn report(dirs: &[&Path], html: &Path) -> std::process::Output {
    let output = run(assay().arg("report").args(dirs).arg("-o").arg(html));
    expect_code(&output, 0);
    output
}

#[test]
fn a_report_without_its_eval_set_shows_scores_only_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let eval_set = dir.path().join("qa.jsonl");
    std::fs::copy(example(), &eval_set).unwrap();
    example_run(&eval_set, &dir.path().join("run"));
    let html = dir.path().join("report.html");

    let page = |output: &std::process::Output| (stderr(output), std::fs::read_to_string(&html).unwrap());
    let (err, text) = page(&report(&[&dir.path().join("run")], &html));
    assert!(err.is_empty(), "{err}");
    assert!(text.contains("What is the capital of France?"), "the texts come from the eval set");

    std::fs::write(&eval_set, std::fs::read_to_string(example()).unwrap().replace("Paris", "Lyon")).unwrap();
    let (err, text) = page(&report(&[&dir.path().join("run")], &html));
    assert!(err.contains("changed since the run (its sha256 differs); showing scores only"), "{err}");
    assert!(!text.contains("What is the capital of France?") && text.contains("showing scores only"));

    std::fs::remove_file(&eval_set).unwrap();
    let (err, _) = page(&report(&[&dir.path().join("run")], &html));
    assert!(err.contains("is not there any more; showing scores only"), "{err}");

    let output = run(assay().arg("report").arg(dir.path()).arg("-o").arg(&html));
    expect_code(&output, 1);
    assert!(stderr(&output).contains("not a run folder: no summary.json"), "{}", stderr(&output));
}

#[test]
fn browser_the_report_of_one_run_draws_charts_sorts_and_filters() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    example_run(&example(), &dir.path().join("run"));
    let html = dir.path().join("report.html");
    report(&[&dir.path().join("run")], &html);
    assert_offline_page(&html);
    let (result, dom) = selftest(&browser, &html);

    assert_charts_drawn(&result, 3); // one histogram per sample-level metric
    assert_eq!(result["rows"]["total"], 40);
    // Worst first: the refusal fails every metric.
    assert_eq!(result["rows"]["first"][0], "qa-036");
    let sort = &result["sort"];
    assert_eq!(sort["metric"], "exact/exact_match");
    let values = |v: &Value| v["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<_>>();
    let (ascending, descending) = (values(&sort["first"]), values(&sort["second"]));
    assert_eq!((sort["first"]["dir"].as_str(), sort["second"]["dir"].as_str()), (Some("asc"), Some("desc")));
    assert!(ascending.windows(2).all(|w| w[0] <= w[1]) && ascending[0] < *ascending.last().unwrap(), "{ascending:?}");
    assert!(descending.windows(2).all(|w| w[0] >= w[1]), "{descending:?}");
    assert_eq!(result["search"]["matching"], 1);
    assert_eq!(result["search"]["ids"], serde_json::json!([result["search"]["query"]]));
    assert_eq!(result["with_errors"], 0);
    assert_eq!(result["score_filter"]["matching"], 23, "23 of 40 outputs match exactly");
    assert!(
        dom.contains("What is the capital of France?") && dom.contains("exact_match|v:"),
        "texts and signatures are shown"
    );
}

#[test]
fn browser_the_report_of_two_runs_compares_them() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A worse model: every third answer is wrong.
    let worse: Vec<Value> = read_jsonl(&example())
        .into_iter()
        .enumerate()
        .map(|(i, mut record)| {
            if i % 3 == 0 {
                record["output"] = "I do not know".into();
            }
            record
        })
        .collect();
    let worse = jsonl(dir.path(), "worse.jsonl", &worse);
    let (a, b) = (dir.path().join("model-a"), dir.path().join("model-b"));
    example_run(&example(), &a);
    example_run(&worse, &b);
    let html = dir.path().join("report.html");
    report(&[&a, &b], &html);
    assert_offline_page(&html);
    let (result, _) = selftest(&browser, &html);

    // Bars per metric, histograms per metric per run, then each run's own.
    assert_charts_drawn(&result, 3 + 3 * 2 + 3 * 2);
    let rows = result["comparison"].as_array().unwrap();
    let exact = rows.iter().find(|r| r[0].as_str().unwrap().starts_with("exact/exact_match")).unwrap();
    let (value_a, value_b): (f64, f64) =
        (exact[1].as_str().unwrap().parse().unwrap(), exact[2].as_str().unwrap().parse().unwrap());
    assert_eq!(value_a, 0.575);
    assert!(value_b < value_a);
    assert_eq!(exact[3], "model-a", "the run ahead");
    assert!(exact[4].as_str().unwrap().starts_with(&format!("{:.4}", value_a - value_b)), "by how much: {exact:?}");
    let p: f64 = exact[5].as_str().unwrap().parse().unwrap();
    assert!(p < 0.05, "a third of the answers wrong is a significant difference: {exact:?}");
    assert!(result["disagreements"].as_u64().unwrap() > 0);

    // One answer apart: a lead, but not a significant one.
    let close: Vec<Value> = read_jsonl(&example())
        .into_iter()
        .enumerate()
        .map(|(i, mut record)| {
            if i == 0 {
                record["output"] = "I do not know".into();
            }
            record
        })
        .collect();
    let close = jsonl(dir.path(), "close.jsonl", &close);
    let c = dir.path().join("model-c");
    example_run(&close, &c);
    report(&[&a, &c], &html);
    let (result, _) = selftest(&browser, &html);
    let rows = result["comparison"].as_array().unwrap();
    let exact = rows.iter().find(|r| r[0].as_str().unwrap().starts_with("exact/exact_match")).unwrap();
    assert_eq!(exact[3], "not significant", "{exact:?}");
    assert!(exact[5].as_str().unwrap().parse::<f64>().unwrap() > 0.05);
}

#[test]
fn browser_the_report_of_a_guard_run_lists_held_records() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("screened");
    let feedback = root().join("examples/feedback/feedback.jsonl");
    let output = run(assay()
        .arg("guard")
        .arg(&feedback)
        .args(["-c", "examples/feedback/assay.toml", "-q", "-o"])
        .arg(&out)
        .current_dir(root()));
    expect_code(&output, 0);
    let html = dir.path().join("report.html");
    report(&[&out], &html);
    assert_offline_page(&html);
    let (result, dom) = selftest(&browser, &html);

    assert_charts_drawn(&result, 1);
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(result["held_rejected"], summary["counts"]["rejected"]);
    assert!(dom.contains("correction claims 2+2=5"), "reasons are shown");
}
