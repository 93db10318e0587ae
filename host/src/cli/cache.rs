//! `assay cache`: the compiled-component cache, listed, sized, pruned and
//! cleared. Compiled entries are derived data (any of them compiles again
//! from its component), unlike the model cache beside them, whose answers
//! were paid for: `size` shows both, but only compiled entries are ever
//! removed here.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use assay_runtime::cache::{self, Entry, Removed};
use assay_runtime::{Compiler, ComponentCache};

#[derive(Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    command: CacheCommand,
    /// The cache folder. Default: $ASSAY_CACHE_DIR, else
    /// $XDG_CACHE_HOME/assay, else ~/.cache/assay.
    #[arg(long, value_name = "DIR", global = true)]
    cache_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum CacheCommand {
    /// List the compiled components, least recently used first.
    List {
        /// One JSON object per entry instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The folder's size: compiled components and functions, model answers, stored plugins.
    Size,
    /// Remove what this build cannot load (other Assay versions), then the
    /// least recently used entries until the rest fit under the cap.
    Prune {
        /// The cap, in MiB. Default: $ASSAY_CACHE_MAX_MIB, else 1024, the cap
        /// every run keeps to.
        #[arg(long, value_name = "MIB")]
        max_mib: Option<u64>,
    },
    /// Remove every compiled component and compiled function (the model
    /// cache and the plugin store stay).
    Clear,
}

pub fn cache(args: CacheArgs) -> Result<()> {
    let dir = args
        .cache_dir
        .or_else(ComponentCache::default_dir)
        .context("no cache directory: set ASSAY_CACHE_DIR or HOME, or pass --cache-dir")?;
    // An entry is current when either compiler of this build can load it.
    let hosts = Compiler::AVAILABLE.iter().map(|&compiler| super::setup::single_host(compiler));
    let hosts = hosts.collect::<Result<Vec<_>>>()?;
    let engines: Vec<_> = hosts.iter().map(|host| host.sandbox().engine()).collect();
    let listing = |dir: &Path| cache::entries(dir, &engines).with_context(|| format!("listing {}", dir.display()));
    match args.command {
        CacheCommand::List { json } => {
            let entries = listing(&dir)?;
            if json {
                for entry in &entries {
                    println!("{}", serde_json::to_string(entry)?);
                }
                return Ok(());
            }
            println!("{:<16} {:>9}  last used", "component", "MiB");
            for entry in &entries {
                println!(
                    "{:<16} {:>9.1}  {:<14} {}",
                    &entry.component[..entry.component.len().min(16)],
                    mib(entry.bytes),
                    age(entry.last_used),
                    if entry.current { "" } else { "(another Assay version: never loaded, pruned first)" }
                );
            }
            println!("{} compiled components, {:.1} MiB in {}", entries.len(), mib(total(&entries)), dir.display());
        }
        CacheCommand::Size => {
            let entries = listing(&dir)?;
            let cap = ComponentCache::max_bytes();
            println!(
                "compiled components  {:>9.1} MiB  ({} entries; cap {:.0} MiB)",
                mib(total(&entries)),
                entries.len(),
                mib(cap)
            );
            let functions =
                std::fs::metadata(dir.join(assay_runtime::function_cache::FILE_NAME)).map_or(0, |m| m.len());
            println!(
                "compiled functions   {:>9.1} MiB  (reused by the next compile; cap {:.0} MiB)",
                mib(functions),
                mib(cap / 4)
            );
            println!(
                "model answers        {:>9.1} MiB  (never pruned: they were paid for)",
                mib(tree_bytes(&dir.join("models")))
            );
            println!("stored plugins       {:>9.1} MiB", mib(tree_bytes(&dir.join("store"))));
        }
        CacheCommand::Prune { max_mib } => {
            let cap = max_mib.map_or_else(ComponentCache::max_bytes, |mib| mib.saturating_mul(1 << 20));
            let removed = cache::prune(&dir, &engines, cap).with_context(|| format!("pruning {}", dir.display()))?;
            report("pruned", removed, &listing(&dir)?);
        }
        CacheCommand::Clear => {
            let removed = cache::clear(&dir).with_context(|| format!("clearing {}", dir.display()))?;
            report("cleared", removed, &listing(&dir)?);
        }
    }
    Ok(())
}

fn report(verb: &str, removed: Removed, left: &[Entry]) {
    let functions = if removed.function_bytes > 0 {
        format!(" and {:.1} MiB of compiled functions", mib(removed.function_bytes))
    } else {
        String::new()
    };
    println!(
        "{verb} {} compiled components ({:.1} MiB){functions}; {} left ({:.1} MiB)",
        removed.entries,
        mib(removed.bytes),
        left.len(),
        mib(total(left))
    );
}

fn total(entries: &[Entry]) -> u64 {
    entries.iter().map(|e| e.bytes).sum()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// The bytes of the files under `dir`; 0 when there is none.
fn tree_bytes(dir: &Path) -> u64 {
    let Ok(listing) = std::fs::read_dir(dir) else { return 0 };
    listing
        .flatten()
        .map(|item| match item.file_type() {
            Ok(kind) if kind.is_dir() => tree_bytes(&item.path()),
            Ok(_) => item.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// How long ago, roughly: `12 s ago`, `5 min ago`, `3 h ago`, `2 days ago`.
fn age(time: SystemTime) -> String {
    let seconds = SystemTime::now().duration_since(time).map_or(0, |d| d.as_secs());
    match seconds {
        0..60 => format!("{seconds} s ago"),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86400 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86400),
    }
}
