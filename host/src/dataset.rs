//! Reading eval sets and feedback sets: JSON Lines and CSV.
//!
//! Input is read in chunks of whole records so that parsing happens on the
//! worker threads, in parallel, while the main thread only splits lines and
//! hashes the bytes. Every record keeps its line number: each error names
//! `FILE:LINE`, and each record is accounted for in the output, as a result
//! or as a skipped or quarantined record with its reason.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
}

impl Format {
    /// The format a file's extension names.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            "tsv" => Some(Format::Tsv),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
        })
    }
}

/// Errors that stop reading altogether.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: cannot tell the format from the file name; name it .jsonl, .csv or .tsv, or pass --format")]
    UnknownFormat { path: PathBuf },
    #[error("{path}:{line}: {message}")]
    Csv { path: PathBuf, line: u64, message: String },
}

/// A record that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BadRecord {
    pub line: u64,
    pub message: String,
}

/// A run of whole records, in input order.
pub struct Chunk {
    /// Position of this chunk in the input, from 0.
    pub index: u64,
    /// Bytes of input the chunk covers (for progress).
    pub bytes: u64,
    pub records: Vec<RawRecord>,
}

/// One record as read, not yet interpreted.
pub struct RawRecord {
    /// 1-based line where the record starts.
    pub line: u64,
    pub body: Body,
}

pub enum Body {
    /// A JSON Lines record: the line's bytes, without the line ending.
    Json(Vec<u8>),
    /// A CSV row: its raw bytes and its fields (or why it could not be split).
    Row { raw: Vec<u8>, fields: Result<Vec<String>, String>, headers: Arc<Vec<String>> },
}

impl RawRecord {
    /// The record's bytes exactly as read, without the line ending.
    pub fn raw(&self) -> &[u8] {
        match &self.body {
            Body::Json(bytes) => bytes,
            Body::Row { raw, .. } => raw,
        }
    }

    /// The record's fields, in input order.
    pub fn fields(&self) -> Result<Fields<'_>, BadRecord> {
        let bad = |message: String| BadRecord { line: self.line, message };
        match &self.body {
            Body::Json(bytes) => parse_object(bytes).map_err(bad),
            Body::Row { fields, headers, .. } => {
                let fields = fields.as_ref().map_err(|e| bad(e.clone()))?;
                Ok(Fields(headers.iter().zip(fields).map(|(h, v)| (Cow::Borrowed(h.as_str()), Value::Text(v))).collect()))
            }
        }
    }
}

/// A record's fields, in input order.
pub struct Fields<'a>(pub Vec<(Cow<'a, str>, Value<'a>)>);

