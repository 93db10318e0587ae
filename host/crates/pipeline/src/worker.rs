//! The worker abstraction both pipelines stand on.
//!
//! Records are read in chunks of whole records by one thread, handed to
//! `jobs` workers, and their results collected in input order. Chunk and
//! batch boundaries depend only on the input and the batch size, never on
//! the number of workers, and every plugin call is seeded by its position,
//! so results do not depend on which worker ran what.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub use assay_data::output::tally::FuelTally;
use assay_data::{Chunk, DatasetError, RecordSource};
use assay_runtime::instance::Instance;
use assay_runtime::{Determinism, Failure, Host, LoadError, LoadedPlugin};

/// Plugin calls per chunk: chunks are the unit of work handed to a worker.
pub const BATCHES_PER_CHUNK: usize = 16;

/// The seed of the plugin call on batch `batch` of the chunk at `position`
/// ([`assay_data::Chunk::position`]): tied to the place in the input, so a
/// call gets the same seed whatever `-j` and however many shards, in every
/// pipeline.
pub(crate) fn call_seed(position: u64, batch: usize) -> u64 {
    position.wrapping_mul(BATCHES_PER_CHUNK as u64).wrapping_add(batch as u64)
}

/// How records are spread over workers, in every pipeline.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Worker threads. Results are identical for every value.
    pub jobs: usize,
    /// Records per plugin call: a failing call fails this many records at most.
    pub batch_size: usize,
    pub determinism: Determinism,
}

impl Schedule {
    /// Records per chunk.
    pub fn chunk_records(&self) -> usize {
        self.batch_size * BATCHES_PER_CHUNK
    }
}

/// Told how many input bytes have been processed, as results come in.
pub trait Progress: Sync {
    fn advance(&self, bytes: u64);
}

impl Progress for () {
    fn advance(&self, _: u64) {}
}

impl<F: Fn(u64) + Sync> Progress for F {
    fn advance(&self, bytes: u64) {
        self(bytes)
    }
}

