//! Writing a run as it goes, so that a killed run resumes where it stopped.
//!
//! A run writes its samples, and each sample's input line, into its output
//! folder's [`PROGRESS_DIR`], and every few seconds, once a block of the
//! input is done, flushes both to disk and replaces a checkpoint of its
//! sums ([`Checkpoint`]). `--resume` cuts the files back to the checkpoint,
//! rebuilds what the checkpoint does not keep from them, and goes on from
//! the next block. Blocks are where work is cut in every run, so the resumed
//! run's chunks, seeds and sums are those of a run never killed, and so are
//! its results. A run without `--resume` starts afresh.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use assay_data::Shard;
use assay_data::output::checkpoint::{Checkpoint, LINES_FILE, PROGRESS_DIR, SAMPLES_FILE};
use assay_data::output::tally::RunSums;
use assay_data::output::{ReadError, SampleLine, ShardRun};
use serde_json::value::RawValue;

use crate::evaluate::{EvaluationTally, MetricSlots};
use crate::worker::RunError;

/// Why a run's own files cannot be taken up again (beyond being
/// unreadable, a [`ReadError`]).
#[derive(Debug, thiserror::Error)]
pub enum SamplesError {
    #[error(
        "{path}: its samples do not match the {lines} input lines recorded for them: the folder was changed after \
         it was written"
    )]
    Lines { path: PathBuf, lines: u64 },
    #[error(
        "{dir} holds a checkpoint of another run: its {field} is {value}, not {current} as now; run without --resume \
         to start afresh"
    )]
    OtherRun { dir: PathBuf, field: String, value: String, current: String },
    #[error("{input} changed since the checkpoint in {dir} was written; run without --resume to start afresh")]
    InputChanged { input: PathBuf, dir: PathBuf },
}

/// A run's progress folder, open for writing.
pub(crate) struct Journal {
    dir: PathBuf,
    samples: BufWriter<File>,
    samples_bytes: u64,
    lines: BufWriter<File>,
    /// What every checkpoint repeats, with the sums and offsets filled in.
    template: Checkpoint,
    every: Duration,
    last: Instant,
    checkpointed_samples: u64,
}

/// Where a resumed run goes on from.
pub(crate) struct Resumed {
    pub next_offset: u64,
    pub started_at: jiff::Timestamp,
    /// Samples the checkpoint held.
    pub samples: u64,
}