/// A field's value: JSON as written, or CSV text.
#[derive(Clone, Copy)]
pub enum Value<'a> {
    Json(&'a RawValue),
    Text(&'a str),
}

impl<'a> Fields<'a> {
    /// The value of field `name`, if present.
    pub fn get(&self, name: &str) -> Option<Value<'a>> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// A text field: strings as they are, numbers and booleans as written,
    /// `null` as absent. Objects and arrays are errors.
    pub fn text(&self, name: &str) -> Result<Option<String>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Text(text)) => Ok(Some(text.to_string())),
            Some(Value::Json(raw)) => json_scalar_text(raw).map_err(|found| format!("field \"{name}\": expected a string, found {found}")),
        }
    }

    /// A list of texts: a JSON array of strings, or one string (a CSV file
    /// gives several by repeating the column).
    pub fn texts(&self, name: &str) -> Result<Vec<String>, String> {
        let mut all = Vec::new();
        for (key, value) in &self.0 {
            if key != name {
                continue;
            }
            match value {
                Value::Text(text) => all.push(text.to_string()),
                Value::Json(raw) if raw.get().starts_with('[') => {
                    let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
                    for (i, item) in items.into_iter().enumerate() {
                        match json_scalar_text(item) {
                            Ok(Some(text)) if item.get().starts_with('"') => all.push(text),
                            Ok(found) => {
                                let found = match (found, item.get().as_bytes()[0]) {
                                    (None, _) => "null",
                                    (Some(_), b't' | b'f') => "a boolean",
                                    (Some(_), _) => "a number",
                                };
                                return Err(format!("field \"{name}\"[{i}]: expected a string, found {found}"));
                            }
                            Err(found) => return Err(format!("field \"{name}\"[{i}]: expected a string, found {found}")),
                        }
                    }
                }
                Value::Json(raw) => {
                    let text = json_scalar_text(raw).map_err(|found| format!("field \"{name}\": expected a string or a list of strings, found {found}"))?;
                    all.extend(text);
                }
            }
        }
        Ok(all)
    }

    /// The fields not named in `used`, as a JSON object's text.
    pub fn others_json(&self, used: &[&str]) -> String {
        let mut out = String::from("{");
        for (key, value) in self.0.iter().filter(|(k, _)| !used.contains(&k.as_ref())) {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(key.as_ref()).expect("a string serializes"));
            out.push(':');
            match value {
                Value::Json(raw) => out.push_str(raw.get()),
                Value::Text(text) => out.push_str(&serde_json::to_string(text).expect("a string serializes")),
            }
        }
        out.push('}');
        out
    }

    /// The JSON text of an id field as it should appear in output: strings
    /// and numbers as written, otherwise the line number.
    pub fn id_json(&self, name: &str, line: u64) -> Result<(String, String), String> {
        match self.get(name) {
            None => Ok((line.to_string(), line.to_string())),
            Some(Value::Text(text)) => Ok((text.to_string(), serde_json::to_string(text).expect("a string serializes"))),
            Some(Value::Json(raw)) => match json_scalar_text(raw) {
                Ok(None) => Ok((line.to_string(), line.to_string())),
                Ok(Some(text)) if !raw.get().starts_with('t') && !raw.get().starts_with('f') => Ok((text, raw.get().to_string())),
                Ok(Some(_)) | Err(_) => Err(format!("field \"{name}\": an id must be a string or a number")),
            },
        }
    }
}

fn json_scalar_text(raw: &RawValue) -> Result<Option<String>, &'static str> {
    let text = raw.get();
    match text.as_bytes().first() {
        // serde_json has already checked the raw value, so a string without
        // escapes is its own content: the common case skips a second parse.
        Some(b'"') if !text.contains('\\') => Ok(Some(text[1..text.len() - 1].to_string())),
        Some(b'"') => Ok(Some(serde_json::from_str::<String>(text).map_err(|_| "an invalid string")?)),
        Some(b'n') => Ok(None),
        Some(b'{') => Err("an object"),
        Some(b'[') => Err("a list"),
        _ => Ok(Some(text.to_string())),
    }
}

/// Parses one JSON Lines record into its fields without building a tree:
/// values stay as raw JSON text until a field is asked for.
fn parse_object(bytes: &[u8]) -> Result<Fields<'_>, String> {
    struct ObjectVisitor;
    impl<'de> Visitor<'de> for ObjectVisitor {
        type Value = Vec<(Cow<'de, str>, Value<'de>)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut fields: Self::Value = Vec::new();
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                let value: &'de RawValue = map.next_value()?;
                if fields.iter().any(|(k, _)| *k == key) {
                    return Err(serde::de::Error::custom(format_args!("field \"{key}\" appears twice")));
                }
                fields.push((key, Value::Json(value)));
            }
            Ok(fields)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let fields = de.deserialize_map(ObjectVisitor).and_then(|fields| de.end().map(|()| fields)).map_err(describe_json_error)?;
    Ok(Fields(fields))
}

/// serde_json's message, with its position as a column (the line is ours).
fn describe_json_error(error: serde_json::Error) -> String {
    let text = error.to_string();
    let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
    format!("invalid JSON at column {}: {message}", error.column())
}

/// Reads a data file chunk by chunk, hashing every byte.
pub struct Reader {
    path: PathBuf,
    format: Format,
    source: Source,
    next_index: u64,
}

enum Source {
    Lines { input: BufReader<HashingReader<File>>, line: u64 },
    Table { input: csv::Reader<HashingReader<File>>, headers: Arc<Vec<String>>, last_offset: u64, raw: Vec<u8> },
}

