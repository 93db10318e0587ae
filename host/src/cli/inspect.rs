//! `assay plugins` and `assay inspect`.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;

use assay::plugin::{Level, Plugin};
use assay::run::{Host, Source};
use assay::sandbox::Limits;

use super::run::{cache, resolve_source};

#[derive(Args)]
pub struct InspectArgs {
    /// A built-in plugin's name or a path to a .wasm component.
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
    let source = resolve_source(&args.plugin, Path::new(""))?;
    let host = Host::new(&[], 1, cache(false, None))?;
    let plugin = host.load(&source, &Limits::default(), None).with_context(|| format!("inspecting {}", source.label()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inspection(&plugin))?);
        return Ok(());
    }
    println!("{} {} ({})", plugin.info.name, plugin.info.version, plugin.kind);
    println!("  {}", plugin.info.description);
    println!("contract  {}", plugin.contract());
    println!("source    {}", plugin.source);
    println!("size      {} bytes", plugin.size);
    println!("sha256    {}", plugin.sha256);
    if !plugin.metrics.is_empty() {
        println!("metrics");
        for metric in &plugin.metrics {
            let level = if metric.level == Level::Sample { "sample" } else { "corpus" };
            let direction = if metric.higher_is_better { "higher is better" } else { "lower is better" };
            println!("  {:<22} {level}, {direction}: {}", metric.name, metric.description);
        }
    }
    println!("imports");
    for import in &plugin.imports {
        println!("  {import}");
    }
    Ok(())
}

fn inspection(plugin: &Plugin) -> serde_json::Value {
    serde_json::json!({
        "name": plugin.info.name,
        "version": plugin.info.version,
        "description": plugin.info.description,
        "kind": plugin.kind,
        "contract": plugin.contract(),
        "source": plugin.source,
        "size": plugin.size,
        "sha256": plugin.sha256,
        "metrics": plugin.metrics,
        "imports": plugin.imports,
    })
}
