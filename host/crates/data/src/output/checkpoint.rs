//! `.assay-progress/`: how a killed run goes on where it stopped
//! (`assay run --resume`).
//!
//! While a run runs, its samples go to `samples.jsonl` in this folder and
//! each sample's input line to `lines.bin` (8 bytes each, little-endian).
//! Every few seconds, when a block of the input is done, both are flushed to
//! disk and `checkpoint.json` is replaced: the run it belongs to, how many
//! samples (and bytes of each file) are safe, the block to go on from, and
//! the sums so far. A resumed run cuts both files back to what the
//! checkpoint counts, rebuilds from them what it does not keep (each
//! metric's values, each id's first line), and reads the input from that
//! block on. When the run ends the samples are moved into place and the
//! folder is removed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ReadError;
use super::shard::ShardRun;
use super::tally::RunSums;
use crate::Shard;

/// The folder, inside a run's output folder.
pub const PROGRESS_DIR: &str = ".assay-progress";
/// The files in it.
pub const CHECKPOINT_FILE: &str = "checkpoint.json";
pub const SAMPLES_FILE: &str = "samples.jsonl";
pub const LINES_FILE: &str = "lines.bin";

/// `checkpoint.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The run: a resumed run must be the same one.
    pub run: ShardRun,
    pub shard: Shard,
    /// The input's modification time (seconds, nanoseconds since the
    /// epoch): an input changed since cannot be resumed.
    pub input_modified: (u64, u32),
    pub started_at: String,
    /// The offset of the block the run goes on from.
    pub next_offset: u64,
    /// Bytes of `samples.jsonl` that hold `sums.samples` whole lines.
    pub samples_bytes: u64,
    pub sums: RunSums,
}

impl Checkpoint {
    /// Replaces `checkpoint.json` in `dir`, atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        super::atomic::write_json_compact(&dir.join(CHECKPOINT_FILE), self)
    }

    /// The checkpoint in `dir`, if there is one.
    pub fn read(dir: &Path) -> Result<Option<Checkpoint>, ReadError> {
        let path = dir.join(CHECKPOINT_FILE);
        if !path.exists() {
            return Ok(None);
        }
        super::read_json(&path).map(Some)
    }
}
