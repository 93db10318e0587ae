//! The WASI context a plugin sees: nothing it was not given.
//!
//! A plugin starts with no preopened directories, no environment variables,
//! no arguments, no network and an empty stdin. What it writes to stdout or
//! stderr (Python's `print` and tracebacks, JavaScript's `console.log`, Rust's
//! panics) goes to one bounded log, so a failing plugin can explain itself in
//! the error it causes, and its author can read it (`assay run -v`, `assay
//! test`), without the plugin being able to fill the host's memory.
//! Directories are given only by a [`Grant`], read-only.
//!
//! Clocks and randomness are virtual by default: a plugin reads a fixed time
//! and a generator reseeded before every call from the run's seed and the
//! batch's position, so its output depends only on its input, whatever the
//! number of threads or the order in which workers take batches.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use rand::SeedableRng as _;
use serde::{Deserialize, Serialize};
use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use crate::failure::Failure;
use crate::limits::Limits;
use crate::models::{ModelAccess, ModelWait};

/// The instant virtual wall clocks show: 2000-01-01T00:00:00Z.
const VIRTUAL_EPOCH_SECONDS: u64 = 946_684_800;

/// A store for one plugin instance, with the plugin's limits and no
/// ambient authority beyond the directories `grants` name and the models
/// `models` gives.
pub(crate) fn new_store(
    engine: &wasmtime::Engine,
    limits: &Limits,
    determinism: &Determinism,
    grants: &[Grant],
    models: Option<ModelAccess>,
) -> Result<Store<StoreState>, Failure> {
    let log = LogPipe::new(limits.max_log_bytes as usize);
    let rng = SeededRng::new(determinism.seed);
    let mut wasi = WasiCtx::builder();
    wasi.stdout(log.clone())
        .stderr(log.clone())
        .secure_random(rng.clone())
        .insecure_random(rng.clone())
        .insecure_random_seed(u128::from(determinism.seed))
        .max_random_size(1 << 20);
    if !determinism.real_clock {
        wasi.wall_clock(VirtualWallClock).monotonic_clock(VirtualMonotonicClock);
    }
    for grant in grants {
        wasi.preopened_dir(&grant.host, &grant.guest, FsPerms::ReadOnly).map_err(|e| {
            Failure::Grant(format!("cannot open the granted directory {}: {e:#}", grant.host.display()))
        })?;
    }
    let memory_bytes = (limits.memory_mib as usize) << 20;
    let state = StoreState {
        wasi: wasi.build(),
        table: ResourceTable::new(),
        limiter: MemoryLimiter::new(memory_bytes),
        log,
        rng,
        models,
        model_wait: Arc::default(),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    // At the deadline, time spent waiting for models is given back: it
    // counts against the run's model budget, not the plugin's deadline.
    store.epoch_deadline_callback(|context| {
        let credit = context.data().model_wait.take_uncredited_ms();
        if credit > 0 {
            Ok(wasmtime::UpdateDeadline::Continue(crate::engine::deadline_ticks(credit)))
        } else {
            Err(wasmtime::Trap::Interrupt.into())
        }
    });
    Ok(store)
}

/// What a plugin may observe of the world beyond its input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Determinism {
    /// Seed of the generator behind `wasi:random`; recorded in the summary.
    pub seed: u64,
    /// Give the plugin the host's real clocks. The run is then no longer
    /// reproducible, and the summary says so.
    pub real_clock: bool,
}

/// A host directory a plugin may read (and never write), and the path it
/// sees it at. Without one, a plugin sees no files at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub host: PathBuf,
    pub guest: String,
}

impl Grant {
    /// Reads `HOST_DIR:GUEST_PATH`, with `HOST_DIR` relative to `base` (the
    /// folder of the config file that names it).
    pub fn parse(text: &str, base: &Path) -> Result<Grant, String> {
        let (host, guest) = text
            .rsplit_once(':')
            .filter(|(host, guest)| !host.is_empty() && guest.starts_with('/'))
            .ok_or_else(|| format!("grant {text:?}: expected HOST_DIR:GUEST_PATH, such as \"./facts:/data\""))?;
        let host = base.join(host);
        if !host.is_dir() {
            return Err(format!("grant {text:?}: {} is not a directory", host.display()));
        }
        Ok(Grant { host, guest: guest.to_string() })
    }
}

impl<'de> Deserialize<'de> for Grant {
    /// Reads what [`Serialize`] writes, without checking that the directory exists:
    /// a summary read back describes a run that already happened.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Grant, D::Error> {
        let text = String::deserialize(d)?;
        let (host, guest) =
            text.rsplit_once(':').ok_or_else(|| serde::de::Error::custom("expected HOST_DIR:GUEST_PATH"))?;
        Ok(Grant { host: host.into(), guest: guest.into() })
    }
}

impl Serialize for Grant {
    /// As written in configs, `HOST_DIR:GUEST_PATH`, so a summary reads like the config that made it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}:{}", self.host.display(), self.guest))
    }
}

