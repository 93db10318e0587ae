//! `assay lock`: pin every plugin of a config to its exact bytes.

use std::path::PathBuf;

use anyhow::Result;
use assay_registry::lock::LockFile;
use assay_registry::resolve::Mode;
use clap::Args;

use super::setup::resolver;
use crate::config::ConfigFile;

#[derive(Args)]
pub struct LockArgs {
    /// The configuration whose plugins to pin; assay.lock is written beside it.
    #[arg(short, long, value_name = "FILE", default_value = "assay.toml")]
    config: PathBuf,
}

pub fn lock(args: LockArgs) -> Result<()> {
    let config = ConfigFile::load(&args.config)?;
    // Resolve afresh: the lock being written must not be read.
    let mut resolver = resolver(&config, false, Mode::default())?;
    let mut table = crate::table::new(&["plugin", "source", "digest"]);
    let mut locked = Vec::new();
    for (name, entry) in &config.plugins {
        let source = entry.source.as_deref().unwrap_or(name);
        let resolved = resolver.resolve(name, source, &config.base_dir, entry.limits.max_component_mib)?;
        table.add_row([name.as_str(), source, &resolved.locked.digest]);
        locked.push(resolved.locked);
    }
    for warning in &resolver.warnings {
        eprintln!("warning: {warning}");
    }
    let path = LockFile::path_for(&args.config);
    LockFile::new(locked).save(&path)?;
    println!("{table}");
    println!("wrote {}", path.display());
    Ok(())
}
