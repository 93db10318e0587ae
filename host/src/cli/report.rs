//! `assay report`: an HTML report over run folders.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use assay_data::FieldMap;
use assay_data::output::{AtomicFile, Summary};
use assay_review::human;
use assay_review::server::Loaded;
use clap::Args;

use crate::config::InputOptions;
use crate::html::Significance;
use assay_data::run::RunData;

#[derive(Args)]
pub struct ReportArgs {
    /// Folders written by `assay run -o` or `assay guard -o`; several
    /// evaluation runs of one eval set are compared side by side.
    #[arg(required = true, value_name = "RUN_DIR")]
    runs: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(short, long, value_name = "FILE", default_value = "report.html")]
    out: PathBuf,
    /// Read a canonical field from another field name, as given to `assay run`.
    #[command(flatten)]
    input: InputOptions,
    /// A review of these runs (`assay review create`): people's verdicts are
    /// shown as metrics (`human/pass`, by majority and per reviewer) beside
    /// the automatic ones. Repeatable.
    #[arg(long = "review", value_name = "REVIEW_DIR")]
    reviews: Vec<PathBuf>,
    #[command(flatten)]
    store: super::review::StoreOptions,
}

pub fn report(args: ReportArgs) -> Result<()> {
    let fields = args.input.field_map(FieldMap::samples()).map_err(anyhow::Error::msg)?;
    let mut runs = args
        .runs
        .iter()
        .map(|dir| RunData::load(dir, &fields, crate::html::MAX_TEXT_CHARS))
        .collect::<Result<Vec<_>, _>>()?;
    for run in &runs {
        if let Some(note) = &run.records_note {
            eprintln!("note: {}: {note}", run.dir);
        }
    }
    let evaluations = runs.iter().filter(|r| matches!(r.summary, Summary::Evaluation(_))).count();
    if evaluations > 1 {
        for run in &runs {
            if let Some((id, first, second)) = run.duplicate_id() {
                bail!(
                    "{}: samples {first} and {second} of its samples.jsonl have the same id {id:?}; runs are compared \
                     sample by sample, joined by id, so each id must name one sample",
                    run.dir
                );
            }
        }
    }
    for dir in &args.reviews {
        let loaded = Loaded::read(dir)?;
        let verdicts = args.store.open(dir)?.verdicts(None)?;
        let human = human::metrics(&loaded.review, &loaded.items, &verdicts);
        let mut shown = false;
        for run in &mut runs {
            if let Some(metrics) = human.get(&run.name) {
                shown |= human::add_to_run(run, metrics);
            }
        }
        if !shown && !verdicts.is_empty() {
            bail!(
                "{}: its verdicts are about samples of {}, none of which is among the runs given",
                dir.display(),
                loaded.review.runs.join(", ")
            );
        }
    }
    let mut file = AtomicFile::create(&args.out).with_context(|| format!("writing {}", args.out.display()))?;
    // Several evaluation runs: is each one's difference from the first real?
    let evaluation_dirs: Vec<PathBuf> = args
        .runs
        .iter()
        .zip(&runs)
        .filter(|(_, run)| matches!(run.summary, Summary::Evaluation(_)))
        .map(|(dir, _)| dir.clone())
        .collect();
    let significance = (evaluation_dirs.len() > 1).then(|| {
        match super::compare::comparison(&evaluation_dirs, &super::compare::Settings::default()) {
            Ok(comparison) => Significance::Tested(comparison),
            Err(error) => Significance::Untested(format!("{error:#}")),
        }
    });
    std::io::Write::write_all(&mut file, crate::html::render(&runs, significance.as_ref()).as_bytes())?;
    file.commit().with_context(|| format!("writing {}", args.out.display()))?;
    Ok(())
}
