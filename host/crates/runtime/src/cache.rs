//! The on-disk cache of compiled components.
//!
//! Compiling a component with Cranelift takes from tens of milliseconds (a
//! small Rust plugin) to seconds (a 17 MiB Python one); loading the compiled
//! artifact takes about a millisecond. Entries are keyed by the component's
//! sha256 and a hash of the engine's configuration, so a changed engine
//! (another Wasmtime version, other limits that change code generation)
//! never loads an incompatible artifact.
//!
//! A compiled artifact is native code that Wasmtime loads without checking
//! it, so a cache entry written by anyone else would run outside the
//! sandbox, and one copied from another plugin would run that plugin under
//! this one's digest. Each entry is therefore authenticated: an HMAC-SHA256
//! over the component's sha256, the engine hash and the artifact, with a key
//! of 32 random bytes kept outside the cache directory (`cache.key` in
//! `$ASSAY_CONFIG_DIR`, else `$XDG_CONFIG_HOME/assay`, else
//! `~/.config/assay`), readable by its owner alone. An entry whose tag does
//! not verify (swapped, copied, restored from someone else's CI cache) is
//! compiled again and overwritten, never loaded. Every entry is written
//! atomically so a crash never leaves a torn file behind.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use wasmtime::Engine;
use wasmtime::component::Component;

type CacheMac = Hmac<sha2::Sha256>;

/// Bytes of the tag that starts every entry.
const TAG_BYTES: usize = 32;

/// Where compiled components are kept, if anywhere, and the key that
/// authenticates them.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<(PathBuf, Arc<CacheKey>)>,
}

/// The secret that authenticates cache entries.
pub struct CacheKey([u8; 32]);

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKey(..)")
    }
}

/// Why the cache key cannot be used; the cache is then off.
#[derive(Debug, thiserror::Error)]
pub enum CacheKeyError {
    #[error("no place for the compiled-component cache key: set ASSAY_CONFIG_DIR or HOME")]
    NoPlace,
    #[error("{path}: cannot read or create the compiled-component cache key")]
    Io {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "{path}: the compiled-component cache key must be a 32-byte file that only its owner (this user) can \
         read; fix or remove it (a new one is made)"
    )]
    Unsafe { path: PathBuf },
}

impl CacheKey {
    /// `cache.key` in `$ASSAY_CONFIG_DIR`, else `$XDG_CONFIG_HOME/assay`,
    /// else `~/.config/assay`: never the cache directory, which CI systems
    /// restore from caches other jobs wrote.
    pub fn default_path() -> Option<PathBuf> {
        let env = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let dir = env("ASSAY_CONFIG_DIR")
            .or_else(|| env("XDG_CONFIG_HOME").map(|d| d.join("assay")))
            .or_else(|| env("HOME").map(|d| d.join(".config").join("assay")))?;
        Some(dir.join("cache.key"))
    }

    /// The key at `path`, made (owner-only) when there is none.
    pub fn load_or_create(path: &Path) -> Result<CacheKey, CacheKeyError> {
        let io = |error| CacheKeyError::Io { path: path.to_path_buf(), error };
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| io(std::io::Error::other(e)))?;
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(mut file) => {
                file.write_all(&key).and_then(|()| file.sync_all()).map_err(io)?;
                return Ok(CacheKey(key));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
        let file = std::fs::File::open(path).map_err(io)?;
        let metadata = file.metadata().map_err(io)?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, 33), &mut bytes).map_err(io)?;
        if metadata.uid() != me || metadata.permissions().mode() & 0o077 != 0 || bytes.len() != 32 {
            return Err(CacheKeyError::Unsafe { path: path.to_path_buf() });
        }
        key.copy_from_slice(&bytes);
        Ok(CacheKey(key))
    }

    /// A key for this process alone: entries it writes are compiled again by
    /// any other process. For benchmarks and tests.
    pub fn ephemeral() -> CacheKey {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS gives random bytes");
        CacheKey(key)
    }

    fn tag(&self, sha256: &crate::Digest, engine_hash: u64, artifact: &[u8]) -> CacheMac {
        let mut mac = CacheMac::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(sha256.to_string().as_bytes());
        mac.update(&engine_hash.to_le_bytes());
        mac.update(artifact);
        mac
    }
}

