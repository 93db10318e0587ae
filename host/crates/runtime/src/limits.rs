//! The bounds every plugin runs under.
//!
//! Each has a default suited to metric code (SECURITY.md lists them); a
//! config file raises or lowers each one per plugin, and the summary of
//! every run records the limits each plugin had, so a result can be
//! reproduced under the same bounds.

use serde::{Deserialize, Serialize};

/// Per-plugin limits. A config file may set each field per plugin with
/// `limits = { ... }`; the fields it leaves out keep their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Fuel (roughly, wasm instructions) per sample; a call on a batch of `n`
    /// samples may use `n` times this. Default: 10^9, around a second of work.
    pub fuel_per_sample: u64,
    /// Wall-clock deadline for one call, in milliseconds. Default: 10 s.
    pub timeout_ms: u64,
    /// Memory cap per instance, in MiB: all its linear memories and tables
    /// together. Default: 512.
    pub memory_mib: u64,
    /// Cap on the total bytes of text a call returns (reasons, messages,
    /// statistic names). Default: 16 MiB.
    pub max_output_bytes: u64,
    /// Cap on the log (stdout and stderr) kept per call, in bytes: its first
    /// and last halves are kept, what lies between is dropped.
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

impl Limits {
    /// Fuel budget of a call on `records` records.
    pub fn call_fuel(&self, records: usize) -> u64 {
        self.fuel_per_sample.saturating_mul(records.max(1) as u64)
    }
}
