//! The sandbox every Assay plugin runs in.
//!
//! A plugin is code another team wrote. This crate loads it as a WebAssembly
//! component through the versioned WIT contract ([`contract`]), checks what it
//! imports against one table of capabilities ([`capability`]), and runs each
//! call with no ambient authority ([`wasi`]), under fuel, a deadline and a
//! memory cap ([`limits`]), turning every way a call can end into a typed
//! [`Failure`]. [`Host`] ties the engine, the linker and the compiled-component
//! [`cache`] together; [`EvaluatorInstance`] and [`GuardInstance`] are live
//! plugins of each kind, so a guard call on an evaluator cannot compile.
//!
//! What this crate must not depend on: any other Assay crate, file formats of
//! eval sets or results, registries, or anything of a command line (clap,
//! terminals, progress bars). Pipelines, servers and other programs embed it.

pub mod bounds;
pub mod cache;
pub mod capability;
pub mod contract;
pub mod digest;
pub mod engine;
pub mod failure;
pub mod function_cache;
pub mod host;
pub mod instance;
pub mod limits;
pub mod models;
pub mod plugin;
pub mod wasi;

pub use cache::ComponentCache;
pub use contract::{Decision, Feedback, Instant, Rating, Sample, Scope, Scores, Statistic, Verdict};
pub use digest::Digest;
pub use engine::{Compiler, EngineOptions, Sandbox};
pub use failure::Failure;
pub use host::{Host, LoadedPlugin, PluginLog, PluginSpec};
pub use instance::{EvaluatorInstance, GuardInstance, Instance, PerRecord, Recall, Screened, call_runtime};
pub use limits::Limits;
pub use models::{ModelAccess, ModelBroker, ModelUsage};
pub use plugin::{Info, Kind, LoadError, MetricInfo, MetricLevel, Plugin};
pub use wasi::{Determinism, Grant};
