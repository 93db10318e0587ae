//! The conformance vectors of tests/conformance (see its README), run through
//! the real `assay` binary: the built-in plugins compiled to components, in
//! the sandbox, with statistics summed by the host. The plugin crates check
//! the same vectors natively; this test proves nothing is lost on the way.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use serde_json::{Map, Value, json};

/// Two workers and batches of 2, so chunks hold 32 samples: the larger cases
/// span several chunks scored on both workers, and their corpus values come
/// from statistics merged across chunks, as in a real run. Cases may number
/// their samples from 1 in several groups, so ids may repeat.
const RUN_ARGS: [&str; 5] = ["-j2", "--batch-size=2", "--field", "reference=references", "--allow-duplicate-ids"];

struct Case {
    /// `plugin.jsonl:LINE name`, for messages.
    label: String,
    plugin: String,
    config: Value,
    samples: Vec<Value>,
    sample_scores: Vec<Map<String, Value>>,
    corpus_scores: BTreeMap<String, f64>,
    tolerance: f64,
}

impl Case {
    fn parse(plugin: &str, line_number: usize, line: &str) -> Case {
        let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{plugin}.jsonl:{line_number}: {e}"));
        let label = format!("{plugin}.jsonl:{line_number} {:?}", value["name"].as_str().unwrap_or_default());
        let samples = value["samples"].as_array().unwrap_or_else(|| panic!("{label}: no samples")).clone();
        let sample_scores: Vec<Map<String, Value>> = match &value["sample_scores"] {
            Value::Null => Vec::new(),
            scores => scores
                .as_array()
                .unwrap_or_else(|| panic!("{label}: sample_scores is no list"))
                .iter()
                .map(|s| s.as_object().unwrap().clone())
                .collect(),
        };
        assert!(sample_scores.len() <= samples.len(), "{label}: more sample_scores than samples");
        let corpus_scores = value["corpus_scores"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or_else(|| panic!("{label}: {k} is no number"))))
            .collect();
        Case {
            plugin: plugin.to_string(),
            config: value.get("config").cloned().unwrap_or_else(|| json!({})),
            tolerance: value.get("tolerance").and_then(Value::as_f64).unwrap_or(1e-9),
            label,
            samples,
            sample_scores,
            corpus_scores,
        }
    }

    fn close(&self, actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= self.tolerance * expected.abs().max(1.0)
    }
}

/// One `assay run`: cases of one plugin and configuration, their samples
/// concatenated. A case with corpus scores runs alone, as corpus values are
/// over all the samples of a run.
struct Run<'a> {
    cases: Vec<&'a Case>,
}

