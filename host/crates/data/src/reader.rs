//! Reading eval sets and feedback sets: JSON Lines and CSV.
//!
//! Input is read in chunks of whole records so that parsing happens on the
//! worker threads, in parallel, while one thread only splits lines and
//! hashes the bytes. Every record keeps its line number: each error names
//! `FILE:LINE`, and each record is accounted for in the output, as a result
//! or as a skipped or quarantined record with its reason.
//!
//! A file is one [`RecordSource`]; records that arrive some other way (a
//! request body, a shard handed over by a scheduler) are another, so the
//! pipelines never need to know where records come from.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use assay_runtime::Digest;
use sha2::{Digest as _, Sha256};

use crate::fields::{Fields, Value, parse_object};

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 3] = [Format::Jsonl, Format::Csv, Format::Tsv];
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.to_string() == text)
            .ok_or_else(|| format!("unknown format {text:?}: use jsonl, csv or tsv"))
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
    Io {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{path}: cannot tell the format from the file name; name it .jsonl, .csv or .tsv, or pass --format")]
    UnknownFormat { path: PathBuf },
    #[error("{path}:{line}: {message}")]
    Csv { path: PathBuf, line: u64, message: String },
}

/// A record that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
                Ok(Fields(
                    headers.iter().zip(fields).map(|(h, v)| (Cow::Borrowed(h.as_str()), Value::Text(v))).collect(),
                ))
            }
        }
    }
}

/// Reads a data file chunk by chunk, hashing every byte.
pub struct Reader {
    path: PathBuf,
    format: Format,
    input: Input,
    next_index: u64,
}

enum Input {
    Lines { input: BufReader<HashingReader<File>>, line: u64 },
    Table { input: csv::Reader<HashingReader<File>>, headers: Arc<Vec<String>>, last_offset: u64, raw: Vec<u8> },
}

