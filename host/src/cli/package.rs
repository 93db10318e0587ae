//! `assay package`: write the standard component metadata into a plugin, so
//! who made it, its licence and its source travel with the bytes.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use assay_registry::metadata::{self, ComponentMetadata};
use assay_runtime::{Digest, Limits};
use clap::Args;

use super::setup::single_host;

#[derive(Args)]
pub struct PackageArgs {
    /// The plugin component (.wasm).
    component: PathBuf,
    /// Where to write the packaged component; may be COMPONENT itself.
    #[arg(short, long, value_name = "OUT.wasm")]
    output: PathBuf,
    /// Default: the name the plugin's `describe` gives.
    #[arg(long)]
    name: Option<String>,
    /// Default: the version the plugin's `describe` gives.
    #[arg(long)]
    version: Option<String>,
    /// Default: the description the plugin's `describe` gives.
    #[arg(long)]
    description: Option<String>,
    /// An author, such as "Ada <ada@example.com>"; repeat for several.
    #[arg(long = "author", value_name = "AUTHOR")]
    authors: Vec<String>,
    /// The license, as an SPDX expression such as "MIT OR Apache-2.0".
    #[arg(long)]
    license: Option<String>,
    /// The URL of the plugin's source code.
    #[arg(long, value_name = "URL")]
    source: Option<String>,
    /// The URL of the plugin's home page.
    #[arg(long, value_name = "URL")]
    homepage: Option<String>,
    /// The source-control revision it was built from, such as a commit hash.
    #[arg(long)]
    revision: Option<String>,
}

pub fn package(args: PackageArgs) -> Result<()> {
    let input = &args.component;
    if !input.is_file() {
        bail!("{}: no such component file", input.display());
    }
    // Metadata is a promise about a plugin, so only a component this host
    // would run gets one.
    let bytes = std::fs::read(input).with_context(|| format!("{}: cannot read", input.display()))?;
    let plugin = single_host(Default::default())?
        .load(&input.display().to_string(), &bytes, &Limits::default(), None)
        .context("packaging refused")?;
    // The defaults are the plugin's own answer, so its metadata and what it
    // says when it runs agree unless asked otherwise.
    let metadata = ComponentMetadata {
        name: Some(args.name.unwrap_or(plugin.info.name)),
        version: Some(args.version.unwrap_or(plugin.info.version)),
        description: Some(args.description.unwrap_or(plugin.info.description)),
        authors: (!args.authors.is_empty()).then(|| args.authors.join(", ")),
        licenses: args.license,
        source: args.source,
        homepage: args.homepage,
        revision: args.revision,
    };
    let packaged =
        metadata::write(&bytes, &metadata).with_context(|| format!("{}: packaging refused", input.display()))?;
    let permissions = std::fs::metadata(input).with_context(|| format!("reading {}", input.display()))?.permissions();
    write_atomically(&args.output, &packaged, permissions)?;
    println!("wrote     {}", args.output.display());
    println!("sha256    {}", Digest::of(&packaged));
    Ok(())
}

/// Writes through a temporary file in the same folder, so a reader (or a
/// failed write) never sees half a component, even when OUT is the input.
/// It gets the input's permissions, not the temporary file's owner-only ones.
fn write_atomically(path: &Path, bytes: &[u8], permissions: std::fs::Permissions) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let context = || format!("writing {}", path.display());
    let mut file = tempfile::NamedTempFile::new_in(dir).with_context(context)?;
    file.write_all(bytes).with_context(context)?;
    file.as_file().set_permissions(permissions).with_context(context)?;
    file.persist(path).map_err(|e| e.error).with_context(context)?;
    Ok(())
}
