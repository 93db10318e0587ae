//! `assay test`: golden tests for plugin authors.
//!
//! A cases file is JSON Lines, one case per line (blank lines are skipped):
//!
//! ```json
//! {"name": "articles", "sample": {"output": "the cat", "reference": "a cat"}, "expect": {"f1": 1.0}}
//! {"name": "corpus", "samples": [{...}, {...}], "expect": {"bleu": 27.3, "chars": [3, 5]}, "tolerance": 1e-6}
//! {"name": "bad key", "config": {"bogus": 1}, "expect": {"error": "unknown field"}}
//! {"name": "banned", "config": {...}, "feedback": {...}, "expect": {"verdict": "reject", "reason": "banned phrase"}}
//! ```
//!
//! Samples and feedback records are read exactly as `assay run` and `assay
//! guard` read a line of their input. docs/plugin-guide.md describes the
//! format in full.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::Deserialize;
use serde_json::Value;

use assay_data::output::Route;
use assay_data::{Body, FieldMap, RawRecord, eval_record, feedback_record};
use assay_runtime::{
    Decision, Determinism, EvaluatorInstance, Failure, Grant, GuardInstance, Host, Instance, Kind, Limits,
    LoadedPlugin, MetricLevel, call_runtime,
};

use super::setup::{cache, resolve_source};
use crate::exit::Exit;

#[derive(Args)]
pub struct TestArgs {
    /// A built-in plugin's name, a path to a .wasm component, or an oci:// reference.
    plugin: String,
    /// The cases: JSON Lines, one case per line.
    #[arg(long, value_name = "CASES.jsonl")]
    cases: PathBuf,
    /// Relative tolerance of expected numbers, for cases that set none.
    #[arg(long, value_name = "REL", default_value_t = 1e-9)]
    tolerance: f64,
    /// Compile the plugin afresh instead of using the compiled-component cache.
    #[arg(long)]
    no_cache: bool,
    #[command(flatten)]
    compiler: crate::config::CompilerFlag,
    /// Show what the plugin printed for every case, not only for failing ones.
    #[arg(short, long)]
    verbose: bool,
    /// A directory the plugin may read, as a config's `grants` gives it:
    /// HOST_DIR:GUEST_PATH, such as ./facts:/data. Repeatable.
    #[arg(long, value_name = "HOST_DIR:GUEST_PATH")]
    grant: Vec<String>,
}

/// What the plugin printed during the case being run.
#[derive(Default)]
struct CaseLog(std::sync::Mutex<String>);

impl CaseLog {
    fn take(&self) -> String {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl assay_runtime::PluginLog for CaseLog {
    fn write(&self, _plugin: &str, text: &str) {
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.push_str(text);
        if !text.ends_with('\n') {
            log.push('\n');
        }
    }
}

/// One line of a cases file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: Option<String>,
    #[serde(default)]
    config: serde_json::Map<String, Value>,
    /// One record or a list of records, for evaluators.
    sample: Option<OneOrMany>,
    samples: Option<OneOrMany>,
    /// One record or a list of records, for guards.
    feedback: Option<OneOrMany>,
    expect: Value,
    tolerance: Option<f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<Value>),
    One(Value),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<Value> {
        match self {
            OneOrMany::Many(records) => records,
            OneOrMany::One(record) => vec![record],
        }
    }
}