/// Host state of one plugin instance.
pub struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    log: LogPipe,
    rng: SeededRng,
    /// The models this instance may ask, through the broker; none when the
    /// run has no broker.
    pub(crate) models: Option<ModelAccess>,
    pub(crate) model_wait: Arc<ModelWait>,
}

impl StoreState {
    /// Whether the memory cap refused a growth since the last [`Self::reset_call`].
    pub fn memory_limit_hit(&self) -> bool {
        self.limiter.hit
    }

    /// What the plugin wrote since its log was last taken, lossily decoded.
    pub fn log(&self) -> String {
        self.log.contents()
    }

    /// Takes what the plugin wrote since the last take, leaving the log empty.
    pub(crate) fn take_log(&mut self) -> String {
        self.log.take()
    }

    /// Prepares for the next call: reseeds randomness from the call's
    /// position so results do not depend on which instance serves it.
    pub(crate) fn reset_call(&mut self, call_seed: u64) {
        self.limiter.hit = false;
        self.rng.reseed(call_seed);
        self.model_wait.reset();
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The memory cap of one instance, over all it holds: every linear memory
/// and every table of every core instance in the component. Wasmtime asks
/// per memory and per table, so a cap applied to each alone would let a
/// component with two memories hold twice the cap.
struct MemoryLimiter {
    cap: usize,
    /// Bytes held now, summed over memories and tables.
    used: usize,
    /// Whether a growth was refused since the last call began.
    hit: bool,
}

/// What one table element is counted as: a reference, as wasmtime stores it.
const TABLE_ELEMENT_BYTES: usize = std::mem::size_of::<usize>();

impl MemoryLimiter {
    fn new(cap: usize) -> Self {
        MemoryLimiter { cap, used: 0, hit: false }
    }

    /// Grows the total by `desired - current` bytes if it stays under the cap.
    fn grow(&mut self, current: usize, desired: usize) -> bool {
        let total = self.used.saturating_sub(current).saturating_add(desired);
        if total > self.cap {
            self.hit = true;
            return false;
        }
        self.used = total;
        true
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|max| desired <= max) && self.grow(current, desired))
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let bytes = |elements: usize| elements.saturating_mul(TABLE_ELEMENT_BYTES);
        Ok(maximum.is_none_or(|max| desired <= max) && self.grow(bytes(current), bytes(desired)))
    }
}

/// A bounded log: keeps the first and the last `capacity / 2` bytes and
/// quietly drops what lies between, so a plugin that floods its log cannot
/// push its own final panic message out of the error it causes. Unlike
/// wasmtime's `MemoryOutputPipe`, a full buffer is not an error the guest
/// sees, because Rust's `eprintln!` panics when a write fails and a chatty
/// plugin must not trap for it.
#[derive(Clone)]
struct LogPipe {
    capacity: usize,
    log: Arc<Mutex<Log>>,
}

#[derive(Default)]
struct Log {
    head: Vec<u8>,
    /// The latest bytes past the head, at most `capacity / 2` of them.
    tail: std::collections::VecDeque<u8>,
    dropped: u64,
}

impl LogPipe {
    fn new(capacity: usize) -> Self {
        LogPipe { capacity, log: Arc::new(Mutex::new(Log::default())) }
    }

    fn append(&self, mut bytes: &[u8]) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let half = self.capacity / 2;
        let to_head = (self.capacity - half).saturating_sub(log.head.len()).min(bytes.len());
        log.head.extend_from_slice(&bytes[..to_head]);
        bytes = &bytes[to_head..];
        if half == 0 {
            log.dropped += bytes.len() as u64;
            return;
        }
        if bytes.len() > half {
            log.dropped += (log.tail.len() + bytes.len() - half) as u64;
            log.tail.clear();
            bytes = &bytes[bytes.len() - half..];
        }
        let overflow = (log.tail.len() + bytes.len()).saturating_sub(half);
        log.tail.drain(..overflow);
        log.dropped += overflow as u64;
        log.tail.extend(bytes);
    }

    fn contents(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::from_utf8_lossy(&log.head).into_owned();
        if log.dropped > 0 {
            text.push_str(&format!("\n[... {} bytes of log dropped ...]\n", log.dropped));
        }
        let (a, b) = log.tail.as_slices();
        text.push_str(&String::from_utf8_lossy(&[a, b].concat()));
        text
    }

    fn take(&self) -> String {
        let text = self.contents();
        *self.log.lock().unwrap_or_else(|e| e.into_inner()) = Log::default();
        text
    }
}

impl IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for LogPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 << 10)
    }
}

#[async_trait::async_trait]
impl Pollable for LogPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogPipe {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A wall clock stopped at [`VIRTUAL_EPOCH_SECONDS`].
struct VirtualWallClock;

impl wasmtime_wasi::HostWallClock for VirtualWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::from_secs(VIRTUAL_EPOCH_SECONDS)
    }
}

/// A monotonic clock that never advances.
struct VirtualMonotonicClock;

impl wasmtime_wasi::HostMonotonicClock for VirtualMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

/// The generator behind both `wasi:random` interfaces, shared with the host
/// so it can be reseeded before each call.
#[derive(Clone)]
struct SeededRng {
    seed: u64,
    state: Arc<Mutex<rand::rngs::StdRng>>,
}

