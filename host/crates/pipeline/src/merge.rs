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
//!
//! Shards of a guard run ([`merge_screening`]) need no plugin at all: their
//! routed records and decisions are concatenated in shard order, which is
//! input order, and their counts added.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use assay_data::Reader;
use assay_data::output::tally::ScreeningSums;
use assay_data::output::{
    AtomicFile, EvaluationSummary, GuardSummary, InputSummary, ReadError, Route, RunInfo, ShardFile, ShardRun,
    ShardTally,
};
use assay_runtime::{Digest, Host, LoadedPlugin, ModelUsage};
use sha2::{Digest as _, Sha256};

use crate::evaluate::{Evaluation, EvaluationTally, MetricSlots};
use crate::journal::{ReadSamples, append, check_lines, read_samples};
use crate::screen::guard_summary;
use crate::staging::{Staging, swap_in};
use crate::worker::{RunError, output_error};

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
    #[error("{dir} is a shard of `assay {command}`, but {first_dir} is one of `assay {first_command}`")]
    OtherCommand { dir: PathBuf, first_dir: PathBuf, command: &'static str, first_command: &'static str },
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
    #[error(
        "{path}: {found} decisions, but its shard.json counts {expected} records: the shard's folder was changed \
         after it ran"
    )]
    Decisions { path: PathBuf, found: u64, expected: u64 },
    #[error("{path} does not start with the input's header row: the shard's folder was changed after it ran")]
    Header { path: PathBuf },
    #[error("the shards are of `assay {}`, which this merge does not take", command(*found))]
    Kind { found: assay_runtime::Kind },
    #[error(transparent)]
    Run(#[from] RunError),
}

/// The command that runs plugins of `kind`.
fn command(kind: assay_runtime::Kind) -> &'static str {
    match kind {
        assay_runtime::Kind::Evaluator => "run",
        assay_runtime::Kind::Guard => "guard",
    }
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
            if shard.run.kind != first.run.kind {
                let (command, first_command) = (command(shard.run.kind), command(first.run.kind));
                return Err(MergeError::OtherCommand {
                    dir: dir.clone(),
                    first_dir: first_dir.clone(),
                    command,
                    first_command,
                });
            }
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

    /// The merged run's `run` entry: it started when its first shard did,
    /// and its models answered what every shard asked.
    fn run_info(&self) -> RunInfo {
        let run = self.run();
        let mut models: BTreeMap<String, ModelUsage> = BTreeMap::new();
        for (_, shard) in &self.shards {
            for (alias, usage) in &shard.models {
                models.entry(alias.clone()).or_default().add(usage);
            }
        }
        let started_at = self.shards.iter().map(|(_, shard)| shard.started_at.as_str()).min().unwrap_or_default();
        RunInfo {
            started_at: started_at.to_string(),
            finished_at: jiff::Timestamp::now().to_string(),
            jobs: self.shards[0].1.jobs,
            batch_size: run.batch_size,
            seed: run.seed,
            reproducible: run.reproducible,
            models,
            resumed_after: None,
        }
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
    if run.kind != assay_runtime::Kind::Evaluator {
        return Err(MergeError::Kind { found: assay_runtime::Kind::Guard });
    }
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
    // The input's digest and the shards' samples are read side by side, and
    // each shard's ids hashed as they are parsed.
    let (sha256, parsed) = std::thread::scope(|scope| {
        let digest = scope.spawn(|| check_input(input, shards));
        let parsing: Vec<_> = files
            .iter()
            .map(|(path, bytes)| {
                scope.spawn(|| {
                    let read = read_samples(bytes, path, &slots)?;
                    let hashes = read.ids.iter().map(|id| id_hash(id.get())).collect();
                    Ok::<_, RunError>((read, hashes))
                })
            })
            .collect();
        let parsed: Vec<_> = parsing.into_iter().map(|thread| thread.join().expect("parsing panicked")).collect();
        (digest.join().expect("hashing panicked"), parsed)
    });
    let sha256 = sha256?;
    let parsed = parsed.into_iter().collect::<Result<Vec<_>, _>>()?;

    let mut parts = Vec::with_capacity(parsed.len());
    for (((_, shard), (path, _)), (read, hashes)) in shards.shards.iter().zip(&files).zip(parsed) {
        let ShardTally::Evaluator { sums, lines } = &shard.tally else {
            return Err(MergeError::Kind { found: assay_runtime::Kind::Guard });
        };
        check_lines(&read, path, lines)?;
        if read.ids.len() as u64 != sums.samples {
            return Err(MergeError::Samples {
                path: path.clone(),
                found: read.ids.len() as u64,
                expected: sums.samples,
            });
        }
        parts.push(Part { read, hashes, lines, sums });
    }
    let duplicates = repeated_ids(&parts);
    if let (Some(first), false) = (duplicates.first(), run.allow_duplicate_ids) {
        return Err(RunError::DuplicateId { path: input.into(), duplicate: first.clone() }.into());
    }

    std::fs::create_dir_all(out_dir).map_err(|error| RunError::Output { path: out_dir.into(), error })?;
    let samples_path = out_dir.join("samples.jsonl");
    let output = |error| RunError::Output { path: samples_path.clone(), error };
    let mut samples = AtomicFile::create(&samples_path).map_err(output)?;
    let mut tally = EvaluationTally::new(plugins.len(), slots.keys.len());
    tally.reserve(parts.iter().map(|part| part.read.ids.len()).sum());
    tally.set_duplicate_ids(duplicates);
    for (part, (_, bytes)) in parts.into_iter().zip(&files) {
        samples.write_all(bytes).map_err(output)?;
        tally.sums.extend(part.sums.clone());
        append(&mut tally, part.read, part.lines);
    }
    samples.commit().map_err(output)?;

    let summary = Evaluation::finalize(host, plugins, tally, &run.determinism())
        .summary(InputSummary { path: input.display().to_string(), sha256, format: run.format }, shards.run_info());
    let summary_path = out_dir.join("summary.json");
    summary.write(&summary_path).map_err(|error| RunError::Output { path: summary_path, error })?;
    Ok(summary)
}

