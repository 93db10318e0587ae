//! Where plugins come from, and whether to trust them.
//!
//! A plugin's source, as a config or `-e` writes it, is a built-in name, a
//! path to a component, or an `oci://` reference. [`resolve`] turns it into
//! exact bytes, checked against `assay.lock` ([`lock`]) and the signature
//! policy ([`trust`]), fetching from OCI registries ([`registry`]) into a
//! local content-addressed [`store`]. [`metadata`] reads and writes the
//! standard component metadata that travels with a plugin.
//!
//! What it must not depend on: the pipelines or anything of a command line.
//! It depends on `assay-runtime` for digests and plugin specs, on
//! `assay-data` for atomic files, and on `assay-builtins` for built-in names.

pub mod lock;
pub mod metadata;
pub mod reference;
pub mod registry;
pub mod resolve;
pub mod store;
pub mod trust;
