//! `assay models export` and `import`: a run's judged answers as one file,
//! so a judged eval set re-scores offline on another machine or team.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use assay_models::ResponseCache;

use crate::config::SharedOptions;

#[derive(Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
    /// The cache folder the answers live in (its `models` folder). Default:
    /// $ASSAY_CACHE_DIR, else $XDG_CACHE_HOME/assay, else ~/.cache/assay.
    #[arg(long, value_name = "DIR", global = true)]
    cache_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Write every kept model answer to FILE, one JSON object per line.
    Export { file: PathBuf },
    /// Keep every answer of FILE (as `export` writes it), each under the key
    /// of its own request.
    Import { file: PathBuf },
}

pub fn models(args: ModelsArgs) -> Result<()> {
    let options = SharedOptions { cache_dir: args.cache_dir, ..SharedOptions::default() };
    let dir = super::setup::model_cache_dir(&options)
        .context("no cache directory for the model cache: set ASSAY_CACHE_DIR or HOME")?;
    let cache = ResponseCache::new(&dir);
    match args.command {
        ModelsCommand::Export { file } => {
            let count = cache.export(&file)?;
            println!("exported {count} answers from {} to {}", dir.display(), file.display());
        }
        ModelsCommand::Import { file } => {
            let count = cache.import(&file)?;
            println!("imported {count} answers into {}", dir.display());
        }
    }
    Ok(())
}
