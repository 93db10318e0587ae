//! How a plugin call can fail, as a typed outcome with a stable kind.
//!
//! Every failure fails exactly the records of that call; the rest of the run
//! goes on with a fresh instance. The kinds are written into result files
//! and matched by CI scripts, so they never change once published.

use wasmtime::Trap;

use crate::limits::Limits;
use crate::wasi::StoreState;

/// How a call to a plugin failed.
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

/// What precedes the plugin's log in a trap's message: readers that show
/// the log apart (`assay test`) or drop the frames before it (run tables)
/// find it by this.
pub const LOG_QUOTE: &str = "; stderr: ";

/// Turns the error of a failed call into its typed outcome.
pub(crate) fn classify(error: &wasmtime::Error, state: &StoreState, limits: &Limits, fuel: u64) -> Failure {
    if state.memory_limit_hit() {
        return Failure::MemoryLimit(limits.memory_mib);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Failure::OutOfFuel(fuel),
        Some(Trap::Interrupt) => Failure::Timeout(limits.timeout_ms),
        Some(Trap::StackOverflow) => Failure::StackOverflow,
        Some(Trap::MemoryOutOfBounds) if shadow_stack_overflow(error) => Failure::StackOverflow,
        _ => {
            // The layout readers rely on: what happened, what it means, ` (in
            // FRAMES)`, then the log after LOG_QUOTE.
            let mut message = error.root_cause().to_string();
            if let Some(trace) = error.downcast_ref::<wasmtime::WasmBacktrace>() {
                let frames = short_backtrace(trace);
                if let Some(hint) = frames.iter().find_map(|frame| toolchain_hint(frame)) {
                    message.push_str(&format!("; {hint}"));
                }
                if !frames.is_empty() {
                    message.push_str(&format!(" (in {})", frames.join(" <- ")));
                }
            }
            let log = state.log();
            let log = log.trim();
            if !log.is_empty() {
                message.push_str(&format!("{LOG_QUOTE}{}", tail(log, 2000)));
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
///
/// A frame large enough to be filled or copied with `memory.fill` or
/// `memory.copy` faults inside the engine's bulk-memory routine, which gives
/// no address. Then the backtrace decides: the faulting function is on the
/// stack [`RECURSION_DEPTH`] times or more, so the access was a frame of an
/// unbounded recursion.
fn shadow_stack_overflow(error: &wasmtime::Error) -> bool {
    const WRAPPED: u64 = u32::MAX as u64 - (16 << 20);
    let mut addresses = error.chain().filter_map(|cause| fault_address(&cause.to_string())).peekable();
    if addresses.peek().is_some() {
        return addresses.any(|address| address >= WRAPPED);
    }
    error.downcast_ref::<wasmtime::WasmBacktrace>().is_some_and(recursing)
}

/// How many times the faulting function must be on the stack for a fault
/// without an address to count as a stack overflow. A 1 MiB guest stack
/// holds four frames of 256 KiB; legitimate recursion rarely faults this deep.
const RECURSION_DEPTH: usize = 4;

fn recursing(trace: &wasmtime::WasmBacktrace) -> bool {
    let frames = trace.frames();
    let Some(innermost) = frames.first() else { return false };
    let same = |f: &&wasmtime::FrameInfo| {
        f.func_index() == innermost.func_index() && wasmtime::Module::same(f.module(), innermost.module())
    };
    frames.iter().filter(same).count() >= RECURSION_DEPTH
}

fn fault_address(message: &str) -> Option<u64> {
    let hex = message.strip_prefix("memory fault at wasm address 0x")?.split(' ').next()?;
    u64::from_str_radix(hex, 16).ok()
}

/// The plugin's own innermost frames, demangled and without the language
/// runtime's panic machinery, which every Rust panic shares.
fn short_backtrace(trace: &wasmtime::WasmBacktrace) -> Vec<String> {
    const RUNTIME: &[&str] =
        &["std::", "core::", "alloc::", "__rust", "rust_", "abort", "<std::", "<core::", "<alloc::"];
    trace
        .frames()
        .iter()
        .filter_map(|frame| frame.func_name())
        .map(|name| format!("{:#}", rustc_demangle::demangle(name)))
        .filter(|name| !RUNTIME.iter().any(|prefix| name.starts_with(prefix)))
        .take(6)
        // Names come from the component's own name section: any length.
        .map(|name| clip(&name, crate::bounds::MAX_NAME_BYTES).to_string())
        .collect()
}

/// What a trap in a language toolchain's own glue code usually means, where
/// the toolchain's message does not say (componentize-py converts a
/// function's answer to the contract's types in `wit_dylib_pop_result`, and
/// panics with "entered unreachable code" on a value of the wrong type).
fn toolchain_hint(frame: &str) -> Option<&'static str> {
    match frame {
        "wit_dylib_pop_result" => Some(
            "the plugin returned a value that does not fit the contract's type: in Python, each item of a list \
             of results must be Ok(value) or Err(message), and a record must be its generated class",
        ),
        _ => None,
    }
}

/// At most the first `max` bytes of `text`, cut at a character boundary, for
/// quoting plugin text in a message without repeating all of it.
pub(crate) fn clip(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_addresses_are_read_from_wasmtime_messages() {
        assert_eq!(
            fault_address("memory fault at wasm address 0x100000168 in linear memory of size 0x110000"),
            Some(0x1_0000_0168)
        );
        assert_eq!(fault_address("wasm trap: out of bounds memory access"), None);
    }

    #[test]
    fn a_trap_in_componentize_py_s_result_conversion_says_what_it_means() {
        assert!(toolchain_hint("wit_dylib_pop_result").is_some_and(|hint| hint.contains("Ok(value)")));
        assert_eq!(toolchain_hint("score"), None);
    }

    #[test]
    fn tail_respects_char_boundaries() {
        assert_eq!(tail("héllo", 4), "llo");
        assert_eq!(tail("abc", 10), "abc");
    }
}
