//! `assay compare RUN_DIR RUN_DIR...`: whether each candidate's runs are
//! really better or worse than the baseline's (the first), metric by
//! metric, or only by the luck of the eval set, with sacreBLEU's paired
//! tests drawn exactly as sacreBLEU draws them.
//!
//! Runs are joined by sample id: each must hold the same ids, once each, and
//! where the eval sets can be read, the same inputs and references. A
//! metric is compared only where every run scored it with the same plugin
//! signature. Sample-level metrics are compared on their means over the
//! samples every run has a value for; corpus metrics are recomputed by
//! their plugin (loaded again and checked against the digest the run
//! recorded) from the statistics `assay run --keep-statistics` kept.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use assay_compare::candidates;
use assay_compare::choice::{self, Requirement};
use assay_compare::comparison::{
    CandidateRow, Comparison, Decision, MetricComparison, Pair, RunResult, Skipped, Test, Verdict,
};
use assay_compare::significance::{self, DEFAULT_SEED, Statistics};
use assay_data::FieldMap;
use assay_data::output::generation::{GeneratedSet, Generation};
use assay_data::output::samples::id_text;
use assay_data::output::summary::percentile;
use assay_data::output::{AtomicFile, MetricSummary, PluginSummary, Summary, read_json, write_json};
use assay_data::run::{RunData, eval_set_path};
use assay_pipeline::evaluate::{StatisticSums, finalize};
use assay_runtime::{Determinism, Host, LoadedPlugin, MetricLevel};

#[derive(Args)]
pub struct CompareArgs {
    /// Folders written by `assay run -o`, one per candidate on the same eval
    /// set; the first is the baseline the others are tested against.
    #[arg(value_name = "RUN_DIR", required_unless_present = "candidates", conflicts_with = "candidates")]
    runs: Vec<PathBuf>,
    /// A candidates file (models.toml): each model's licence, commercial
    /// use, size, adaptability, price and runs: the candidates that meet the
    /// requirements are compared, ranked and placed against speed and cost.
    #[arg(long, value_name = "FILE")]
    candidates: Option<PathBuf>,
    /// A requirement candidates must meet, such as 'commercial_use == "allowed"',
    /// 'parameters <= 13e9', 'p95_latency_ms <= 800', 'license in ["MIT"]',
    /// 'bleu/bleu >= 30'. Repeatable.
    #[arg(long = "require", value_name = "EXPR", requires = "candidates")]
    requirements: Vec<String>,
    /// Rank the kept candidates by these criteria, as NAME=WEIGHT; a negative
    /// weight prefers lower values (cost_per_1000=-1). Repeatable.
    #[arg(long = "weight", value_name = "NAME=WEIGHT", requires = "candidates")]
    weights: Vec<String>,
    /// The metric the Pareto front weighs against p95 latency and cost.
    /// Default: the first weighted metric, else the baseline's first.
    #[arg(long, value_name = "METRIC", requires = "candidates")]
    quality: Option<String>,
    /// Paired bootstrap resampling (bs; also gives 95% intervals) or
    /// paired approximate randomization (ar).
    #[arg(long, value_enum, default_value_t = TestArg::Bs)]
    test: TestArg,
    /// Seed of the draws; sacreBLEU's default, so its numbers are reproduced.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Resamples (bs; default 1000) or trials (ar; default 10000).
    #[arg(long, value_name = "N")]
    draws: Option<usize>,
    /// A difference is called significant below this p-value.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Compare only this metric (PLUGIN/METRIC); repeatable. Default: every
    /// metric all the runs have.
    #[arg(long = "metric", value_name = "METRIC")]
    metrics: Vec<String>,
    /// Compare candidates whose answers `assay generate` got with different
    /// prompt settings (system message, temperature, max tokens, seed).
    #[arg(long)]
    allow_different_prompts: bool,
    /// Also write compare.json, compare.md and compare.html to this folder.
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum TestArg {
    Bs,
    Ar,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// One run, its samples in the baseline's order.
struct Candidate {
    data: RunData,
    /// Index into `data.samples` of each of the baseline's samples.
    order: Vec<usize>,
}

impl Candidate {
    fn summary(&self) -> &assay_data::output::EvaluationSummary {
        match &self.data.summary {
            Summary::Evaluation(summary) => summary,
            Summary::Guard(_) => unreachable!("checked when read"),
        }
    }

    fn plugin(&self, name: &str) -> Option<&PluginSummary> {
        self.summary().plugins.iter().find(|p| p.name == name)
    }
}

pub fn compare(args: CompareArgs) -> Result<()> {
    if let Some(file) = &args.candidates {
        return decide(file, &args);
    }
    if args.runs.len() < 2 {
        bail!("compare needs two run folders or more (the first is the baseline), or --candidates FILE");
    }
    let comparison = comparison(&args.runs, &Settings::of(&args)?)?;
    let decision = Decision {
        assay_version: env!("CARGO_PKG_VERSION").into(),
        candidates_file: None,
        requirements: Vec::new(),
        weights: Vec::new(),
        quality: None,
        candidates: Vec::new(),
        comparisons: vec![comparison],
    };
    write_outputs(&decision, &args)
}

/// compare.json, compare.md and compare.html with `-o`, and the terminal's
/// table or JSON.
fn write_outputs(decision: &Decision, args: &CompareArgs) -> Result<()> {
    let markdown = decision_markdown(decision);
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("compare.json");
        write_json(&path, decision).with_context(|| format!("writing {}", path.display()))?;
        for (name, text) in [("compare.md", markdown.clone()), ("compare.html", crate::html::render_decision(decision))]
        {
            let path = dir.join(name);
            let mut file = AtomicFile::create(&path).with_context(|| format!("writing {}", path.display()))?;
            std::io::Write::write_all(&mut file, text.as_bytes())?;
            file.commit().with_context(|| format!("writing {}", path.display()))?;
        }
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(decision)?),
        // Line by line: the page's own newlines stay, any a plugin's
        // metric name carries are escaped.
        Format::Text => markdown.lines().for_each(|line| println!("{}", crate::text::terminal(line))),
    }
    Ok(())
}

