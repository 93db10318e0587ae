//! What a run leaves behind: result files written atomically, the summary,
//! and the table people read on stdout.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::dataset::{BadRecord, Format};
use crate::plugin::{Kind, Level, MetricInfo};
use crate::sandbox::{Failure, Grant, Limits};

/// `summary.json` of an evaluation run.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub assay_version: String,
    pub kind: String,
    /// Headline value of every metric: the mean of a sample-level metric
    /// (null when no sample was scored), the value of a corpus-level one.
    pub metrics: BTreeMap<String, Option<f64>>,
    /// Everything known about each metric.
    pub details: BTreeMap<String, MetricSummary>,
    pub counts: Counts,
    /// Failed samples per plugin, by kind of failure.
    pub errors: BTreeMap<String, BTreeMap<String, u64>>,
    /// Plugins whose corpus-level metrics could not be computed.
    pub corpus_errors: BTreeMap<String, ErrorEntry>,
    /// Every record left out, with its line and reason.
    pub skipped: Vec<BadRecord>,
    pub plugins: Vec<PluginSummary>,
    pub input: InputSummary,
    pub run: RunInfo,
}

impl Summary {
    /// Whether anything failed: a sample, a corpus metric.
    pub fn has_errors(&self) -> bool {
        self.counts.errors > 0 || !self.corpus_errors.is_empty()
    }
}

#[derive(Debug, Serialize)]
pub struct Counts {
    /// Records read: samples plus skipped.
    pub records: u64,
    /// Records scored (some plugins may have failed on some of them).
    pub samples: u64,
    /// Samples on which at least one plugin failed.
    pub errors: u64,
    /// Records that could not be read and were left out.
    pub skipped: u64,
}

#[derive(Debug, Serialize)]
pub struct MetricSummary {
    pub level: &'static str,
    pub description: String,
    pub higher_is_better: bool,
    pub signature: String,
    /// Samples with a value (sample-level metrics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p95: Option<f64>,
}

impl MetricSummary {
    /// Summarizes the per-sample values of a metric, given in input order.
    /// Sorts `values` in place.
    pub fn of_samples(info: &MetricInfo, signature: String, values: &mut [f64]) -> Self {
        // Summed in input order before sorting, so the mean is the same for
        // every number of workers.
        let mean = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
        values.sort_by(f64::total_cmp);
        MetricSummary {
            level: "sample",
            description: info.description.clone(),
            higher_is_better: info.higher_is_better,
            signature,
            count: Some(values.len() as u64),
            value: None,
            mean,
            min: values.first().copied(),
            max: values.last().copied(),
            p50: percentile(values, 0.5),
            p95: percentile(values, 0.95),
        }
    }

    /// A corpus-level value.
    pub fn corpus(info: &MetricInfo, signature: String, value: f64) -> Self {
        debug_assert_eq!(info.level, Level::Corpus);
        MetricSummary {
            level: "corpus",
            description: info.description.clone(),
            higher_is_better: info.higher_is_better,
            signature,
            count: None,
            value: Some(value),
            mean: None,
            min: None,
            max: None,
            p50: None,
            p95: None,
        }
    }
}

/// The `q` quantile of sorted values, interpolated linearly between the two
/// nearest ranks (numpy's default), so numbers agree with a notebook's.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = q * last as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

#[derive(Debug, Serialize)]
pub struct PluginSummary {
    /// The instance name results are keyed by.
    pub name: String,
    /// The name the plugin gives itself.
    pub plugin: String,
    pub version: String,
    pub description: String,
    pub kind: Kind,
    pub source: String,
    pub sha256: String,
    /// The WIT world it targets.
    pub contract: String,
    pub config: serde_json::Value,
    pub settings: BTreeMap<String, String>,
    pub signature: String,
    pub limits: Limits,
    /// Directories the plugin could read, as `HOST_DIR:GUEST_PATH`.
    pub grants: Vec<Grant>,
    pub fuel: FuelSummary,
}

#[derive(Debug, Serialize)]
pub struct FuelSummary {
    pub total: u64,
    pub mean_per_sample: f64,
    /// The largest per-sample average of any one call.
    pub max_per_sample: u64,
}

#[derive(Debug, Serialize)]
pub struct InputSummary {
    pub path: String,
    pub sha256: String,
    pub format: Format,
}

#[derive(Debug, Serialize)]
pub struct RunInfo {
    pub started_at: String,
    pub finished_at: String,
    pub jobs: usize,
    pub batch_size: usize,
    pub seed: u64,
    /// False when plugins were given the real clock.
    pub reproducible: bool,
}

/// A failure as written in result files.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorEntry {
    pub kind: &'static str,
    pub message: String,
}

impl From<&Failure> for ErrorEntry {
    fn from(failure: &Failure) -> Self {
        ErrorEntry { kind: failure.kind(), message: failure.to_string() }
    }
}

/// A file that appears under its name only when complete: it is written to
/// a temporary file in the same folder and renamed over the target, so a
/// crash leaves either the old file or the new one, never half of one.
pub struct AtomicFile {
    path: PathBuf,
    writer: BufWriter<tempfile::NamedTempFile>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> std::io::Result<AtomicFile> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let temp = tempfile::Builder::new().prefix(".assay-").tempfile_in(dir)?;
        Ok(AtomicFile { path: path.into(), writer: BufWriter::with_capacity(1 << 20, temp) })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> std::io::Result<()> {
        let temp = self.writer.into_inner().map_err(|e| e.into_error())?;
        temp.as_file().sync_all()?;
        temp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> std::io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    serde_json::to_writer_pretty(&mut file, value).map_err(std::io::Error::other)?;
    file.write_all(b"\n")?;
    file.commit()
}

/// A progress bar over the bytes of the file at `input`, drawn on stderr
/// only when it is a terminal, so logs and pipes stay clean.
pub fn progress_bar(enabled: bool, input: &Path) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let total = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta})")
            .expect("a valid template"),
    );
    bar
}

/// The table of metrics printed after a run.
pub fn metrics_table(summary: &Summary) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["metric", "value", "p50", "p95", "min", "max", "n"]);
    let number = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
    for (key, detail) in &summary.details {
        table.add_row([
            key.clone(),
            number(detail.value.or(detail.mean)),
            number(detail.p50),
            number(detail.p95),
            number(detail.min),
            number(detail.max),
            detail.count.map_or_else(|| "corpus".to_string(), |n| n.to_string()),
        ]);
    }
    align_right(&mut table, 1..7);
    table
}

/// Right-aligns the number columns of a table.
pub fn align_right(table: &mut comfy_table::Table, columns: std::ops::Range<usize>) {
    for column in columns {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let values = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&values, 0.5), Some(2.5));
        assert!((percentile(&values, 0.95).unwrap() - 3.85).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn atomic_files_appear_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"{}").unwrap();
        assert!(!path.exists());
        file.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        let file = AtomicFile::create(&path).unwrap();
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
    }
}
