//! The write-ahead log: every feedback record the service took, in the
//! order its guards saw them, synced before the request that brought it is
//! answered.
//!
//! The log is a folder, `STATE/log/`, of segments named by the `seq` of
//! their first record (`00000000000000000001.wal`, twenty digits so that
//! names sort as numbers). Each is JSON Lines, one entry per record:
//! `{"seq":7,"batch":5,"record":{...}}`. `seq` numbers records from 1 in
//! arrival order; `batch` is the first `seq` of the group the record was
//! screened in. Requests that arrive together are appended with one write
//! and one `fdatasync` (group commit), so a record is on disk before its
//! answer leaves, and the cost of a sync is shared by everything that came
//! in while the previous one ran. New records go to the last segment; the
//! service begins a new one between two groups once it is large enough
//! ([`Journal::rotate`]), so a group never spans two segments, and
//! segments every snapshot has moved past may be deleted
//! ([`Journal::retire`]).
//!
//! On restart the service screens the logged records after its newest
//! snapshot again, in the same groups: guards are deterministic, so that
//! rebuilds their state and every decision and recall exactly. A last line
//! without its newline, in the last segment, was cut by a crash before its
//! sync, so no answer was given for it; it is cut off. Any other unreadable
//! line, a gap between segments, or a log that no longer reaches back to
//! the records a restart needs, is an error naming the file and the line.

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

/// Where an entry was read: its segment and line, for errors about it.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub path: &'a Path,
    pub line: u64,
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
    #[error(
        "{dir}: the log holds records from seq {first} on, and a restart needs them from seq {needed}: \
         the segments before were deleted, and no snapshot of the state they built can be used"
    )]
    Missing { dir: PathBuf, first: u64, needed: u64 },
}

/// A segment: the `seq` of its first record, and its size.
#[derive(Debug, Clone, Copy)]
struct Segment {
    first: u64,
    bytes: u64,
}

/// The log, open for appending to its last segment.
pub struct Journal {
    dir: PathBuf,
    /// The last segment, appended to.
    file: File,
    /// Every segment kept, oldest first; the last is the one appended to.
    segments: Vec<Segment>,
    next_seq: u64,
}

/// The name of the segment whose first record is `first`.
fn segment_name(first: u64) -> String {
    format!("{first:020}.wal")
}