/// How the paired tests are run.
pub struct Settings {
    pub test: Test,
    pub seed: u64,
    /// Resamples or trials.
    pub draws: usize,
    pub alpha: f64,
    /// Only these metrics; every one when empty.
    pub metrics: Vec<String>,
    pub allow_different_prompts: bool,
}

impl Default for Settings {
    /// sacreBLEU's: paired bootstrap, 1,000 resamples, seed 12345; p < 0.05.
    fn default() -> Settings {
        Settings {
            test: Test::PairedBs,
            seed: DEFAULT_SEED,
            draws: significance::DEFAULT_RESAMPLES,
            alpha: 0.05,
            metrics: Vec::new(),
            allow_different_prompts: false,
        }
    }
}

impl Settings {
    fn of(args: &CompareArgs) -> Result<Settings> {
        let test = match args.test {
            TestArg::Bs => Test::PairedBs,
            TestArg::Ar => Test::PairedAr,
        };
        let draws = args.draws.unwrap_or(match test {
            Test::PairedBs => significance::DEFAULT_RESAMPLES,
            Test::PairedAr => significance::DEFAULT_TRIALS,
        });
        if draws == 0 {
            bail!("--draws must be at least 1");
        }
        Ok(Settings {
            test,
            seed: args.seed,
            draws,
            alpha: args.alpha,
            metrics: args.metrics.clone(),
            allow_different_prompts: args.allow_different_prompts,
        })
    }
}

