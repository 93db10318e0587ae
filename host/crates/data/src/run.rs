//! A run folder read back: its summary, and its samples with the texts
//! they were scored on (evaluations) or the records not accepted with their
//! decisions (guard runs). `assay report` shows it; `assay review create`
//! picks what people review from it.
//!
//! The texts of the samples (input, output, references) come from the eval
//! set the summary names, read again and used only if its sha256 still
//! matches the one the run recorded; otherwise the samples carry scores
//! only and `records_note` says why. The run folders thus stay as they
//! are, and no one is shown texts the scores were not computed on.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::output::{
    DecisionLine, EvaluationSummary, GuardSummary, ReadError, Route, SampleLine, Summary, read_json, read_json_lines,
};
use crate::{DatasetError, FieldMap, Reader, eval_record};

/// Why a run folder cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{path}: {error}")]
    Records {
        path: PathBuf,
        #[source]
        error: DatasetError,
    },
    #[error("{dir}: not a run folder: no summary.json (run `assay run ... -o {dir}` first)")]
    NotARun { dir: PathBuf },
}

/// One run folder, as the page shows it.
#[derive(Debug, Serialize)]
pub struct RunData {
    /// The folder's name, to tell runs apart.
    pub name: String,
    pub dir: String,
    pub summary: Summary,
    /// Evaluation runs: `samples.jsonl`, each line with the record's texts
    /// added when the eval set could be read.
    pub samples: Vec<SampleView>,
    /// Why the texts are missing, when they are.
    pub records_note: Option<String>,
    /// Guard runs: the decisions of every record not accepted, each with the
    /// record as written to its output file.
    pub held: Vec<HeldRecord>,
}

/// A line of `samples.jsonl` with the texts it was computed on.
#[derive(Debug, Serialize)]
pub struct SampleView {
    #[serde(flatten)]
    pub line: SampleLine<'static>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub references: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// What the answer cost, where the eval set records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// How long the model took to answer a sample and how many tokens it read
/// and wrote: the eval set's `latency_ms`, `input_tokens` and
/// `output_tokens` fields (`assay generate` writes them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    pub latency_ms: Option<f64>,
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
}

impl Usage {
    /// From a record's other fields (a JSON object), if it has any of them.
    fn of(metadata: &str) -> Option<Usage> {
        let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(metadata).ok()?;
        let number = |name: &str| fields.get(name).and_then(serde_json::Value::as_f64);
        let usage = Usage {
            latency_ms: number("latency_ms"),
            input_tokens: number("input_tokens"),
            output_tokens: number("output_tokens"),
        };
        (usage != Usage::default()).then_some(usage)
    }
}

/// A line of `decisions.jsonl` with its record (in a report, only the
/// records not accepted are shown).
#[derive(Debug, Serialize)]
pub struct HeldRecord {
    #[serde(flatten)]
    pub decision: DecisionLine<'static>,
    /// The record as written to its route's file.
    pub record: Option<String>,
}

impl RunData {
    /// Reads a run folder; `fields` names the eval set's fields as the run
    /// did, and texts longer than `max_chars` characters are cut there.
    pub fn load(dir: &Path, fields: &FieldMap, max_chars: usize) -> Result<RunData, RunError> {
        let summary_path = dir.join("summary.json");
        if !summary_path.is_file() {
            return Err(RunError::NotARun { dir: dir.into() });
        }
        let summary: Summary = read_json(&summary_path)?;
        let name = run_name(dir);
        let (mut samples, mut records_note, mut held) = (Vec::new(), None, Vec::new());
        match &summary {
            Summary::Guard(guard_run) => held = held_records(dir, guard_run, max_chars)?,
            Summary::Evaluation(evaluation) => {
                let lines: Vec<SampleLine> = read_json_lines(&dir.join("samples.jsonl"))?;
                samples = lines
                    .into_iter()
                    .map(|line| SampleView {
                        line,
                        input: None,
                        output: None,
                        references: None,
                        label: None,
                        usage: None,
                    })
                    .collect();
                records_note = add_texts(dir, evaluation, fields, &mut samples, max_chars).err();
            }
        }
        Ok(RunData { name, dir: dir.display().to_string(), summary, samples, records_note, held })
    }
}

impl RunData {
    /// The first id two samples share, with the positions (from 1) of both
    /// in `samples.jsonl`: runs are joined by id, which such a run cannot be.
    pub fn duplicate_id(&self) -> Option<(String, usize, usize)> {
        let mut first = std::collections::HashMap::new();
        for (index, sample) in self.samples.iter().enumerate() {
            if let Some(earlier) = first.insert(sample.line.id.get(), index) {
                return Some((crate::output::samples::id_text(&sample.line.id), earlier + 1, index + 1));
            }
        }
        None
    }
}