impl ComponentCache {
    /// A cache in `dir` whose entries `key` authenticates.
    pub fn new(dir: impl Into<PathBuf>, key: CacheKey) -> Self {
        ComponentCache { dir: Some((dir.into(), Arc::new(key))) }
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
        self.dir.as_ref().map(|(dir, _)| dir.as_path())
    }

    /// The compiled component, from the cache when its entry is authentic.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        sha256: &crate::Digest,
    ) -> wasmtime::Result<Component> {
        let Some((dir, key)) = &self.dir else {
            return Component::new(engine, bytes);
        };
        let engine_hash = engine_hash(engine);
        let path = dir.join(format!("{sha256}-{engine_hash:016x}.cwasm"));
        if let Ok(entry) = std::fs::read(&path)
            && entry.len() > TAG_BYTES
        {
            let (tag, artifact) = entry.split_at(TAG_BYTES);
            if key.tag(sha256, engine_hash, artifact).verify_slice(tag).is_ok() {
                // SAFETY: the tag proves this process's key wrote the entry,
                // from `Component::serialize` of this engine configuration for
                // this component's digest.
                if let Ok(component) = unsafe { Component::deserialize(engine, artifact) } {
                    return Ok(component);
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        // A cache that cannot be written only costs time on the next run.
        let _ = store(dir, &path, &component, |artifact| key.tag(sha256, engine_hash, artifact));
        Ok(component)
    }
}

fn store(dir: &Path, path: &Path, component: &Component, tag: impl Fn(&[u8]) -> CacheMac) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let serialized = component.serialize().map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(&tag(&serialized).finalize().into_bytes())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A component exporting one function named `name`.
    fn component(name: &str) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(component (core module $m (func (export "f"))) (core instance $i (instantiate $m))
                 (func (export "{name}") (canon lift (core func $i "f"))))"#
        ))
        .unwrap()
    }

    fn exports(engine: &Engine, component: &Component) -> Vec<String> {
        component.component_type().exports(engine).map(|(name, _)| name.to_string()).collect()
    }

    #[test]
    fn an_entry_swapped_or_written_with_another_key_is_compiled_again_not_loaded() {
        let sandbox = crate::Sandbox::new(crate::EngineOptions { max_instances: 1, max_memory_mib: 16 }).unwrap();
        let engine = sandbox.engine();
        let dir = tempfile::tempdir().unwrap();
        let cache = ComponentCache::new(dir.path(), CacheKey::ephemeral());
        let (ours, theirs) = (component("ours"), component("theirs"));
        let (our_digest, their_digest) = (crate::Digest::of(&ours), crate::Digest::of(&theirs));
        cache.load_or_compile(engine, &ours, &our_digest).unwrap();
        cache.load_or_compile(engine, &theirs, &their_digest).unwrap();
        let entry = |digest: &crate::Digest| dir.path().join(format!("{digest}-{:016x}.cwasm", engine_hash(engine)));
        assert!(entry(&our_digest).exists() && entry(&their_digest).exists());

        // Their entry under our name: what a shared CI cache could hold.
        std::fs::copy(entry(&their_digest), entry(&our_digest)).unwrap();
        let loaded = cache.load_or_compile(engine, &ours, &our_digest).unwrap();
        assert_eq!(exports(engine, &loaded), ["ours"], "the swapped entry was not loaded");
        assert_ne!(std::fs::read(entry(&our_digest)).unwrap(), std::fs::read(entry(&their_digest)).unwrap());

        // An entry another key wrote is rewritten with ours.
        let other = ComponentCache::new(dir.path(), CacheKey::ephemeral());
        let before = std::fs::read(entry(&our_digest)).unwrap();
        assert_eq!(exports(engine, &other.load_or_compile(engine, &ours, &our_digest).unwrap()), ["ours"]);
        assert_ne!(std::fs::read(entry(&our_digest)).unwrap()[..TAG_BYTES], before[..TAG_BYTES]);
    }

    #[test]
    fn the_key_is_made_owner_only_and_refused_when_others_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assay/cache.key");
        let made = CacheKey::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(CacheKey::load_or_create(&path).unwrap().0, made.0, "the same key on the next run");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(CacheKey::load_or_create(&path), Err(CacheKeyError::Unsafe { .. })));
    }
}
