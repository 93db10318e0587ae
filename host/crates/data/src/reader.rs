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
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
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

/// Input is cut into blocks of this many bytes unless a run says otherwise.
/// A chunk never crosses a block's end and a shard is a run of whole blocks,
/// so which chunk a record is in, and so the seed of its plugin call and the
/// order statistics are summed in, is the same however many shards a run has.
pub const DEFAULT_BLOCK_BYTES: u64 = 256 * 1024;

/// One of `count` parts of an input: what one process of a sharded run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// From 0.
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole input, as an unsharded run reads it.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The bytes of a file of `size` bytes this shard reads: whole blocks,
    /// spread as evenly as blocks allow (a shard may get none).
    pub fn range(&self, size: u64, block_bytes: u64) -> (u64, u64) {
        let blocks = u128::from(size.div_ceil(block_bytes));
        let edge = |k: u64| ((blocks * u128::from(k) / u128::from(self.count)) as u64 * block_bytes).min(size);
        (edge(self.index), edge(self.index + 1))
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("{text:?} is not a shard: write K/N, such as 0/4 (K from 0 to N-1)");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (index.trim().parse().map_err(|_| bad())?, count.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A run of whole records, in input order, all starting in one block.
pub struct Chunk {
    /// Position of this chunk among the chunks its source gives, from 0.
    pub index: u64,
    /// Where the chunk sits in the whole input, whichever part of it is
    /// read: its block in the high 32 bits, its place among that block's
    /// chunks in the low ones. Plugin calls are seeded from it.
    pub position: u64,
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

/// Reads a data file, or one shard of it, chunk by chunk, hashing every
/// byte of what it reads.
pub struct Reader {
    path: PathBuf,
    format: Format,
    input: Input,
    next_index: u64,
    block_bytes: u64,
    size: u64,
    /// The bytes whose records this reader gives: a record belongs to the
    /// range its first byte is in.
    range: (u64, u64),
    /// A record already read that starts the next chunk, at its offset.
    pending: Option<(u64, RawRecord)>,
    /// The block of the last chunk, and that chunk's place in it.
    block: Option<(u64, u64)>,
    done: bool,
}

/// What a reader reads: a file, or bytes in memory read as a file would be.
trait Stream: Read + Seek + Send {}
impl<T: Read + Seek + Send> Stream for T {}

/// Opens the input afresh (a CSV shard reads its header from the start),
/// with its size.
type Open<'a> = &'a dyn Fn() -> std::io::Result<(Box<dyn Stream>, u64)>;

enum Input {
    Lines {
        input: BufReader<HashingReader<Box<dyn Stream>>>,
        /// Lines read so far, blank ones included.
        line: u64,
        /// The file offset of the next line.
        offset: u64,
        buffer: Vec<u8>,
    },
    Table {
        input: csv::Reader<HashingReader<Box<dyn Stream>>>,
        headers: Arc<Vec<String>>,
        last_offset: u64,
        raw: Vec<u8>,
        row: csv::StringRecord,
        /// The file offset where the CSV reader started, and the lines
        /// before it: the reader counts from there.
        origin: u64,
        lines_before: u64,
    },
}

impl Reader {
    /// Opens `path`, in `format` or the one its extension names.
    pub fn open(path: &Path, format: Option<Format>) -> Result<Reader, DatasetError> {
        Reader::open_shard(path, format, DEFAULT_BLOCK_BYTES, Shard::WHOLE)
    }

    /// Opens `shard` of `path`: only the records that start in its blocks
    /// are read and only its bytes hashed. The bytes before it are scanned
    /// for line breaks (and, in CSV, quotes, since a quoted field may hold a
    /// line break), so that line numbers, and the ids made of them, are those
    /// of the whole file.
    pub fn open_shard(
        path: &Path,
        format: Option<Format>,
        block_bytes: u64,
        shard: Shard,
    ) -> Result<Reader, DatasetError> {
        Reader::open_shard_from(path, format, block_bytes, shard, 0)
    }

    /// Opens `shard` of `path` to go on from the file offset `from` (a
    /// block's start, where a killed run's last checkpoint was): records are
    /// read from there, and the bytes of the shard before it are only
    /// hashed, so that the digest is still the whole shard's.
    pub fn open_shard_from(
        path: &Path,
        format: Option<Format>,
        block_bytes: u64,
        shard: Shard,
        from: u64,
    ) -> Result<Reader, DatasetError> {
        let format = format
            .or_else(|| Format::from_path(path))
            .ok_or_else(|| DatasetError::UnknownFormat { path: path.into() })?;
        let open = || -> std::io::Result<(Box<dyn Stream>, u64)> {
            let file = File::open(path)?;
            let size = file.metadata()?.len();
            Ok((Box::new(file), size))
        };
        Reader::open_stream(path, format, block_bytes, shard, from, &open)
    }

    /// Reads `bytes` exactly as a file named `name` holding them would be
    /// read: the same records, line numbers, chunks and digest, so the
    /// results are those of the file (the Python API's eval sets never
    /// touch the disk).
    pub fn from_bytes(name: &Path, bytes: Arc<[u8]>, format: Format, block_bytes: u64) -> Result<Reader, DatasetError> {
        let open = || -> std::io::Result<(Box<dyn Stream>, u64)> {
            Ok((Box::new(std::io::Cursor::new(bytes.clone())), bytes.len() as u64))
        };
        Reader::open_stream(name, format, block_bytes, Shard::WHOLE, 0, &open)
    }

    fn open_stream(
        path: &Path,
        format: Format,
        block_bytes: u64,
        shard: Shard,
        from: u64,
        open: Open,
    ) -> Result<Reader, DatasetError> {
        let io = |error| DatasetError::Io { path: path.into(), error };
        let block_bytes = block_bytes.max(1);
        let (mut file, size) = open().map_err(io)?;
        let range = shard.range(size, block_bytes);
        let read_from = range.0.max(from.min(range.1));
        let input = match format {
            Format::Jsonl => {
                // The line that holds the byte before the range is the last
                // of the shard before; this one starts after it.
                let start = read_from.saturating_sub(1);
                let mut line = if start > 0 { line_breaks_before(&mut file, start).map_err(io)? } else { 0 };
                let hashed_from = range.0.min(start);
                file.seek(SeekFrom::Start(hashed_from)).map_err(io)?;
                let mut hashing = HashingReader::new(file, hashed_from, range, false);
                std::io::copy(&mut (&mut hashing).take(start - hashed_from), &mut std::io::sink()).map_err(io)?;
                let mut input = BufReader::with_capacity(1 << 20, hashing);
                let mut offset = start;
                if read_from > 0 {
                    let mut skipped = Vec::new();
                    offset += input.read_until(b'\n', &mut skipped).map_err(io)? as u64;
                    line += u64::from(skipped.ends_with(b"\n"));
                }
                Input::Lines { input, line, offset, buffer: Vec::new() }
            }
            Format::Csv | Format::Tsv => {
                let builder = |has_headers| {
                    let mut builder = csv::ReaderBuilder::new();
                    builder
                        .delimiter(if format == Format::Tsv { b'\t' } else { b',' })
                        .flexible(true)
                        .has_headers(has_headers);
                    builder
                };
                if read_from == 0 {
                    let mut input = builder(true).from_reader(HashingReader::new(file, 0, range, true));
                    let headers = csv_headers(path, &mut input)?;
                    let last_offset = input.position().byte();
                    let (raw, row) = (Vec::new(), csv::StringRecord::new());
                    Input::Table { input, headers, last_offset, raw, row, origin: 0, lines_before: 0 }
                } else {
                    let mut head = builder(true).from_reader(open().map_err(io)?.0);
                    let headers = csv_headers(path, &mut head)?;
                    let header_end = head.position().byte();
                    let (origin, lines_before) = row_start_from(&mut file, read_from.max(header_end)).map_err(io)?;
                    file.seek(SeekFrom::Start(range.0)).map_err(io)?;
                    let mut hashing = HashingReader::new(file, range.0, range, true);
                    std::io::copy(&mut (&mut hashing).take(origin - range.0), &mut std::io::sink()).map_err(io)?;
                    hashing.kept.clear();
                    let input = builder(false).from_reader(hashing);
                    let (raw, row) = (Vec::new(), csv::StringRecord::new());
                    Input::Table { input, headers, last_offset: 0, raw, row, origin, lines_before }
                }
            }
        };
        Ok(Reader {
            path: path.into(),
            format,
            input,
            next_index: 0,
            block_bytes,
            size,
            range,
            pending: None,
            block: None,
            done: false,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The file's size when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The bytes this reader's records start in (the whole file unless a shard).
    pub fn range(&self) -> (u64, u64) {
        self.range
    }

    /// Up to `max_records` records, all starting in one block, or `None` at
    /// the end.
    pub fn next_chunk(&mut self, max_records: usize) -> Result<Option<Chunk>, DatasetError> {
        let mut records = Vec::with_capacity(max_records);
        let mut bytes = 0u64;
        let mut block = None;
        while records.len() < max_records && !self.done {
            let next = match self.pending.take() {
                Some(pending) => Some(pending),
                None => self.read_record(&mut bytes)?,
            };
            let Some((start, record)) = next else {
                self.done = true;
                break;
            };
            if start >= self.range.1 {
                self.done = true;
                break;
            }
            let record_block = start / self.block_bytes;
            match block {
                None => block = Some(record_block),
                Some(block) if block != record_block => {
                    self.pending = Some((start, record));
                    break;
                }
                Some(_) => {}
            }
            records.push(record);
        }
        let Some(block) = block else { return Ok(None) };
        let in_block = match self.block {
            Some((last, n)) if last == block => n + 1,
            _ => 0,
        };
        self.block = Some((block, in_block));
        let index = self.next_index;
        self.next_index += 1;
        Ok(Some(Chunk { index, position: (block << 32) | in_block, bytes, records }))
    }

    /// The next record and the file offset it starts at, adding the bytes
    /// read to `bytes`.
    fn read_record(&mut self, bytes: &mut u64) -> Result<Option<(u64, RawRecord)>, DatasetError> {
        let path = &self.path;
        match &mut self.input {
            Input::Lines { input, line, offset, buffer } => loop {
                buffer.clear();
                let n =
                    input.read_until(b'\n', buffer).map_err(|error| DatasetError::Io { path: path.clone(), error })?;
                if n == 0 {
                    return Ok(None);
                }
                let start = *offset;
                *offset += n as u64;
                *line += 1;
                *bytes += n as u64;
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
                return Ok(Some((start, RawRecord { line: *line, body: Body::Json(text.to_vec()) })));
            },
            Input::Table { input, headers, last_offset, raw, row, origin, lines_before } => {
                let start_line = input.position().line();
                let fields = match input.read_record(row) {
                    Ok(false) => return Ok(None),
                    Ok(true) if row.len() != headers.len() => {
                        Err(format!("the row has {} fields, but the header has {}", row.len(), headers.len()))
                    }
                    Ok(true) => Ok(row.iter().map(str::to_string).collect()),
                    Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
                        Err("the row is not valid UTF-8".to_string())
                    }
                    Err(e) => return Err(csv_error(path, &e)),
                };
                let offset = input.position().byte();
                // The raw bytes of the row are recovered from the bytes
                // the hashing reader saw, so outputs can carry the input
                // record unchanged.
                input.get_mut().take_since(*last_offset, offset, raw);
                // They start with the blank lines the CSV reader skipped
                // (and counts the row's line from): the row starts after.
                let blank = raw.iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
                let skipped_lines = raw[..blank].iter().filter(|&&b| b == b'\n').count() as u64;
                let line = *lines_before + row.position().map_or(start_line, |p| p.line()) + skipped_lines;
                let start = *origin + *last_offset + blank as u64;
                *bytes += offset - *last_offset;
                *last_offset = offset;
                let text = &raw[blank..];
                let text = text.strip_suffix(b"\n").unwrap_or(text);
                let text = text.strip_suffix(b"\r").unwrap_or(text).to_vec();
                let body = Body::Row { raw: text, fields, headers: headers.clone() };
                Ok(Some((start, RawRecord { line, body })))
            }
        }
    }

    /// The header row of a CSV or TSV file.
    pub fn headers(&self) -> Option<&[String]> {
        match &self.input {
            Input::Table { headers, .. } => Some(headers),
            Input::Lines { .. } => None,
        }
    }

    /// The sha256 of the bytes read: the whole file, or the shard's range.
    /// Call after the last chunk.
    pub fn finish(mut self) -> Result<Digest, DatasetError> {
        let hashing = match &mut self.input {
            Input::Lines { input, .. } => input.get_mut(),
            Input::Table { input, .. } => input.get_mut(),
        };
        hashing.finish().map_err(|error| DatasetError::Io { path: self.path.clone(), error })
    }
}

/// The line breaks in the first `end` bytes of `file`.
fn line_breaks_before(file: &mut dyn Stream, end: u64) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut input = BufReader::with_capacity(1 << 20, file.take(end));
    let mut breaks = 0u64;
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(breaks);
        }
        breaks += buffer.iter().filter(|&&b| b == b'\n').count() as u64;
        let n = buffer.len();
        input.consume(n);
    }
}

/// The offset of the first CSV row that starts at or after `from`, and the
/// line breaks before it: a row starts after a line break outside quotes,
/// that is, after an even number of `"` (RFC 4180 quoting, where a quote
/// inside a field is doubled).
fn row_start_from(file: &mut dyn Stream, from: u64) -> std::io::Result<(u64, u64)> {
    file.seek(SeekFrom::Start(0))?;
    let mut input = BufReader::with_capacity(1 << 20, file);
    let (mut offset, mut quotes, mut breaks) = (0u64, 0u64, 0u64);
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok((offset, breaks));
        }
        for (i, &b) in buffer.iter().enumerate() {
            if b == b'"' {
                quotes += 1;
            } else if b == b'\n' {
                breaks += 1;
                let next = offset + i as u64 + 1;
                if next >= from && quotes % 2 == 0 {
                    return Ok((next, breaks));
                }
            }
        }
        let n = buffer.len();
        offset += n as u64;
        input.consume(n);
    }
}

