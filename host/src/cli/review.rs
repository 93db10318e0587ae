//! `assay review`: people judge a run's outputs, and what they decided is
//! measured.
//!
//! `assay review create RUN_DIR... -o REVIEW_DIR` chooses the items (all, a
//! seeded sample, strata of a metric, the lowest, the most disputed, or a
//! guard run's quarantine), assigns reviewers and prints their links.
//!
//! `assay review stats VERDICTS [--run RUN_DIR]` reads a verdict file (the
//! format of `assay-review`'s `verdicts` module, as a spreadsheet or
//! another tool can write it) and reports each reviewer's pass rate, the
//! majority's, the reviewers' agreement (Cohen's kappa per pair, Fleiss'
//! kappa, Krippendorff's alpha) and, given the run the verdicts are about,
//! how well each of its automatic metrics agrees with the human majority.
//!
//! `assay review serve` runs the reviewers' web app; `export` and `import`
//! move verdicts in the verdict file's form; `apply` makes the decisions
//! on a guard run's quarantine final. Each command that touches verdicts
//! takes `--database` ([`StoreOptions`]), defined once here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

use assay_data::FieldMap;
use assay_data::output::AtomicFile;
use assay_data::output::samples::id_text;
use assay_data::output::{SampleLine, read_json_lines};
use assay_data::run::RunData;
use assay_review::folder::{self, CreateOptions, Question};
use assay_review::human;
use assay_review::selection::Selection;
use assay_review::server::Loaded;
use assay_review::stats::{self, Measured, Report};
use assay_review::store::{Database, Store};
use assay_review::verdicts;

#[derive(Args)]
pub struct ReviewArgs {
    #[command(subcommand)]
    command: ReviewCommand,
}

#[derive(Subcommand)]
enum ReviewCommand {
    /// Choose what people review from run folders, assign reviewers, print their links.
    Create(Box<CreateArgs>),
    /// Serve a review to its reviewers in the browser (loopback by default).
    Serve(ServeArgs),
    /// Write every current verdict of a review to a verdict file.
    Export(ExportArgs),
    /// Add verdicts gathered elsewhere (a verdict file) to a review.
    Import(ImportArgs),
    /// Agreement among reviewers, and of each automatic metric with them.
    Stats(StatsArgs),
    /// Make the reviewers' decisions on a guard run's quarantine final.
    Apply(ApplyArgs),
}