impl Reader {
    /// Opens `path`, in `format` or the one its extension names.
    pub fn open(path: &Path, format: Option<Format>) -> Result<Reader, DatasetError> {
        let format = format.or_else(|| Format::from_path(path)).ok_or_else(|| DatasetError::UnknownFormat { path: path.into() })?;
        let io = |error| DatasetError::Io { path: path.into(), error };
        let keep = format != Format::Jsonl;
        let file = HashingReader::new(File::open(path).map_err(io)?, keep);
        let source = match format {
            Format::Jsonl => Source::Lines { input: BufReader::with_capacity(1 << 20, file), line: 0 },
            Format::Csv | Format::Tsv => {
                let mut input = csv::ReaderBuilder::new()
                    .delimiter(if format == Format::Tsv { b'\t' } else { b',' })
                    .flexible(true)
                    .from_reader(file);
                let headers = input.headers().map_err(|e| csv_error(path, &e))?.iter().map(str::to_string).collect();
                let last_offset = input.position().byte();
                Source::Table { input, headers: Arc::new(headers), last_offset, raw: Vec::new() }
            }
        };
        Ok(Reader { path: path.into(), format, source, next_index: 0 })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Up to `max_records` records, or `None` at the end.
    pub fn next_chunk(&mut self, max_records: usize) -> Result<Option<Chunk>, DatasetError> {
        let path = &self.path;
        let mut records = Vec::with_capacity(max_records);
        let mut bytes = 0u64;
        match &mut self.source {
            Source::Lines { input, line } => {
                let mut buffer = Vec::new();
                while records.len() < max_records {
                    buffer.clear();
                    let n = input.read_until(b'\n', &mut buffer).map_err(|error| DatasetError::Io { path: path.clone(), error })?;
                    if n == 0 {
                        break;
                    }
                    *line += 1;
                    bytes += n as u64;
                    let mut text = buffer.as_slice();
                    if *line == 1 {
                        text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
                    }
                    let text = text.strip_suffix(b"\n").unwrap_or(text);
                    let text = text.strip_suffix(b"\r").unwrap_or(text);
                    // Blank lines separate nothing and hold no record.
                    if text.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    records.push(RawRecord { line: *line, body: Body::Json(text.to_vec()) });
                }
            }
            Source::Table { input, headers, last_offset, raw } => {
                let mut row = csv::StringRecord::new();
                while records.len() < max_records {
                    let start_line = input.position().line();
                    let fields = match input.read_record(&mut row) {
                        Ok(false) => break,
                        Ok(true) if row.len() != headers.len() => Err(format!(
                            "the row has {} fields, but the header has {}",
                            row.len(),
                            headers.len()
                        )),
                        Ok(true) => Ok(row.iter().map(str::to_string).collect()),
                        Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => Err("the row is not valid UTF-8".to_string()),
                        Err(e) => return Err(csv_error(path, &e)),
                    };
                    let line = row.position().map_or(start_line, |p| p.line());
                    let offset = input.position().byte();
                    // The raw bytes of the row are recovered from the bytes
                    // the hashing reader saw, so outputs can carry the input
                    // record unchanged.
                    input.get_mut().take_since(*last_offset, offset, raw);
                    bytes += offset - *last_offset;
                    *last_offset = offset;
                    let text = raw.strip_suffix(b"\n").unwrap_or(raw);
                    let text = text.strip_suffix(b"\r").unwrap_or(text).to_vec();
                    records.push(RawRecord { line, body: Body::Row { raw: text, fields, headers: headers.clone() } });
                }
            }
        }
        if records.is_empty() {
            return Ok(None);
        }
        let index = self.next_index;
        self.next_index += 1;
        Ok(Some(Chunk { index, bytes, records }))
    }

    /// The header row of a CSV or TSV file.
    pub fn headers(&self) -> Option<&[String]> {
        match &self.source {
            Source::Table { headers, .. } => Some(headers),
            Source::Lines { .. } => None,
        }
    }

    /// The sha256 of the whole file; call after the last chunk.
    pub fn finish(mut self) -> Result<String, DatasetError> {
        let hashing = match &mut self.source {
            Source::Lines { input, .. } => {
                // Read whatever follows the last record so the digest covers
                // the whole file.
                std::io::copy(input, &mut std::io::sink()).map_err(|error| DatasetError::Io { path: self.path.clone(), error })?;
                input.get_mut()
            }
            Source::Table { input, .. } => {
                let inner = input.get_mut();
                std::io::copy(inner, &mut std::io::sink()).map_err(|error| DatasetError::Io { path: self.path.clone(), error })?;
                inner
            }
        };
        Ok(crate::plugin::hex(&std::mem::take(&mut hashing.hasher).finalize()))
    }
}

fn csv_error(path: &Path, error: &csv::Error) -> DatasetError {
    let line = error.position().map_or(0, |p| p.line());
    DatasetError::Csv { path: path.into(), line, message: error.to_string() }
}

/// A reader that hashes what passes through it and, for CSV, keeps the bytes
/// not yet claimed by a record.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    /// Bytes read but not yet assigned to a record, starting at `kept_from`.
    kept: Vec<u8>,
    kept_from: u64,
    keep: bool,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R, keep: bool) -> Self {
        HashingReader { inner, hasher: Sha256::new(), kept: Vec::new(), kept_from: 0, keep }
    }

    /// Moves the bytes at offsets `from..to` into `out`, dropping anything before.
    fn take_since(&mut self, from: u64, to: u64, out: &mut Vec<u8>) {
        let start = (from - self.kept_from) as usize;
        let end = (to - self.kept_from) as usize;
        out.clear();
        out.extend_from_slice(&self.kept[start..end.min(self.kept.len())]);
        self.kept.drain(..end.min(self.kept.len()));
        self.kept_from = to;
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if self.keep {
            self.kept.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

/// Where the canonical fields of a record are found.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FieldMap {
    pub id: String,
    pub input: String,
    pub output: String,
    pub reference: String,
    pub label: String,
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap {
            id: "id".into(),
            input: "input".into(),
            output: "output".into(),
            reference: "reference".into(),
            label: "label".into(),
        }
    }
}