impl Run<'_> {
    /// Runs the cases and returns what mismatched, and how many values matched.
    fn check(&self, dir: &Path) -> (Vec<String>, usize) {
        let first = self.cases[0];
        let plugin = &first.plugin;
        let lines: Vec<Value> = self.cases.iter().flat_map(|c| c.samples.iter().cloned()).collect();
        let eval_set = jsonl(dir, "eval.jsonl", &lines);
        let config = json!({"plugins": {plugin: {"source": plugin, "config": first.config}}});
        let config: toml::Value =
            toml::Value::try_from(&config).unwrap_or_else(|e| panic!("{}: config as TOML: {e}", first.label));
        std::fs::write(dir.join("assay.toml"), toml::to_string(&config).unwrap()).unwrap();
        let out = dir.join("out");
        let output = run(assay()
            .arg("run")
            .arg(&eval_set)
            .arg("--config")
            .arg(dir.join("assay.toml"))
            .arg("-o")
            .arg(&out)
            .args(RUN_ARGS)
            .arg("--quiet"));
        if output.status.code() != Some(0) {
            return (
                vec![format!("{}: assay run exited with {:?}: {}", first.label, output.status.code(), stderr(&output))],
                0,
            );
        }
        let samples = read_jsonl(&out.join("samples.jsonl"));
        let summary = read_json(&out.join("summary.json"));
        if samples.len() != lines.len() {
            return (vec![format!("{}: {} samples written for {} given", first.label, samples.len(), lines.len())], 0);
        }

        let mut problems = Vec::new();
        let mut checked = 0;
        let mut results = samples.iter();
        for case in &self.cases {
            for (i, given) in case.samples.iter().enumerate() {
                let got = results.next().expect("as many results as samples");
                let at = format!("{}, sample {} (#{i})", case.label, given["id"]);
                if got["id"] != given["id"] {
                    problems.push(format!("{at}: written as id {}", got["id"]));
                }
                if got["errors"] != json!({}) {
                    problems.push(format!("{at}: errors {}", got["errors"]));
                }
                for (metric, want) in case.sample_scores.get(i).into_iter().flatten() {
                    let want = want.as_f64().unwrap_or_else(|| panic!("{at}: expected {metric} is no number"));
                    match got["scores"][format!("{plugin}/{metric}")].as_f64() {
                        None => problems.push(format!("{at}: no {metric} reported (scores: {})", got["scores"])),
                        Some(value) if !case.close(value, want) => {
                            problems.push(format!("{at}, {metric}: got {value}, expected {want}"))
                        }
                        Some(_) => checked += 1,
                    }
                }
            }
            if case.corpus_scores.is_empty() {
                continue;
            }
            // Like the native harness: the vectors list every corpus value.
            let mut reported: Vec<&str> = summary["details"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, detail)| detail["level"] == "corpus")
                .map(|(key, _)| key.strip_prefix(&format!("{plugin}/")).unwrap_or(key))
                .collect();
            reported.sort_unstable();
            let expected: Vec<&str> = case.corpus_scores.keys().map(String::as_str).collect();
            if reported != expected {
                problems.push(format!("{}: corpus metrics reported {reported:?}, expected {expected:?}", case.label));
            }
            for (metric, want) in &case.corpus_scores {
                match summary["metrics"][format!("{plugin}/{metric}")].as_f64() {
                    None => problems.push(format!("{}: no corpus {metric} reported", case.label)),
                    Some(value) if !case.close(value, *want) => {
                        problems.push(format!("{}, corpus {metric}: got {value}, expected {want}", case.label))
                    }
                    Some(_) => checked += 1,
                }
            }
        }
        (problems, checked)
    }
}

fn read_cases() -> Vec<Case> {
    let folder = root().join("tests/conformance");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let plugin = path.file_stem().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let before = cases.len();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            cases.push(Case::parse(&plugin, i + 1, line));
        }
        assert!(cases.len() > before, "{}: no cases", path.display());
    }
    cases
}

/// Groups cases into runs, keeping file order.
fn plan(cases: &[Case]) -> Vec<Run<'_>> {
    let mut runs: Vec<Run> = Vec::new();
    let mut shared: BTreeMap<(String, String), usize> = BTreeMap::new();
    for case in cases {
        if !case.corpus_scores.is_empty() {
            runs.push(Run { cases: vec![case] });
            continue;
        }
        let key = (case.plugin.clone(), case.config.to_string());
        match shared.get(&key) {
            Some(&at) => runs[at].cases.push(case),
            None => {
                shared.insert(key, runs.len());
                runs.push(Run { cases: vec![case] });
            }
        }
    }
    runs
}

#[test]
fn every_conformance_vector_holds_through_the_sandbox() {
    let cases = read_cases();
    let runs = plan(&cases);
    let dir = tempfile::tempdir().unwrap();
    let next = AtomicUsize::new(0);
    let results = Mutex::new((Vec::new(), 0usize));
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 4);
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(run) = runs.get(index) else { break };
                    let run_dir = dir.path().join(index.to_string());
                    std::fs::create_dir(&run_dir).unwrap();
                    let (problems, checked) = run.check(&run_dir);
                    let mut results = results.lock().unwrap();
                    results.0.extend(problems);
                    results.1 += checked;
                }
            });
        }
    });
    let (problems, checked) = results.into_inner().unwrap();
    assert!(problems.is_empty(), "{} mismatches:\n{}", problems.len(), problems.join("\n"));
    let expected: usize =
        cases.iter().map(|c| c.corpus_scores.len() + c.sample_scores.iter().map(Map::len).sum::<usize>()).sum();
    assert_eq!(checked, expected, "every expected value was compared");
    println!("{} cases in {} runs: {checked} values match", cases.len(), runs.len());
}