/// One shard's samples, parsed, with what its `shard.json` says of them.
struct Part<'a> {
    read: ReadSamples,
    /// Each id's [`id_hash`].
    hashes: Vec<u64>,
    lines: &'a [u64],
    sums: &'a assay_data::output::tally::RunSums,
}

/// A hash of an id's JSON text, the same in every thread.
fn id_hash(id: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(id)
}

/// Every sample whose id an earlier sample of the run has, in input order,
/// as one run finds them ([`EvaluationTally::see_id`]). The ids' hashes are
/// sorted, with each sample's place in the input, and only samples whose
/// hashes are equal are compared: a million ids take a sort instead of a
/// million insertions into one table.
fn repeated_ids(parts: &[Part]) -> Vec<assay_data::output::DuplicateId> {
    let mut keys: Vec<(u64, u32, u32)> = Vec::with_capacity(parts.iter().map(|p| p.hashes.len()).sum());
    for (shard, part) in parts.iter().enumerate() {
        keys.extend(part.hashes.iter().enumerate().map(|(index, &hash)| (hash, shard as u32, index as u32)));
    }
    // Equal hashes end up together, in input order (shard, then sample).
    keys.sort_unstable();
    let mut duplicates = Vec::new();
    for group in keys.chunk_by(|a, b| a.0 == b.0).filter(|group| group.len() > 1) {
        let mut firsts: Vec<(&str, u64)> = Vec::new();
        for &(_, shard, index) in group {
            let part = &parts[shard as usize];
            let (id, line) = (&part.read.ids[index as usize], part.lines[index as usize]);
            match firsts.iter().find(|(first, _)| *first == id.get()) {
                Some(&(_, first_line)) => duplicates.push(assay_data::output::DuplicateId {
                    id: assay_data::output::samples::id_text(id),
                    first_line,
                    line,
                }),
                None => firsts.push((id.get(), line)),
            }
        }
    }
    duplicates.sort_by_key(|duplicate| duplicate.line);
    duplicates
}

