//! The files a run leaves behind, one typed definition each.
//!
//! The same types write a file and read it back: `samples.jsonl`
//! ([`SampleLine`]), `decisions.jsonl` ([`DecisionLine`]) and `summary.json`
//! ([`Summary`], tagged by the kind of run). Gates, CI reports and the HTML
//! report read these types, never loose JSON, so a renamed field is a
//! compile error rather than a silently empty report. Every file is written
//! atomically ([`atomic`]).

pub mod atomic;
pub mod checkpoint;
pub mod decisions;
pub mod generation;
pub mod samples;
pub mod shard;
pub mod summary;
pub mod tally;

use std::borrow::Cow;
use std::fmt;
use std::io::BufRead;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use assay_runtime::Failure;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use atomic::{AtomicFile, temporary_dir_in, temporary_file_in, write_json};
pub use decisions::{DecisionLine, FailurePolicy, GuardEntry, RecallEntry, RecallOutcome, Route};
pub use samples::SampleLine;
pub use shard::{SHARD_FILE, ShardFile, ShardRun, ShardTally};
pub use summary::{
    DuplicateId, EvaluationCounts, EvaluationSummary, FuelSummary, GuardRoutes, GuardSummary, InputSummary, MetricRow,
    MetricSummary, PluginSummary, RecallCounts, RunInfo, ScreeningCounts, Summary, SummaryOf,
};

/// A failure as written in result files: its stable kind and its message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEntry {
    pub kind: Cow<'static, str>,
    pub message: String,
}

impl From<&Failure> for ErrorEntry {
    fn from(failure: &Failure) -> Self {
        ErrorEntry { kind: failure.kind().into(), message: failure.to_string() }
    }
}

/// A JSON object kept as its entries in order: written without building a
/// map, read back in the order written.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairs<K, V>(pub Vec<(K, V)>);

impl<K, V> Default for Pairs<K, V> {
    fn default() -> Self {
        Pairs(Vec::new())
    }
}

impl<K: AsRef<str>, V> Pairs<K, V> {
    /// The value under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k.as_ref() == key).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Serialize, V: Serialize> Serialize for Pairs<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Pairs<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PairsVisitor<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for PairsVisitor<K, V> {
            type Value = Pairs<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    pairs.push(entry);
                }
                Ok(Pairs(pairs))
            }
        }
        d.deserialize_map(PairsVisitor(PhantomData))
    }
}

/// Why a result file could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{path}:{line}: {error}")]
    Json {
        path: PathBuf,
        line: usize,
        #[source]
        error: serde_json::Error,
    },
}

/// Reads a JSON file written by [`write_json`].
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|error| ReadError::Io { path: path.into(), error })?;
    serde_json::from_str(&text).map_err(|error| ReadError::Json { path: path.into(), line: error.line(), error })
}

/// Reads the lines of a JSON Lines result file, in order, skipping blank ones.
pub fn read_json_lines<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, ReadError> {
    let file = std::fs::File::open(path).map_err(|error| ReadError::Io { path: path.into(), error })?;
    let mut items = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|error| ReadError::Io { path: path.into(), error })?;
        if line.trim().is_empty() {
            continue;
        }
        items.push(serde_json::from_str(&line).map_err(|error| ReadError::Json {
            path: path.into(),
            line: index + 1,
            error,
        })?);
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_keep_their_order_both_ways() {
        let pairs: Pairs<String, u32> = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        assert_eq!(pairs.get("a"), Some(&2));
        assert_eq!(serde_json::to_string(&pairs).unwrap(), r#"{"b":1,"a":2}"#);
    }
}
