//! `assay plugins` and `assay inspect`.

use anyhow::{Context, Result};
use clap::Args;

use assay::metadata::ComponentMetadata;
use assay::plugin::{Capability, Level, Plugin, capability};
use assay::run::{Host, Source};
use assay::sandbox::Limits;

use super::run::{cache, resolve_source};

#[derive(Args)]
pub struct InspectArgs {
    /// A built-in plugin's name, a path to a .wasm component, or an oci:// reference.
    plugin: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn plugins() -> Result<()> {
    let host = Host::new(&[], 1, cache(false, None))?;
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["plugin", "kind", "version", "metrics", "description"]);
    for name in assay::builtin::names() {
        let plugin = host.load(&Source::Builtin(name.to_string()), &Limits::default(), None)?;
        // The full list is `assay inspect NAME`'s job; keep rows one line.
        let mut metrics: Vec<&str> = plugin.metrics.iter().map(|m| m.name.as_str()).take(4).collect();
        let more = plugin.metrics.len().saturating_sub(metrics.len());
        let more = format!("(+{more})");
        if plugin.metrics.len() > metrics.len() {
            metrics.push(&more);
        }
        table.add_row([name, &plugin.kind.to_string(), &plugin.info.version, &metrics.join(" "), &plugin.info.description]);
    }
    println!("{table}");
    Ok(())
}

pub fn inspect(args: InspectArgs) -> Result<()> {
    let source = resolve_source(&args.plugin)?;
    let host = Host::new(&[], 1, cache(false, None))?;
    let plugin = host.load(&source, &Limits::default(), None).with_context(|| format!("inspecting {}", source.label()))?;
    // Metadata describes a plugin but is no part of what it does, so a
    // section another tool wrote badly costs a warning, not the inspection.
    let metadata = assay::metadata::read(&source.bytes()?).unwrap_or_else(|error| {
        eprintln!("warning: {}: unreadable metadata: {error}", source.label());
        ComponentMetadata::default()
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inspection(&plugin, &metadata))?);
        return Ok(());
    }
    println!("{} {} ({})", plugin.info.name, plugin.info.version, plugin.kind);
    println!("  {}", plugin.info.description);
    println!("contract  {}", plugin.contract());
    println!("world     {}", plugin.world());
    println!("source    {}", plugin.source);
    println!("size      {} bytes", plugin.size);
    println!("sha256    {}", plugin.sha256);
    print_metadata(&metadata);
    if !plugin.metrics.is_empty() {
        println!("metrics");
        for metric in &plugin.metrics {
            let level = if metric.level == Level::Sample { "sample" } else { "corpus" };
            let direction = if metric.higher_is_better { "higher is better" } else { "lower is better" };
            println!("  {:<22} {level}, {direction}: {}", metric.name, metric.description);
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
        println!("  {label:<12} {value}");
    }
}

fn inspection(plugin: &Plugin, metadata: &ComponentMetadata) -> serde_json::Value {
    serde_json::json!({
        "name": plugin.info.name,
        "version": plugin.info.version,
        "description": plugin.info.description,
        "kind": plugin.kind,
        "contract": plugin.contract(),
        "world": plugin.world(),
        "source": plugin.source,
        "size": plugin.size,
        "sha256": plugin.sha256,
        "metadata": metadata,
        "metrics": plugin.metrics,
        "imports": plugin.imports,
        "capabilities": capabilities(plugin)
            .map(|(import, c)| serde_json::json!({"import": import, "default": c.default, "grant": c.grant}))
            .collect::<Vec<_>>(),
    })
}

fn capabilities(plugin: &Plugin) -> impl Iterator<Item = (&str, Capability)> {
    plugin.imports.iter().filter_map(|import| capability(import).map(|c| (import.as_str(), c)))
}