/// Why a run stopped before producing results.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{path}:{line}: {message}")]
    BadRecord { path: PathBuf, line: u64, message: String },
    #[error(
        "{path}:{}: id {:?} is already the id of line {}; runs are joined by id, so each sample needs its own \
         (--allow-duplicate-ids, or allow_duplicate_ids = true under [run], accepts them and lists them in summary.json)",
        duplicate.line, duplicate.id, duplicate.first_line
    )]
    DuplicateId { path: PathBuf, duplicate: assay_data::output::DuplicateId },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(
        "plugin {name:?} failed on {failed} of the first {samples} samples ({kinds}), over [run] max_failure_rate = \
         {max_failure_rate}; the run stopped early and wrote no results"
    )]
    TooManyFailures { name: String, failed: u64, samples: u64, kinds: String, max_failure_rate: f64 },
    #[error(
        "guard {guard:?} cannot run sharded: its scope is {scope}, so it may decide on a record from the records \
         before it (counts per user, texts seen), and each shard's instance would see only its own part of the \
         feedback. Run it without --shard; a guard whose decisions depend on each record alone says so by \
         exporting `guard-scope` and answering `record` (contract 0.1.2; `Guard::scope` in the Rust SDK)"
    )]
    Unshardable { guard: String, scope: &'static str },
    #[error(transparent)]
    Samples(#[from] crate::journal::SamplesError),
    #[error(transparent)]
    Read(#[from] assay_data::output::ReadError),
    #[error("{path}: {error}")]
    Output {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
}

/// Turns an I/O error on `path` into a [`RunError::Output`].
pub(crate) fn output_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + use<> {
    let path = path.to_path_buf();
    move |error| RunError::Output { path, error }
}

/// How a slot makes its instance: the plugin as the run configured it, on
/// this host, seeing this much of the world.
#[derive(Clone, Copy)]
pub struct Recipe<'a> {
    pub loaded: &'a LoadedPlugin,
    pub host: &'a Host,
    pub determinism: &'a Determinism,
}

/// One plugin's instance on one worker: created on first use, configured as
/// the run configured the plugin, and replaced after a failure that leaves
/// it unusable. A replacement starts without whatever state the old one had.
pub struct Slot<I> {
    instance: Option<I>,
}

impl<I: Instance> Default for Slot<I> {
    fn default() -> Self {
        Slot { instance: None }
    }
}

impl<I: Instance> Slot<I> {
    /// The instance, if one is live (none before the first call, nor after
    /// a failure that left it unusable).
    pub fn live(&mut self) -> Option<&mut I> {
        self.instance.as_mut()
    }

    /// The live instance, or a fresh, configured one.
    pub fn start(&mut self, runtime: &tokio::runtime::Runtime, recipe: Recipe<'_>) -> Result<&mut I, Failure> {
        if self.instance.is_none() {
            self.instance = Some(runtime.block_on(I::instantiate(recipe.loaded, recipe.host, recipe.determinism))?);
        }
        Ok(self.instance.as_mut().expect("just created"))
    }

    /// Drops the instance: the next call starts a fresh one.
    pub fn clear(&mut self) {
        self.instance = None;
    }

    /// Runs `call` on this slot's instance for `records` records, adding the
    /// fuel it used to `fuel`.
    pub fn call<R>(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        recipe: Recipe<'_>,
        records: usize,
        fuel: &mut FuelTally,
        call: impl AsyncFnOnce(&mut I) -> Result<R, Failure>,
    ) -> Result<R, Failure> {
        let instance = self.start(runtime, recipe)?;
        let budget = recipe.loaded.limits.call_fuel(records);
        let outcome = runtime.block_on(call(&mut *instance));
        fuel.record(instance.fuel_used(budget), records);
        instance.forward_log(recipe.host, &recipe.loaded.name);
        if let Err(failure) = &outcome
            && failure.poisons_instance()
        {
            self.instance = None;
        }
        outcome
    }
}

/// Splits a chunk may spend isolating the records a plugin traps on: a
/// plugin that traps on everything makes at most twice the calls.
pub const TRAP_SPLITS_PER_CHUNK: u32 = (BATCHES_PER_CHUNK / 2) as u32;

impl<I: Instance> Slot<I> {
    /// Calls `call` on `items`. When the call fails in a way that ends the
    /// instance (a trap, a limit, a timeout), the items are split in halves
    /// and each half called again on a fresh instance, so that only the
    /// items that fail carry the failure, while the chunk's `splits` last.
    #[allow(clippy::too_many_arguments)]
    pub fn call_isolating<T, X>(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        recipe: Recipe<'_>,
        items: &[T],
        fuel: &mut FuelTally,
        splits: &mut u32,
        call: &impl AsyncFn(&mut I, &[T]) -> Result<Vec<Result<X, Failure>>, Failure>,
    ) -> Vec<Result<X, Failure>> {
        match self.call(runtime, recipe, items.len(), fuel, async |instance| call(instance, items).await) {
            Ok(outcomes) => outcomes,
            Err(failure) if failure.poisons_instance() && items.len() > 1 && *splits > 0 => {
                *splits -= 1;
                fuel.trap_splits += 1;
                let (left, right) = items.split_at(items.len() / 2);
                let mut outcomes = self.call_isolating(runtime, recipe, left, fuel, splits, call);
                outcomes.extend(self.call_isolating(runtime, recipe, right, fuel, splits, call));
                outcomes
            }
            Err(failure) => {
                if failure.poisons_instance() && items.len() > 1 {
                    fuel.unisolated += items.len() as u64;
                }
                items.iter().map(|_| Err(failure.clone())).collect()
            }
        }
    }
}

/// Feeds chunks of `source` to `jobs` workers and hands their results to
/// `collect` in input order. `collect` returns false to stop early.
pub fn ordered_pipeline<W, R: Send>(
    source: &mut dyn RecordSource,
    chunk_records: usize,
    jobs: usize,
    init: impl Fn() -> W + Sync,
    work: impl Fn(&mut W, Chunk) -> R + Sync,
    mut collect: impl FnMut(R) -> bool,
) -> Result<(), DatasetError> {
    let stop = AtomicBool::new(false);
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Chunk>(jobs * 2);
    let (result_tx, result_rx) = crossbeam_channel::bounded::<(u64, R)>(jobs * 2);
    std::thread::scope(|scope| {
        let reading = scope.spawn(|| {
            let chunk_tx = chunk_tx;
            while !stop.load(Ordering::Relaxed) {
                match source.next_chunk(chunk_records)? {
                    Some(chunk) => {
                        if chunk_tx.send(chunk).is_err() {
                            break;
                        }
                    }
                    None => break,
                }
            }
            Ok(())
        });
        for _ in 0..jobs {
            let chunk_rx = chunk_rx.clone();
            let result_tx = result_tx.clone();
            let (init, work, stop) = (&init, &work, &stop);
            scope.spawn(move || {
                let mut state = init();
                for chunk in chunk_rx {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let index = chunk.index;
                    if result_tx.send((index, work(&mut state, chunk))).is_err() {
                        break;
                    }
                }
            });
        }
        drop((chunk_rx, result_tx));

        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        'collect: for (index, result) in &result_rx {
            pending.insert(index, result);
            while let Some(result) = pending.remove(&next) {
                next += 1;
                if !collect(result) {
                    stop.store(true, Ordering::Relaxed);
                    break 'collect;
                }
            }
        }
        // Dropping the receiver unblocks workers still sending.
        drop(result_rx);
        reading.join().expect("the reader thread panicked")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_data::MemorySource;

    #[test]
    fn results_come_back_in_input_order_for_any_number_of_workers() {
        let lines: Vec<Vec<u8>> = (0..50).map(|i| format!("{{\"n\":{i}}}").into_bytes()).collect();
        for jobs in [1, 2, 5] {
            let mut source = MemorySource::json_lines(lines.iter().map(Vec::as_slice));
            let mut seen = Vec::new();
            ordered_pipeline(
                &mut source,
                3,
                jobs,
                || (),
                |_, chunk| chunk.records.iter().map(|r| r.line).collect::<Vec<_>>(),
                |lines| {
                    seen.extend(lines);
                    true
                },
            )
            .unwrap();
            assert_eq!(seen, (1..=50).collect::<Vec<u64>>(), "jobs = {jobs}");
        }
    }
}
