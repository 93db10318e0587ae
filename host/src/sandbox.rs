//! The sandbox every plugin call runs in.
//!
//! A plugin is code another team wrote, so it starts with nothing: no
//! preopened directories, no environment variables, no arguments, no
//! network, an empty stdin and a stdout that goes nowhere. Its stderr is kept
//! in a bounded buffer so a failing plugin can explain itself in the error it
//! causes, without being able to fill the host's memory.
//!
//! Every call is bounded three ways, each turned into a typed [`Failure`]:
//! - fuel (deterministic: the same call on the same input always uses the
//!   same amount, whatever the machine's load), so a cost limit gives the same
//!   outcome on a laptop and in CI;
//! - a wall-clock deadline, enforced by epoch interruption while wasm runs and
//!   by an async timeout while the host runs a WASI call for the plugin (a
//!   plugin that sleeps in a host call is not running wasm, so epochs alone
//!   would not stop it);
//! - a memory cap, enforced by a [`wasmtime::ResourceLimiter`] that also
//!   records the refusal, because the guest sees a failed `memory.grow` and
//!   then traps in its own allocator: without the record that trap would look
//!   like any other.
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
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

/// How often the epoch advances: the resolution of call deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The instant virtual wall clocks show: 2000-01-01T00:00:00Z.
const VIRTUAL_EPOCH_SECONDS: u64 = 946_684_800;

/// Per-plugin limits. Every field has a default suited to metric code (the
/// defaults are in [`Limits::default`] and SECURITY.md); a config file may
/// raise or lower each one per plugin with `limits = { ... }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Fuel (roughly, wasm instructions) per sample; a call on a batch of `n`
    /// samples may use `n` times this. Default: 10^9, around a second of work.
    pub fuel_per_sample: u64,
    /// Wall-clock deadline for one call, in milliseconds. Default: 10 s.
    pub timeout_ms: u64,
    /// Linear memory cap per instance, in MiB. Default: 512.
    pub memory_mib: u64,
    /// Cap on the total bytes of text a call returns (reasons, messages,
    /// statistic names). Default: 16 MiB.
    pub max_output_bytes: u64,
    /// Cap on the stderr kept per instance, in bytes; the rest is dropped.
    /// Default: 64 KiB.
    pub max_log_bytes: u64,
    /// Cap on the size of the component file, in MiB. Default: 256.
    pub max_component_mib: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel_per_sample: 1_000_000_000,
            timeout_ms: 10_000,
            memory_mib: 512,
            max_output_bytes: 16 << 20,
            max_log_bytes: 64 << 10,
            max_component_mib: 256,
        }
    }
}

/// How a call to a plugin failed. Every failure fails exactly the records of
/// that call; the rest of the run goes on with a fresh instance.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    #[error("the call took longer than its {0} ms deadline")]
    Timeout(u64),
    #[error("the call ran out of fuel ({0} units)")]
    OutOfFuel(u64),
    #[error("the plugin tried to grow its memory past the {0} MiB cap")]
    MemoryLimit(u64),
    #[error("the plugin exhausted its call stack")]
    StackOverflow,
    #[error("the plugin trapped: {0}")]
    Trap(String),
    #[error("{0}")]
    PluginError(String),
    #[error("invalid output: {0}")]
    InvalidOutput(String),
    #[error("{0}")]
    Grant(String),
}

impl Failure {
    /// The outcome kind as written in result files.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Timeout(_) => "timeout",
            Failure::OutOfFuel(_) => "out-of-fuel",
            Failure::MemoryLimit(_) => "memory-limit",
            Failure::StackOverflow => "stack-overflow",
            Failure::Trap(_) => "trap",
            Failure::PluginError(_) => "plugin-error",
            Failure::InvalidOutput(_) => "invalid-output",
            Failure::Grant(_) => "grant",
        }
    }

    /// Whether the instance that produced this failure must be replaced: a
    /// trapped or interrupted instance cannot be entered again.
    pub fn poisons_instance(&self) -> bool {
        !matches!(self, Failure::PluginError(_) | Failure::InvalidOutput(_))
    }
}

/// The process-wide engine and its epoch ticker.
///
/// One engine serves every plugin so compiled code and the pooling
/// allocator's slots are shared.
pub struct Sandbox {
    engine: Engine,
}