pub fn test(args: TestArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.cases).with_context(|| format!("reading {}", args.cases.display()))?;
    let resolved = resolve_source(&args.plugin)?;
    let grants = args
        .grant
        .iter()
        .map(|grant| Grant::parse(grant, Path::new("")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("--grant: {e}"))?;
    let log = std::sync::Arc::new(CaseLog::default());
    let compiler = args.compiler.compiler.unwrap_or_default();
    let host = Host::with_compiler(&[], 1, cache(args.no_cache, None), compiler)?.with_log(log.clone());
    let origin = resolved.origin.label();
    let plugin = host.load_granted(&origin, &resolved.component, &Limits::default(), &grants)?;
    let mut loaded = LoadedPlugin {
        name: plugin.info.name.clone(),
        origin,
        plugin,
        config_json: String::new(),
        limits: Limits::default(),
        grants,
        models: Vec::new(),
        settings: Vec::new(),
    };

    let (mut passed, mut failed) = (0, 0);
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_number = index as u64 + 1;
        let at = format!("{}:{line_number}", args.cases.display());
        let case: Case = serde_json::from_str(line).map_err(|e| anyhow!("{at}: not a case: {e}"))?;
        let label = format!("{at} {}", case.name.as_deref().unwrap_or(""));
        let tolerance = case.tolerance.unwrap_or(args.tolerance);
        let problems = run_case(&host, &mut loaded, case, line_number, tolerance).map_err(|e| anyhow!("{at}: {e}"))?;
        let printed = log.take();
        let case_failed = !problems.is_empty();
        if !case_failed {
            passed += 1;
            if args.verbose {
                println!("ok {}", label.trim_end());
            }
        } else {
            failed += 1;
            println!("FAIL {}", label.trim_end());
            for problem in problems {
                // The log follows in full, so a failure's quote of it is left out.
                let problem = if printed.is_empty() {
                    &problem
                } else {
                    problem.split(assay_runtime::failure::LOG_QUOTE).next().unwrap_or_default()
                };
                println!("  {}", crate::text::terminal(problem));
            }
        }
        if !printed.is_empty() && (args.verbose || case_failed) {
            println!("  the plugin printed:");
            for line in printed.lines() {
                println!("  | {}", crate::text::terminal(line));
            }
        }
    }
    if passed + failed == 0 {
        bail!("{}: no cases", args.cases.display());
    }
    println!(
        "{} {}: {passed} passed, {failed} failed",
        loaded.plugin.info.name,
        if failed == 0 { "ok" } else { "FAILED" }
    );
    Ok(if failed == 0 { Exit::Success } else { Exit::Failed }.into())
}