/// Merges the `shards` of a guard run into `out_dir`, replacing it as `assay
/// guard` replaces its output folder: the routed records and
/// `decisions.jsonl` in input order, and the `summary.json` one run would
/// have written. `input` is the feedback, checked as [`merge`] checks it.
pub fn merge_screening(shards: &Shards, input: &Path, out_dir: &Path) -> Result<GuardSummary, MergeError> {
    let run = shards.run();
    if run.kind != assay_runtime::Kind::Guard {
        return Err(MergeError::Kind { found: assay_runtime::Kind::Evaluator });
    }
    let sha256 = check_input(input, shards)?;
    let format = run.format;
    // CSV files each start with the input's header row; the merged files
    // get it once.
    let reader = Reader::open(input, Some(format)).map_err(RunError::from)?;
    // Each shard applied its guards' recalls before writing its outputs.
    let Staging { dir, mut writers, header } = Staging::new(out_dir, format, reader.headers(), false)?;
    drop(reader);
    let mut sums = ScreeningSums::new(run.plugins.len());
    for (shard_dir, shard) in &shards.shards {
        let ShardTally::Guard(part) = &shard.tally else {
            return Err(MergeError::Kind { found: assay_runtime::Kind::Evaluator });
        };
        for route in Route::ALL {
            let path = shard_dir.join(route.records_file(format));
            let bytes = read_file(&path)?;
            // (A JSON Lines file has no header: the empty prefix.)
            let records = bytes.strip_prefix(header.as_slice()).ok_or(MergeError::Header { path })?;
            writers.append(Some(route), records).map_err(output_error(dir.path()))?;
        }
        let path = shard_dir.join("decisions.jsonl");
        let decisions = read_file(&path)?;
        let found = decisions.iter().filter(|&&b| b == b'\n').count() as u64;
        if found != part.counts.records {
            return Err(MergeError::Decisions { path, found, expected: part.counts.records });
        }
        writers.append(None, &decisions).map_err(output_error(dir.path()))?;
        sums.extend(part.clone());
    }
    writers.finish().map_err(output_error(dir.path()))?;
    let summary = guard_summary(
        run.plugins.clone(),
        sums,
        InputSummary { path: input.display().to_string(), sha256, format },
        shards.run_info(),
    );
    let summary_path = dir.path().join("summary.json");
    summary.write(&summary_path).map_err(output_error(&summary_path))?;
    swap_in(dir, out_dir).map_err(output_error(out_dir))?;
    Ok(summary)
}

fn read_file(path: &Path) -> Result<Vec<u8>, MergeError> {
    std::fs::read(path).map_err(|error| ReadError::Io { path: path.into(), error }.into())
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

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;

    #[test]
    fn repeated_ids_are_found_in_input_order_when_hashes_collide() {
        let read = |texts: &[&str]| ReadSamples {
            ids: texts.iter().map(|t| RawValue::from_string(format!("\"{t}\"")).unwrap()).collect(),
            values: Vec::new(),
        };
        let sums = assay_data::output::tally::RunSums::new(0);
        // Every hash is the same: only the ids' texts tell them apart.
        let parts = [
            Part { read: read(&["a", "b", "a"]), hashes: vec![7; 3], lines: &[1, 2, 3], sums: &sums },
            Part { read: read(&["c", "b"]), hashes: vec![7; 2], lines: &[5, 6], sums: &sums },
            Part { read: read(&["a"]), hashes: vec![7], lines: &[9], sums: &sums },
        ];
        let found: Vec<(String, u64, u64)> =
            repeated_ids(&parts).into_iter().map(|d| (d.id, d.first_line, d.line)).collect();
        assert_eq!(found, [("a".into(), 1, 3), ("b".into(), 2, 6), ("a".into(), 1, 9)]);
        let unique = [Part { read: read(&["a", "b"]), hashes: vec![7, 7], lines: &[1, 2], sums: &sums }];
        assert!(repeated_ids(&unique).is_empty());
    }
}
