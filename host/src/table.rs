//! What people read in a terminal: tables after a run, and a progress bar
//! while it goes.

use std::collections::BTreeMap;
use std::path::Path;

use assay_data::output::{ErrorEntry, EvaluationSummary, GuardSummary, MetricRow, Summary};
use assay_runtime::failure;

/// A table in the style every command prints.
pub fn new(header: &[&str]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(header);
    table
}

/// The most members of one family shown as rows of a table.
pub const FAMILY_ROWS: usize = 8;

/// The table of metrics printed after an evaluation.
pub fn metrics(summary: &EvaluationSummary) -> comfy_table::Table {
    let mut table = new(&["metric", "value", "p50", "p95", "min", "max", "n"]);
    let number = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
    for row in summary.rows(FAMILY_ROWS) {
        match row {
            MetricRow::Metric(key, detail) => table.add_row([
                crate::text::terminal(key).into_owned(),
                number(detail.headline()),
                number(detail.p50),
                number(detail.p95),
                number(detail.min),
                number(detail.max),
                detail.count.map_or_else(|| "corpus".to_string(), |n| n.to_string()),
            ]),
            MetricRow::More(family, n) => {
                table.add_row([crate::text::terminal(&family).into_owned(), format!("{n} more in summary.json")])
            }
        };
    }
    align_right(&mut table, 1..7);
    table
}

/// The table printed after a guard run: records per route, per guard and in
/// all, and how many decisions recalls tightened.
pub fn guards(summary: &GuardSummary) -> comfy_table::Table {
    let mut table = new(&["guard", "accept", "quarantine", "reject", "recalled", "errors"]);
    for (name, routes) in &summary.guards {
        let errors: Vec<String> = routes.errors.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
        let refused = routes.recalls.refused;
        table.add_row([
            name.clone(),
            routes.accept.to_string(),
            routes.quarantine.to_string(),
            routes.reject.to_string(),
            match refused {
                0 => routes.recalls.applied.to_string(),
                _ => format!("{} ({refused} refused)", routes.recalls.applied),
            },
            if errors.is_empty() { "-".into() } else { errors.join(", ") },
        ]);
    }
    // In all: the records any guard failed on, and those no guard could
    // read, so the row never says `-` while a guard's row counts errors.
    let c = &summary.counts;
    let mut errors = Vec::new();
    if c.guard_errors > 0 {
        errors.push(format!("{} records with guard errors", c.guard_errors));
    }
    if c.bad_records > 0 {
        errors.push(format!("{} bad-record", c.bad_records));
    }
    table.add_row([
        "all guards".to_string(),
        c.accepted.to_string(),
        c.quarantined.to_string(),
        c.rejected.to_string(),
        c.recalled.to_string(),
        if errors.is_empty() { "-".into() } else { errors.join(", ") },
    ]);
    align_right(&mut table, 1..5);
    table
}

/// Right-aligns the number columns of a table.
fn align_right(table: &mut comfy_table::Table, columns: std::ops::Range<usize>) {
    for column in columns {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
}

/// What a finished run prints: its table, and a line of counts saying
/// where the results are.
pub fn print(summary: &Summary, out: &Path) {
    let failed = failures(summary);
    match summary {
        Summary::Evaluation(summary) => {
            println!("{}", metrics(summary));
            let counts = &summary.counts;
            println!(
                "{} samples, {} with errors, {} skipped; results in {}",
                counts.samples,
                counts.errors,
                counts.skipped,
                out.display()
            );
        }
        Summary::Guard(summary) => {
            println!("{}", guards(summary));
            let counts = &summary.counts;
            let recalled = match counts.recalled {
                0 => String::new(),
                n => format!(" ({n} moved by recalls)"),
            };
            println!(
                "{} records: {} accepted, {} quarantined, {} rejected{recalled}; {} unreadable, {} with guard errors; results in {}",
                counts.records,
                counts.accepted,
                counts.quarantined,
                counts.rejected,
                counts.bad_records,
                counts.guard_errors,
                out.display()
            );
        }
    }
    for line in failed {
        println!("  {line}");
    }
}

/// Longest first message shown per plugin; summary.json has it whole.
const FIRST_MESSAGE_CHARS: usize = 240;

/// A failure's message on one line, for a person: without the trap's
/// chain of guest frames (summary.json keeps them), so that what the
/// plugin said on stderr fits.
fn brief(message: &str) -> String {
    let mut text = message.to_string();
    if let (Some(start), Some(stderr)) = (text.find(" (in "), text.find(&format!("){}", failure::LOG_QUOTE)))
        && start < stderr
    {
        text.replace_range(start..stderr + 1, "");
    }
    let text = text.replace('\n', " / ");
    let clipped: String = text.chars().take(FIRST_MESSAGE_CHARS).collect();
    let cut = if text.chars().count() > FIRST_MESSAGE_CHARS { "…" } else { "" };
    format!("{}{cut}", crate::text::terminal(&clipped))
}

/// A line per failing plugin: its failures by kind and the first one's
/// message, then each failed corpus computation. Printed with the table,
/// and on stderr under `-q`, so no failure passes without a word.
pub fn failures(summary: &Summary) -> Vec<String> {
    let line = |plugin: &str, kinds: &BTreeMap<String, u64>, first: Option<&ErrorEntry>| {
        let kinds: Vec<String> = kinds.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
        let first = first.map(|e| format!("; first: {}", brief(&e.message)));
        format!("{}: {}{}", crate::text::terminal(plugin), kinds.join(", "), first.unwrap_or_default())
    };
    let summary = match summary {
        Summary::Evaluation(summary) => summary,
        Summary::Guard(summary) => {
            return summary
                .guards
                .iter()
                .filter(|(_, routes)| !routes.errors.is_empty())
                .map(|(guard, routes)| line(guard, &routes.errors, routes.first_error.as_ref()))
                .collect();
        }
    };
    let mut lines = Vec::new();
    for (plugin, kinds) in &summary.errors {
        lines.push(line(plugin, kinds, summary.first_errors.get(plugin)));
    }
    for (plugin, error) in &summary.corpus_errors {
        lines.push(format!(
            "{}: corpus metrics failed: {}",
            crate::text::terminal(plugin),
            crate::text::terminal(&error.message)
        ));
    }
    lines
}

/// Runs `work` with a progress bar over the bytes of the file at `input`,
/// drawn on stderr only when `enabled` and stderr is a terminal, so logs and
/// pipes stay clean.
pub fn with_progress<R>(enabled: bool, input: &Path, work: impl FnOnce(&dyn assay_pipeline::Progress) -> R) -> R {
    let bar = progress_bar(enabled, input);
    let result = work(&|bytes| bar.inc(bytes));
    bar.finish_and_clear();
    result
}

fn progress_bar(enabled: bool, input: &Path) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let total = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta})",
        )
        .expect("a valid template"),
    );
    bar
}

#[cfg(test)]
mod failure_tests {
    use super::brief;

    #[test]
    fn a_brief_message_keeps_what_the_plugin_said_and_drops_the_frames() {
        let message = "the plugin trapped: wasm trap: unreachable (in a <- b <- c); stderr: boom\nat line 3";
        assert_eq!(brief(message), "the plugin trapped: wasm trap: unreachable; stderr: boom / at line 3");
        assert_eq!(brief("timed out"), "timed out");
        assert!(brief(&"x".repeat(1000)).ends_with('…'));
    }
}
