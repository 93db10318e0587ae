//! The WIT contract between the host and its plugins, one module per
//! version of the `assay:plugin` package.
//!
//! A new contract version gets a module of its own beside the old ones
//! (`since_v0_1`, then `since_v0_2`, ...), generated from its own copy of the
//! WIT, so plugins built against an old version keep loading: the host
//! converts at this boundary and the rest of the runtime sees one set of
//! types, the newest. Zed's extension host keeps its versions the same way.

pub mod since_v0_1;

pub use since_v0_1::scope::Scope;
pub use since_v0_1::{Decision, Feedback, Instant, Level, Rating, Sample, Scores, Statistic, Verdict};

/// The WIT package this host implements.
pub const WIT_PACKAGE: &str = "assay:plugin";

/// The contract versions this host accepts, as said in messages and by
/// `assay plugins`.
pub const ACCEPTED_VERSIONS: &str = "0.1.x";

/// Whether this host speaks contract `version` (such as `0.1.0`).
pub fn version_accepted(version: &str) -> bool {
    let mut parts = version.split('.');
    matches!((parts.next(), parts.next(), parts.next(), parts.next()), (Some("0"), Some("1"), Some(patch), None) if !patch.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_0_1_x() {
        assert!(version_accepted("0.1.0"));
        assert!(version_accepted("0.1.7"));
        assert!(!version_accepted("0.2.0"));
        assert!(!version_accepted("1.1.0"));
        assert!(!version_accepted(""));
    }
}