impl Journal {
    /// Opens the log in `state/log/` (creating it, and moving a log kept as
    /// `state/feedback.wal` by an earlier version into it), and hands `each`
    /// every entry whose `seq` is above `after`, in order, one at a time,
    /// with where it was read: replaying a long log takes no more memory
    /// than its longest group.
    pub fn open<E: From<JournalError>>(
        state: &Path,
        after: u64,
        mut each: impl FnMut(Entry, Place<'_>) -> Result<(), E>,
    ) -> Result<Journal, E> {
        let dir = state.join("log");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |error| JournalError::Io { path, error }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let mut segments = list_segments(&dir)?;
        let single = state.join("feedback.wal");
        if segments.is_empty() && single.exists() {
            std::fs::rename(&single, dir.join(segment_name(1))).map_err(io(&single))?;
            sync_dir(&dir).map_err(io(&dir))?;
            segments = list_segments(&dir)?;
        }
        if segments.is_empty() {
            File::create(dir.join(segment_name(1))).map_err(io(&dir))?;
            sync_dir(&dir).map_err(io(&dir))?;
            segments = vec![Segment { first: 1, bytes: 0 }];
        }
        if segments[0].first > after + 1 {
            return Err(JournalError::Missing { dir, first: segments[0].first, needed: after + 1 }.into());
        }
        // Segments whose successor begins at or before the first record
        // wanted hold nothing wanted: they are not read.
        let skip = segments.windows(2).take_while(|pair| pair[1].first <= after + 1).count();
        let mut last_seq = segments[skip].first - 1;
        let count = segments.len();
        for (k, segment) in segments.iter_mut().enumerate().skip(skip) {
            let path = dir.join(segment_name(segment.first));
            if last_seq + 1 != segment.first {
                let message = format!("the segment begins at seq {}, after seq {last_seq}", segment.first);
                return Err(JournalError::Corrupt { path, line: 0, message }.into());
            }
            let last = k + 1 == count;
            let file = OpenOptions::new().read(true).write(last).open(&path).map_err(io(&path))?;
            let mut reader = BufReader::with_capacity(1 << 20, &file);
            let (mut good, mut line, mut text) = (0u64, 0u64, Vec::new());
            loop {
                text.clear();
                let read = reader.read_until(b'\n', &mut text).map_err(io(&path))?;
                if read == 0 {
                    break;
                }
                line += 1;
                if text.last() != Some(&b'\n') {
                    if last {
                        break; // torn by a crash before its sync: never acknowledged
                    }
                    let message = "a line cut short in a segment that is not the last".to_string();
                    return Err(JournalError::Corrupt { path, line, message }.into());
                }
                let entry: Entry = serde_json::from_slice(&text).map_err(|e| JournalError::Corrupt {
                    path: path.clone(),
                    line,
                    message: e.to_string(),
                })?;
                if entry.seq != last_seq + 1 {
                    let message = format!("seq {} follows seq {last_seq}", entry.seq);
                    return Err(JournalError::Corrupt { path, line, message }.into());
                }
                good += read as u64;
                last_seq = entry.seq;
                if entry.seq > after {
                    each(entry, Place { path: &path, line })?;
                }
            }
            drop(reader);
            if last && file.metadata().map_err(io(&path))?.len() != good {
                file.set_len(good).map_err(io(&path))?;
                file.sync_data().map_err(io(&path))?;
            }
            segment.bytes = good;
        }
        if last_seq < after {
            let path = dir.join(segment_name(segments[count - 1].first));
            let message = format!("the log ends at seq {last_seq}, before seq {after}, which its snapshot covers");
            return Err(JournalError::Corrupt { path, line: 0, message }.into());
        }
        let path = dir.join(segment_name(segments[count - 1].first));
        let mut file = OpenOptions::new().append(true).open(&path).map_err(io(&path))?;
        file.seek(std::io::SeekFrom::End(0)).map_err(io(&path))?;
        Ok(Journal { dir, file, segments, next_seq: last_seq + 1 })
    }

    /// The `seq` the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The `seq` of the first record the log still holds.
    pub fn first_seq(&self) -> u64 {
        self.segments[0].first
    }

    /// The size of every segment kept, in bytes.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// The size of the segment appended to, in bytes.
    pub fn last_segment_bytes(&self) -> u64 {
        self.segments.last().expect("a log has a segment").bytes
    }

    /// The number of segments kept.
    pub fn segments(&self) -> usize {
        self.segments.len()
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
        let last = self.segments.last_mut().expect("a log has a segment");
        let io = |error| JournalError::Io { path: self.dir.join(segment_name(last.first)), error };
        self.file.write_all(&text).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.next_seq += records.len() as u64;
        last.bytes += text.len() as u64;
        Ok(first)
    }

    /// Begins a new segment: records from now on go to it. Every record so
    /// far is already synced, so the segment left stays as it is.
    pub fn rotate(&mut self) -> Result<(), JournalError> {
        if self.last_segment_bytes() == 0 {
            return Ok(());
        }
        let path = self.dir.join(segment_name(self.next_seq));
        let io = |error| JournalError::Io { path: path.clone(), error };
        let file = OpenOptions::new().create_new(true).append(true).open(&path).map_err(io)?;
        sync_dir(&self.dir).map_err(io)?;
        self.file = file;
        self.segments.push(Segment { first: self.next_seq, bytes: 0 });
        Ok(())
    }

    /// Deletes the segments whose records all come at or before `seq` (a
    /// snapshot covers them, so a restart no longer reads them), except
    /// the newest `keep` of those. Returns how many it deleted.
    pub fn retire(&mut self, seq: u64, keep: usize) -> Result<usize, JournalError> {
        // Segment k ends where segment k + 1 begins; the last one is never done.
        let covered = self.segments.windows(2).take_while(|pair| pair[1].first <= seq + 1).count();
        let delete = covered.saturating_sub(keep);
        for segment in &self.segments[..delete] {
            let path = self.dir.join(segment_name(segment.first));
            std::fs::remove_file(&path).map_err(|error| JournalError::Io { path, error })?;
        }
        if delete > 0 {
            sync_dir(&self.dir).map_err(|error| JournalError::Io { path: self.dir.clone(), error })?;
            self.segments.drain(..delete);
        }
        Ok(delete)
    }
}

/// The segments in `dir`, in order of their first record. Other files are
/// left alone.
fn list_segments(dir: &Path) -> Result<Vec<Segment>, JournalError> {
    let io = |error| JournalError::Io { path: dir.to_path_buf(), error };
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(first) = name.to_str().and_then(|n| n.strip_suffix(".wal")).filter(|n| n.len() == 20) else {
            continue;
        };
        let Ok(first) = first.parse::<u64>() else { continue };
        let bytes = entry.metadata().map_err(io)?.len();
        segments.push(Segment { first, bytes });
    }
    segments.sort_by_key(|s| s.first);
    Ok(segments)
}