/// Runs one case on fresh instances; returns what differs from the expectation.
/// An `Err` is a case that cannot be run as written.
fn run_case(host: &Host, loaded: &mut LoadedPlugin, case: Case, line: u64, tolerance: f64) -> Result<Vec<String>> {
    let records = match (loaded.plugin.kind, case.sample.or(case.samples), case.feedback) {
        (Kind::Evaluator, records, None) => records.map(OneOrMany::into_vec).unwrap_or_default(),
        (Kind::Guard, None, records) => records.map(OneOrMany::into_vec).unwrap_or_default(),
        (kind, ..) => bail!(
            "a {kind} plugin takes {}",
            if kind == Kind::Evaluator { "`sample` or `samples`" } else { "`feedback`" }
        ),
    };
    let expected_error = match case.expect.get("error") {
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => bail!("`expect.error` must be a string: text the error message contains"),
        None => None,
    };
    loaded.config_json = Value::Object(case.config).to_string();
    let runtime = call_runtime();
    let raw = |record: &Value| RawRecord { line, body: Body::Json(record.to_string().into_bytes()) };
    if loaded.plugin.kind == Kind::Guard {
        let mut instance: GuardInstance = match configured(&runtime, loaded, host, expected_error.as_deref(), &records)
        {
            Ok(instance) => instance,
            Err(outcome) => return Ok(outcome),
        };
        let batch = records
            .iter()
            .map(|r| {
                feedback_record(&raw(r), &FieldMap::feedback())
                    .map(|f| f.feedback)
                    .map_err(|e| anyhow!("feedback: {}", e.message))
            })
            .collect::<Result<Vec<_>>>()?;
        // A case checks decisions; recalls are checked by `assay guard` runs.
        let decisions = runtime.block_on(instance.screen(&batch, 0)).map(|screened| screened.decisions);
        instance.forward_log(host, &loaded.name);
        return check_guard(decisions, &case.expect, expected_error.as_deref(), batch.len(), tolerance);
    }
    let mut instance: EvaluatorInstance = match configured(&runtime, loaded, host, expected_error.as_deref(), &records)
    {
        Ok(instance) => instance,
        Err(outcome) => return Ok(outcome),
    };
    let batch = records
        .iter()
        .map(|r| {
            eval_record(&raw(r), &FieldMap::samples()).map(|e| e.sample).map_err(|e| anyhow!("sample: {}", e.message))
        })
        .collect::<Result<Vec<_>>>()?;
    let scores = runtime.block_on(instance.score(&batch, 0));
    instance.forward_log(host, &loaded.name);
    let scores = match scores {
        Err(failure) => return Ok(outcome_error(&failure, expected_error.as_deref())),
        Ok(scores) => scores,
    };
    if let Some(text) = expected_error {
        return Ok(scores
            .iter()
            .enumerate()
            .filter_map(|(i, result)| match result {
                Err(failure) => error_mismatch(&failure.to_string(), &text),
                Ok(scores) => {
                    Some(format!("sample {i}: expected an error containing {text:?}, got scores {:?}", scores.values))
                }
            })
            .collect());
    }
    let expect =
        case.expect.as_object().ok_or_else(|| anyhow!("`expect` must be an object of metric names and values"))?;
    let mut problems = Vec::new();
    let mut values: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut statistics = assay_pipeline::evaluate::StatisticSums::default();
    for (i, result) in scores.iter().enumerate() {
        match result {
            Err(failure) => problems.push(format!("sample {i}: error: {failure}")),
            Ok(scores) => {
                for (metric, value) in loaded.plugin.sample_metrics().zip(&scores.values) {
                    values.entry(&metric.name).or_default().push(*value);
                }
                for statistic in &scores.statistics {
                    statistics.add(&statistic.name, statistic.value);
                }
            }
        }
    }
    let plugin = &loaded.plugin;
    let wants_corpus = expect.keys().any(|name| plugin.metric_level(name) == Some(MetricLevel::Corpus));
    let corpus: BTreeMap<String, f64> = if wants_corpus && problems.is_empty() {
        match runtime.block_on(assay_pipeline::evaluate::finalize(host, loaded, &statistics, &Determinism::default())) {
            Ok(values) => values.into_iter().collect(),
            Err(failure) => return Ok(vec![format!("finalize: {failure}")]),
        }
    } else {
        BTreeMap::new()
    };
    for (name, want) in expect {
        match plugin.metric_level(name) {
            None => {
                let names: Vec<&str> = plugin.metrics.iter().map(|m| m.name.as_str()).collect();
                bail!(
                    "`expect` names {name:?}, which is not a metric of {} (it has: {})",
                    plugin.info.name,
                    names.join(", ")
                );
            }
            Some(MetricLevel::Sample) => {
                let got = values.get(name.as_str()).cloned().unwrap_or_default();
                let wants = match want {
                    Value::Array(items) => items.clone(),
                    one => vec![one.clone(); got.len().max(1)],
                };
                if wants.len() != got.len() {
                    problems.push(format!("{name}: expected {} values, got {}", wants.len(), got.len()));
                    continue;
                }
                for (i, (want, got)) in wants.iter().zip(got).enumerate() {
                    let want = want.as_f64().ok_or_else(|| anyhow!("`expect.{name}`: expected numbers"))?;
                    let which = if batch.len() > 1 { format!("{name}[{i}]") } else { name.clone() };
                    problems.extend(number_mismatch(&which, want, got, tolerance));
                }
            }
            Some(MetricLevel::Corpus) if problems.is_empty() => {
                let want = want.as_f64().ok_or_else(|| anyhow!("`expect.{name}`: expected a number"))?;
                match corpus.get(name) {
                    Some(got) => problems.extend(number_mismatch(name, want, *got, tolerance)),
                    None => problems.push(format!("{name}: expected {want}, but `finalize` returned no such metric")),
                }
            }
            Some(MetricLevel::Corpus) => {}
        }
    }
    Ok(problems)
}

