//! Human review: people mark a run's outputs (or a guard run's quarantine)
//! appropriate or not, and their verdicts are measured: for agreement among
//! themselves, and as the reference every automatic metric (a language
//! model judge included) is measured against.
//!
//! This crate knows nothing of the sandbox or the pipelines: it reads run
//! folders back (through `assay-data`), chooses and writes what people
//! review, reads verdicts and computes agreement, so that verdicts gathered
//! elsewhere (a spreadsheet, another tool) are measured the same way.

pub mod agreement;
pub mod apply;
pub mod folder;
pub mod human;
pub mod selection;
pub mod server;
pub mod stats;
pub mod store;
pub mod verdicts;
