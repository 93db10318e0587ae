//! Gates, CI files (`--junit`, `--markdown`, `--output-format json`) and
//! `assay report`, driven through the real binary.

mod common;

use std::path::{Path, PathBuf};

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

    let output = gated_run(dir.path(), "\"exact/exact_match\" = \"> 0.6\"\n\"errors\" = \"== 0\"\n\"samples\" = \"!= 40\"\n", &[]);
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
    assert!(stderr(&output).contains("assay.toml: 5:12: \"=> 0\" does not start with an operator"), "a malformed condition points at its line: {}", stderr(&output));
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
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("<{}> has no {name}", self.name))
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
                    let text = quick_xml::escape::resolve_predefined_entity(&name).unwrap_or_else(|| panic!("unknown entity &{name};"));
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
    assert_eq!((root.attr("tests"), root.attr("failures")), (total.0.to_string().as_str(), total.1.to_string().as_str()));
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
