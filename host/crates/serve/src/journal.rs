//! The write-ahead log: every feedback record the service took, in the
//! order its guards saw them, synced before the request that brought it is
//! answered.
//!
//! `feedback.wal` is JSON Lines, one entry per record:
//! `{"seq":7,"batch":5,"record":{...}}`. `seq` numbers records from 1 in
//! arrival order; `batch` is the first `seq` of the group the record was
//! screened in. Requests that arrive together are appended with one write
//! and one `fdatasync` (group commit), so a record is on disk before its
//! answer leaves, and the cost of a sync is shared by everything that came
//! in while the previous one ran.
//!
//! On restart the service screens the logged records again, in the same
//! groups, on fresh guard instances: guards are deterministic, so that
//! rebuilds their state (counts per user, campaigns seen) and every
//! decision and recall exactly. A last line without its newline was cut by
//! a crash before its sync, so no answer was given for it; it is cut off.
//! Any other unreadable line is an error naming the file and the line.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One logged record.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    /// The first `seq` of the group it was screened in.
    pub batch: u64,
    pub record: Box<RawValue>,
}

/// Why the log could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{path}:{line}: not an entry of the feedback log: {message}")]
    Corrupt { path: PathBuf, line: u64, message: String },
}

/// The log, open for appending.
pub struct Journal {
    path: PathBuf,
    file: File,
    next_seq: u64,
    bytes: u64,
}

impl Journal {
    /// Opens `dir/feedback.wal` (creating it and `dir`), and hands `each`
    /// every entry it holds, in order, one at a time: replaying a long log
    /// takes no more memory than its longest group.
    pub fn open<E: From<JournalError>>(dir: &Path, mut each: impl FnMut(Entry) -> Result<(), E>) -> Result<Journal, E> {
        let path = dir.join("feedback.wal");
        let io = |error| JournalError::Io { path: path.clone(), error };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(&path).map_err(io)?;
        let mut reader = BufReader::with_capacity(1 << 20, &file);
        let (mut good, mut line, mut text, mut last_seq) = (0u64, 0u64, Vec::new(), 0u64);
        loop {
            text.clear();
            let read = reader.read_until(b'\n', &mut text).map_err(io)?;
            if read == 0 {
                break;
            }
            line += 1;
            if text.last() != Some(&b'\n') {
                break; // torn by a crash before its sync: never acknowledged
            }
            let entry: Entry = serde_json::from_slice(&text).map_err(|e| JournalError::Corrupt {
                path: path.clone(),
                line,
                message: e.to_string(),
            })?;
            if entry.seq != last_seq + 1 {
                let message = format!("seq {} follows seq {last_seq}", entry.seq);
                return Err(JournalError::Corrupt { path: path.clone(), line, message }.into());
            }
            good += read as u64;
            last_seq = entry.seq;
            each(entry)?;
        }
        drop(reader);
        if file.metadata().map_err(io)?.len() != good {
            file.set_len(good).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        file.seek(std::io::SeekFrom::End(0)).map_err(io)?;
        Ok(Journal { path, file, next_seq: last_seq + 1, bytes: good })
    }

    /// The `seq` the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The log's size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends `records` as one group and syncs them to disk; returns the
    /// first one's `seq`.
    pub fn append(&mut self, records: &[&RawValue]) -> Result<u64, JournalError> {
        let first = self.next_seq;
        let mut text = Vec::with_capacity(records.iter().map(|r| r.get().len() + 40).sum());
        for (k, record) in records.iter().enumerate() {
            let entry = EntryRef { seq: first + k as u64, batch: first, record };
            serde_json::to_writer(&mut text, &entry).expect("writing to a Vec");
            text.push(b'\n');
        }
        let io = |error| JournalError::Io { path: self.path.clone(), error };
        self.file.write_all(&text).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.next_seq += records.len() as u64;
        self.bytes += text.len() as u64;
        Ok(first)
    }
}

/// An [`Entry`] as written, borrowing its record.
#[derive(Serialize)]
struct EntryRef<'a> {
    seq: u64,
    batch: u64,
    record: &'a RawValue,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn entries_read_back_in_order_and_a_torn_tail_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path(), |_| {
            Err(JournalError::Corrupt { path: PathBuf::new(), line: 0, message: "a new log holds nothing".into() })
        })
        .unwrap();
        let (a, b, c) = (raw(r#"{"id":"a"}"#), raw(r#"{"id":"b"}"#), raw(r#"{"id":"c"}"#));
        assert_eq!(journal.append(&[&a, &b]).unwrap(), 1);
        assert_eq!(journal.append(&[&c]).unwrap(), 3);
        drop(journal);
        // A crash in the middle of a write leaves part of a line.
        let path = dir.path().join("feedback.wal");
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"seq":4,"batch":4,"rec"#).unwrap();
        drop(file);

        let mut entries = Vec::new();
        let journal = Journal::open(dir.path(), |e| {
            entries.push(e);
            Ok::<_, JournalError>(())
        })
        .unwrap();
        let seen: Vec<(u64, u64, &str)> = entries.iter().map(|e| (e.seq, e.batch, e.record.get())).collect();
        assert_eq!(seen, [(1, 1, r#"{"id":"a"}"#), (2, 1, r#"{"id":"b"}"#), (3, 3, r#"{"id":"c"}"#)]);
        assert_eq!(journal.next_seq(), 4);
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}}\n"), "the torn line is gone");
    }

    #[test]
    fn a_damaged_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("feedback.wal"), "{\"seq\":1,\"batch\":1,\"record\":{}}\nnot json\n").unwrap();
        let error = Journal::open(dir.path(), |_| Ok::<_, JournalError>(())).err().unwrap().to_string();
        assert!(error.contains("feedback.wal:2: not an entry of the feedback log"), "{error}");
    }
}