/// A run folder's name, to tell runs apart: its last component, once
/// resolved (so `.` is named too).
pub fn run_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The eval set a summary names: as recorded (relative to where the run
/// was started), else relative to the run folder's parent.
pub fn eval_set_path(dir: &Path, recorded: &str) -> Option<PathBuf> {
    let recorded = Path::new(recorded);
    let candidates = [Some(recorded.to_path_buf()), dir.parent().map(|p| p.join(recorded))];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// Adds `input`, `output`, `references` and `label` to each sample from the
/// eval set, or says why it cannot.
fn add_texts(
    dir: &Path,
    summary: &EvaluationSummary,
    fields: &FieldMap,
    samples: &mut [SampleView],
    max_chars: usize,
) -> Result<(), String> {
    let recorded = &summary.input.path;
    let path = eval_set_path(dir, recorded)
        .ok_or_else(|| format!("the eval set {recorded} is not there any more; showing scores only"))?;
    let unreadable =
        |e: DatasetError| format!("the eval set {} cannot be read ({e}); showing scores only", path.display());
    let mut reader = Reader::open(&path, Some(summary.input.format)).map_err(unreadable)?;
    let mut texts = Vec::with_capacity(samples.len());
    while let Some(chunk) = reader.next_chunk(4096).map_err(unreadable)? {
        // Records the run skipped have no sample line, so they are left out here too.
        texts.extend(chunk.records.iter().filter_map(|r| eval_record(r, fields).ok()));
    }
    let sha256 = reader.finish().map_err(unreadable)?;
    if summary.input.sha256 != sha256 {
        return Err(format!(
            "the eval set {} changed since the run (its sha256 differs); showing scores only",
            path.display()
        ));
    }
    let ids_agree = texts.len() == samples.len()
        && texts.iter().zip(samples.iter()).all(|(t, s)| t.id_json.get() == s.line.id.get());
    if !ids_agree {
        return Err(format!(
            "the records of {} do not line up with samples.jsonl (was the run given --field options? pass the same to `assay report`); showing scores only",
            path.display()
        ));
    }
    for (record, sample) in texts.into_iter().zip(samples.iter_mut()) {
        let texts = &record.sample;
        let cut = |text: &str| clip(text, max_chars);
        sample.input = Some(cut(&texts.input));
        sample.output = Some(cut(&texts.output));
        sample.references = Some(texts.references.iter().map(|r| cut(r)).collect());
        sample.label = texts.label.as_deref().map(cut);
        sample.usage = Usage::of(&texts.metadata);
    }
    Ok(())
}

/// `text` cut after `max` characters, with an ellipsis when it was cut.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// The decisions of a guard run's records that were not accepted, each with
/// the record text from the output file of its route, cut at `max_chars`.
fn held_records(dir: &Path, summary: &GuardSummary, max_chars: usize) -> Result<Vec<HeldRecord>, RunError> {
    let mut held = routed_records(dir, summary, &[Route::Quarantine, Route::Reject])?;
    for record in &mut held {
        record.record = record.record.take().map(|r| clip(&r, max_chars));
    }
    Ok(held)
}

/// Every decision of a guard run on a record that went to one of `routes`,
/// in input order, each with the record exactly as written to its route's
/// file (records appear there in the order of their decisions).
pub fn routed_records(dir: &Path, summary: &GuardSummary, routes: &[Route]) -> Result<Vec<HeldRecord>, RunError> {
    let mut decisions: Vec<Option<DecisionLine>> =
        read_json_lines::<DecisionLine>(&dir.join("decisions.jsonl"))?.into_iter().map(Some).collect();
    let mut routed = Vec::new();
    for &route in routes {
        let records = match summary.outputs.get(route.file_stem()) {
            Some(file) => raw_records(&dir.join(file))?,
            None => Vec::new(),
        };
        let mut records = records.into_iter();
        for slot in decisions.iter_mut().filter(|d| d.as_ref().is_some_and(|d| d.decision == route)) {
            let decision = slot.take().expect("filtered on Some");
            routed.push(HeldRecord { decision, record: records.next() });
        }
    }
    routed.sort_by_key(|h| h.decision.line);
    Ok(routed)
}

/// Each record of a data file as text, exactly as written.
fn raw_records(path: &Path) -> Result<Vec<String>, RunError> {
    let records_error = |error| RunError::Records { path: path.into(), error };
    let mut reader = Reader::open(path, None).map_err(records_error)?;
    let mut records = Vec::new();
    while let Some(chunk) = reader.next_chunk(4096).map_err(records_error)? {
        records.extend(chunk.records.iter().map(|r| String::from_utf8_lossy(r.raw()).into_owned()));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_clipped_on_character_boundaries() {
        assert_eq!(clip("short", 10), "short");
        let long = "é".repeat(15);
        assert_eq!(clip(&long, 10).chars().count(), 11);
    }
}