impl Journal {
    /// Opens the progress folder in `out_dir` for `run`: afresh, or, when
    /// `resume` and a checkpoint of this very run is there, cut back to it
    /// with `tally` rebuilt as it was.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open(
        out_dir: &Path,
        input: &Path,
        run: ShardRun,
        shard: Shard,
        resume: bool,
        every: Duration,
        tally: &mut EvaluationTally,
        slots: &MetricSlots,
    ) -> Result<(Journal, Option<Resumed>), RunError> {
        let dir = out_dir.join(PROGRESS_DIR);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |error| RunError::Read(ReadError::Io { path, error })
        };
        let modified = std::fs::metadata(input)
            .and_then(|m| m.modified())
            .map_err(|error| RunError::Dataset(assay_data::DatasetError::Io { path: input.into(), error }))?;
        let since = modified.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let template = Checkpoint {
            run,
            shard,
            input_modified: (since.as_secs(), since.subsec_nanos()),
            started_at: jiff::Timestamp::now().to_string(),
            next_offset: 0,
            samples_bytes: 0,
            sums: RunSums::default(),
        };
        let found = if resume { Checkpoint::read(&dir)? } else { None };
        let found = match found {
            Some(found) if dir.join(SAMPLES_FILE).exists() && dir.join(LINES_FILE).exists() => Some(found),
            _ => None,
        };
        if let Some(found) = &found {
            check_same_run(&dir, input, found, &template)?;
        }
        if found.is_none() && dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let open = |name: &str| {
            let path = dir.join(name);
            OpenOptions::new().create(true).read(true).write(true).truncate(false).open(&path).map_err(io(&path))
        };
        let (samples_path, lines_path) = (dir.join(SAMPLES_FILE), dir.join(LINES_FILE));
        let (mut samples, mut lines) = (open(SAMPLES_FILE)?, open(LINES_FILE)?);
        let mut template = template;
        let resumed = match found {
            None => {
                samples.set_len(0).map_err(io(&samples_path))?;
                lines.set_len(0).map_err(io(&lines_path))?;
                None
            }
            Some(found) => {
                samples.set_len(found.samples_bytes).map_err(io(&samples_path))?;
                lines.set_len(found.sums.samples * 8).map_err(io(&lines_path))?;
                let mut line_bytes = Vec::new();
                (&lines).read_to_end(&mut line_bytes).map_err(io(&lines_path))?;
                let input_lines: Vec<u64> =
                    line_bytes.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))).collect();
                let allow = found.run.allow_duplicate_ids;
                tally.sums = found.sums.clone();
                let mut bytes = Vec::new();
                (&samples).read_to_end(&mut bytes).map_err(io(&samples_path))?;
                let read = read_samples(&bytes, &samples_path, slots)?;
                if replay(tally, read, &samples_path, &input_lines, input, allow)? != found.sums.samples {
                    let lines = input_lines.len() as u64;
                    return Err(RunError::Samples(SamplesError::Lines { path: samples_path, lines }));
                }
                template.started_at = found.started_at.clone();
                let started_at = found.started_at.parse().unwrap_or_else(|_| jiff::Timestamp::now());
                let samples = found.sums.samples;
                Some((Resumed { next_offset: found.next_offset, started_at, samples }, found.samples_bytes))
            }
        };
        samples.seek(SeekFrom::End(0)).map_err(io(&samples_path))?;
        lines.seek(SeekFrom::End(0)).map_err(io(&lines_path))?;
        let samples_bytes = resumed.as_ref().map_or(0, |(_, bytes)| *bytes);
        let journal = Journal {
            dir,
            samples: BufWriter::with_capacity(1 << 20, samples),
            samples_bytes,
            lines: BufWriter::with_capacity(1 << 16, lines),
            template,
            every,
            last: Instant::now(),
            checkpointed_samples: tally.sums.samples,
        };
        Ok((journal, resumed.map(|(resumed, _)| resumed)))
    }

    /// Appends a chunk's sample lines and their input lines.
    pub(crate) fn append(&mut self, samples: &[u8], lines: impl Iterator<Item = u64>) -> std::io::Result<()> {
        self.samples.write_all(samples)?;
        self.samples_bytes += samples.len() as u64;
        for line in lines {
            self.lines.write_all(&line.to_le_bytes())?;
        }
        Ok(())
    }

    /// Called before a chunk that starts a block at `next_offset`: when it
    /// is time, makes everything written so far safe and records `sums`.
    pub(crate) fn block_done(&mut self, next_offset: u64, sums: &RunSums) -> std::io::Result<()> {
        if sums.samples == self.checkpointed_samples || self.last.elapsed() < self.every {
            return Ok(());
        }
        for file in [&mut self.samples, &mut self.lines] {
            file.flush()?;
            file.get_ref().sync_data()?;
        }
        self.template.next_offset = next_offset;
        self.template.samples_bytes = self.samples_bytes;
        self.template.sums = sums.clone();
        self.template.write(&self.dir)?;
        self.checkpointed_samples = sums.samples;
        self.last = Instant::now();
        Ok(())
    }

    /// Moves the samples, complete, to `path`, and gives the folder to
    /// [`remove`] once the run's results are written. A crash in between
    /// leaves a checkpoint without its samples, which `--resume` takes as
    /// nothing to resume.
    pub(crate) fn commit(mut self, path: &Path) -> std::io::Result<(PathBuf, ShardRun)> {
        self.samples.flush()?;
        self.samples.get_ref().sync_all()?;
        std::fs::rename(self.dir.join(SAMPLES_FILE), path)?;
        Ok((self.dir, self.template.run))
    }

    /// The progress folder.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Removes a finished run's progress folder.