/// Where a review's verdicts are kept, for every command that reads or
/// writes them.
#[derive(Args)]
pub(crate) struct StoreOptions {
    /// Keep the verdicts in PostgreSQL (postgres://USER:PASSWORD@HOST/DB)
    /// instead of the review folder's SQLite file, for teams reviewing on
    /// one server; each review gets its own schema there.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

impl StoreOptions {
    pub(crate) fn open(&self, dir: &std::path::Path) -> Result<Store> {
        let database = Database::from_url(self.database.as_deref())?;
        Ok(Store::open(dir, &database)?)
    }
}

#[derive(Args)]
struct ApplyArgs {
    /// A review created from a guard run (`assay review create GUARD_RUN_DIR`).
    #[arg(value_name = "REVIEW_DIR")]
    dir: PathBuf,
    /// Where to write the final accepted, rejected and still quarantined
    /// records, `audit.jsonl` and `applied.json`.
    #[arg(short, long, value_name = "OUT_DIR")]
    out: PathBuf,
    #[command(flatten)]
    store: StoreOptions,
}

#[derive(Args)]
struct ServeArgs {
    #[arg(value_name = "REVIEW_DIR")]
    dir: PathBuf,
    /// Where to listen; anything but loopback exposes the review to the network.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    bind: String,
    #[command(flatten)]
    store: StoreOptions,
}

#[derive(Args)]
struct ExportArgs {
    #[arg(value_name = "REVIEW_DIR")]
    dir: PathBuf,
    /// The verdict file to write.
    #[arg(short, long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    store: StoreOptions,
}

#[derive(Args)]
struct ImportArgs {
    #[arg(value_name = "REVIEW_DIR")]
    dir: PathBuf,
    /// A verdict file, as `export` writes it.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    store: StoreOptions,
}

#[derive(Args)]
struct CreateArgs {
    /// Folders written by `assay run -o` (their samples are reviewed) or
    /// `assay guard -o` (their quarantine is).
    #[arg(required = true, value_name = "RUN_DIR")]
    runs: Vec<PathBuf>,
    /// The review folder to create.
    #[arg(short, long, value_name = "REVIEW_DIR")]
    out: PathBuf,
    /// Who reviews, comma-separated; each gets a personal link.
    #[arg(long, value_delimiter = ',', required = true, value_name = "NAME,...")]
    reviewers: Vec<String>,
    /// How many reviewers see each item (2 or more to measure agreement).
    #[arg(long, default_value_t = 1, value_name = "K")]
    per_item: usize,
    /// Review N samples, at random unless --stratify, --lowest or --disagree says how.
    #[arg(long, value_name = "N")]
    sample: Option<usize>,
    /// Review this share of the samples, at random.
    #[arg(long, value_name = "SHARE", conflicts_with = "sample")]
    fraction: Option<f64>,
    /// Spread the --sample over equal-width bins of this metric's range.
    #[arg(long, value_name = "METRIC", requires = "sample", conflicts_with_all = ["lowest", "disagree"])]
    stratify: Option<String>,
    /// How many bins --stratify uses.
    #[arg(long, default_value_t = 5, value_name = "K")]
    bins: usize,
    /// The --sample samples with the lowest values of this metric.
    #[arg(long, value_name = "METRIC", requires = "sample", conflicts_with = "disagree")]
    lowest: Option<String>,
    /// The --sample samples where these two metrics (or a metric and the judge) disagree most.
    #[arg(long, value_name = "METRIC,METRIC", value_delimiter = ',', num_args = 1, requires = "sample")]
    disagree: Vec<String>,
    /// Seed of the random choices: the same seed chooses the same samples.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Do not show reviewers the automatic scores, so they do not anchor on them.
    #[arg(long)]
    hide_scores: bool,
    /// The question asked of every item.
    #[arg(long, default_value = "Is the answer appropriate?")]
    question: String,
    /// Also ask for a score on this scale, such as 1-5.
    #[arg(long, value_name = "LOW-HIGH")]
    scale: Option<String>,
    /// A tag reviewers may attach; repeatable.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Where `assay review serve` will be reached, for the links.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_name = "URL")]
    base_url: String,
    /// Read a canonical field from another field name, as given to `assay run`.
    #[command(flatten)]
    input: crate::config::InputOptions,
}

#[derive(Args)]
struct StatsArgs {
    /// A review folder, or a verdict file: one JSON object per line,
    /// {"item", "reviewer", "verdict": "pass"|"fail", "score", "tags",
    /// "comment", "at"}.
    #[arg(value_name = "REVIEW_DIR|VERDICTS")]
    verdicts: PathBuf,
    /// The run folder the verdicts are about: each item is a sample id of
    /// its samples.jsonl, and each sample-level metric is measured against
    /// the human majority.
    #[arg(long, value_name = "RUN_DIR")]
    run: Option<PathBuf>,
    /// A metric value at or above this is a pass (default 0.5), as
    /// METRIC=VALUE, such as judge/score=4. Repeatable.
    #[arg(long, value_name = "METRIC=VALUE")]
    threshold: Vec<String>,
    #[arg(long, value_enum, default_value_t = StatsFormat::Text)]
    format: StatsFormat,
    #[command(flatten)]
    store: StoreOptions,
}

#[derive(Clone, Copy, ValueEnum)]
enum StatsFormat {
    Text,
    Json,
}

pub fn review(args: ReviewArgs) -> Result<()> {
    match args.command {
        ReviewCommand::Create(args) => review_create(*args),
        ReviewCommand::Serve(args) => review_serve(args),
        ReviewCommand::Export(args) => review_export(args),
        ReviewCommand::Import(args) => review_import(args),
        ReviewCommand::Stats(args) => review_stats(args),
        ReviewCommand::Apply(args) => review_apply(args),
    }
}

fn review_create(args: CreateArgs) -> Result<()> {
    let selection = match (&args.sample, args.fraction) {
        (None, None) => Selection::All,
        (None, Some(share)) => Selection::Fraction(share),
        (Some(n), _) => match (&args.stratify, &args.lowest, args.disagree.as_slice()) {
            (Some(metric), _, _) => Selection::Stratified { metric: metric.clone(), bins: args.bins, n: *n },
            (_, Some(metric), _) => Selection::Lowest { metric: metric.clone(), n: *n },
            (_, _, [first, second]) => Selection::Disagree { first: first.clone(), second: second.clone(), n: *n },
            (_, _, []) => Selection::Random(*n),
            (_, _, other) => bail!("--disagree takes two metrics, as A,B; got {}", other.len()),
        },
    };
    let scale = match &args.scale {
        None => None,
        Some(text) => {
            let parsed = text
                .split_once('-')
                .and_then(|(low, high)| Some([low.trim().parse().ok()?, high.trim().parse().ok()?]));
            match parsed {
                Some([low, high]) if low < high => Some([low, high]),
                _ => bail!("--scale {text:?}: expected LOW-HIGH, such as 1-5"),
            }
        }
    };
    let fields = args.input.field_map(FieldMap::samples()).map_err(anyhow::Error::msg)?;
    // Reviewers read whole texts: nothing is cut.
    let runs = args.runs.iter().map(|dir| RunData::load(dir, &fields, usize::MAX)).collect::<Result<Vec<_>, _>>()?;
    let options = CreateOptions {
        selection,
        seed: args.seed,
        reviewers: args.reviewers,
        per_item: args.per_item,
        show_scores: !args.hide_scores,
        question: Question { text: args.question, scale, tags: args.tags },
        base_url: args.base_url,
    };
    let links = folder::create(&args.out, &runs, &options)?;
    let items = std::fs::read_to_string(args.out.join(folder::ITEMS_FILE))?.lines().count();
    println!(
        "created {} with {items} items; each reviewer's link (also in {}):",
        args.out.display(),
        folder::LINKS_FILE
    );
    for link in links {
        println!("  {}\t{}", crate::text::terminal(&link.reviewer), link.url);
    }
    Ok(())
}

fn review_serve(args: ServeArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.bind)
            .await
            .with_context(|| format!("cannot listen on {}", args.bind))?;
        let address = listener.local_addr()?;
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for the admin token: {e}"))?;
        let admin: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        // Checked before the address is printed, so a folder that is not a
        // review fails at once.
        Loaded::read(&args.dir)?;
        let database = Database::from_url(args.store.database.as_deref())?;
        println!(
            "serving {} at http://{address}/ (reviewers' links are in its {})",
            args.dir.display(),
            folder::LINKS_FILE
        );
        println!("admin: http://{address}/admin/{admin}");
        std::io::Write::flush(&mut std::io::stdout())?;
        assay_review::server::serve(&args.dir, database, listener, &admin).await?;
        Ok(())
    })
}