impl Reader {
    /// Opens `path`, in `format` or the one its extension names.
    pub fn open(path: &Path, format: Option<Format>) -> Result<Reader, DatasetError> {
        let format = format
            .or_else(|| Format::from_path(path))
            .ok_or_else(|| DatasetError::UnknownFormat { path: path.into() })?;
        let io = |error| DatasetError::Io { path: path.into(), error };
        let keep = format != Format::Jsonl;
        let file = HashingReader::new(File::open(path).map_err(io)?, keep);
        let input = match format {
            Format::Jsonl => Input::Lines { input: BufReader::with_capacity(1 << 20, file), line: 0 },
            Format::Csv | Format::Tsv => {
                let mut input = csv::ReaderBuilder::new()
                    .delimiter(if format == Format::Tsv { b'\t' } else { b',' })
                    .flexible(true)
                    .from_reader(file);
                let headers = input.headers().map_err(|e| csv_error(path, &e))?.iter().map(str::to_string).collect();
                let last_offset = input.position().byte();
                Input::Table { input, headers: Arc::new(headers), last_offset, raw: Vec::new() }
            }
        };
        Ok(Reader { path: path.into(), format, input, next_index: 0 })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Up to `max_records` records, or `None` at the end.
    pub fn next_chunk(&mut self, max_records: usize) -> Result<Option<Chunk>, DatasetError> {
        let path = &self.path;
        let mut records = Vec::with_capacity(max_records);
        let mut bytes = 0u64;
        match &mut self.input {
            Input::Lines { input, line } => {
                let mut buffer = Vec::new();
                while records.len() < max_records {
                    buffer.clear();
                    let n = input
                        .read_until(b'\n', &mut buffer)
                        .map_err(|error| DatasetError::Io { path: path.clone(), error })?;
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
            Input::Table { input, headers, last_offset, raw } => {
                let mut row = csv::StringRecord::new();
                while records.len() < max_records {
                    let start_line = input.position().line();
                    let fields = match input.read_record(&mut row) {
                        Ok(false) => break,
                        Ok(true) if row.len() != headers.len() => {
                            Err(format!("the row has {} fields, but the header has {}", row.len(), headers.len()))
                        }
                        Ok(true) => Ok(row.iter().map(str::to_string).collect()),
                        Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
                            Err("the row is not valid UTF-8".to_string())
                        }
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
        match &self.input {
            Input::Table { headers, .. } => Some(headers),
            Input::Lines { .. } => None,
        }
    }

    /// The sha256 of the whole file; call after the last chunk.
    pub fn finish(mut self) -> Result<Digest, DatasetError> {
        let hashing = match &mut self.input {
            Input::Lines { input, .. } => {
                // Read whatever follows the last record so the digest covers
                // the whole file.
                std::io::copy(input, &mut std::io::sink())
                    .map_err(|error| DatasetError::Io { path: self.path.clone(), error })?;
                input.get_mut()
            }
            Input::Table { input, .. } => {
                let inner = input.get_mut();
                std::io::copy(inner, &mut std::io::sink())
                    .map_err(|error| DatasetError::Io { path: self.path.clone(), error })?;
                inner
            }
        };
        Ok(Digest::from_hasher(std::mem::take(&mut hashing.hasher)))
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

/// Where the pipelines take records from, chunk by chunk, in input order.
pub trait RecordSource: Send {
    /// Up to `max_records` records, or `None` at the end.
    fn next_chunk(&mut self, max_records: usize) -> Result<Option<Chunk>, DatasetError>;
}

impl RecordSource for Reader {
    fn next_chunk(&mut self, max_records: usize) -> Result<Option<Chunk>, DatasetError> {
        Reader::next_chunk(self, max_records)
    }
}

/// Records already in memory, such as the body of a request.
pub struct MemorySource {
    records: VecDeque<RawRecord>,
    next_index: u64,
}

impl MemorySource {
    pub fn new(records: impl IntoIterator<Item = RawRecord>) -> Self {
        MemorySource { records: records.into_iter().collect(), next_index: 0 }
    }

    /// JSON Lines records, numbered from line 1.
    pub fn json_lines<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let records = lines
            .into_iter()
            .enumerate()
            .map(|(i, line)| RawRecord { line: i as u64 + 1, body: Body::Json(line.to_vec()) });
        MemorySource::new(records)
    }
}

impl RecordSource for MemorySource {
    fn next_chunk(&mut self, max_records: usize) -> Result<Option<Chunk>, DatasetError> {
        if self.records.is_empty() {
            return Ok(None);
        }
        let records: Vec<RawRecord> = self.records.drain(..max_records.min(self.records.len())).collect();
        let bytes = records.iter().map(|r| r.raw().len() as u64 + 1).sum();
        let index = self.next_index;
        self.next_index += 1;
        Ok(Some(Chunk { index, bytes, records }))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fields::FieldMap;
    use crate::records::eval_record;
    use std::io::Write;

    pub(crate) fn write(name: &str, content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::File::create(&path).unwrap().write_all(content.as_bytes()).unwrap();
        (dir, path)
    }

    pub(crate) fn all(reader: &mut Reader) -> Vec<RawRecord> {
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
        let map = FieldMap::samples();
        let first = eval_record(&records[0], &map).unwrap();
        assert_eq!((first.sample.id.as_str(), first.id_json.get()), ("1", "1"));
        let second = eval_record(&records[1], &map).unwrap();
        assert_eq!((second.sample.id.as_str(), second.id_json.get()), ("7", "7"));
        assert_eq!(eval_record(&records[2], &map).unwrap().sample.output, "3");
        let digest = reader.finish().unwrap();
        assert_eq!(digest, Digest::of(&std::fs::read(&path).unwrap()));
    }

    #[test]
    fn csv_rows_keep_raw_bytes_lines_and_repeated_reference_columns() {
        let (_dir, path) =
            write("d.csv", "id,output,reference,reference\n1,\"a, b\",x,y\n2,\"multi\nline\",z,w\n3,short\n");
        let mut reader = Reader::open(&path, None).unwrap();
        let records = all(&mut reader);
        assert_eq!(records.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 3, 5]);
        assert_eq!(records[0].raw(), b"1,\"a, b\",x,y");
        assert_eq!(records[1].raw(), b"2,\"multi\nline\",z,w");
        let map = FieldMap::samples();
        let first = eval_record(&records[0], &map).unwrap();
        assert_eq!(first.sample.output, "a, b");
        assert_eq!(first.sample.references, vec!["x", "y"]);
        assert!(eval_record(&records[2], &map).unwrap_err().message.contains("has 2 fields"));
        reader.finish().unwrap();
    }

    #[test]
    fn unknown_extension_is_an_error() {
        let (_dir, path) = write("e.txt", "{}");
        assert!(matches!(Reader::open(&path, None), Err(DatasetError::UnknownFormat { .. })));
        assert!(Reader::open(&path, Some(Format::Jsonl)).is_ok());
    }
}

#[cfg(test)]
mod memory_tests {
    use super::*;

    #[test]
    fn memory_sources_chunk_in_order() {
        let mut source = MemorySource::json_lines([&b"{\"output\":\"a\"}"[..], b"{}", b"{}"]);
        let first = source.next_chunk(2).unwrap().unwrap();
        assert_eq!((first.index, first.records.len(), first.records[1].line), (0, 2, 2));
        let second = source.next_chunk(2).unwrap().unwrap();
        assert_eq!((second.index, second.records.len(), second.records[0].line), (1, 1, 3));
        assert!(source.next_chunk(2).unwrap().is_none());
    }
}
