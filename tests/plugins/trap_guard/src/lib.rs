//! A guard that misbehaves on command, to test the host's failure policy.
//! Each record's comment names what to do: `TRAP` panics (failing the whole
//! call), `FAIL` returns an error for that record, `RISK` returns a risk
//! outside [0, 1], `REJECT` and `HOLD` reject and quarantine, `RECALL ID
//! VERDICT` accepts the record and recalls record `ID` to `VERDICT`
//! (`accept`, `quarantine` or `reject`, loose ones included, to test the
//! host's refusals), `SLOW` accepts after a few hundred million steps of
//! busy work (to keep a service's intake busy); anything else is accepted. Every reason says how many
//! records this instance has seen, so tests can tell a fresh instance from
//! the first.

// The export macro only exists on wasm: `cargo test --workspace` also builds
// this crate natively, where nothing uses the plugin.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use assay_sdk::guard::{Decision, Feedback, Guard, Recall, Verdict};
use assay_sdk::{NoConfig, PluginInfo};

struct TrapGuard {
    seen: u64,
    recalls: Vec<Recall>,
}

impl Guard for TrapGuard {
    type Config = NoConfig;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("trap_guard", "misbehaves on command")
    }

    fn new(_: NoConfig) -> Result<Self, String> {
        Ok(TrapGuard { seen: 0, recalls: Vec::new() })
    }

    fn screen(&mut self, record: &Feedback) -> Result<Decision, String> {
        self.seen += 1;
        let seen = format!("seen {}", self.seen);
        let comment = record.comment.as_deref().unwrap_or("");
        if let Some(order) = comment.strip_prefix("RECALL ") {
            let (id, verdict) = order.split_once(' ').ok_or("RECALL takes an id and a verdict")?;
            let verdict = match verdict {
                "accept" => Verdict::Accept,
                "quarantine" => Verdict::Quarantine,
                "reject" => Verdict::Reject,
                other => return Err(format!("no verdict {other:?}")),
            };
            let reason = format!("recalled at {} ({seen})", record.id);
            self.recalls.push(Recall { id: id.into(), verdict, reason });
            return Ok(Decision { reason: seen, ..Decision::accept() });
        }
        match comment {
            "TRAP" => panic!("trap_guard panicked on purpose"),
            "FAIL" => Err(format!("this record is not to my liking ({seen})")),
            "RISK" => Ok(Decision::accept().with_risk(2.0)),
            "REJECT" => Ok(Decision::reject(seen)),
            "HOLD" => Ok(Decision::quarantine(seen)),
            "SLOW" => {
                let mut x = 0u64;
                for i in 0..100_000_000u64 {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                }
                Ok(Decision { reason: format!("{seen}, {}", x % 2), ..Decision::accept() })
            }
            _ => Ok(Decision { reason: seen, ..Decision::accept() }),
        }
    }

    fn recalls(&mut self) -> Vec<Recall> {
        std::mem::take(&mut self.recalls)
    }
}

assay_sdk::export_guard!(TrapGuard);