/// Every configuration key of the built-in evaluators that changes numbers,
/// each set away from its default, as `(instance, source, config)`.
const SETTINGS: &[(&str, &str, &str)] = &[
    ("rouge", "rouge", "{}"),
    ("rouge_stem", "rouge", "{ stemmer = true }"),
    ("rouge_unicode", "rouge", "{ tokenizer = \"unicode\" }"),
    ("rouge_tr", "rouge", "{ tokenizer = \"unicode\", locale = \"tr\" }"),
    ("rouge_tr_nfkc", "rouge", "{ tokenizer = \"unicode\", locale = \"tr\", unicode = \"nfkc\" }"),
    ("rouge_nfc", "rouge", "{ unicode = \"nfc\" }"),
    ("bleu", "bleu", "{}"),
    ("bleu_none", "bleu", "{ tokenize = \"none\" }"),
    ("bleu_lc", "bleu", "{ lowercase = true }"),
    ("bleu_floor", "bleu", "{ smooth_method = \"floor\" }"),
    ("bleu_floor_2", "bleu", "{ smooth_method = \"floor\", smooth_value = 0.2 }"),
    ("bleu_order", "bleu", "{ max_ngram_order = 2 }"),
    ("bleu_intl", "bleu", "{ tokenize = \"intl\" }"),
    ("bleu_zh", "bleu", "{ tokenize = \"zh\" }"),
    ("bleu_char", "bleu", "{ tokenize = \"char\" }"),
    ("bleu_nfc", "bleu", "{ unicode = \"nfc\" }"),
    ("chrf", "chrf", "{}"),
    ("chrf_nc", "chrf", "{ char_order = 4 }"),
    ("chrf_nw", "chrf", "{ word_order = 2 }"),
    ("chrf_beta", "chrf", "{ beta = 1 }"),
    ("chrf_lc", "chrf", "{ lowercase = true }"),
    ("chrf_space", "chrf", "{ whitespace = true }"),
    ("chrf_eps", "chrf", "{ eps_smoothing = true }"),
    ("chrf_nfkc", "chrf", "{ unicode = \"nfkc\" }"),
    ("ter", "ter", "{}"),
    ("ter_norm", "ter", "{ normalized = true }"),
    ("ter_punct", "ter", "{ no_punct = true }"),
    ("ter_asian", "ter", "{ asian_support = true }"),
    ("ter_case", "ter", "{ case_sensitive = true }"),
    ("ter_nfc", "ter", "{ unicode = \"nfc\" }"),
    ("token_f1", "token_f1", "{}"),
    ("token_f1_tr", "token_f1", "{ locale = \"tr\" }"),
    ("token_f1_az_none", "token_f1", "{ locale = \"az\", unicode = \"none\" }"),
    ("similarity", "similarity", "{}"),
    ("similarity_tr", "similarity", "{ locale = \"tr\" }"),
    ("similarity_nfkc", "similarity", "{ unicode = \"nfkc\" }"),
    ("classification", "classification", "{}"),
    ("classification_raw", "classification", "{ trim = false }"),
    ("json", "json", "{}"),
    ("json_schema", "json", "{ schema = { type = \"object\" } }"),
    ("json_fence", "json", "{ strip_code_fence = true }"),
    ("exact_match", "exact_match", "{}"),
    ("exact_match_squad", "exact_match", "{ normalize = true }"),
    ("exact_match_tr", "exact_match", "{ normalize = true, locale = \"tr\" }"),
    ("exact_match_nfkc", "exact_match", "{ unicode = \"nfkc\" }"),
    ("regex", "regex", "{ pattern = \"a\" }"),
    ("regex_other", "regex", "{ pattern = \"b\" }"),
    ("regex_invert", "regex", "{ pattern = \"a\", invert = true }"),
];

