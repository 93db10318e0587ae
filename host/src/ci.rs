//! What a run tells CI systems: JUnit XML for test-result panels, Markdown
//! for pull-request comments and job summaries, JSON for scripts.
//!
//! All of them start from the typed summary, so every kind of run (an
//! evaluation, a guard run) is reported the same way, and from the typed
//! lines of `samples.jsonl` and `decisions.jsonl`.

use std::path::Path;

use assay_data::output::{
    DecisionLine, MetricRow, ReadError, Route, SampleLine, Summary, read_json_lines, samples::id_text,
};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::Value;

use crate::gate::{Gates, Outcome};

/// A sample that failed: a plugin failed on it, or its own value of a
/// sample-level metric misses that metric's gate.
#[derive(Debug, Clone, PartialEq)]
pub struct FailingSample {
    /// The id as written in `samples.jsonl` (JSON text).
    pub id: String,
    pub reasons: Vec<String>,
}

/// The failing samples of a `samples.jsonl`, in input order.
pub fn failing_samples(samples_jsonl: &Path, gates: &Gates) -> Result<Vec<FailingSample>, ReadError> {
    let mut failing = Vec::new();
    for sample in read_json_lines::<SampleLine>(samples_jsonl)? {
        let mut reasons = Vec::new();
        for (plugin, error) in sample.errors.iter() {
            reasons.push(format!("{plugin}: {} error: {}", error.kind, error.message));
        }
        for (name, condition) in gates {
            if let Some(&value) = sample.scores.get(name)
                && !condition.op.holds(value, condition.threshold)
            {
                reasons.push(format!("{name} = {value}, expected {condition}"));
            }
        }
        if !reasons.is_empty() {
            failing.push(FailingSample { id: id_text(&sample.id), reasons });
        }
    }
    Ok(failing)
}

/// The records of a guard run's `decisions.jsonl` that were not accepted,
/// with each guard's reason for holding them.
pub fn held_records(decisions_jsonl: &Path) -> Result<Vec<FailingSample>, ReadError> {
    let mut held = Vec::new();
    for decision in read_json_lines::<DecisionLine>(decisions_jsonl)? {
        if decision.decision == Route::Accept {
            continue;
        }
        let mut reasons = Vec::new();
        if let Some(error) = &decision.error {
            reasons.push(format!("unreadable record: {}", error.message));
        }
        for (guard, entry) in decision.guards.iter() {
            if entry.decision != Route::Accept {
                reasons.push(format!("{guard}: {}: {}", entry.decision.name(), entry.reason));
            }
        }
        held.push(FailingSample { id: decision.id_text(), reasons });
    }
    Ok(held)
}