/// Engine settings that must be known before any plugin is compiled.
#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    /// Instances that may exist at once (workers times plugins, plus spares
    /// for replacements).
    pub max_instances: u32,
    /// The largest memory cap of any plugin, in MiB.
    pub max_memory_mib: u64,
}

impl Sandbox {
    pub fn new(options: EngineOptions) -> wasmtime::Result<Self> {
        let mut config = wasmtime::Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(1 << 20)
            .async_stack_size(2 << 20);

        // Pre-allocated instance slots make instantiation a few microseconds,
        // which is what lets the host replace a trapped instance mid-run
        // without it showing in throughput. Components built from Python or
        // JavaScript carry many core instances and tables, hence the room.
        let slots = options.max_instances.max(8);
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_component_instances(slots)
            .total_core_instances(slots * 32)
            .total_memories(slots * 4)
            .total_tables(slots * 16)
            .total_stacks(slots)
            .max_core_instances_per_component(64)
            .max_memories_per_component(8)
            .max_tables_per_component(32)
            .max_memories_per_module(2)
            .max_tables_per_module(8)
            .table_elements(100_000)
            .max_component_instance_size(4 << 20)
            .max_core_instance_size(4 << 20)
            .max_memory_size((options.max_memory_mib as usize) << 20);
        config.allocation_strategy(pool);

        let engine = Engine::new(&config)?;
        start_epoch_ticker(&engine);
        Ok(Sandbox { engine })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A linker with WASI (as the sandbox restricts it) and nothing else.
    pub fn linker(&self) -> wasmtime::Result<Linker<StoreState>> {
        let mut linker = Linker::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        Ok(linker)
    }

    /// A store for one plugin instance, with the plugin's limits and no
    /// ambient authority beyond the directories `grants` name.
    pub fn store(&self, limits: &Limits, determinism: &Determinism, grants: &[Grant]) -> Result<Store<StoreState>, Failure> {
        let log = LogPipe::new(limits.max_log_bytes as usize);
        let rng = SeededRng::new(determinism.seed);
        let mut wasi = WasiCtx::builder();
        wasi.stderr(log.clone())
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
            limiter: MemoryLimiter { inner: StoreLimitsBuilder::new().memory_size(memory_bytes).build(), hit: false },
            log,
            rng,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        Ok(store)
    }
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

impl Serialize for Grant {
    /// As written in configs, `HOST_DIR:GUEST_PATH`, so a summary reads like the config that made it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}:{}", self.host.display(), self.guest))
    }
}

/// A background thread that advances the engine's epoch, giving every call
/// deadline a resolution of [`EPOCH_TICK`]. It counts ticks from the clock
/// rather than from its own sleeps: on a loaded machine a sleep overshoots,
/// and counting sleeps stretched a 1 s deadline to 2 s. Each engine has its
/// own thread, which ends when the engine is dropped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("assay-epoch".into())
        .spawn(move || {
            let start = std::time::Instant::now();
            let mut ticks = 0u128;
            while let Some(engine) = weak.upgrade() {
                let due = start.elapsed().as_millis() / EPOCH_TICK.as_millis();
                while ticks < due {
                    engine.increment_epoch();
                    ticks += 1;
                }
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}

/// Deadline in epoch ticks, rounded up so a deadline is never shorter than asked.
pub fn deadline_ticks(timeout_ms: u64) -> u64 {
    timeout_ms.div_ceil(EPOCH_TICK.as_millis() as u64).max(1) + 1
}

/// What a plugin may observe of the world beyond its input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct Determinism {
    /// Seed of the generator behind `wasi:random`; recorded in the summary.
    pub seed: u64,
    /// Give the plugin the host's real clocks. The run is then no longer
    /// reproducible, and the summary says so.
    pub real_clock: bool,
}



/// Host state of one plugin instance.
pub struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    log: LogPipe,
    rng: SeededRng,
}

impl StoreState {
    /// Whether the memory cap refused a growth since the last [`Self::reset_call`].
    pub fn memory_limit_hit(&self) -> bool {
        self.limiter.hit
    }

    /// The plugin's captured stderr, lossily decoded.
    pub fn log(&self) -> String {
        self.log.contents()
    }