pub(crate) fn remove(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

fn check_same_run(dir: &Path, input: &Path, found: &Checkpoint, current: &Checkpoint) -> Result<(), RunError> {
    let other = |field: &str, value: String, current: String| {
        RunError::Samples(SamplesError::OtherRun { dir: dir.into(), field: field.into(), value, current })
    };
    if found.shard != current.shard {
        return Err(other("shard", found.shard.to_string(), current.shard.to_string()));
    }
    if let Some((field, value, now)) = found.run.difference(&current.run) {
        return Err(other(&field, value, now));
    }
    if found.input_modified != current.input_modified {
        return Err(RunError::Samples(SamplesError::InputChanged { input: input.into(), dir: dir.into() }));
    }
    Ok(())
}

/// Sample lines read back: each sample's id, and each metric's values.
pub(crate) struct ReadSamples {
    pub(crate) ids: Vec<Box<RawValue>>,
    pub(crate) values: Vec<Vec<f64>>,
}

/// Parses the sample lines in `bytes` (read from `path`). Independent of
/// any other file's, so shards' files are parsed side by side.
pub(crate) fn read_samples(bytes: &[u8], path: &Path, slots: &MetricSlots) -> Result<ReadSamples, RunError> {
    let slot_of: std::collections::HashMap<&str, usize> =
        slots.keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    let mut read = ReadSamples { ids: Vec::new(), values: vec![Vec::new(); slots.keys.len()] };
    for (index, line) in bytes.split(|&b| b == b'\n').filter(|line| !line.is_empty()).enumerate() {
        let sample: SampleLine = serde_json::from_slice(line)
            .map_err(|error| RunError::Read(ReadError::Json { path: path.into(), line: index + 1, error }))?;
        for (key, value) in sample.scores.iter() {
            if let Some(&slot) = slot_of.get(key) {
                read.values[slot].push(*value);
            }
        }
        read.ids.push(sample.id.into_owned());
    }
    Ok(read)
}

/// Puts samples read back into `tally`, in order: each id with its line in
/// `input` from `input_lines`, as the run first saw them, and each metric's
/// values. Returns how many samples there were.
pub(crate) fn replay(
    tally: &mut EvaluationTally,
    read: ReadSamples,
    path: &Path,
    input_lines: &[u64],
    input: &Path,
    allow_duplicate_ids: bool,
) -> Result<u64, RunError> {
    check_lines(&read, path, input_lines)?;
    for (id, &line) in read.ids.iter().zip(input_lines) {
        if let Err(duplicate) = tally.see_id(id, line, allow_duplicate_ids) {
            return Err(RunError::DuplicateId { path: input.into(), duplicate });
        }
    }
    Ok(append(tally, read, input_lines))
}

/// Fails unless every sample read back has its input line recorded.
pub(crate) fn check_lines(read: &ReadSamples, path: &Path, input_lines: &[u64]) -> Result<(), RunError> {
    if read.ids.len() > input_lines.len() {
        let lines = input_lines.len() as u64;
        return Err(RunError::Samples(SamplesError::Lines { path: path.into(), lines }));
    }
    Ok(())
}

/// Puts the lines and values of samples whose ids were checked into
/// `tally`; returns how many there were.
pub(crate) fn append(tally: &mut EvaluationTally, read: ReadSamples, input_lines: &[u64]) -> u64 {
    let samples = read.ids.len();
    tally.lines.extend_from_slice(&input_lines[..samples]);
    for (total, values) in tally.values.iter_mut().zip(read.values) {
        total.extend(values);
    }
    samples as u64
}
