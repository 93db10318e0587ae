//! The process-wide WebAssembly engine.
//!
//! One engine serves every plugin of a process, so compiled code and the
//! pooling allocator's instance slots are shared. A background thread
//! advances its epoch, which is what gives every call its deadline: an epoch
//! deadline stops wasm code wherever it is, without the cost of checking a
//! clock in the guest.

use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::wasi::StoreState;

/// How often the epoch advances: the resolution of call deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The process-wide engine and its epoch ticker.
///
/// One engine serves every plugin so compiled code and the pooling
/// allocator's slots are shared.
pub struct Sandbox {
    engine: Engine,
    compiler: Compiler,
}

/// The shape every plugin must fit, whatever its [`Limits`](crate::Limits):
/// the pooling allocator reserves each instance's slots up front, so a
/// component needing more is refused when it is loaded, with these words.
#[derive(Debug, Clone, Copy)]
pub struct SandboxBounds;

impl SandboxBounds {
    pub const CORE_INSTANCES_PER_COMPONENT: u32 = 64;
    pub const MEMORIES_PER_COMPONENT: u32 = 8;
    pub const TABLES_PER_COMPONENT: u32 = 32;
    pub const MEMORIES_PER_MODULE: u32 = 2;
    pub const TABLES_PER_MODULE: u32 = 8;
    pub const TABLE_ELEMENTS: usize = 100_000;
    pub const INSTANCE_STATE_BYTES: usize = 4 << 20;
}

impl std::fmt::Display for SandboxBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "at most {} core instances, {} memories and {} tables per component; {} memories and {} tables \
             per module; {} elements per table; {} MiB of instance state",
            Self::CORE_INSTANCES_PER_COMPONENT,
            Self::MEMORIES_PER_COMPONENT,
            Self::TABLES_PER_COMPONENT,
            Self::MEMORIES_PER_MODULE,
            Self::TABLES_PER_MODULE,
            Self::TABLE_ELEMENTS,
            Self::INSTANCE_STATE_BYTES >> 20
        )
    }
}

/// Which compiler turns a plugin's WebAssembly into machine code.
///
/// Both give the same results under the same limits (tested on every
/// built-in): they differ in how long compiling takes against how fast the
/// code runs, and in fuel, which the compiled code counts: Winch counts up to
/// 5% less than Cranelift for the same work, so a run records which one
/// counted its fuel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compiler {
    /// Cranelift, the optimizing compiler: slower to compile, faster code.
    /// What every run uses unless told otherwise.
    #[default]
    Cranelift,
    /// Winch, Wasmtime's baseline compiler: compiles a large component
    /// several times faster, and its code runs slower. Meant for the plugin
    /// author's edit-build-run loop (`assay dev`), where a 12 MiB JavaScript
    /// component is compiled once per edit and called a few times.
    Winch,
}

impl Compiler {
    /// The compilers this build can use here: Wasmtime's Winch compiles
    /// for x86_64 only.
    pub const AVAILABLE: &[Compiler] =
        if cfg!(target_arch = "x86_64") { &[Compiler::Cranelift, Compiler::Winch] } else { &[Compiler::Cranelift] };

    /// What the plugin author's loop compiles with: the quicker of the
    /// available compilers to compile.
    pub const FOR_DEVELOPMENT: Compiler =
        if cfg!(target_arch = "x86_64") { Compiler::Winch } else { Compiler::Cranelift };

    /// Its name in flags and in `assay.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Compiler::Cranelift => "cranelift",
            Compiler::Winch => "winch",
        }
    }
}

/// Engine settings that must be known before any plugin is compiled.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Instances that may exist at once (workers times plugins, plus spares
    /// for replacements).
    pub max_instances: u32,
    /// The largest memory cap of any plugin, in MiB.
    pub max_memory_mib: u64,
    /// Where compiled functions are kept for the next compile, if anywhere.
    /// Ignored for Winch, whose functions are not kept between compiles.
    pub function_cache: Option<std::sync::Arc<crate::function_cache::FunctionCache>>,
    pub compiler: Compiler,
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
            .max_core_instances_per_component(SandboxBounds::CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(SandboxBounds::MEMORIES_PER_COMPONENT)
            .max_tables_per_component(SandboxBounds::TABLES_PER_COMPONENT)
            .max_memories_per_module(SandboxBounds::MEMORIES_PER_MODULE)
            .max_tables_per_module(SandboxBounds::TABLES_PER_MODULE)
            .table_elements(SandboxBounds::TABLE_ELEMENTS)
            .max_component_instance_size(SandboxBounds::INSTANCE_STATE_BYTES)
            .max_core_instance_size(SandboxBounds::INSTANCE_STATE_BYTES)
            .max_memory_size((options.max_memory_mib as usize) << 20);
        config.allocation_strategy(pool);
        match options.compiler {
            Compiler::Cranelift => {
                config.strategy(wasmtime::Strategy::Cranelift);
                if let Some(store) = options.function_cache {
                    config.enable_incremental_compilation(store)?;
                }
            }
            Compiler::Winch => {
                config.strategy(wasmtime::Strategy::Winch);
            }
        }

        let engine = Engine::new(&config)?;
        start_epoch_ticker(&engine);
        Ok(Sandbox { engine, compiler: options.compiler })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// What compiles this engine's plugins.
    pub fn compiler(&self) -> Compiler {
        self.compiler
    }

    /// A linker with WASI (as the sandbox restricts it) and nothing else.
    pub fn linker(&self) -> wasmtime::Result<Linker<StoreState>> {
        let mut linker = Linker::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // Every plugin may import `model`; without a grant each request
        // fails `not-granted` (crate::models).
        crate::contract::since_v0_1::model::assay::plugin::model::add_to_linker::<
            StoreState,
            wasmtime::component::HasSelf<StoreState>,
        >(&mut linker, |state| state)?;
        Ok(linker)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up() {
        assert_eq!(deadline_ticks(1), 2);
        assert_eq!(deadline_ticks(10), 2);
        assert_eq!(deadline_ticks(11), 3);
    }
}