impl SeededRng {
    fn new(seed: u64) -> Self {
        SeededRng { seed, state: Arc::new(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed))) }
    }

    fn reseed(&self, call_seed: u64) {
        let mixed = self.seed ^ call_seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = rand::rngs::StdRng::seed_from_u64(mixed);
    }
}

impl rand::TryRng for SeededRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).try_next_u64()
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).try_fill_bytes(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_cap_counts_every_memory_and_table_together() {
        use wasmtime::ResourceLimiter as _;
        let mib = 1 << 20;
        let mut limiter = MemoryLimiter::new(64 * mib);
        assert!(limiter.memory_growing(0, 40 * mib, None).unwrap(), "a first memory under the cap");
        assert!(
            !limiter.memory_growing(0, 40 * mib, None).unwrap(),
            "a second memory that would pass the cap together"
        );
        assert!(limiter.hit);
        assert!(limiter.memory_growing(0, 20 * mib, None).unwrap(), "a second memory that fits");
        assert!(!limiter.table_growing(0, 4 * mib / TABLE_ELEMENT_BYTES + 1, None).unwrap(), "tables count too");
        assert!(limiter.memory_growing(40 * mib, 44 * mib, None).unwrap(), "growing one memory counts only the growth");
        assert!(!limiter.memory_growing(44 * mib, 45 * mib, None).unwrap());
        assert!(!limiter.memory_growing(0, mib, Some(mib / 2)).unwrap(), "a memory's own maximum holds");
    }

    /// A component whose one module has two memories, each grown by the
    /// same number of pages: what no guest toolchain emits, written by hand.
    const TWO_MEMORIES: &str = r#"
        (component
          (core module $m
            (memory $a 1)
            (memory $b 1)
            (func (export "grow") (param i32) (result i32)
              (if (i32.lt_s (memory.grow $a (local.get 0)) (i32.const 0)) (then (return (i32.const -1))))
              (memory.grow $b (local.get 0))))
          (core instance $i (instantiate $m))
          (func (export "grow") (param "pages" u32) (result s32) (canon lift (core func $i "grow"))))
    "#;

    #[test]
    fn two_memories_of_one_instance_share_its_cap_in_the_real_engine() {
        let limits = Limits { memory_mib: 64, ..Limits::default() };
        let sandbox = crate::engine::Sandbox::new(crate::EngineOptions {
            max_instances: 1,
            max_memory_mib: 64,
            ..Default::default()
        })
        .unwrap();
        let component = wasmtime::component::Component::new(sandbox.engine(), wat::parse_str(TWO_MEMORIES).unwrap())
            .expect("two memories fit the sandbox's shape");
        let grow_both = |pages: u32| {
            let mut store = new_store(sandbox.engine(), &limits, &Determinism::default(), &[], None).unwrap();
            store.set_fuel(1_000_000).unwrap();
            store.set_epoch_deadline(u64::MAX / 2);
            let linker = wasmtime::component::Linker::new(sandbox.engine());
            crate::call_runtime().block_on(async {
                let instance = linker.instantiate_async(&mut store, &component).await.unwrap();
                let grow = instance.get_typed_func::<(u32,), (i32,)>(&mut store, "grow").unwrap();
                let (result,) = grow.call_async(&mut store, (pages,)).await.unwrap();
                (result, store.data().memory_limit_hit())
            })
        };
        // 40 MiB each: either alone is under the 64 MiB cap, both are not.
        assert_eq!(grow_both(640), (-1, true), "the second memory's growth is refused and recorded");
        assert_eq!(grow_both(400), (1, false), "25 MiB each fits");
    }

    #[test]
    fn log_pipe_keeps_its_head_and_its_tail() {
        let pipe = LogPipe::new(6);
        pipe.append(b"ab");
        assert_eq!(pipe.contents(), "ab");
        pipe.append(b"cdef");
        assert_eq!(pipe.contents(), "abcdef");
        pipe.append(b"ghij");
        assert_eq!(pipe.contents(), "abc\n[... 4 bytes of log dropped ...]\nhij");
        pipe.append(&[b'x'; 1000]);
        pipe.append(b"panicked: the end");
        assert_eq!(pipe.contents(), "abc\n[... 1021 bytes of log dropped ...]\nend");
        assert_eq!(pipe.take(), "abc\n[... 1021 bytes of log dropped ...]\nend");
        assert_eq!(pipe.contents(), "", "taking empties the log");
        pipe.append(b"abcdefgh");
        assert_eq!(pipe.contents(), "abc\n[... 2 bytes of log dropped ...]\nfgh", "and resets its bound");
    }

    #[test]
    fn reseeding_replays_the_same_numbers() {
        use rand::TryRng as _;
        let mut rng = SeededRng::new(7);
        rng.reseed(3);
        let first = rng.try_next_u64().unwrap();
        rng.reseed(4);
        assert_ne!(rng.try_next_u64().unwrap(), first);
        rng.reseed(3);
        assert_eq!(rng.try_next_u64().unwrap(), first);
    }
}
