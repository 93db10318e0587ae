//! Putting the shards of a sharded run together: what `assay merge` does.
//!
//! Every shard reads whole blocks of the input, and a chunk never crosses a
//! block, so each chunk (its records, the seed of each plugin call) is the
//! same in a shard as in one process reading the whole file. The merge
//! concatenates the shards' samples in input order, adds their statistics
//! (exact sums, so the grouping does not matter), and computes the corpus
//! metrics from them on a fresh instance of each plugin, as an unsharded
//! run does at its end: the summary is that run's, bit for bit, with every
//! record accounted for.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use assay_data::output::{AtomicFile, EvaluationSummary, InputSummary, ReadError, RunInfo, ShardFile, ShardRun};
use assay_runtime::{Digest, Host, LoadedPlugin};
use sha2::{Digest as _, Sha256};

use crate::evaluate::{Evaluation, EvaluationTally, MetricSlots};
use crate::journal::{read_samples, replay};
use crate::worker::RunError;

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no shard folders given")]
    NoShards,
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(
        "{dir} is a shard of another run than {first_dir}: its {field} is {value}, not {first_value}; shards of one \
         run share their input, plugins, settings and number of shards"
    )]
    OtherRun { dir: PathBuf, first_dir: PathBuf, field: String, value: String, first_value: String },
    #[error("shard {index} of {count} is given twice: {first} and {second}")]
    Twice { index: u64, count: u64, first: PathBuf, second: PathBuf },
    #[error("shard{} {} of {count} missing: every shard from 0 to {} is needed", if missing.len() > 1 { "s" } else { "" }, list(missing), count - 1)]
    Missing { missing: Vec<u64>, count: u64 },
    #[error("{dir}: the run's plugins are {expected}, but {given} were loaded to merge it")]
    Plugins { dir: PathBuf, expected: String, given: String },
    #[error("{path}: {error}")]
    Input {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "{path} has {size} bytes, but the shards read a file of {expected}: it changed since they ran, or it is another file (--input names where it is)"
    )]
    InputSize { path: PathBuf, size: u64, expected: u64 },
    #[error(
        "{path}: bytes {start}..{end} are not those shard {shard} ({dir}) read: the file changed since; run that shard again"
    )]
    InputChanged { path: PathBuf, start: u64, end: u64, shard: u64, dir: PathBuf },
    #[error(
        "{path}: {found} samples, but its shard.json counts {expected}: the shard's folder was changed after it ran"
    )]
    Samples { path: PathBuf, found: u64, expected: u64 },
    #[error(transparent)]
    Run(#[from] RunError),
}