/// A configured instance, or the case's outcome when configuring is what it
/// tests: some cases expect the configuration to be refused, and a case
/// without records tests nothing else.
fn configured<I: Instance>(
    runtime: &tokio::runtime::Runtime,
    loaded: &LoadedPlugin,
    host: &Host,
    expected_error: Option<&str>,
    records: &[Value],
) -> Result<I, Vec<String>> {
    let no_records = records.is_empty();
    match (runtime.block_on(I::instantiate(loaded, host, &Determinism::default())), expected_error) {
        (Err(failure), Some(text)) => Err(error_mismatch(&failure.to_string(), text).into_iter().collect()),
        (Err(failure), None) => Err(vec![format!("configure: {failure}")]),
        (Ok(_), Some(text)) if no_records => {
            Err(vec![format!("expected an error containing {text:?}, but the configuration was accepted")])
        }
        (Ok(_), None) if no_records => Err(Vec::new()),
        (Ok(instance), _) => Ok(instance),
    }
}

/// `Some(problem)` when `got` differs from `want` by more than `tolerance`
/// relative to `want` (so an expected 0 must be exactly 0).
fn number_mismatch(name: &str, want: f64, got: f64, tolerance: f64) -> Option<String> {
    let close = got == want || (got - want).abs() <= tolerance * want.abs();
    (!close).then(|| {
        format!(
            "{name}: expected {want:?}, got {got:?} (difference {:e}, tolerance {tolerance:e} relative)",
            got - want
        )
    })
}

fn error_mismatch(message: &str, expected: &str) -> Option<String> {
    (!message.contains(expected)).then(|| format!("expected an error containing {expected:?}, got: {message}"))
}

/// A failed call (trap, timeout, ...) matches only an expected error.
fn outcome_error(failure: &Failure, expected_error: Option<&str>) -> Vec<String> {
    match expected_error {
        Some(text) => error_mismatch(&failure.to_string(), text).into_iter().collect(),
        None => vec![format!("the call failed: {failure}")],
    }
}

fn check_guard(
    decisions: Result<Vec<Result<Decision, Failure>>, Failure>,
    expect: &Value,
    expected_error: Option<&str>,
    records: usize,
    tolerance: f64,
) -> Result<Vec<String>> {
    let decisions = match decisions {
        Err(failure) => return Ok(outcome_error(&failure, expected_error)),
        Ok(decisions) => decisions,
    };
    let wants = match expect {
        Value::Array(items) => items.clone(),
        one => vec![one.clone(); records],
    };
    if wants.len() != decisions.len() {
        return Ok(vec![format!("expected {} decisions, got {}", wants.len(), decisions.len())]);
    }
    let mut problems = Vec::new();
    for (i, (want, got)) in wants.iter().zip(decisions).enumerate() {
        let which = if records > 1 { format!("record {i}: ") } else { String::new() };
        let got = match (got, expected_error) {
            (Err(failure), Some(text)) => {
                problems.extend(error_mismatch(&failure.to_string(), text).map(|p| which.clone() + &p));
                continue;
            }
            (Err(failure), None) => {
                problems.push(format!("{which}error: {failure}"));
                continue;
            }
            (Ok(decision), Some(text)) => {
                problems.push(format!("{which}expected an error containing {text:?}, got {}", describe(&decision)));
                continue;
            }
            (Ok(decision), None) => decision,
        };
        let want: ExpectedDecision = serde_json::from_value(want.clone()).map_err(|e| anyhow!("`expect`: {e}"))?;
        let verdict = Route::of(got.verdict).name();
        if want.verdict != verdict {
            problems.push(format!("{which}expected verdict {}, got {}", want.verdict, describe(&got)));
        }
        if let Some(reason) = &want.reason
            && !got.reason.contains(reason.as_str())
        {
            problems.push(format!("{which}expected a reason containing {reason:?}, got {:?}", got.reason));
        }
        match (want.risk, got.risk) {
            (Some(want), Some(got)) => problems.extend(number_mismatch(&format!("{which}risk"), want, got, tolerance)),
            (Some(want), None) => problems.push(format!("{which}risk: expected {want}, got none")),
            _ => {}
        }
    }
    Ok(problems)
}

/// What a guard case expects of one record.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedDecision {
    verdict: String,
    /// Text the reason contains.
    reason: Option<String>,
    risk: Option<f64>,
}

fn describe(decision: &Decision) -> String {
    format!("{} ({:?})", Route::of(decision.verdict).name(), decision.reason)
}