fn review_export(args: ExportArgs) -> Result<()> {
    Loaded::read(&args.dir)?;
    let verdicts = args.store.open(&args.dir)?.verdicts(None)?;
    let mut file = AtomicFile::create(&args.out).with_context(|| format!("writing {}", args.out.display()))?;
    verdicts::write(&mut file, &verdicts).with_context(|| format!("writing {}", args.out.display()))?;
    file.commit().with_context(|| format!("writing {}", args.out.display()))?;
    println!("exported {} verdicts to {}", verdicts.len(), args.out.display());
    Ok(())
}

fn review_import(args: ImportArgs) -> Result<()> {
    let loaded = Loaded::read(&args.dir)?;
    let verdicts = verdicts::read(&args.file)?;
    let items: std::collections::HashSet<&str> = loaded.items.iter().map(|i| i.id.as_str()).collect();
    let reviewers: std::collections::HashSet<&str> = loaded.review.reviewers.iter().map(|r| r.name.as_str()).collect();
    // Every verdict is checked before any is kept: a file is imported whole or not at all.
    let unknown_items: Vec<&str> = verdicts.iter().map(|v| v.item.as_str()).filter(|i| !items.contains(i)).collect();
    let unknown_reviewers: Vec<&str> =
        verdicts.iter().map(|v| v.reviewer.as_str()).filter(|r| !reviewers.contains(r)).collect();
    if !unknown_items.is_empty() || !unknown_reviewers.is_empty() {
        bail!(
            "{}: nothing imported: {} verdicts name items this review does not have{}, {} name reviewers it does not have{}",
            args.file.display(),
            unknown_items.len(),
            unknown_items.first().map(|i| format!(" (the first: {i:?})")).unwrap_or_default(),
            unknown_reviewers.len(),
            unknown_reviewers.first().map(|r| format!(" (the first: {r:?})")).unwrap_or_default(),
        );
    }
    let mut store = args.store.open(&args.dir)?;
    for verdict in &verdicts {
        store.put(verdict)?;
    }
    println!("imported {} verdicts into {}", verdicts.len(), args.dir.display());
    Ok(())
}

