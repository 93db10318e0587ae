//! `assay report`: an HTML report over run folders.

use std::path::PathBuf;

use anyhow::{Context, Result};
use assay_data::FieldMap;
use assay_data::output::AtomicFile;
use clap::Args;

use crate::config::InputOptions;
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
}

pub fn report(args: ReportArgs) -> Result<()> {
    let fields = args.input.field_map(FieldMap::samples()).map_err(anyhow::Error::msg)?;
    let runs = args
        .runs
        .iter()
        .map(|dir| RunData::load(dir, &fields, crate::html::MAX_TEXT_CHARS))
        .collect::<Result<Vec<_>, _>>()?;
    for run in &runs {
        if let Some(note) = &run.records_note {
            eprintln!("note: {}: {note}", run.dir);
        }
    }
    let mut file = AtomicFile::create(&args.out).with_context(|| format!("writing {}", args.out.display()))?;
    std::io::Write::write_all(&mut file, crate::html::render(&runs).as_bytes())?;
    file.commit().with_context(|| format!("writing {}", args.out.display()))?;
    Ok(())
}