impl FieldMap {
    /// Applies `canonical=source` overrides, as given to `--field`.
    pub fn set(&mut self, canonical: &str, source: &str) -> Result<(), String> {
        let slot = match canonical {
            "id" => &mut self.id,
            "input" => &mut self.input,
            "output" => &mut self.output,
            "reference" | "references" => &mut self.reference,
            "label" => &mut self.label,
            other => return Err(format!("unknown field {other:?}: the fields are id, input, output, reference, label")),
        };
        *slot = source.to_string();
        Ok(())
    }
}

/// A sample ready for evaluators, and the JSON text of its id.
#[derive(Debug)]
pub struct EvalRecord {
    pub sample: crate::plugin::Sample,
    pub id_json: String,
}

/// Interprets a raw record as an eval-set sample.
pub fn eval_record(record: &RawRecord, map: &FieldMap) -> Result<EvalRecord, BadRecord> {
    let fields = record.fields()?;
    let bad = |message: String| BadRecord { line: record.line, message };
    let (id, id_json) = fields.id_json(&map.id, record.line).map_err(bad)?;
    let output = fields.text(&map.output).map_err(bad)?.ok_or_else(|| {
        bad(format!("missing field \"{}\" (the model's answer; map another field with --field output=NAME)", map.output))
    })?;
    let input = fields.text(&map.input).map_err(bad)?.unwrap_or_default();
    let references = fields.texts(&map.reference).map_err(bad)?;
    let label = fields.text(&map.label).map_err(bad)?;
    let used = [map.id.as_str(), &map.input, &map.output, &map.reference, &map.label];
    let metadata = fields.others_json(&used);
    Ok(EvalRecord { sample: crate::plugin::Sample { id, input, output, references, label, metadata }, id_json })
}

/// Where the canonical fields of a feedback record are found.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedbackFieldMap {
    pub id: String,
    pub user: String,
    pub timestamp: String,
    pub prompt: String,
    pub output: String,
    pub rating: String,
    pub correction: String,
    pub comment: String,
}