/// The header row a CSV reader starts with.
fn csv_headers<R: Read>(path: &Path, input: &mut csv::Reader<R>) -> Result<Arc<Vec<String>>, DatasetError> {
    let headers = input.headers().map_err(|e| csv_error(path, &e))?;
    Ok(Arc::new(headers.iter().map(str::to_string).collect()))
}

fn csv_error(path: &Path, error: &csv::Error) -> DatasetError {
    let line = error.position().map_or(0, |p| p.line());
    DatasetError::Csv { path: path.into(), line, message: error.to_string() }
}

/// A reader that hashes the bytes of its window that pass through it and,
/// for CSV, keeps the bytes not yet claimed by a record.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    /// The file offset of the next byte read.
    position: u64,
    /// The bytes hashed: a shard's range, or the whole file.
    window: (u64, u64),
    /// Bytes read but not yet assigned to a record, starting at `kept_from`
    /// (counted from where the CSV reader started).
    kept: Vec<u8>,
    kept_from: u64,
    keep: bool,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R, position: u64, window: (u64, u64), keep: bool) -> Self {
        HashingReader { inner, hasher: Sha256::new(), position, window, kept: Vec::new(), kept_from: 0, keep }
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

    /// Reads the rest of the window, so that the digest covers all of it.
    fn finish(&mut self) -> std::io::Result<Digest> {
        let rest = self.window.1.saturating_sub(self.position);
        std::io::copy(&mut self.by_ref().take(rest), &mut std::io::sink())?;
        Ok(Digest::from_hasher(std::mem::take(&mut self.hasher)))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let (start, end) = (self.position, self.position + n as u64);
        let (from, to) = (start.max(self.window.0), end.min(self.window.1));
        if from < to {
            self.hasher.update(&buf[(from - start) as usize..(to - start) as usize]);
        }
        self.position = end;
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
        Ok(Some(Chunk { index, position: index, bytes, records }))
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
    fn bytes_in_memory_read_as_the_file_holding_them() {
        let text = "\u{feff}{\"output\":\"x\"}\n\n{\"output\":\"y\"}\r\n".repeat(40) + "{\"output\":\"z\"}";
        let csv = "id,output\n".to_string() + &"1,\"a\nb\"\n2,c\n".repeat(20);
        for (name, content, format) in [("m.jsonl", text, Format::Jsonl), ("m.csv", csv, Format::Csv)] {
            let (_dir, path) = write(name, &content);
            // Blocks of 64 bytes, so chunks are cut at block edges too.
            let mut file = Reader::open_shard(&path, None, 64, Shard::WHOLE).unwrap();
            let mut memory = Reader::from_bytes(Path::new(name), content.as_bytes().into(), format, 64).unwrap();
            let mut chunks = 0;
            loop {
                let (a, b) = (file.next_chunk(3).unwrap(), memory.next_chunk(3).unwrap());
                assert_eq!(a.is_some(), b.is_some(), "{name}: both end together");
                let (Some(a), Some(b)) = (a, b) else { break };
                assert_eq!((a.index, a.position, a.bytes), (b.index, b.position, b.bytes));
                let shape = |c: &Chunk| c.records.iter().map(|r| (r.line, r.raw().to_vec())).collect::<Vec<_>>();
                assert_eq!(shape(&a), shape(&b));
                chunks += 1;
            }
            assert!(chunks > 1, "{name}: {chunks} chunks");
            assert_eq!(file.headers(), memory.headers());
            assert_eq!(file.finish().unwrap(), memory.finish().unwrap());
        }
    }

    #[test]
    fn shards_parse_from_k_of_n() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard { index: 2, count: 4 });
        assert!("4/4".parse::<Shard>().unwrap_err().contains("K from 0 to N-1"));
        assert!("1".parse::<Shard>().is_err() && "0/0".parse::<Shard>().is_err());
        assert_eq!(Shard { index: 1, count: 3 }.range(10, 4), (4, 8));
        assert_eq!(Shard { index: 0, count: 3 }.range(0, 4), (0, 0));
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