/// JUnit XML: a `gates` suite with one test case per gate and, when given,
/// a `samples` suite with one failed test case per failing sample. Uses only
/// the elements and attributes that Jenkins, GitLab and GitHub reporters read.
pub fn junit(outcomes: &[Outcome], samples: Option<&[FailingSample]>, seconds: f64) -> String {
    let mut suites: Vec<Suite> = vec![Suite {
        name: "gates",
        cases: outcomes
            .iter()
            .map(|o| Case { name: o.name.clone(), failure: (!o.passed).then(|| o.describe()) })
            .collect(),
    }];
    if let Some(samples) = samples {
        suites.push(Suite {
            name: "samples",
            cases: samples.iter().map(|s| Case { name: s.id.clone(), failure: Some(s.reasons.join("\n")) }).collect(),
        });
    }
    let time = format!("{seconds:.3}");
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(Suite::failures).sum();
    let mut writer = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    let mut write = |event: Event| writer.write_event(event).expect("writing to a Vec");
    write(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let counts = |tests: usize, failures: usize| {
        [("tests", tests.to_string()), ("failures", failures.to_string()), ("errors", "0".to_string())]
    };
    let mut root = BytesStart::new("testsuites").with_attributes([("name", "assay")]);
    root.extend_attributes(counts(tests, failures).iter().map(|(k, v)| (*k, v.as_str())));
    root.push_attribute(("time", time.as_str()));
    write(Event::Start(root));
    for suite in &suites {
        let mut start = BytesStart::new("testsuite").with_attributes([("name", suite.name)]);
        start.extend_attributes(counts(suite.cases.len(), suite.failures()).iter().map(|(k, v)| (*k, v.as_str())));
        start.push_attribute(("time", time.as_str()));
        write(Event::Start(start));
        let classname = format!("assay.{}", suite.name);
        for case in &suite.cases {
            // Names and messages carry plugin text, which may hold characters XML cannot.
            let name = crate::text::xml(&case.name);
            let start = BytesStart::new("testcase").with_attributes([
                ("name", name.as_ref()),
                ("classname", classname.as_str()),
                ("time", "0"),
            ]);
            match &case.failure {
                None => write(Event::Empty(start)),
                Some(message) => {
                    let message = crate::text::xml(message);
                    write(Event::Start(start));
                    // The first line as the message panels show; all of it as the body.
                    let first = message.lines().next().unwrap_or_default();
                    write(Event::Start(
                        BytesStart::new("failure").with_attributes([("message", first), ("type", "failure")]),
                    ));
                    write(Event::Text(BytesText::new(&message)));
                    write(Event::End(BytesEnd::new("failure")));
                    write(Event::End(BytesEnd::new("testcase")));
                }
            }
        }
        write(Event::End(BytesEnd::new("testsuite")));
    }
    write(Event::End(BytesEnd::new("testsuites")));
    let mut xml = String::from_utf8(writer.into_inner()).expect("the writer writes UTF-8");
    xml.push('\n');
    xml
}

struct Suite {
    name: &'static str,
    cases: Vec<Case>,
}

impl Suite {
    fn failures(&self) -> usize {
        self.cases.iter().filter(|c| c.failure.is_some()).count()
    }
}

struct Case {
    name: String,
    failure: Option<String>,
}

/// A short Markdown summary: the metrics, the gates with pass or fail
/// marks, and the counts, sized for a pull-request comment.
pub fn markdown(summary: &Summary, outcomes: &[Outcome]) -> String {
    let number = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |v| format!("{v:.4}"));
    let mut md = format!("### assay {}: {}\n\n", summary.kind(), crate::text::markdown(&summary.input().path));
    if outcomes.is_empty() {
        md.push_str("No gates configured.\n\n");
    } else {
        let failed = outcomes.iter().filter(|o| !o.passed).count();
        md.push_str(&if failed == 0 {
            format!("✅ All {} gates passed.\n\n", outcomes.len())
        } else {
            format!("❌ {failed} of {} gates failed.\n\n", outcomes.len())
        });
        md.push_str("| gate | value | threshold | |\n|---|---:|---|---|\n");
        for outcome in outcomes {
            let value = outcome
                .value
                .map_or_else(|| "–".to_string(), |v| if v.fract() == 0.0 { format!("{v}") } else { format!("{v:.4}") });
            let mark = if outcome.passed { "✅ pass" } else { "❌ fail" };
            let name = crate::text::markdown_code(&outcome.name);
            md.push_str(&format!("| `{name}` | {value} | `{}` | {mark} |\n", outcome.condition));
        }
        md.push('\n');
    }
    if let Summary::Evaluation(evaluation) = summary
        && !evaluation.metrics.is_empty()
    {
        md.push_str("| metric | value | p50 | p95 | min | max |\n|---|---:|---:|---:|---:|---:|\n");
        for row in evaluation.rows(crate::table::FAMILY_ROWS) {
            match row {
                MetricRow::Metric(name, detail) => md.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} | {} |\n",
                    crate::text::markdown_code(name),
                    number(detail.headline()),
                    number(detail.p50),
                    number(detail.p95),
                    number(detail.min),
                    number(detail.max)
                )),
                MetricRow::More(family, n) => md.push_str(&format!(
                    "| `{}` | {n} more in summary.json | | | | |\n",
                    crate::text::markdown_code(&family)
                )),
            }
        }
        md.push('\n');
    }
    let counts: Vec<String> = summary.counts().iter().map(|(k, v)| format!("{v} {k}")).collect();
    md.push_str(&format!("{}\n", counts.join(" · ")));
    md
}