fn review_stats(args: StatsArgs) -> Result<()> {
    if args.verdicts.is_dir() {
        let loaded = Loaded::read(&args.verdicts)?;
        let verdicts = args.store.open(&args.verdicts)?.verdicts(None)?;
        let metrics = loaded.items.iter().map(|item| (item.id.clone(), item.scores.clone())).collect();
        let thresholds = parse_thresholds(&args.threshold)?;
        let report = stats::report(&verdicts, &metrics, &thresholds);
        if let StatsFormat::Json = args.format {
            // People's verdicts as metrics too, per run, as summary.json holds metrics.
            let summary = human::metrics(&loaded.review, &loaded.items, &verdicts);
            let mut value = serde_json::to_value(&report)?;
            value["summary"] = serde_json::to_value(summary)?;
            println!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(());
        }
        return print_stats(&report, args.format);
    }
    let verdicts = verdicts::read(&args.verdicts)?;
    let thresholds = parse_thresholds(&args.threshold)?;
    let mut metrics: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    if let Some(run) = &args.run {
        let path = run.join("samples.jsonl");
        let lines: Vec<SampleLine> =
            read_json_lines(&path).with_context(|| format!("{} is not a run folder", run.display()))?;
        for line in lines {
            let scores = line.scores.0.into_iter().map(|(k, v)| (k.into_owned(), v)).collect();
            metrics.insert(id_text(&line.id), scores);
        }
        // A verdict about an item the run does not have is a mistake to
        // report, not a line to drop.
        let unknown: Vec<&str> =
            verdicts.iter().map(|v| v.item.as_str()).filter(|item| !metrics.contains_key(*item)).collect();
        if let Some(first) = unknown.first() {
            bail!(
                "{}: {} verdicts are about items that {} does not have (the first: {first:?}); an item is a sample id",
                args.verdicts.display(),
                unknown.len(),
                path.display()
            );
        }
        if let Some(metric) = thresholds.keys().find(|m| !metrics.values().any(|s| s.contains_key(*m))) {
            bail!("--threshold names {metric:?}, which no sample of {} has", path.display());
        }
    }
    print_stats(&stats::report(&verdicts, &metrics, &thresholds), args.format)
}

fn review_apply(args: ApplyArgs) -> Result<()> {
    let loaded = Loaded::read(&args.dir)?;
    let mut store = args.store.open(&args.dir)?;
    let (verdicts, history) = (store.verdicts(None)?, store.history()?);
    let applied = assay_review::apply::apply(&args.dir, &loaded, &verdicts, &history, &args.out)?;
    for (run, outcome) in &applied.runs {
        println!(
            "{}: {} records: {} accepted ({} by the reviewers), {} rejected ({} by the reviewers), {} still quarantined",
            crate::text::terminal(run),
            outcome.records,
            outcome.accepted_by_guards + outcome.accepted_by_reviewers,
            outcome.accepted_by_reviewers,
            outcome.rejected_by_guards + outcome.rejected_by_reviewers,
            outcome.rejected_by_reviewers,
            outcome.quarantined,
        );
    }
    println!("wrote {} (the audit trail in {})", args.out.display(), assay_review::apply::AUDIT_FILE);
    Ok(())
}

