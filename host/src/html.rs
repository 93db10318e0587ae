//! `assay report`: one self-contained HTML file over one or more run
//! folders.
//!
//! The page is a static shell, the runs as JSON, and a script that draws
//! tables and SVG charts from them. Nothing is fetched: the script and style
//! are inline and allowed by their hashes in a Content-Security-Policy whose
//! default is `'none'`, so the file works offline and, if anything ever
//! tried to load a resource, the browser would refuse.
//!
//! The texts of the samples (input, output, references) come from the eval
//! set the summary names, read again and used only if its sha256 still
//! matches the one the run recorded; otherwise the report shows scores only
//! and says why. The run folders thus stay as they are, and a report never
//! shows texts the scores were not computed on.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::dataset::{DatasetError, FieldMap, Reader, eval_record};

/// Longest text kept per field, so a report over long documents stays a
/// file a browser opens quickly.
const MAX_TEXT_CHARS: usize = 2000;

const SCRIPT: &str = include_str!("html/report.js");
const STYLE: &str = include_str!("html/report.css");

/// Why a run folder cannot be reported on.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Json { path: PathBuf, line: usize, message: String },
    #[error("{dir}: not a run folder: no summary.json (run `assay run ... -o {dir}` first)")]
    NotARun { dir: PathBuf },
}

/// One run folder, as the page shows it.
#[derive(Debug, Serialize)]
pub struct RunData {
    /// The folder's name, to tell runs apart.
    pub name: String,
    pub dir: String,
    pub summary: Value,
    /// Evaluation runs: `samples.jsonl`, each line with the record's texts
    /// added when the eval set could be read.
    pub samples: Vec<Value>,
    /// Why the texts are missing, when they are.
    pub records_note: Option<String>,
    /// Guard runs: the decisions of every record not accepted, each with the
    /// record as written to its output file.
    pub held: Vec<Value>,
}

impl RunData {
    /// Reads a run folder; `fields` names the eval set's fields as the run did.
    pub fn load(dir: &Path, fields: &FieldMap) -> Result<RunData, ReportError> {
        let summary_path = dir.join("summary.json");
        if !summary_path.is_file() {
            return Err(ReportError::NotARun { dir: dir.into() });
        }
        let summary: Value = read_json(&summary_path)?;
        let name = dir.canonicalize().ok().as_deref().unwrap_or(dir).file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
        let mut run = RunData { name, dir: dir.display().to_string(), samples: Vec::new(), records_note: None, held: Vec::new(), summary };
        if run.summary["kind"] == "guard" {
            run.held = held_records(dir, &run.summary)?;
        } else {
            run.samples = read_jsonl(&dir.join("samples.jsonl"))?;
            run.records_note = add_texts(dir, &run.summary, fields, &mut run.samples).err();
        }
        Ok(run)
    }
}

fn read_json(path: &Path) -> Result<Value, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|error| ReportError::Read { path: path.into(), error })?;
    serde_json::from_str(&text).map_err(|e| ReportError::Json { path: path.into(), line: e.line(), message: e.to_string() })
}

fn read_jsonl(path: &Path) -> Result<Vec<Value>, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|error| ReportError::Read { path: path.into(), error })?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).map_err(|e| ReportError::Json { path: path.into(), line: i + 1, message: e.to_string() }))
        .collect()
}

