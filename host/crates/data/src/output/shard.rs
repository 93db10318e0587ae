//! `shard.json`: what one shard of a sharded run found, for `assay merge`.
//!
//! A shard of `assay run --shard K/N` writes its samples (`samples.jsonl`,
//! in input order), a shard of `assay guard --shard K/N` its routed records
//! and `decisions.jsonl`, and both this file: the run it belongs to
//! ([`ShardRun`], which every shard of one run shares and `assay merge`
//! compares), the bytes of the input it read and their digest, and the sums
//! it kept as it ran, in the same types the run sums them in
//! ([`super::tally`]): exact sums, so that the merge adds them up to what
//! one process would have.

use std::collections::BTreeMap;
use std::path::Path;

use assay_runtime::{Digest, ModelUsage};
use serde::{Deserialize, Serialize};

use super::tally::{RunSums, ScreeningSums};
use super::{PluginSummary, ReadError};
use crate::{Format, Shard};

/// The name of the file in a shard's folder.
pub const SHARD_FILE: &str = "shard.json";

/// One shard's `shard.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShardFile {
    /// What every shard of the run shares.
    pub run: ShardRun,
    pub shard: Shard,
    /// Where this shard read the input (for messages: a shard on another
    /// machine may see it under another path).
    pub input_path: String,
    /// The bytes of the input the shard read, and their sha256: `assay
    /// merge` checks them against the input, so shards of a file that
    /// changed between them are refused.
    pub range: (u64, u64),
    pub range_sha256: Digest,
    pub started_at: String,
    pub finished_at: String,
    pub jobs: usize,
    /// What the shard summed over its chunks.
    pub tally: ShardTally,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, ModelUsage>,
}

/// What a shard summed, by the command that ran it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShardTally {
    /// `assay run --shard`.
    Evaluator {
        sums: RunSums,
        /// The input line of each sample, in order: ids repeated across
        /// shards are reported by line, as one run reports them.
        lines: Vec<u64>,
    },
    /// `assay guard --shard`.
    Guard(ScreeningSums),
}

impl ShardTally {
    /// The kind of plugin the run ran.
    pub fn kind(&self) -> assay_runtime::Kind {
        match self {
            ShardTally::Evaluator { .. } => assay_runtime::Kind::Evaluator,
            ShardTally::Guard(_) => assay_runtime::Kind::Guard,
        }
    }

    /// Records the shard accounted for: samples scored (and skipped), or
    /// feedback records routed.
    pub fn records(&self) -> u64 {
        match self {
            ShardTally::Evaluator { sums, .. } => sums.samples + sums.skipped.len() as u64,
            ShardTally::Guard(sums) => sums.counts.records,
        }
    }
}

/// What makes shards parts of one run: `assay merge` refuses shards whose
/// runs differ in any of it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShardRun {
    /// The assay that ran it: another version may cut or score otherwise.
    pub assay_version: String,
    /// The command's plugin kind: `evaluator` for `assay run`, `guard` for
    /// `assay guard`.
    pub kind: assay_runtime::Kind,
    /// The input's size and format (its digest is checked range by range).
    pub input_size: u64,
    pub format: Format,
    /// The blocks the input is cut into: they decide what each shard reads
    /// and the seed of every plugin call.
    pub block_bytes: u64,
    /// How many shards the run has.
    pub shards: u64,
    pub batch_size: usize,
    pub seed: u64,
    pub reproducible: bool,
    /// Canonical field and the input field it is read from.
    pub fields: Vec<(String, String)>,
    pub on_bad_record: String,
    /// `assay run` only.
    pub allow_duplicate_ids: bool,
    pub keep_statistics: bool,
    /// The plugins, in order, as `summary.json` records them, without fuel.
    pub plugins: Vec<PluginSummary>,
}

impl ShardFile {
    /// Writes `shard.json` into `dir`, atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        super::atomic::write_json_compact(&dir.join(SHARD_FILE), self)
    }

    /// Reads the `shard.json` of the shard in `dir`.
    pub fn read(dir: &Path) -> Result<ShardFile, ReadError> {
        super::read_json(&dir.join(SHARD_FILE))
    }
}

impl ShardRun {
    /// What any sharded run is made of; the caller adds its command's
    /// fields, policies and plugins.
    pub fn of(
        kind: assay_runtime::Kind,
        input_size: u64,
        format: Format,
        block_bytes: u64,
        shards: u64,
        batch_size: usize,
        determinism: &assay_runtime::Determinism,
    ) -> ShardRun {
        ShardRun {
            assay_version: env!("CARGO_PKG_VERSION").into(),
            kind,
            input_size,
            format,
            block_bytes,
            shards,
            batch_size,
            seed: determinism.seed,
            reproducible: !determinism.real_clock,
            fields: Vec::new(),
            on_bad_record: String::new(),
            allow_duplicate_ids: false,
            keep_statistics: false,
            plugins: Vec::new(),
        }
    }

    /// The plugins' view of time and randomness in this run.
    pub fn determinism(&self) -> assay_runtime::Determinism {
        assay_runtime::Determinism { seed: self.seed, real_clock: !self.reproducible }
    }

    /// The first thing `self` and `other` differ in, as `(where, this
    /// value, that value)`, such as `plugins[0].config.tokenize`.
    pub fn difference(&self, other: &ShardRun) -> Option<(String, String, String)> {
        let (a, b) = (serde_json::to_value(self).ok()?, serde_json::to_value(other).ok()?);
        first_difference(&a, &b, String::new())
    }
}

fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: String) -> Option<(String, String, String)> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|key| {
                let at = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
                first_difference(x.get(key).unwrap_or(&Value::Null), y.get(key).unwrap_or(&Value::Null), at)
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (x, y))| first_difference(x, y, format!("{at}[{i}]")))
        }
        _ if a == b => None,
        _ => Some((at, a.to_string(), b.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_named_by_where_they_are() {
        let a = serde_json::json!({"seed": 0, "plugins": [{"name": "bleu", "config": {"tokenize": "13a"}}]});
        let b = serde_json::json!({"seed": 0, "plugins": [{"name": "bleu", "config": {"tokenize": "intl"}}]});
        assert_eq!(
            first_difference(&a, &b, String::new()),
            Some(("plugins[0].config.tokenize".into(), "\"13a\"".into(), "\"intl\"".into()))
        );
        assert_eq!(first_difference(&a, &a, String::new()), None);
    }
}