/// Syncs a folder, so that files created, renamed or deleted in it stay so
/// after a crash.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
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

    /// An entry as (seq, batch, record).
    type Read = (u64, u64, String);

    /// Every entry above `after`.
    fn read(dir: &Path, after: u64) -> Result<(Journal, Vec<Read>), JournalError> {
        let mut entries = Vec::new();
        let journal = Journal::open(dir, after, |e, _| {
            entries.push((e.seq, e.batch, e.record.get().to_string()));
            Ok::<_, JournalError>(())
        })?;
        Ok((journal, entries))
    }

    fn append(journal: &mut Journal, ids: &[&str]) -> u64 {
        let records: Vec<Box<RawValue>> = ids.iter().map(|id| raw(&format!(r#"{{"id":"{id}"}}"#))).collect();
        journal.append(&records.iter().map(|r| &**r).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn entries_read_back_in_order_and_a_torn_tail_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, entries) = read(dir.path(), 0).unwrap();
        assert!(entries.is_empty());
        assert_eq!(append(&mut journal, &["a", "b"]), 1);
        assert_eq!(append(&mut journal, &["c"]), 3);
        drop(journal);
        // A crash in the middle of a write leaves part of a line.
        let path = dir.path().join("log").join(segment_name(1));
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"seq":4,"batch":4,"rec"#).unwrap();
        drop(file);

        let (journal, entries) = read(dir.path(), 0).unwrap();
        let expected = [(1, 1, r#"{"id":"a"}"#), (2, 1, r#"{"id":"b"}"#), (3, 3, r#"{"id":"c"}"#)];
        assert_eq!(entries, expected.map(|(s, b, r)| (s, b, r.to_string())));
        assert_eq!(journal.next_seq(), 4);
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}}\n"), "the torn line is gone");
        // Only the entries after a snapshot's seq are handed over.
        let (_, entries) = read(dir.path(), 2).unwrap();
        assert_eq!(entries.iter().map(|e| e.0).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn a_damaged_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("log")).unwrap();
        let path = dir.path().join("log").join(segment_name(1));
        std::fs::write(&path, "{\"seq\":1,\"batch\":1,\"record\":{}}\nnot json\n").unwrap();
        let error = read(dir.path(), 0).err().unwrap().to_string();
        assert!(error.contains("00000000000000000001.wal:2: not an entry of the feedback log"), "{error}");
    }

    #[test]
    fn a_log_of_an_earlier_version_moves_into_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("feedback.wal"), "{\"seq\":1,\"batch\":1,\"record\":{\"id\":\"a\"}}\n").unwrap();
        let (journal, entries) = read(dir.path(), 0).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(journal.next_seq(), 2);
        assert!(!dir.path().join("feedback.wal").exists());
    }

    #[test]
    fn segments_rotate_retire_and_read_back_as_one_log() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = read(dir.path(), 0).unwrap();
        append(&mut journal, &["a", "b"]);
        journal.rotate().unwrap();
        journal.rotate().unwrap(); // an empty segment is not followed by another
        append(&mut journal, &["c"]);
        append(&mut journal, &["d"]);
        journal.rotate().unwrap();
        append(&mut journal, &["e"]);
        assert_eq!(journal.segments(), 3);
        let names = |dir: &Path| {
            let mut names: Vec<String> = std::fs::read_dir(dir.join("log"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(dir.path()), [segment_name(1), segment_name(3), segment_name(5)]);
        drop(journal);

        let (mut journal, entries) = read(dir.path(), 0).unwrap();
        let seen: Vec<(u64, u64)> = entries.iter().map(|e| (e.0, e.1)).collect();
        assert_eq!(seen, [(1, 1), (2, 1), (3, 3), (4, 4), (5, 5)]);
        assert_eq!(
            journal.bytes(),
            names(dir.path())
                .iter()
                .map(|n| std::fs::metadata(dir.path().join("log").join(n)).unwrap().len())
                .sum::<u64>()
        );
        // A snapshot at seq 3 covers the first segment only (the second
        // holds 4); keeping one covered segment deletes nothing.
        assert_eq!(journal.retire(3, 1).unwrap(), 0);
        assert_eq!(journal.retire(3, 0).unwrap(), 1);
        assert_eq!(journal.first_seq(), 3);
        // At seq 5 every closed segment is covered; the last stays.
        assert_eq!(journal.retire(5, 0).unwrap(), 1);
        assert_eq!(names(dir.path()), [segment_name(5)]);
        drop(journal);

        // The records a snapshot covers need not be there; those after it must.
        let (journal, entries) = read(dir.path(), 4).unwrap();
        assert_eq!((entries.len(), journal.next_seq()), (1, 6));
        let error = read(dir.path(), 2).err().unwrap().to_string();
        assert!(error.contains("holds records from seq 5 on, and a restart needs them from seq 3"), "{error}");
    }

    #[test]
    fn a_gap_between_segments_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::create_dir(&log).unwrap();
        std::fs::write(log.join(segment_name(1)), "{\"seq\":1,\"batch\":1,\"record\":{}}\n").unwrap();
        std::fs::write(log.join(segment_name(3)), "{\"seq\":3,\"batch\":3,\"record\":{}}\n").unwrap();
        let error = read(dir.path(), 0).err().unwrap().to_string();
        assert!(
            error.contains(
                "00000000000000000003.wal:0: not an entry of the feedback log: the segment begins at seq 3, after seq 1"
            ),
            "{error}"
        );
    }
}