/// The eval set a summary names: as recorded (relative to where the run
/// was started), else relative to the run folder's parent.
fn eval_set_path(dir: &Path, recorded: &str) -> Option<PathBuf> {
    let recorded = Path::new(recorded);
    let candidates = [Some(recorded.to_path_buf()), dir.parent().map(|p| p.join(recorded))];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// Adds `input`, `output`, `references` and `label` to each sample from the
/// eval set, or says why it cannot.
fn add_texts(dir: &Path, summary: &Value, fields: &FieldMap, samples: &mut [Value]) -> Result<(), String> {
    let recorded = summary["input"]["path"].as_str().ok_or("the summary names no eval set")?;
    let path = eval_set_path(dir, recorded).ok_or_else(|| format!("the eval set {recorded} is not there any more; showing scores only"))?;
    let format = serde_json::from_value(summary["input"]["format"].clone()).ok();
    let unreadable = |e: DatasetError| format!("the eval set {} cannot be read ({e}); showing scores only", path.display());
    let mut reader = Reader::open(&path, format).map_err(unreadable)?;
    let mut texts = Vec::with_capacity(samples.len());
    while let Some(chunk) = reader.next_chunk(4096).map_err(unreadable)? {
        // Records the run skipped have no sample line, so they are left out here too.
        texts.extend(chunk.records.iter().filter_map(|r| eval_record(r, fields).ok()));
    }
    let sha256 = reader.finish().map_err(unreadable)?;
    if summary["input"]["sha256"].as_str() != Some(sha256.as_str()) {
        return Err(format!("the eval set {} changed since the run (its sha256 differs); showing scores only", path.display()));
    }
    let ids_agree = texts.len() == samples.len()
        && texts.iter().zip(samples.iter()).all(|(t, s)| serde_json::from_str::<Value>(&t.id_json).ok().as_ref() == Some(&s["id"]));
    if !ids_agree {
        return Err(format!(
            "the records of {} do not line up with samples.jsonl (was the run given --field options? pass the same to `assay report`); showing scores only",
            path.display()
        ));
    }
    for (record, sample) in texts.into_iter().zip(samples.iter_mut()) {
        let sample_texts = &record.sample;
        sample["input"] = clip(&sample_texts.input).into();
        sample["output"] = clip(&sample_texts.output).into();
        sample["references"] = sample_texts.references.iter().map(|r| clip(r)).collect::<Vec<_>>().into();
        if let Some(label) = &sample_texts.label {
            sample["label"] = clip(label).into();
        }
    }
    Ok(())
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// The decisions of a guard run's records that were not accepted, each with
/// the record text from the output file of its route (records appear there
/// in the order of their decisions).
fn held_records(dir: &Path, summary: &Value) -> Result<Vec<Value>, ReportError> {
    let decisions = read_jsonl(&dir.join("decisions.jsonl"))?;
    let mut held = Vec::new();
    for (route, decision) in [("quarantined", "quarantine"), ("rejected", "reject")] {
        let records = summary["outputs"][route].as_str().map_or_else(|| Ok(Vec::new()), |file| raw_records(&dir.join(file)))?;
        let mut records = records.into_iter();
        for entry in decisions.iter().filter(|d| d["decision"] == decision) {
            let mut entry = entry.clone();
            entry["record"] = records.next().map_or(Value::Null, |r| clip(&r).into());
            held.push(entry);
        }
    }
    held.sort_by_key(|d| d["line"].as_u64());
    Ok(held)
}

/// Each record of a data file as text, exactly as written.
fn raw_records(path: &Path) -> Result<Vec<String>, ReportError> {
    let io = |e: DatasetError| ReportError::Read { path: path.into(), error: std::io::Error::other(e.to_string()) };
    let mut reader = Reader::open(path, None).map_err(io)?;
    let mut records = Vec::new();
    while let Some(chunk) = reader.next_chunk(4096).map_err(io)? {
        records.extend(chunk.records.iter().map(|r| String::from_utf8_lossy(r.raw()).into_owned()));
    }
    Ok(records)
}

/// The whole page.
pub fn render(runs: &[RunData]) -> String {
    #[derive(Serialize)]
    struct Page<'a> {
        generator: String,
        runs: &'a [RunData],
    }
    let data = serde_json::to_string(&Page { generator: format!("assay {}", env!("CARGO_PKG_VERSION")), runs }).expect("values serialize");
    // `<` only occurs inside JSON strings, where \u003c means the same, so
    // no text can close the script element early.
    let data = data.replace('<', "\\u003c");
    let csp = format!("default-src 'none'; script-src '{}'; style-src '{}'; img-src data:; base-uri 'none'; form-action 'none'", hash(SCRIPT), hash(STYLE));
    let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    let title = escape(&format!("assay report: {}", names.join(" vs ")));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <noscript>This report draws its tables and charts with JavaScript; the data is in the script element below.</noscript>\n\
         <main id=\"app\"></main>\n\
         <script type=\"application/json\" id=\"assay-data\">{data}</script>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
}

/// A CSP source for an inline element's exact text.
fn hash(text: &str) -> String {
    use base64_engine::encode;
    format!("sha256-{}", encode(&Sha256::digest(text.as_bytes())))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Standard base64, the one CSP hashes are written in; too small a need
/// for a crate of its own.
mod base64_engine {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let n = (u32::from(chunk[0]) << 16) | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8) | u32::from(*chunk.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_vectors() {
        for (plain, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64_engine::encode(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn the_page_allows_only_its_own_script_and_style_and_cannot_be_closed_by_data() {
        let run = RunData {
            name: "r".into(),
            dir: "r".into(),
            summary: serde_json::json!({"kind": "evaluation"}),
            samples: vec![serde_json::json!({"id": "</script><script>alert(1)</script>"})],
            records_note: None,
            held: Vec::new(),
        };
        let page = render(&[run]);
        assert!(page.contains(&format!("script-src '{}'", hash(SCRIPT))));
        assert!(page.contains("default-src 'none'"));
        assert_eq!(page.matches("</script>").count(), 2, "only the page's own script elements close");
        assert!(!page.contains("http://") && !page.contains("https://"), "no address to fetch from");
    }

    #[test]
    fn texts_are_clipped_on_character_boundaries() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(MAX_TEXT_CHARS + 5);
        assert_eq!(clip(&long).chars().count(), MAX_TEXT_CHARS + 1);
    }
}
