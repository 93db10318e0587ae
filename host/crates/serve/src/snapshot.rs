//! Snapshots: the service's state at one place in its log, so that a
//! restart screens only what was logged after it, and the log before it
//! may be deleted.
//!
//! A snapshot is taken when the log begins a new segment, between two
//! groups. It holds each guard's state (`guard-state.save`, contract 0.1.4),
//! the recall ledger and feed, and how long `decisions.jsonl` and
//! `recalls.jsonl` were, since a restart truncates them there and writes
//! the rest again from the log. It lives in `STATE/snapshots/SEQ/` (`SEQ`
//! the last record it covers, twenty digits): each guard's state in a file
//! of its own beside `snapshot.json`, written into a `.tmp` folder, synced,
//! and renamed into place, so a crash leaves either the whole snapshot or
//! none. Only the newest is kept.
//!
//! A snapshot names the guards it was taken with (name, signature and
//! configuration): a service started with other guards, or with another
//! configuration, cannot continue from it, and screens its log again from
//! the start instead, if the log still reaches back that far.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use assay_pipeline::{Guard, SavedGuard, StateFailure};
use assay_runtime::Digest;
use serde::{Deserialize, Serialize};

use crate::journal::sync_dir;
use crate::recalls::{RecallEvent, SavedLedger};

/// The shape of `snapshot.json`; a change bumps it.
const FORMAT: u32 = 1;

/// Why a snapshot could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("cannot save the guards' states: {0}")]
    Save(#[from] StateFailure),
    #[error(
        "{path}: not a snapshot this version reads ({message}); move the snapshot folder away to screen the whole \
         log again, if the log still holds it"
    )]
    Damaged { path: PathBuf, message: String },
}

/// `snapshot.json`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    format: u32,
    /// The last record it covers.
    pub(crate) seq: u64,
    /// How long `decisions.jsonl` and `recalls.jsonl` were.
    pub(crate) decisions_bytes: u64,
    pub(crate) recalls_bytes: u64,
    pub(crate) guards: Vec<GuardMark>,
    pub(crate) ledger: SavedLedger,
    /// The recall events the feed kept.
    pub(crate) events: Vec<RecallEvent>,
}

/// Which guard a state belongs to, and where it is.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct GuardMark {
    name: String,
    signature: String,
    config: String,
    /// The file of its state beside `snapshot.json`, and the state's
    /// SHA-256; none when it had nothing to save.
    state: Option<(String, String)>,
}

impl GuardMark {
    fn of(guard: &Guard, state: Option<(String, String)>) -> GuardMark {
        let loaded = &guard.loaded;
        GuardMark {
            name: loaded.name.clone(),
            signature: loaded.signature(),
            config: loaded.config_json.clone(),
            state,
        }
    }
}

impl Snapshot {
    pub(crate) fn new(
        seq: u64,
        (decisions_bytes, recalls_bytes): (u64, u64),
        ledger: SavedLedger,
        events: Vec<RecallEvent>,
    ) -> Snapshot {
        Snapshot { format: FORMAT, seq, decisions_bytes, recalls_bytes, guards: Vec::new(), ledger, events }
    }

    /// Whether it was taken with `guards`, configured as they are.
    pub(crate) fn taken_with(&self, guards: &[Guard]) -> bool {
        self.guards.len() == guards.len()
            && self.guards.iter().zip(guards).all(|(mark, guard)| {
                let now = GuardMark::of(guard, None);
                (&mark.name, &mark.signature, &mark.config) == (&now.name, &now.signature, &now.config)
            })
    }

    /// The guards it was taken with, in words.
    pub(crate) fn guard_names(&self) -> String {
        self.guards.iter().map(|g| g.signature.as_str()).collect::<Vec<_>>().join(", ")
    }
}

fn folder_name(seq: u64) -> String {
    format!("{seq:020}")
}

/// Writes `snapshot` with the guards' `states` into `state/snapshots/`,
/// then deletes the older snapshots.
pub(crate) fn write(
    state: &Path,
    mut snapshot: Snapshot,
    guards: &[Guard],
    states: &[SavedGuard],
) -> Result<(), SnapshotError> {
    let all = state.join("snapshots");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| SnapshotError::Io { path, error }
    };
    let tmp = all.join(format!("{}.tmp", folder_name(snapshot.seq)));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let write_synced = |name: &str, bytes: &[u8]| {
        let path = tmp.join(name);
        let mut file = File::create(&path).map_err(io(&path))?;
        file.write_all(bytes).and_then(|()| file.sync_all()).map_err(io(&path))
    };
    snapshot.guards = Vec::with_capacity(guards.len());
    for (k, (guard, saved)) in guards.iter().zip(states).enumerate() {
        let state = match saved {
            SavedGuard::Fresh => None,
            SavedGuard::State(bytes) => {
                let name = format!("guard-{k}.state");
                write_synced(&name, bytes)?;
                Some((name, Digest::of(bytes).to_string()))
            }
        };
        snapshot.guards.push(GuardMark::of(guard, state));
    }
    write_synced("snapshot.json", &serde_json::to_vec(&snapshot).expect("a snapshot serializes"))?;
    let synced = |dir: &Path| sync_dir(dir).map_err(io(dir));
    synced(&tmp)?;
    let done = all.join(folder_name(snapshot.seq));
    let _ = std::fs::remove_dir_all(&done);
    std::fs::rename(&tmp, &done).map_err(io(&done))?;
    synced(&all)?;
    for (seq, path) in list(&all)? {
        if seq != snapshot.seq {
            std::fs::remove_dir_all(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// The newest snapshot in `state/snapshots/`, with each guard's state;
/// folders a crash left half-written are deleted.
pub(crate) fn newest(state: &Path) -> Result<Option<(Snapshot, Vec<SavedGuard>)>, SnapshotError> {
    let all = state.join("snapshots");
    if !all.exists() {
        return Ok(None);
    }
    let Some((_, dir)) = list(&all)?.into_iter().last() else { return Ok(None) };
    let path = dir.join("snapshot.json");
    let damaged = |message: String| SnapshotError::Damaged { path: path.clone(), message };
    let bytes = std::fs::read(&path).map_err(|error| SnapshotError::Io { path: path.clone(), error })?;
    let snapshot: Snapshot = serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
    if snapshot.format != FORMAT {
        return Err(damaged(format!("format {}; this version reads format {FORMAT}", snapshot.format)));
    }
    let mut states = Vec::with_capacity(snapshot.guards.len());
    for mark in &snapshot.guards {
        states.push(match &mark.state {
            None => SavedGuard::Fresh,
            Some((name, sha256)) => {
                // Only names this module writes: nothing outside the snapshot's folder.
                if name.contains(['/', '\\']) || name.starts_with('.') {
                    return Err(damaged(format!("a state file named {name:?}")));
                }
                let file = dir.join(name);
                let bytes = std::fs::read(&file).map_err(|error| SnapshotError::Io { path: file.clone(), error })?;
                if Digest::of(&bytes).to_string() != *sha256 {
                    return Err(damaged(format!("{name} does not match its SHA-256")));
                }
                SavedGuard::State(bytes)
            }
        });
    }
    Ok(Some((snapshot, states)))
}

/// The snapshot folders in `all`, oldest first; half-written ones are deleted.
fn list(all: &Path) -> Result<Vec<(u64, PathBuf)>, SnapshotError> {
    let io = |error| SnapshotError::Io { path: all.to_path_buf(), error };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(all).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            let _ = std::fs::remove_dir_all(entry.path());
        } else if let (20, Ok(seq)) = (name.len(), name.parse::<u64>()) {
            found.push((seq, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}
