//! The pipelines: records in, plugins called, results out, in input order.
//!
//! [`evaluate`] scores samples with evaluators (`assay run`), or one shard
//! of them that [`merge`] puts together with the others (`assay merge`);
//! [`Screening`] routes feedback through guards (`assay guard`), or one shard of
//! it that [`merge_screening`] puts together. Both stand on one worker
//! abstraction ([`worker`]): records come from any [`RecordSource`] (a file,
//! a request body, a shard), are cut into chunks whose boundaries depend
//! only on the input, and are handed to parallel workers whose results are
//! put back in input order, so every output is identical for every `-j`.
//! Each worker keeps its plugin instances in a [`worker::Slot`], which
//! creates them lazily, counts their fuel and replaces a broken one.
//!
//! What it must not depend on: registries (plugins arrive loaded) or
//! anything of a command line (progress is reported through [`Progress`]).
//!
//! [`RecordSource`]: assay_data::RecordSource

pub mod evaluate;
pub mod journal;
pub mod merge;
pub mod recall;
mod sample_ids;
pub mod screen;
mod staging;
pub mod worker;

pub use evaluate::{BadRecordPolicy, EarlyStop, EvaluateOptions, Scorer, evaluate, evaluate_bytes, evaluate_shard};
pub use merge::{MergeError, Shards, merge, merge_screening};
pub use screen::{
    BadFeedbackPolicy, Guard, SavedGuard, ScreenOptions, ScreenedBytes, Screener, Screening, StateFailure,
};
pub use worker::{Progress, RunError, Schedule};