/// What `--output-format json` prints: the summary and how the gates went.
pub fn json(summary: &Summary, outcomes: &[Outcome]) -> Value {
    serde_json::json!({
        "summary": summary,
        "gates": outcomes,
        "passed": outcomes.iter().all(|o| o.passed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::check;
    use crate::gate::tests::summary;
    use serde_json::json;

    fn outcomes() -> Vec<Outcome> {
        let gates: Gates = [("exact/exact_match", ">= 0.5"), ("errors", "== 0")]
            .iter()
            .map(|(n, c)| (n.to_string(), c.parse().unwrap()))
            .collect();
        check(&gates, &summary("evaluation", json!({"metrics": {"exact/exact_match": 0.25}})))
    }

    #[test]
    fn junit_has_one_case_per_gate_and_escapes_names() {
        let samples =
            [FailingSample { id: "a<&\"b".into(), reasons: vec!["x: trap error: boom".into(), "second".into()] }];
        let xml = junit(&outcomes(), Some(&samples), 1.5);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(xml.contains(r#"<testsuites name="assay" tests="3" failures="2" errors="0" time="1.500">"#), "{xml}");
        assert!(xml.contains(r#"<testsuite name="gates" tests="2" failures="1" errors="0" time="1.500">"#), "{xml}");
        assert!(xml.contains(r#"<testcase name="errors" classname="assay.gates" time="0"/>"#), "{xml}");
        assert!(
            xml.contains(r#"<failure message="exact/exact_match = 0.25, expected &gt;= 0.5" type="failure">"#),
            "{xml}"
        );
        assert!(xml.contains(r#"<testcase name="a&lt;&amp;&quot;b" classname="assay.samples""#), "{xml}");
    }

    #[test]
    fn markdown_marks_gates_and_lists_metrics() {
        let detail = json!({"level": "sample", "description": "", "higher_is_better": true, "signature": "", "mean": 0.25,
            "p50": 0.0, "p95": 1.0, "min": 0.0, "max": 1.0});
        let summary = summary(
            "evaluation",
            json!({"input": {"path": "qa.jsonl", "sha256": "0".repeat(64), "format": "jsonl"}, "metrics": {"exact/exact_match": 0.25},
                "details": {"exact/exact_match": detail}, "counts": {"samples": 4, "errors": 0}}),
        );
        let md = markdown(&summary, &outcomes());
        assert!(md.contains("❌ 1 of 2 gates failed."), "{md}");
        assert!(md.contains("| `exact/exact_match` | 0.2500 | `>= 0.5` | ❌ fail |"), "{md}");
        assert!(md.contains("| `errors` | 0 | `== 0` | ✅ pass |"), "{md}");
        assert!(md.contains("| `exact/exact_match` | 0.2500 | 0.0000 | 1.0000 | 0.0000 | 1.0000 |"), "{md}");
        assert!(md.contains("0 records · 4 samples · 0 errors · 0 skipped"), "{md}");
    }

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.jsonl");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn held_records_are_the_ones_not_accepted_with_their_guards_reasons() {
        let (_dir, path) = file(
            "{\"id\":\"a\",\"line\":1,\"decision\":\"accept\",\"guards\":{\"g\":{\"decision\":\"accept\",\"reason\":\"\",\"risk\":0.0}}}\n\
             {\"id\":\"b\",\"line\":2,\"decision\":\"reject\",\"guards\":{\"g\":{\"decision\":\"reject\",\"reason\":\"2+2=5\",\"risk\":1.0},\"h\":{\"decision\":\"accept\",\"reason\":\"\",\"risk\":null}}}\n\
             {\"id\":null,\"line\":3,\"decision\":\"quarantine\",\"error\":{\"kind\":\"bad-record\",\"message\":\"invalid JSON\"},\"guards\":{}}\n",
        );
        assert_eq!(
            held_records(&path).unwrap(),
            [
                FailingSample { id: "b".into(), reasons: vec!["g: reject: 2+2=5".into()] },
                FailingSample { id: "line 3".into(), reasons: vec!["unreadable record: invalid JSON".into()] },
            ]
        );
    }

    #[test]
    fn failing_samples_are_those_with_errors_or_below_a_gate() {
        let (_dir, path) = file(
            "{\"id\":\"a\",\"scores\":{\"exact/exact_match\":1.0},\"errors\":{}}\n\
             {\"id\":2,\"scores\":{\"exact/exact_match\":0.0},\"errors\":{}}\n\
             {\"id\":\"c\",\"scores\":{},\"errors\":{\"exact\":{\"kind\":\"trap\",\"message\":\"boom\"}}}\n",
        );
        let gates: Gates = [("exact/exact_match".to_string(), ">= 0.5".parse().unwrap())].into_iter().collect();
        let failing = failing_samples(&path, &gates).unwrap();
        assert_eq!(
            failing,
            [
                FailingSample { id: "2".into(), reasons: vec!["exact/exact_match = 0, expected >= 0.5".into()] },
                FailingSample { id: "c".into(), reasons: vec!["exact: trap error: boom".into()] },
            ]
        );
    }
}
