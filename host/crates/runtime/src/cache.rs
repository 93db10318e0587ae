//! The on-disk cache of compiled components.
//!
//! Compiling a component with Cranelift takes from tens of milliseconds (a
//! small Rust plugin) to seconds (a 17 MiB Python one); loading the compiled
//! artifact takes about a millisecond. Entries are keyed by the component's
//! sha256 and a hash of the engine's configuration, so a changed engine
//! (another Wasmtime version, other limits that change code generation)
//! never loads an incompatible artifact.
//!
//! The cache directory must be as trusted as the `assay` binary itself:
//! deserializing a compiled artifact runs its machine code. It lives under the
//! user's own cache directory by default, and every entry is written
//! atomically so a crash never leaves a torn file behind.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components are kept, if anywhere.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

impl ComponentCache {
    /// A cache in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ComponentCache { dir: Some(dir.into()) }
    }

    /// No cache: compile every time.
    pub fn disabled() -> Self {
        ComponentCache { dir: None }
    }

    /// `$ASSAY_CACHE_DIR`, else `$XDG_CACHE_HOME/assay`, else `~/.cache/assay`.
    pub fn default_dir() -> Option<PathBuf> {
        let env = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        env("ASSAY_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("assay")))
            .or_else(|| env("HOME").map(|d| d.join(".cache").join("assay")))
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The compiled component, from the cache when possible.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        sha256: &crate::Digest,
    ) -> wasmtime::Result<Component> {
        let Some(dir) = &self.dir else {
            return Component::new(engine, bytes);
        };
        let path = dir.join(format!("{sha256}-{:016x}.cwasm", engine_hash(engine)));
        if path.exists() {
            // SAFETY: entries are written only by `store` below, from
            // `Component::serialize` of this same engine configuration (the
            // file name carries its hash), atomically; the directory is the
            // user's own cache. A file that fails to load is recompiled.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
                return Ok(component);
            }
        }
        let component = Component::new(engine, bytes)?;
        // A cache that cannot be written only costs time on the next run.
        let _ = store(dir, &path, &component);
        Ok(component)
    }
}

fn store(dir: &Path, path: &Path, component: &Component) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let serialized = component.serialize().map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(&serialized)?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn engine_hash(engine: &Engine) -> u64 {
    // `DefaultHasher::new()` uses fixed keys: stable across runs of one build.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    hasher.finish()
}