impl Default for FeedbackFieldMap {
    fn default() -> Self {
        FeedbackFieldMap {
            id: "id".into(),
            user: "user".into(),
            timestamp: "timestamp".into(),
            prompt: "prompt".into(),
            output: "output".into(),
            rating: "rating".into(),
            correction: "correction".into(),
            comment: "comment".into(),
        }
    }
}

impl FeedbackFieldMap {
    /// Applies `canonical=source` overrides, as given to `--field`.
    pub fn set(&mut self, canonical: &str, source: &str) -> Result<(), String> {
        let slot = match canonical {
            "id" => &mut self.id,
            "user" => &mut self.user,
            "timestamp" => &mut self.timestamp,
            "prompt" => &mut self.prompt,
            "output" => &mut self.output,
            "rating" => &mut self.rating,
            "correction" => &mut self.correction,
            "comment" => &mut self.comment,
            other => {
                return Err(format!(
                    "unknown field {other:?}: the fields are id, user, timestamp, prompt, output, rating, correction, comment"
                ));
            }
        };
        *slot = source.to_string();
        Ok(())
    }
}

/// A feedback record ready for guards, and the JSON text of its id.
#[derive(Debug)]
pub struct FeedbackRecord {
    pub feedback: crate::plugin::Feedback,
    pub id_json: String,
}

/// Interprets a raw record as a feedback record.
pub fn feedback_record(record: &RawRecord, map: &FeedbackFieldMap) -> Result<FeedbackRecord, BadRecord> {
    let fields = record.fields()?;
    let bad = |message: String| BadRecord { line: record.line, message };
    let (id, id_json) = fields.id_json(&map.id, record.line).map_err(bad)?;
    // A CSV file cannot leave a column out of one row, so an empty optional
    // field means "not given", in JSON too, for the same record to mean the
    // same thing in both formats.
    let optional = |name: &str| fields.text(name).map(|t| t.filter(|t| !t.is_empty()));
    let timestamp = match fields.get(&map.timestamp) {
        None => None,
        Some(value) => instant(value).map_err(|e| bad(format!("field \"{}\": {e}", map.timestamp)))?,
    };
    let rating = match fields.get(&map.rating) {
        None => None,
        Some(value) => rating(value).map_err(|e| bad(format!("field \"{}\": {e}", map.rating)))?,
    };
    let feedback = crate::plugin::Feedback {
        id,
        user: fields.text(&map.user).map_err(bad)?.unwrap_or_default(),
        timestamp,
        prompt: fields.text(&map.prompt).map_err(bad)?.unwrap_or_default(),
        output: fields.text(&map.output).map_err(bad)?.unwrap_or_default(),
        rating,
        correction: optional(&map.correction).map_err(bad)?,
        comment: optional(&map.comment).map_err(bad)?,
        metadata: fields.others_json(&[&map.id, &map.user, &map.timestamp, &map.prompt, &map.output, &map.rating, &map.correction, &map.comment]),
    };
    Ok(FeedbackRecord { feedback, id_json })
}

/// A scalar field as text; `None` for null and empty text.
fn scalar(value: Value<'_>) -> Result<Option<String>, String> {
    let text = match value {
        Value::Text(text) => text.to_string(),
        Value::Json(raw) => match json_scalar_text(raw).map_err(|found| format!("expected a string or a number, found {found}"))? {
            None => return Ok(None),
            Some(text) => text,
        },
    };
    Ok((!text.is_empty()).then_some(text))
}

/// An RFC 3339 timestamp, or Unix seconds (fractions allowed).
fn instant(value: Value<'_>) -> Result<Option<crate::plugin::Instant>, String> {
    let Some(text) = scalar(value)? else { return Ok(None) };
    let timestamp = match text.parse::<f64>() {
        Ok(seconds) => jiff::Timestamp::from_nanosecond((seconds * 1e9).round() as i128).map_err(|e| format!("{text}: {e}"))?,
        Err(_) => text
            .parse::<jiff::Timestamp>()
            .map_err(|e| format!("expected an RFC 3339 timestamp or Unix seconds, found {text:?} ({e})"))?,
    };
    // The WIT instant counts whole seconds down, so its nanoseconds are never negative.
    let nanos = timestamp.as_nanosecond();
    Ok(Some(crate::plugin::Instant { seconds: nanos.div_euclid(1_000_000_000) as i64, nanoseconds: nanos.rem_euclid(1_000_000_000) as u32 }))
}

