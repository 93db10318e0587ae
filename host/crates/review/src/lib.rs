//! Human review: people mark a run's outputs (or a guard run's quarantine)
//! appropriate or not, and their verdicts are measured: for agreement among
//! themselves, and as the reference every automatic metric (a language
//! model judge included) is measured against.
//!
//! This crate knows nothing of the sandbox or the pipelines: it reads
//! verdicts and computes agreement, so that verdicts gathered elsewhere (a
//! spreadsheet, another tool) are measured the same way.

pub mod agreement;
pub mod stats;
pub mod verdicts;