fn list(indexes: &[u64]) -> String {
    indexes.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

/// The shards of one run, in order, checked to be all of it.
pub struct Shards {
    /// Each shard's folder and file, by shard index.
    pub shards: Vec<(PathBuf, ShardFile)>,
}

impl Shards {
    /// Reads the shards in `dirs` and checks that they are every shard of
    /// one run, each once.
    pub fn read(dirs: &[PathBuf]) -> Result<Shards, MergeError> {
        let mut shards = Vec::with_capacity(dirs.len());
        for dir in dirs {
            shards.push((dir.clone(), ShardFile::read(dir)?));
        }
        let Some((first_dir, first)) = shards.first() else { return Err(MergeError::NoShards) };
        for (dir, shard) in &shards[1..] {
            let other_run = |field: &str, value: String, first_value: String| MergeError::OtherRun {
                dir: dir.clone(),
                first_dir: first_dir.clone(),
                field: field.into(),
                value,
                first_value,
            };
            if let Some((field, value, first_value)) = shard.run.difference(&first.run) {
                return Err(other_run(&field, value, first_value));
            }
        }
        let count = first.run.shards;
        shards.sort_by_key(|(_, shard)| shard.shard.index);
        for pair in shards.windows(2) {
            if pair[0].1.shard.index == pair[1].1.shard.index {
                let (first, second) = (pair[0].0.clone(), pair[1].0.clone());
                return Err(MergeError::Twice { index: pair[0].1.shard.index, count, first, second });
            }
        }
        let missing: Vec<u64> =
            (0..count).filter(|k| !shards.iter().any(|(_, shard)| shard.shard.index == *k)).collect();
        if !missing.is_empty() {
            return Err(MergeError::Missing { missing, count });
        }
        Ok(Shards { shards })
    }

    /// What the shards share.
    pub fn run(&self) -> &ShardRun {
        &self.shards[0].1.run
    }

    /// Where the first shard read the input.
    pub fn input_path(&self) -> PathBuf {
        PathBuf::from(&self.shards[0].1.input_path)
    }
}

/// Merges `shards` into `samples.jsonl` and `summary.json` in `out_dir`,
/// with the run's `plugins` (loaded as the shards recorded them) computing
/// the corpus metrics. `input` is the eval set: its bytes are checked
/// against what each shard read, and its sha256 is the run's.
pub fn merge(
    host: &Host,
    plugins: &[LoadedPlugin],
    shards: &Shards,
    input: &Path,
    out_dir: &Path,
) -> Result<EvaluationSummary, MergeError> {
    let run = shards.run();
    let names: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
    let expected: Vec<&str> = run.plugins.iter().map(|p| p.name.as_str()).collect();
    if names != expected {
        let (expected, given) = (expected.join(", "), names.join(", "));
        return Err(MergeError::Plugins { dir: shards.shards[0].0.clone(), expected, given });
    }
    let slots = MetricSlots::new(plugins);
    let mut files = Vec::with_capacity(shards.shards.len());
    for (dir, _) in &shards.shards {
        let path = dir.join("samples.jsonl");
        let bytes = std::fs::read(&path).map_err(|error| ReadError::Io { path: path.clone(), error })?;
        files.push((path, bytes));
    }
    // The input's digest and the shards' samples are read side by side.
    let (sha256, parsed) = std::thread::scope(|scope| {
        let digest = scope.spawn(|| check_input(input, shards));
        let parsing: Vec<_> =
            files.iter().map(|(path, bytes)| scope.spawn(|| read_samples(bytes, path, &slots))).collect();
        let parsed: Vec<_> = parsing.into_iter().map(|thread| thread.join().expect("parsing panicked")).collect();
        (digest.join().expect("hashing panicked"), parsed)
    });
    let sha256 = sha256?;
    let parsed = parsed.into_iter().collect::<Result<Vec<_>, _>>()?;

    std::fs::create_dir_all(out_dir).map_err(|error| RunError::Output { path: out_dir.into(), error })?;

    let samples_path = out_dir.join("samples.jsonl");
    let output = |error| RunError::Output { path: samples_path.clone(), error };
    let mut samples = AtomicFile::create(&samples_path).map_err(output)?;
    let mut tally = EvaluationTally::new(plugins.len(), slots.keys.len());
    tally.reserve(shards.shards.iter().map(|(_, shard)| shard.sums.samples as usize).sum());
    let mut models: BTreeMap<String, assay_runtime::ModelUsage> = BTreeMap::new();
    let mut started_at: Option<&str> = None;
    for (((_, shard), (path, bytes)), read) in shards.shards.iter().zip(&files).zip(parsed) {
        let found = replay(&mut tally, read, path, &shard.lines, input, run.allow_duplicate_ids)?;
        if found != shard.sums.samples {
            return Err(MergeError::Samples { path: path.clone(), found, expected: shard.sums.samples });
        }
        samples.write_all(bytes).map_err(output)?;
        tally.sums.extend(shard.sums.clone());
        for (alias, usage) in &shard.models {
            models.entry(alias.clone()).or_default().add(usage);
        }
        started_at = Some(started_at.map_or(&shard.started_at, |s| s.min(&shard.started_at)));
    }
    samples.commit().map_err(output)?;

    let first = &shards.shards[0].1;
    let summary = Evaluation::finalize(host, plugins, tally, &run.determinism()).summary(
        InputSummary { path: input.display().to_string(), sha256, format: run.format },
        RunInfo {
            started_at: started_at.unwrap_or_default().to_string(),
            finished_at: jiff::Timestamp::now().to_string(),
            jobs: first.jobs,
            batch_size: run.batch_size,
            seed: run.seed,
            reproducible: run.reproducible,
            models,
            resumed_after: None,
        },
    );
    let summary_path = out_dir.join("summary.json");
    summary.write(&summary_path).map_err(|error| RunError::Output { path: summary_path, error })?;
    Ok(summary)
}

/// Reads `input` once: its sha256, and each shard's range checked against
/// the digest the shard recorded.
fn check_input(input: &Path, shards: &Shards) -> Result<Digest, MergeError> {
    let io = |error| MergeError::Input { path: input.into(), error };
    let mut file = File::open(input).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let expected = shards.run().input_size;
    if size != expected {
        return Err(MergeError::InputSize { path: input.into(), size, expected });
    }
    let mut whole = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    for (dir, shard) in &shards.shards {
        let (start, end) = shard.range;
        let mut part = Sha256::new();
        let mut left = end - start;
        while left > 0 {
            let n = file.read(&mut buffer[..left.min(1 << 20) as usize]).map_err(io)?;
            if n == 0 {
                return Err(MergeError::InputSize { path: input.into(), size: end - left, expected });
            }
            whole.update(&buffer[..n]);
            part.update(&buffer[..n]);
            left -= n as u64;
        }
        if Digest::from_hasher(part) != shard.range_sha256 {
            let (shard, dir) = (shard.shard.index, dir.clone());
            return Err(MergeError::InputChanged { path: input.into(), start, end, shard, dir });
        }
    }
    Ok(Digest::from_hasher(whole))
}
