//! Assay: run sandboxed WebAssembly evaluators and feedback guards over eval
//! sets.
//!
//! Plugins are WebAssembly components that implement the WIT contract in
//! `wit/assay.wit`. This crate is the host: it loads and checks components
//! ([`plugin`]), runs them with no ambient authority and under fuel, time and
//! memory limits ([`sandbox`]), reads eval sets ([`dataset`]), drives runs
//! over many threads with results identical for any thread count ([`run`]),
//! and writes the results ([`report`]). Plugins can come from OCI registries
//! ([`registry`]), pinned by [`lock`], kept in a local [`store`] and checked
//! against a signature policy ([`trust`]); [`resolve`] ties these together. The `assay` binary is a thin command
//! line over this library, so other Rust programs can embed the same engine.

pub mod builtin;
pub mod cache;
pub mod ci;
pub mod config;
pub mod dataset;
pub mod gate;
pub mod guard;
pub mod html;
pub mod lock;
pub mod metadata;
pub mod plugin;
pub mod registry;
pub mod report;
pub mod resolve;
pub mod run;
pub mod sandbox;
pub mod store;
pub mod trust;