/// Runs every instance of SETTINGS over `lines` and returns each instance's
/// signature, checking that all its metrics carry it.
fn signatures(dir: &Path, lines: &[Value]) -> BTreeMap<String, String> {
    let config: String = SETTINGS
        .iter()
        .map(|(name, source, config)| format!("[plugins.{name}]\nsource = \"{source}\"\nconfig = {config}\n"))
        .collect();
    std::fs::write(dir.join("assay.toml"), config).unwrap();
    let eval_set = jsonl(dir, "eval.jsonl", lines);
    let out = dir.join("out");
    let output = run(assay()
        .arg("run")
        .arg(&eval_set)
        .arg("--config")
        .arg(dir.join("assay.toml"))
        .arg("-o")
        .arg(&out)
        .arg("--quiet"));
    expect_code(&output, 0);
    let summary = read_json(&out.join("summary.json"));
    let mut signatures = BTreeMap::new();
    for plugin in summary["plugins"].as_array().unwrap() {
        signatures
            .insert(plugin["name"].as_str().unwrap().to_string(), plugin["signature"].as_str().unwrap().to_string());
    }
    for (key, detail) in summary["details"].as_object().unwrap() {
        let instance = key.split_once('/').unwrap().0;
        // A family member's signature is its plugin's, written once.
        if detail.get("family").is_some() {
            assert!(detail.get("signature").is_none(), "{key}");
            continue;
        }
        assert_eq!(detail["signature"].as_str(), Some(signatures[instance].as_str()), "{key}");
    }
    signatures
}

#[test]
fn signatures_tell_settings_and_reference_counts_apart() {
    let dir = tempfile::tempdir().unwrap();
    let sample =
        |references: &[&str]| json!({"output": "The cat sat on the mat.", "reference": references, "label": "cat"});
    let one = [sample(&["A cat sat on the mat."]), sample(&["The cat is on a mat."])];
    let first = signatures(dir.path(), &one);
    assert_eq!(signatures(dir.path(), &one), first, "identical settings and data give identical signatures");

    for (i, (a, _, _)) in SETTINGS.iter().enumerate() {
        for (b, _, _) in &SETTINGS[i + 1..] {
            assert_ne!(first[*a], first[*b], "{a} and {b} score differently but sign alike");
        }
    }
    // sacreBLEU's signature, with the plugin's name, version and digest first.
    let bleu = &first["bleu"];
    assert!(bleu.starts_with("bleu|v:") && bleu.contains("|sha256:"), "{bleu}");
    assert!(bleu.ends_with("|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|order:4"), "{bleu}");
    assert!(
        first["chrf_nw"].ends_with("|nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|beta:2"),
        "{}",
        first["chrf_nw"]
    );
    assert!(first["rouge_stem"].ends_with("|nrefs:1|tok:default|stem:true"), "{}", first["rouge_stem"]);
    assert!(
        first["bleu_intl"].ends_with("|nrefs:1|case:mixed|eff:no|tok:intl|smooth:exp|order:4"),
        "{}",
        first["bleu_intl"]
    );
    assert!(first["ter"].ends_with("|nrefs:1|case:lc|tok:tercom|norm:no|punct:yes|asian:no"), "{}", first["ter"]);
    assert!(first["token_f1_tr"].ends_with("|nrefs:1|locale:tr|unicode:nfc"), "{}", first["token_f1_tr"]);
    assert!(first["token_f1_az_none"].ends_with("|nrefs:1|locale:az"), "{}", first["token_f1_az_none"]);
    // Without a locale or a form, signatures are those of the references.
    assert!(first["similarity"].ends_with("|nrefs:1"), "{}", first["similarity"]);

    // More references raise scores: the count is part of every signature.
    let two = signatures(dir.path(), &vec![sample(&["A cat sat on the mat.", "The cat is on a mat."]); 2]);
    let varying =
        signatures(dir.path(), &[sample(&["A cat sat on the mat."]), sample(&["A cat sat.", "The cat is on a mat."])]);
    for (name, signature) in &first {
        assert_eq!(two[name], signature.replace("|nrefs:1", "|nrefs:2"), "{name}");
        assert_eq!(varying[name], signature.replace("|nrefs:1", "|nrefs:var"), "{name}");
    }
}
