//! `assay lock`: pin every plugin of a config to its exact bytes.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use assay::config::ConfigFile;
use assay::lock::LockFile;
use assay::resolve::Mode;

use super::run::resolver;

#[derive(Args)]
pub struct LockArgs {
    /// The configuration whose plugins to pin; assay.lock is written beside it.
    #[arg(short, long, value_name = "FILE", default_value = "assay.toml")]
    config: PathBuf,
}

pub fn lock(args: LockArgs) -> Result<()> {
    let config = ConfigFile::load(&args.config)?;
    // Resolve afresh: the lock being written must not be read.
    let mut resolver = resolver(None, &config, Mode::default())?;
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["plugin", "source", "digest"]);
    let mut locked = Vec::new();
    for (name, entry) in &config.plugins {
        let source = entry.source.as_deref().unwrap_or(name);
        let resolved = resolver.resolve(name, source, &config.base_dir)?;
        table.add_row([name.as_str(), source, &resolved.locked.digest]);
        locked.push(resolved.locked);
    }
    let path = LockFile::path_for(&args.config);
    LockFile::new(locked).save(&path)?;
    println!("{table}");
    println!("wrote {}", path.display());
    Ok(())
}
