//! The `assay` command line: score model outputs and screen user feedback
//! with sandboxed WebAssembly plugins.
//!
//! This package is the edge: flags and `assay.toml` ([`config`]), terminal
//! tables and progress ([`table`]), CI files ([`ci`], [`gate`]), the HTML
//! report ([`html`]), exit codes and error messages ([`exit`]). It is a
//! library as well as the binary so that the other edge, the Python
//! bindings, reads configs, resolves plugins and words errors exactly as
//! the binary does ([`embed`]). The work is done by the library crates it
//! drives, which other programs can embed without any of this:
//!
//! - `assay-runtime`: the sandbox, limits, failures and the WIT contract;
//! - `assay-data`: readers, field maps and the typed result files;
//! - `assay-registry`: plugin sources, OCI registries, locks and trust;
//! - `assay-pipeline`: evaluating and screening records on parallel workers;
//! - `assay-builtins`: the built-in plugins' components.

pub mod ci;
pub mod cli;
pub mod config;
pub mod embed;
pub mod exit;
pub mod gate;
pub mod html;
pub mod table;
pub mod text;
