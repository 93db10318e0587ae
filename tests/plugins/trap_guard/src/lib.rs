//! A guard that misbehaves on command, to test the host's failure policy.
//! Each record's comment names what to do: `TRAP` panics (failing the whole
//! call), `FAIL` returns an error for that record, `RISK` returns a risk
//! outside [0, 1], `REJECT` and `HOLD` reject and quarantine; anything else
//! is accepted. Every reason says how many records this instance has seen,
//! so tests can tell a fresh instance from the first.

// The export macro only exists on wasm: `cargo test --workspace` also builds
// this crate natively, where nothing uses the plugin.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use assay_sdk::guard::{Decision, Feedback, Guard};
use assay_sdk::{NoConfig, PluginInfo};

struct TrapGuard {
    seen: u64,
}

impl Guard for TrapGuard {
    type Config = NoConfig;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("trap_guard", "misbehaves on command")
    }

    fn new(_: NoConfig) -> Result<Self, String> {
        Ok(TrapGuard { seen: 0 })
    }

    fn screen(&mut self, record: &Feedback) -> Result<Decision, String> {
        self.seen += 1;
        let seen = format!("seen {}", self.seen);
        match record.comment.as_deref().unwrap_or("") {
            "TRAP" => panic!("trap_guard panicked on purpose"),
            "FAIL" => Err(format!("this record is not to my liking ({seen})")),
            "RISK" => Ok(Decision::accept().with_risk(2.0)),
            "REJECT" => Ok(Decision::reject(seen)),
            "HOLD" => Ok(Decision::quarantine(seen)),
            _ => Ok(Decision { reason: seen, ..Decision::accept() }),
        }
    }
}

assay_sdk::export_guard!(TrapGuard);