    /// Prepares for the next call: reseeds randomness from the call's
    /// position so results do not depend on which instance serves it.
    pub fn reset_call(&mut self, call_seed: u64) {
        self.limiter.hit = false;
        self.rng.reseed(call_seed);
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

struct MemoryLimiter {
    inner: StoreLimits,
    hit: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if !allowed {
            self.hit = true;
        }
        Ok(allowed)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// Turns the error of a failed call into its typed outcome.
pub fn classify(error: &wasmtime::Error, state: &StoreState, limits: &Limits, fuel: u64) -> Failure {
    if state.memory_limit_hit() {
        return Failure::MemoryLimit(limits.memory_mib);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Failure::OutOfFuel(fuel),
        Some(Trap::Interrupt) => Failure::Timeout(limits.timeout_ms),
        Some(Trap::StackOverflow) => Failure::StackOverflow,
        Some(Trap::MemoryOutOfBounds) if shadow_stack_overflow(error) => Failure::StackOverflow,
        _ => {
            let mut message = error.root_cause().to_string();
            if let Some(trace) = error.downcast_ref::<wasmtime::WasmBacktrace>() {
                let frames = short_backtrace(trace);
                if !frames.is_empty() {
                    message.push_str(&format!(" (in {})", frames.join(" <- ")));
                }
            }
            let log = state.log();
            let log = log.trim();
            if !log.is_empty() {
                message.push_str(&format!("; stderr: {}", tail(log, 2000)));
            }
            Failure::Trap(message)
        }
    }
}

/// Whether an out-of-bounds access was the guest's own stack running out.
/// Toolchains such as Rust and C keep call frames on a stack in linear
/// memory, placed below the data and growing toward address zero, and do not
/// check it: that stack usually runs out before the engine's, its pointer
/// wraps below zero, and the overflow shows as an access just under 4 GiB
/// (or past it, once the access's offset is added). wasmtime gives the
/// address only in a message, hence the parsing; the hostile test plugin
/// notices if that message ever changes.
fn shadow_stack_overflow(error: &wasmtime::Error) -> bool {
    const WRAPPED: u64 = u32::MAX as u64 - (16 << 20);
    error.chain().filter_map(|cause| fault_address(&cause.to_string())).any(|address| address >= WRAPPED)
}

fn fault_address(message: &str) -> Option<u64> {
    let hex = message.strip_prefix("memory fault at wasm address 0x")?.split(' ').next()?;
    u64::from_str_radix(hex, 16).ok()
}

/// The plugin's own innermost frames, demangled and without the language
/// runtime's panic machinery, which every Rust panic shares.
fn short_backtrace(trace: &wasmtime::WasmBacktrace) -> Vec<String> {
    const RUNTIME: &[&str] = &["std::", "core::", "alloc::", "__rust", "rust_", "abort", "<std::", "<core::", "<alloc::"];
    trace
        .frames()
        .iter()
        .filter_map(|frame| frame.func_name())
        .map(|name| format!("{:#}", rustc_demangle::demangle(name)))
        .filter(|name| !RUNTIME.iter().any(|prefix| name.starts_with(prefix)))
        .take(6)
        .collect()
}

/// The last `max` bytes of `text`, cut at a character boundary.
fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// A bounded stderr: keeps the first `capacity` bytes and quietly drops the
/// rest. Unlike wasmtime's `MemoryOutputPipe`, a full buffer is not an error
/// the guest sees, because Rust's `eprintln!` panics when a write fails and a
/// chatty plugin must not trap for it.
#[derive(Clone)]
struct LogPipe {
    capacity: usize,
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl LogPipe {
    fn new(capacity: usize) -> Self {
        LogPipe { capacity, buffer: Arc::new(Mutex::new(Vec::new())) }
    }

    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.capacity.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn contents(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
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
    fn deadlines_round_up() {
        assert_eq!(deadline_ticks(1), 2);
        assert_eq!(deadline_ticks(10), 2);
        assert_eq!(deadline_ticks(11), 3);
    }

    #[test]
    fn log_pipe_keeps_only_its_capacity() {
        let pipe = LogPipe::new(5);
        pipe.append(b"abc");
        pipe.append(b"defgh");
        assert_eq!(pipe.contents(), "abcde");
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

    #[test]
    fn fault_addresses_are_read_from_wasmtime_messages() {
        assert_eq!(fault_address("memory fault at wasm address 0x100000168 in linear memory of size 0x110000"), Some(0x1_0000_0168));
        assert_eq!(fault_address("wasm trap: out of bounds memory access"), None);
    }

    #[test]
    fn tail_respects_char_boundaries() {
        assert_eq!(tail("héllo", 4), "llo");
        assert_eq!(tail("abc", 10), "abc");
    }
}
