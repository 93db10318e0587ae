//! The plugins compiled into the `assay` binary.
//!
//! They are ordinary components, built from `plugins/*` by the build script,
//! and run through exactly the same sandbox as third-party plugins. This
//! crate holds only their bytes, so that the slow guest build reruns only
//! when a plugin, the SDK or the WIT changes, never for a host edit.
//!
//! What it must not depend on: anything. Every other crate may use it.

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The component bytes of a built-in plugin.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

/// Names of all built-in plugins, sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|(name, _)| *name)
}