/// The paired tests over `dirs`, the first the baseline.
pub fn comparison(dirs: &[PathBuf], settings: &Settings) -> Result<Comparison> {
    let candidates = join(dirs)?;
    if !settings.allow_different_prompts {
        same_prompts(&candidates)?;
    }
    let baseline = &candidates[0];
    let names: Vec<String> = if settings.metrics.is_empty() {
        baseline.summary().details.keys().cloned().collect()
    } else {
        for metric in &settings.metrics {
            if !baseline.summary().details.contains_key(metric) {
                bail!("--metric {metric:?}: the baseline {} has no such metric", baseline.data.dir);
            }
        }
        settings.metrics.clone()
    };
    let mut comparison = Comparison {
        assay_version: env!("CARGO_PKG_VERSION").into(),
        test: settings.test,
        seed: settings.seed,
        draws: settings.draws,
        alpha: settings.alpha,
        runs: candidates.iter().map(|c| c.data.dir.clone()).collect(),
        metrics: Vec::new(),
        skipped: Vec::new(),
    };
    let mut plugins = PluginCache::default();
    for metric in names {
        match compare_metric(&candidates, &metric, settings, &mut plugins)? {
            Ok(compared) => comparison.metrics.push(compared),
            // A metric asked for by name is refused, not quietly left out.
            Err(reason) if !settings.metrics.is_empty() => bail!("{metric} cannot be compared: {reason}"),
            Err(reason) => comparison.skipped.push(Skipped { metric, reason }),
        }
    }
    Ok(comparison)
}

/// `--candidates`: requirements, figures, significance per eval set,
/// ranking and the Pareto front.
fn decide(file: &std::path::Path, args: &CompareArgs) -> Result<()> {
    let settings = Settings::of(args)?;
    let described = candidates::read(file)?;
    let requirements = args
        .requirements
        .iter()
        .map(|r| Requirement::parse(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let weights = args
        .weights
        .iter()
        .map(|w| choice::parse_weight(w))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let mut rows = Vec::new();
    for candidate in described {
        let figures = figures(&candidate).with_context(|| format!("candidate {:?}", candidate.name))?;
        let values = candidates::criteria(&candidate, &figures);
        let excluded = requirements.iter().filter_map(|r| r.check(&values).err()).collect();
        rows.push(CandidateRow { candidate, figures, excluded, rank_score: None, rank_note: None, pareto: false });
    }
    let kept: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].excluded.is_empty()).collect();

    // Ranking and the front, among the kept candidates.
    let numbers: Vec<BTreeMap<String, f64>> = kept.iter().map(|&i| rows[i].figures.clone()).collect();
    if !weights.is_empty() {
        for (&i, ranked) in kept.iter().zip(choice::rank(&numbers, &weights)) {
            match ranked {
                Ok(score) => rows[i].rank_score = Some(score),
                Err(note) => rows[i].rank_note = Some(note),
            }
        }
    }
    let quality = args
        .quality
        .clone()
        .or_else(|| weights.iter().map(|(name, _)| name.clone()).find(|name| name.contains('/')))
        .or_else(|| kept.first().and_then(|&i| rows[i].figures.keys().find(|k| k.contains('/')).cloned()));
    if let Some(quality) = &quality {
        let axes = [(quality.as_str(), true), ("p95_latency_ms", false), ("cost_per_1000", false)];
        // Only the axes every kept candidate has: an unknown is not a zero.
        let known: Vec<(&str, bool)> =
            axes.into_iter().filter(|(axis, _)| numbers.iter().all(|n| n.contains_key(*axis))).collect();
        let points: Vec<Vec<(f64, bool)>> =
            numbers.iter().map(|n| known.iter().map(|&(axis, up)| (n[axis], up)).collect()).collect();
        for (&i, on_front) in kept.iter().zip(choice::pareto_front(&points)) {
            rows[i].pareto = on_front && !known.is_empty();
        }
    }

    let mut comparisons = Vec::new();
    if kept.len() >= 2 {
        for set in 0..rows[kept[0]].candidate.runs.len() {
            let dirs: Vec<PathBuf> = kept.iter().map(|&i| rows[i].candidate.runs[set].clone()).collect();
            comparisons.push(comparison(&dirs, &settings)?);
        }
    }
    let decision = Decision {
        assay_version: env!("CARGO_PKG_VERSION").into(),
        candidates_file: Some(file.display().to_string()),
        requirements: args.requirements.clone(),
        weights,
        quality,
        candidates: rows,
        comparisons,
    };
    write_outputs(&decision, args)
}