/// `--threshold METRIC=VALUE` options.
fn parse_thresholds(options: &[String]) -> Result<BTreeMap<String, f64>> {
    let mut thresholds = BTreeMap::new();
    for text in options {
        let (metric, value) = text.split_once('=').context(format!("--threshold {text:?}: expected METRIC=VALUE"))?;
        let value: f64 = value.trim().parse().context(format!("--threshold {text:?}: {value:?} is not a number"))?;
        thresholds.insert(metric.trim().to_string(), value);
    }
    Ok(thresholds)
}

fn print_stats(report: &Report, format: StatsFormat) -> Result<()> {
    match format {
        StatsFormat::Json => println!("{}", serde_json::to_string_pretty(report)?),
        StatsFormat::Text => print_report(report),
    }
    Ok(())
}

fn shown(measured: &Measured) -> String {
    match measured.value {
        Some(value) => format!("{value:.3} (n={})", measured.items),
        None => format!("undefined (n={})", measured.items),
    }
}

fn print_report(report: &Report) {
    println!("{} verdicts on {} items", report.verdicts, report.items);
    let mut reviewers = crate::table::new(&["reviewer", "items", "pass rate"]);
    for (name, rate) in &report.reviewers {
        reviewers.add_row(vec![
            crate::text::terminal(name).into_owned(),
            rate.items.to_string(),
            format!("{:.3}", rate.pass_rate),
        ]);
    }
    let majority = &report.majority;
    let rate = majority.pass_rate.map_or("undefined".into(), |r| format!("{r:.3}"));
    reviewers.add_row(vec!["majority".into(), majority.items.to_string(), rate]);
    println!("{reviewers}");
    if majority.ties > 0 {
        println!("{} items have as many passes as fails: no majority", majority.ties);
    }

    let mut agreement = crate::table::new(&["agreement", "value"]);
    for pair in &report.pairs {
        let [a, b] = &pair.reviewers;
        let label = format!("Cohen's kappa {} / {}", crate::text::terminal(a), crate::text::terminal(b));
        agreement.add_row(vec![label.clone(), shown(&pair.kappa)]);
        if let (Some(linear), Some(quadratic)) = (&pair.kappa_linear, &pair.kappa_quadratic) {
            agreement.add_row(vec![format!("{label}, scores, linear"), shown(linear)]);
            agreement.add_row(vec![format!("{label}, scores, quadratic"), shown(quadratic)]);
        }
    }
    agreement.add_row(vec!["Fleiss' kappa".into(), shown(&report.fleiss_kappa)]);
    let alpha = &report.krippendorff_alpha;
    agreement.add_row(vec!["Krippendorff's alpha, nominal".into(), shown(&alpha.nominal)]);
    for (level, measured) in [("ordinal", &alpha.ordinal), ("interval", &alpha.interval)] {
        if let Some(measured) = measured {
            agreement.add_row(vec![format!("Krippendorff's alpha, scores, {level}"), shown(measured)]);
        }
    }
    println!("{agreement}");

    if !report.metrics.is_empty() {
        let mut metrics = crate::table::new(&["metric", "threshold", "accuracy", "kappa", "Spearman", "Kendall tau-b"]);
        for (name, m) in &report.metrics {
            metrics.add_row(vec![
                crate::text::terminal(name).into_owned(),
                m.threshold.to_string(),
                shown(&m.accuracy),
                shown(&m.kappa),
                shown(&m.spearman),
                shown(&m.kendall_tau_b),
            ]);
        }
        println!("against the human majority:\n{metrics}");
    }
}
