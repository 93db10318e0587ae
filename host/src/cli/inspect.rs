//! `assay plugins` and `assay inspect`.

use anyhow::{Context, Result};
use clap::Args;

use assay_registry::metadata::{self, ComponentMetadata};
use assay_runtime::capability::{Capability, capability};
use assay_runtime::contract::{ACCEPTED_VERSIONS, WIT_PACKAGE};
use assay_runtime::{Kind, Limits, MetricLevel, Plugin};

use std::path::Path;

use assay_runtime::Compiler;

use super::setup::{resolve_in, resolve_source, single_host};
use crate::config::ConfigFile;

#[derive(Args)]
pub struct InspectArgs {
    /// A built-in plugin's name, a path to a .wasm component, or an oci:// reference.
    plugin: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    compiler: crate::config::CompilerFlag,
}

pub fn plugins() -> Result<()> {
    let host = single_host(Default::default())?;
    let mut table = crate::table::new(&["plugin", "kind", "version", "metrics", "description"]);
    for name in assay_builtins::names() {
        let bytes = assay_builtins::get(name).expect("a listed built-in");
        let plugin = host.load(&format!("builtin:{name}"), bytes, &Limits::default(), None)?;
        // The full list is `assay inspect NAME`'s job; keep rows one line.
        let mut metrics: Vec<&str> = plugin.metrics.iter().map(|m| m.name.as_str()).take(4).collect();
        let more = plugin.metrics.len().saturating_sub(metrics.len());
        let more = format!("(+{more})");
        if plugin.metrics.len() > metrics.len() {
            metrics.push(&more);
        }
        table.add_row([
            name,
            &plugin.kind.to_string(),
            &plugin.info.version,
            &metrics.join(" "),
            &plugin.info.description,
        ]);
    }
    println!("{table}");
    println!("This host runs plugins of contract {WIT_PACKAGE} {ACCEPTED_VERSIONS}.");
    Ok(())
}

/// Loads the plugin `source` names to be looked at, resolved through the
/// config at `config` when one is given (its plugins, lock and trust).
pub fn load(source: &str, config: Option<&Path>, compiler: Compiler) -> Result<(Plugin, ComponentMetadata)> {
    let resolved = match config {
        Some(path) => resolve_in(&ConfigFile::load(path)?, source)?,
        None => resolve_source(source)?,
    };
    let label = resolved.origin.label();
    let plugin = single_host(compiler)?
        .load(&label, &resolved.component, &Limits::default(), None)
        .with_context(|| format!("inspecting {label}"))?;
    // Metadata describes a plugin but is no part of what it does, so a
    // section another tool wrote badly costs a warning, not the inspection.
    let metadata = metadata::read(&resolved.component).unwrap_or_else(|error| {
        let error = format!("{:#}", anyhow::Error::from(error));
        eprintln!("warning: {label}: unreadable metadata: {}", crate::text::terminal(&error));
        ComponentMetadata::default()
    });
    Ok((plugin, metadata))
}

pub fn inspect(args: InspectArgs) -> Result<()> {
    let (plugin, metadata) = load(&args.plugin, None, args.compiler.compiler.unwrap_or_default())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inspection(&plugin, &metadata))?);
        return Ok(());
    }
    // Everything a component says of itself is its author's text.
    let shown = crate::text::terminal;
    println!("{} {} ({})", plugin.info.name, shown(&plugin.info.version), plugin.kind);
    println!("  {}", shown(&plugin.info.description));
    println!("contract  {}", plugin.contract());
    println!("world     {}", plugin.world());
    println!("source    {}", plugin.origin);
    println!("size      {} bytes", plugin.size);
    println!("sha256    {}", plugin.sha256);
    if plugin.kind == Kind::Guard {
        let sharding = if plugin.shardable() { "may run sharded" } else { "one instance sees the whole run" };
        println!("scope     {}: {sharding}", plugin.scope_text());
        let recalls = if plugin.recalls {
            "may take back decisions on earlier records (guard-recall)"
        } else {
            "never takes back a decision"
        };
        println!("recalls   {recalls}");
        let state = if plugin.saves {
            "may be saved and restored (guard-state): a service may trim its log"
        } else {
            "not saved: a service screens its whole log again on restart"
        };
        println!("state     {state}");
    }
    print_metadata(&metadata);
    if !plugin.metrics.is_empty() {
        println!("metrics");
        for metric in plugin.metrics.iter() {
            let level = if metric.level == MetricLevel::Sample { "sample" } else { "corpus" };
            let direction = if metric.higher_is_better { "higher is better" } else { "lower is better" };
            println!("  {:<22} {level}, {direction}: {}", shown(&metric.name), shown(&metric.description));
        }
    }
    // Every import is one the sandbox provides (loading refused the rest),
    // so each line says what the plugin gets and what would give it more.
    println!("imports (what the sandbox gives; nothing is granted by default)");
    let width = plugin.imports.iter().map(String::len).max().unwrap_or(0);
    for (import, capability) in capabilities(&plugin) {
        let grant = capability.grant.map(|key| format!("; needs a grant for more: {key}")).unwrap_or_default();
        println!("  {import:<width$}  {}{grant}", capability.default);
    }
    Ok(())
}

/// The metadata sections the component carries (`assay package` writes
/// them), if any.
fn print_metadata(metadata: &ComponentMetadata) {
    let present: Vec<(&str, &str)> = metadata.present().collect();
    if present.is_empty() {
        return;
    }
    println!("metadata");
    for (label, value) in present {
        println!("  {label:<12} {}", crate::text::terminal(value));
    }
}

/// What `assay inspect --json` prints of a plugin.
pub fn inspection(plugin: &Plugin, metadata: &ComponentMetadata) -> serde_json::Value {
    serde_json::json!({
        "name": plugin.info.name,
        "version": plugin.info.version,
        "description": plugin.info.description,
        "kind": plugin.kind,
        "contract": plugin.contract(),
        "world": plugin.world(),
        "scope": (plugin.kind == Kind::Guard).then(|| plugin.scope_text()),
        "recalls": (plugin.kind == Kind::Guard).then_some(plugin.recalls),
        "saves": (plugin.kind == Kind::Guard).then_some(plugin.saves),
        "source": plugin.origin,
        "size": plugin.size,
        "sha256": plugin.sha256,
        "metadata": metadata,
        "metrics": &plugin.metrics[..],
        "imports": plugin.imports,
        "capabilities": capabilities(plugin)
            .map(|(import, c)| serde_json::json!({"import": import, "default": c.default, "grant": c.grant}))
            .collect::<Vec<_>>(),
    })
}

fn capabilities(plugin: &Plugin) -> impl Iterator<Item = (&str, Capability)> {
    plugin.imports.iter().filter_map(|import| capability(import).map(|c| (import.as_str(), c)))
}