/// A candidate's speed and cost over all its runs' samples, and each run's
/// metrics (the first eval set's by their names, later sets' as
/// `setN:NAME`).
fn figures(candidate: &candidates::Candidate) -> Result<BTreeMap<String, f64>> {
    let mut figures = BTreeMap::new();
    let (mut latencies, mut tokens_out, mut seconds, mut costs) = (Vec::new(), 0.0, 0.0, Vec::new());
    for (set, dir) in candidate.runs.iter().enumerate() {
        let data = RunData::load(dir, &FieldMap::samples(), 0)?;
        let Summary::Evaluation(summary) = &data.summary else {
            bail!("{}: a guard run; a candidate's runs are evaluations", data.dir);
        };
        for (name, value) in &summary.metrics {
            let Some(value) = value else { continue };
            let key = if set == 0 { name.clone() } else { format!("set{}:{name}", set + 1) };
            figures.insert(key, *value);
        }
        for usage in data.samples.iter().filter_map(|s| s.usage) {
            if let Some(latency) = usage.latency_ms {
                latencies.push(latency);
                if let Some(out) = usage.output_tokens {
                    tokens_out += out;
                    seconds += latency / 1000.0;
                }
            }
            if let (Some(price), Some(input), Some(output)) = (candidate.price, usage.input_tokens, usage.output_tokens)
            {
                costs.push((input * price.input_per_million + output * price.output_per_million) / 1e6);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    if let Some(p50) = percentile(&latencies, 0.5) {
        figures.insert("p50_latency_ms".into(), p50);
    }
    if let Some(p95) = percentile(&latencies, 0.95) {
        figures.insert("p95_latency_ms".into(), p95);
    }
    if seconds > 0.0 {
        figures.insert("tokens_per_second".into(), tokens_out / seconds);
    }
    if !costs.is_empty() {
        figures.insert("cost_per_1000".into(), 1000.0 * costs.iter().sum::<f64>() / costs.len() as f64);
    }
    Ok(figures)
}

/// The decision as a Markdown page, for a pull request or a ticket.
fn decision_markdown(decision: &Decision) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let number = |value: Option<f64>| {
        value.map_or("unknown".to_string(), |v| {
            format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string()
        })
    };
    if decision.candidates.is_empty() {
        let _ = writeln!(out, "# Comparison");
    } else {
        let _ = writeln!(out, "# Choosing a model\n");
        let _ = writeln!(
            out,
            "| candidate | licence | commercial use | parameters | adaptability | p95 latency (ms) | tokens/s | cost per 1,000 | status |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    }
    for row in &decision.candidates {
        let c = &row.candidate;
        let commercial = match (&c.commercial_use, &c.commercial_note) {
            (Some(use_), Some(note)) => format!("{} ({note})", use_.name()),
            (Some(use_), None) => use_.name().to_string(),
            (None, _) => "unknown".into(),
        };
        let status = if row.excluded.is_empty() {
            let mut status = "kept".to_string();
            if row.pareto {
                status.push_str(", on the Pareto front");
            }
            status
        } else {
            format!("excluded: {}", row.excluded.join("; "))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&c.name),
            cell(c.license.as_deref().unwrap_or("unknown")),
            cell(&commercial),
            number(c.parameters),
            c.adaptability.as_ref().map_or("unknown".to_string(), |a| {
                if a.methods.is_empty() {
                    a.kind.name().to_string()
                } else {
                    format!("{} ({})", a.kind.name(), a.methods.join(", "))
                }
            }),
            number(row.figures.get("p95_latency_ms").copied()),
            number(row.figures.get("tokens_per_second").copied()),
            number(row.figures.get("cost_per_1000").copied()),
            cell(&status),
        );
    }
    if !decision.weights.is_empty() {
        let mut ranked: Vec<&CandidateRow> = decision.candidates.iter().filter(|r| r.rank_score.is_some()).collect();
        ranked.sort_by(|a, b| b.rank_score.partial_cmp(&a.rank_score).expect("scores are numbers"));
        let weights: Vec<String> = decision.weights.iter().map(|(n, w)| format!("{n} × {w}")).collect();
        let _ = writeln!(out, "\n## Ranking ({})\n", weights.join(", "));
        for (place, row) in ranked.iter().enumerate() {
            let _ = writeln!(
                out,
                "{}. {} ({:.3})",
                place + 1,
                cell(&row.candidate.name),
                row.rank_score.unwrap_or_default()
            );
        }
        for row in decision.candidates.iter().filter(|r| r.rank_note.is_some()) {
            let _ = writeln!(
                out,
                "- {} is not ranked: {}",
                cell(&row.candidate.name),
                row.rank_note.as_deref().unwrap_or_default()
            );
        }
    }
    for comparison in &decision.comparisons {
        let _ = writeln!(
            out,
            "\n## Against {} (paired tests, significant below p = {})\n",
            cell(&comparison.runs[0]),
            comparison.alpha
        );
        let _ = writeln!(out, "| metric | run | score | 95% interval | p | verdict |");
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for metric in &comparison.metrics {
            for result in &metric.runs {
                let interval = match (result.mean, result.ci) {
                    (Some(mean), Some(ci)) => format!("{mean:.4} ± {ci:.4}"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.4} | {interval} | {} | {} |",
                    cell(&metric.metric),
                    cell(&result.run),
                    result.score,
                    result.p_value.map_or(String::new(), |p| format!("{p:.4}")),
                    result.verdict.label()
                );
            }
        }
        let pairs: Vec<_> = comparison.metrics.iter().flat_map(|m| m.pairs.iter().map(move |p| (m, p))).collect();
        if !pairs.is_empty() {
            let _ = writeln!(out, "\n| metric | pair | p | verdict |");
            let _ = writeln!(out, "|---|---|---|---|");
            for (metric, pair) in pairs {
                let _ = writeln!(
                    out,
                    "| {} | {} against {} | {:.4} | {} |",
                    cell(&metric.metric),
                    cell(&pair.second),
                    cell(&pair.first),
                    pair.p_value,
                    pair.verdict.label()
                );
            }
        }
        for skipped in &comparison.skipped {
            let _ = writeln!(out, "\nNot compared: {}: {}", cell(&skipped.metric), cell(&skipped.reason));
        }
    }
    out
}

/// Reads the runs and puts every run's samples in the baseline's order,
/// refusing runs that cannot be joined sample by sample.
fn join(dirs: &[PathBuf]) -> Result<Vec<Candidate>> {
    let mut candidates = Vec::new();
    for dir in dirs {
        let data = RunData::load(dir, &FieldMap::samples(), usize::MAX)?;
        if !matches!(data.summary, Summary::Evaluation(_)) {
            bail!("{}: a guard run; compare evaluation runs (`assay run -o`)", data.dir);
        }
        if let Some((id, first, second)) = data.duplicate_id() {
            bail!(
                "{}: samples {first} and {second} of its samples.jsonl have the same id {id:?}; runs are joined by \
                 id, so each id must name one sample",
                data.dir
            );
        }
        candidates.push(data);
    }
    let baseline_ids: Vec<String> = candidates[0].samples.iter().map(|s| id_text(&s.line.id)).collect();
    let mut joined = Vec::new();
    for data in candidates {
        let index: HashMap<String, usize> =
            data.samples.iter().enumerate().map(|(i, s)| (id_text(&s.line.id), i)).collect();
        if let Some(missing) = baseline_ids.iter().find(|id| !index.contains_key(*id)) {
            bail!("{}: has no sample {missing:?}, which the baseline has; compare runs of one eval set", data.dir);
        }
        if index.len() != baseline_ids.len() {
            bail!(
                "{}: has {} samples, the baseline {}; compare runs of one eval set",
                data.dir,
                index.len(),
                baseline_ids.len()
            );
        }
        let order: Vec<usize> = baseline_ids.iter().map(|id| index[id]).collect();
        joined.push(Candidate { data, order });
    }
    // The same question must have been asked of every candidate: where the
    // eval sets can be read, inputs and references must agree.
    let baseline = &joined[0];
    for candidate in &joined[1..] {
        for (position, (&b, &c)) in baseline.order.iter().zip(&candidate.order).enumerate() {
            let (ours, theirs) = (&baseline.data.samples[b], &candidate.data.samples[c]);
            let known = ours.references.is_some() && theirs.references.is_some();
            if known && (ours.references != theirs.references || ours.input != theirs.input) {
                bail!(
                    "{} and {}: sample {:?} has other inputs or references in each; numbers computed on different \
                     questions are not compared",
                    baseline.data.dir,
                    candidate.data.dir,
                    baseline_ids[position]
                );
            }
        }
    }
    Ok(joined)
}

/// Refuses runs of eval sets `assay generate` wrote with different prompt
/// settings: their answers are to different questions.
fn same_prompts(candidates: &[Candidate]) -> Result<()> {
    let mut first: Option<(String, GeneratedSet)> = None;
    for candidate in candidates {
        let summary = candidate.summary();
        let Some(eval_set) = eval_set_path(std::path::Path::new(&candidate.data.dir), &summary.input.path) else {
            continue;
        };
        let record = eval_set.parent().unwrap_or(std::path::Path::new(".")).join(super::generate::GENERATION_FILE);
        let Ok(generation) = read_json::<Generation>(&record) else { continue };
        let file = eval_set.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Some(set) = generation.candidates.into_values().find(|set| set.file == file) else { continue };
        match &first {
            None => first = Some((candidate.data.dir.clone(), set)),
            Some((dir, earlier)) if earlier.prompt() != set.prompt() => bail!(
                "{dir} and {}: their answers were generated with different prompt settings ({:?} and {:?}: system, \
                 temperature, max tokens, seed); answers to different prompts are not compared \
                 (--allow-different-prompts compares them anyway)",
                candidate.data.dir,
                earlier.prompt(),
                set.prompt()
            ),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Plugins loaded again for corpus metrics, by run folder and instance name.
#[derive(Default)]
struct PluginCache {
    loaded: BTreeMap<(String, String), Result<Reloaded, String>>,
}

/// A run's plugin, ready to compute corpus metrics from summed statistics.
struct Reloaded {
    host: Host,
    plugin: LoadedPlugin,
    determinism: Determinism,
}

/// A metric from summed statistics.
type MetricFn<'a> = Box<dyn FnMut(&[f64]) -> Result<f64, String> + 'a>;

impl PluginCache {
    fn get(&mut self, dir: &str, summary: &PluginSummary) -> Result<&Reloaded, String> {
        let key = (dir.to_string(), summary.name.clone());
        self.loaded
            .entry(key)
            .or_insert_with(|| load_plugin(summary).map_err(|e| format!("{}: plugin {:?}: {e:#}", dir, summary.name)))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The plugin a run used, as the run recorded it.
fn load_plugin(summary: &PluginSummary) -> Result<Reloaded> {
    let determinism = Determinism::default();
    let (host, mut plugins) = super::setup::reload_plugins(&[summary], &determinism)?;
    Ok(Reloaded { host, plugin: plugins.remove(0), determinism })
}

/// One side of a paired test: its score, its bootstrap estimate (paired
/// bootstrap only) and the test's p-value.
struct Side {
    score: f64,
    mean: Option<f64>,
    ci: Option<f64>,
    p_value: f64,
}

impl Side {
    fn result(&self, run: &str, p_value: Option<f64>, verdict: Verdict) -> RunResult {
        RunResult { run: run.to_string(), score: self.score, mean: self.mean, ci: self.ci, p_value, verdict }
    }
}

/// `b` tested against `a` with the settings' test: both sides.
fn paired(
    a: &Statistics,
    b: &Statistics,
    score: &mut impl FnMut(&[f64]) -> Result<f64, String>,
    settings: &Settings,
) -> Result<(Side, Side), String> {
    let side =
        |e: significance::Estimate, p_value| Side { score: e.score, mean: Some(e.mean), ci: Some(e.ci), p_value };
    let plain = |score, p_value| Side { score, mean: None, ci: None, p_value };
    Ok(match settings.test {
        Test::PairedBs => {
            let o = significance::paired_bootstrap(a, b, score, settings.draws, settings.seed)?;
            (side(o.baseline, o.p_value), side(o.system, o.p_value))
        }
        Test::PairedAr => {
            let o = significance::paired_randomization(a, b, score, settings.draws, settings.seed)?;
            (plain(o.baseline_score, o.p_value), plain(o.system_score, o.p_value))
        }
    })
}

/// One metric across the runs: `Ok(Err(reason))` when it cannot be compared.
fn compare_metric(
    candidates: &[Candidate],
    metric: &str,
    settings: &Settings,
    plugins: &mut PluginCache,
) -> Result<std::result::Result<MetricComparison, String>> {
    let Some((plugin_name, metric_name)) = metric.split_once('/') else {
        return Ok(Err("not a PLUGIN/METRIC name".into()));
    };
    let detail: &MetricSummary = &candidates[0].summary().details[metric];
    let mut signature = None;
    for candidate in candidates {
        let Some(plugin) = candidate.plugin(plugin_name) else {
            return Ok(Err(format!("{} has no plugin {plugin_name:?}", candidate.data.dir)));
        };
        if !candidate.summary().details.contains_key(metric) {
            return Ok(Err(format!("{} has no metric {metric:?}", candidate.data.dir)));
        }
        match &signature {
            None => signature = Some((candidate.data.dir.clone(), plugin.signature.clone())),
            Some((dir, first)) if *first != plugin.signature => {
                return Ok(Err(format!(
                    "{dir} scored it with {first}, {} with {}; numbers from different plugins or settings are not \
                     compared",
                    candidate.data.dir, plugin.signature
                )));
            }
            Some(_) => {}
        }
    }

    // Each run's statistics in the baseline's sample order, and the
    // function that turns their sums into the metric.
    let (systems, samples, mut score): (Vec<Statistics>, usize, MetricFn) = match detail.level {
        MetricLevel::Sample => {
            // The samples every run has a value for.
            let values: Vec<Vec<Option<f64>>> = candidates
                .iter()
                .map(|c| c.order.iter().map(|&i| c.data.samples[i].line.scores.get(metric).copied()).collect())
                .collect();
            let shared: Vec<usize> =
                (0..candidates[0].order.len()).filter(|&i| values.iter().all(|v| v[i].is_some())).collect();
            if shared.is_empty() {
                return Ok(Err("no sample has a value in every run".into()));
            }
            let systems = values
                .iter()
                .map(|v| {
                    let mut statistics = Statistics::new(2);
                    for &i in &shared {
                        statistics.push(&[v[i].expect("shared"), 1.0]);
                    }
                    statistics
                })
                .collect();
            (systems, shared.len(), Box::new(|sums: &[f64]| Ok(sums[0] / sums[1])))
        }
        MetricLevel::Corpus => {
            let mut names = BTreeSet::new();
            for candidate in candidates {
                for sample in &candidate.data.samples {
                    match sample.line.statistics.get(plugin_name) {
                        Some(kept) => names.extend(kept.iter().map(|(name, _)| name.to_string())),
                        None if sample.line.errors.get(plugin_name).is_some() => {
                            return Ok(Err(format!(
                                "{} failed on sample {}; a corpus metric is compared only over the same samples",
                                plugin_name,
                                id_text(&sample.line.id)
                            )));
                        }
                        None => {
                            return Ok(Err(format!(
                                "{} kept no statistics (run it with --keep-statistics to test corpus metrics)",
                                candidate.data.dir
                            )));
                        }
                    }
                }
            }
            let names: Vec<String> = names.into_iter().collect();
            let systems = candidates
                .iter()
                .map(|c| {
                    let mut statistics = Statistics::new(names.len());
                    for &i in &c.order {
                        let kept = c.data.samples[i].line.statistics.get(plugin_name).expect("checked above");
                        let row: Vec<f64> = names.iter().map(|n| kept.get(n).copied().unwrap_or(0.0)).collect();
                        statistics.push(&row);
                    }
                    statistics
                })
                .collect();
            let plugin = candidates[0].plugin(plugin_name).expect("checked above");
            let reloaded = match plugins.get(&candidates[0].data.dir, plugin) {
                Ok(reloaded) => reloaded,
                Err(reason) => return Ok(Err(reason)),
            };
            let runtime = assay_runtime::call_runtime();
            let metric_name = metric_name.to_string();
            let score = move |sums: &[f64]| {
                let mut statistics = StatisticSums::default();
                for (name, value) in names.iter().zip(sums) {
                    statistics.add(name, *value);
                }
                let values = runtime
                    .block_on(finalize(&reloaded.host, &reloaded.plugin, &statistics, &reloaded.determinism))
                    .map_err(|failure| format!("finalize failed on a resample: {failure}"))?;
                values
                    .into_iter()
                    .find(|(name, _)| *name == metric_name)
                    .map(|(_, value)| value)
                    .ok_or_else(|| format!("finalize gave no {metric_name:?} on a resample"))
            };
            (systems, candidates[0].order.len(), Box::new(score))
        }
    };

    // Each run against the baseline, then every other pair, each tested the same way.
    let mut runs = Vec::new();
    for (index, candidate) in candidates.iter().enumerate().skip(1) {
        let (baseline, result) = match paired(&systems[0], &systems[index], &mut score, settings) {
            Ok(tested) => tested,
            Err(reason) => return Ok(Err(reason)),
        };
        if index == 1 {
            runs.push(baseline.result(&candidates[0].data.dir, None, Verdict::Baseline));
        }
        let verdict =
            Verdict::of(result.p_value, settings.alpha, result.score - baseline.score, detail.higher_is_better);
        runs.push(result.result(&candidate.data.dir, Some(result.p_value), verdict));
    }
    let mut pairs = Vec::new();
    for first in 1..systems.len() {
        for second in first + 1..systems.len() {
            let (a, b) = match paired(&systems[first], &systems[second], &mut score, settings) {
                Ok(tested) => tested,
                Err(reason) => return Ok(Err(reason)),
            };
            pairs.push(Pair {
                first: candidates[first].data.dir.clone(),
                second: candidates[second].data.dir.clone(),
                p_value: b.p_value,
                verdict: Verdict::of(b.p_value, settings.alpha, b.score - a.score, detail.higher_is_better),
            });
        }
    }
    let level = match detail.level {
        MetricLevel::Sample => "sample",
        MetricLevel::Corpus => "corpus",
    };
    Ok(Ok(MetricComparison {
        metric: metric.to_string(),
        level: level.into(),
        higher_is_better: detail.higher_is_better,
        samples,
        runs,
        pairs,
    }))
}