/// `up`/`thumbs_up`/`true`, `down`/`thumbs_down`/`false`, or a number.
fn rating(value: Value<'_>) -> Result<Option<crate::plugin::Rating>, String> {
    use crate::plugin::Rating;
    let Some(text) = scalar(value)? else { return Ok(None) };
    Ok(Some(match text.to_ascii_lowercase().as_str() {
        "up" | "thumbs_up" | "true" => Rating::Up,
        "down" | "thumbs_down" | "false" => Rating::Down,
        other => match other.parse::<f64>() {
            Ok(score) if score.is_finite() => Rating::Score(score),
            _ => return Err(format!("expected \"up\", \"down\", true, false or a number, found {text:?}")),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(name: &str, content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::File::create(&path).unwrap().write_all(content.as_bytes()).unwrap();
        (dir, path)
    }

    fn all(reader: &mut Reader) -> Vec<RawRecord> {
        let mut out = Vec::new();
        while let Some(chunk) = reader.next_chunk(2).unwrap() {
            out.extend(chunk.records);
        }
        out
    }

    #[test]
    fn jsonl_records_keep_line_numbers_and_skip_blank_lines() {
        let (_dir, path) = write("a.jsonl", "{\"output\":\"x\"}\n\n{\"output\":\"y\", \"id\": 7}\r\n{\"output\":3}");
        let mut reader = Reader::open(&path, None).unwrap();
        let records = all(&mut reader);
        assert_eq!(records.iter().map(|r| r.line).collect::<Vec<_>>(), vec![1, 3, 4]);
        let map = FieldMap::default();
        let first = eval_record(&records[0], &map).unwrap();
        assert_eq!((first.sample.id.as_str(), first.id_json.as_str()), ("1", "1"));
        let second = eval_record(&records[1], &map).unwrap();
        assert_eq!((second.sample.id.as_str(), second.id_json.as_str()), ("7", "7"));
        assert_eq!(eval_record(&records[2], &map).unwrap().sample.output, "3");
        let digest = reader.finish().unwrap();
        assert_eq!(digest, crate::plugin::hex(&Sha256::digest(std::fs::read(&path).unwrap())));
    }

    #[test]
    fn bad_json_and_bad_fields_name_the_problem() {
        let (_dir, path) = write("b.jsonl", "{\"output\": \n{\"output\": {\"a\":1}}\n{\"input\":\"q\"}\n{\"output\":\"a\",\"output\":\"b\"}\n");
        let records = all(&mut Reader::open(&path, None).unwrap());
        let map = FieldMap::default();
        let errors: Vec<BadRecord> = records.iter().map(|r| eval_record(r, &map).err().unwrap()).collect();
        assert_eq!(errors[0].line, 1);
        assert!(errors[0].message.starts_with("invalid JSON at column"), "{}", errors[0].message);
        assert_eq!(errors[1].message, "field \"output\": expected a string, found an object");
        assert!(errors[2].message.starts_with("missing field \"output\""));
        assert!(errors[3].message.contains("appears twice"), "{}", errors[3].message);
    }

    #[test]
    fn references_metadata_and_field_mapping() {
        let (_dir, path) = write(
            "c.jsonl",
            "{\"id\":\"q1\",\"prediction\":\"a\",\"reference\":[\"a\",\"b\"],\"label\":1,\"topic\":{\"x\":[1]}}\n",
        );
        let records = all(&mut Reader::open(&path, None).unwrap());
        let mut map = FieldMap::default();
        map.set("output", "prediction").unwrap();
        let record = eval_record(&records[0], &map).unwrap();
        assert_eq!(record.id_json, "\"q1\"");
        assert_eq!(record.sample.references, vec!["a", "b"]);
        assert_eq!(record.sample.label.as_deref(), Some("1"));
        assert_eq!(record.sample.metadata, "{\"topic\":{\"x\":[1]}}");
        assert!(map.set("outptu", "x").is_err());
        let (_dir, path) = write("f.jsonl", "{\"output\":\"a\",\"reference\":[\"x\\u00e9\",2]}\n");
        let records = all(&mut Reader::open(&path, None).unwrap());
        let message = eval_record(&records[0], &FieldMap::default()).unwrap_err().message;
        assert_eq!(message, "field \"reference\"[1]: expected a string, found a number");
    }

    #[test]
    fn csv_rows_keep_raw_bytes_lines_and_repeated_reference_columns() {
        let (_dir, path) = write("d.csv", "id,output,reference,reference\n1,\"a, b\",x,y\n2,\"multi\nline\",z,w\n3,short\n");
        let mut reader = Reader::open(&path, None).unwrap();
        let records = all(&mut reader);
        assert_eq!(records.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 3, 5]);
        assert_eq!(records[0].raw(), b"1,\"a, b\",x,y");
        assert_eq!(records[1].raw(), b"2,\"multi\nline\",z,w");
        let map = FieldMap::default();
        let first = eval_record(&records[0], &map).unwrap();
        assert_eq!(first.sample.output, "a, b");
        assert_eq!(first.sample.references, vec!["x", "y"]);
        assert!(eval_record(&records[2], &map).unwrap_err().message.contains("has 2 fields"));
        reader.finish().unwrap();
    }

    #[test]
    fn feedback_fields_timestamps_ratings_and_metadata() {
        let (_dir, path) = write(
            "f.jsonl",
            concat!(
                "{\"id\":\"a\",\"user\":\"u1\",\"timestamp\":\"2024-05-06T08:00:00.25Z\",\"rating\":\"thumbs_up\",\"correction\":\"\",\"channel\":\"web\"}\n",
                "{\"timestamp\":-1.5,\"rating\":false,\"comment\":\"hi\"}\n",
                "{\"rating\":4.5}\n",
                "{\"rating\":\"meh\"}\n",
                "{\"timestamp\":\"yesterday\"}\n",
            ),
        );
        let records = all(&mut Reader::open(&path, None).unwrap());
        let map = FeedbackFieldMap::default();
        let first = feedback_record(&records[0], &map).unwrap();
        assert_eq!(first.id_json, "\"a\"");
        let at = first.feedback.timestamp.unwrap();
        assert_eq!((at.seconds, at.nanoseconds), (1_714_982_400, 250_000_000));
        assert!(matches!(first.feedback.rating, Some(crate::plugin::Rating::Up)));
        assert_eq!(first.feedback.correction, None, "an empty field is absent");
        assert_eq!(first.feedback.metadata, "{\"channel\":\"web\"}");
        let second = feedback_record(&records[1], &map).unwrap();
        let at = second.feedback.timestamp.unwrap();
        assert_eq!((at.seconds, at.nanoseconds), (-2, 500_000_000), "nanoseconds count up from the second below");
        assert!(matches!(second.feedback.rating, Some(crate::plugin::Rating::Down)));
        assert_eq!((second.id_json.as_str(), second.feedback.comment.as_deref()), ("2", Some("hi")));
        assert!(matches!(feedback_record(&records[2], &map).unwrap().feedback.rating, Some(crate::plugin::Rating::Score(4.5))));
        assert!(feedback_record(&records[3], &map).unwrap_err().message.starts_with("field \"rating\": expected \"up\""));
        assert!(feedback_record(&records[4], &map).unwrap_err().message.contains("RFC 3339"));
        let mut map = FeedbackFieldMap::default();
        assert!(map.set("author", "x").is_err());
    }

    #[test]
    fn unknown_extension_is_an_error() {
        let (_dir, path) = write("e.txt", "{}");
        assert!(matches!(Reader::open(&path, None), Err(DatasetError::UnknownFormat { .. })));
        assert!(Reader::open(&path, Some(Format::Jsonl)).is_ok());
    }
}
