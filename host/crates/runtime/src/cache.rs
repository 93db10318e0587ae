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
//! this one's digest. Each entry is therefore authenticated: a BLAKE3 keyed hash
//! over the component's sha256, the engine hash and the artifact, with a key
//! of 32 random bytes kept outside the cache directory (`cache.key` in
//! `$ASSAY_CONFIG_DIR`, else `$XDG_CONFIG_HOME/assay`, else
//! `~/.config/assay`), readable by its owner alone. An entry whose tag does
//! not verify (swapped, copied, restored from someone else's CI cache) is
//! compiled again and overwritten, never loaded. Every entry is written
//! atomically so a crash never leaves a torn file behind.
//!
//! A verified entry is mapped, not copied (on Linux): copying 29 MB of
//! compiled built-ins into fresh memory was most of a warm start's system
//! time, one page fault per 4 KiB. Mapping opens a window the copy did not
//! have, between checking the tag and running the code, so an entry is
//! mapped only when no one but this user can change it: a file of this
//! user's that neither group nor others may write, checked on the open file
//! and mapped through that same file (`/proc/self/fd`), never by its name
//! again. Whoever could still change it can already change the key, the
//! binary and the cache folder. Anything else is read into memory whole and
//! checked there, as before.
//!
//! The cache is bounded: each new entry is followed by evicting the least
//! recently used ones (a hit marks its entry used by setting its modification
//! time) until the entries fit under the cap, by default
//! [`DEFAULT_MAX_MIB`], else `$ASSAY_CACHE_MAX_MIB`. An edit-build-run loop
//! on a Python plugin adds about 40 MB per build, so without a cap the cache
//! only grows. `assay cache` lists, sizes, prunes and clears it.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::Component;

/// The tag of a cache entry: BLAKE3 in its keyed mode, a MAC by design. A
/// warm start checks the tag over every byte of every compiled plugin it
/// loads (12.7 MB for the `json` built-in), and BLAKE3 does that several
/// times faster than HMAC-SHA256 did, which was a fifth of a warm start.
pub(crate) struct CacheMac(blake3::Hasher);

impl CacheMac {
    pub(crate) fn update(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(bytes);
        self
    }

    pub(crate) fn finalize(&self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }

    /// Whether `tag` is this MAC's, compared in constant time (as
    /// `blake3::Hash` compares).
    pub(crate) fn verifies(&self, tag: &[u8]) -> bool {
        <[u8; 32]>::try_from(tag).is_ok_and(|tag| self.0.finalize() == blake3::Hash::from_bytes(tag))
    }
}

/// Bytes of the tag that ends every entry (after the artifact, so that the
/// artifact starts the file and Wasmtime can map it from there).
const TAG_BYTES: usize = 32;

/// The layout of entries, part of their names: entries of an older layout
/// (the tag first) are never read, only evicted.
const ENTRY_LAYOUT: u32 = 2;

/// The cap on the compiled entries' total size, in MiB, unless
/// `$ASSAY_CACHE_MAX_MIB` sets another: room for about 25 compiled Python
/// plugins, or hundreds of Rust ones.
pub const DEFAULT_MAX_MIB: u64 = 1024;

/// The file name extension of compiled entries; nothing else in the cache
/// directory (the model cache, the plugin store) is ever evicted.
const ENTRY_EXTENSION: &str = "cwasm";

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

    /// A MAC keyed with this key, for entries of either cache.
    pub(crate) fn mac(&self) -> CacheMac {
        CacheMac(blake3::Hasher::new_keyed(&self.0))
    }

    fn tag(&self, sha256: &crate::Digest, engine_hash: u64, artifact: &[u8]) -> CacheMac {
        let mut mac = self.mac();
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

    /// The store of compiled functions beside the compiled components, under
    /// the same key, capped at a quarter of the cache's cap.
    pub fn function_cache(&self) -> Option<Arc<crate::function_cache::FunctionCache>> {
        let (dir, key) = self.dir.as_ref()?;
        Some(Arc::new(crate::function_cache::FunctionCache::open(dir, key.clone(), Self::max_bytes() / 4)))
    }

    /// The cap in bytes: `$ASSAY_CACHE_MAX_MIB`, else [`DEFAULT_MAX_MIB`].
    /// A value that is not a number is ignored, not fatal: the cache only
    /// saves time.
    pub fn max_bytes() -> u64 {
        let mib = std::env::var("ASSAY_CACHE_MAX_MIB").ok().and_then(|v| v.trim().parse::<u64>().ok());
        mib.unwrap_or(DEFAULT_MAX_MIB).saturating_mul(1 << 20)
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
        if let Some(component) = load_entry(engine, &path, |artifact| key.tag(sha256, engine_hash, artifact)) {
            mark_used(&path);
            return Ok(component);
        }
        let component = Component::new(engine, bytes)?;
        // A cache that cannot be written only costs time on the next run.
        if store(dir, &path, &component, |artifact| key.tag(sha256, engine_hash, artifact)).is_ok() {
            let _ = evict(dir, Self::max_bytes(), Some(&path));
        }
        Ok(component)
    }
}

/// One compiled component in the cache.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub path: PathBuf,
    /// The sha256 of the component it was compiled from.
    pub component: String,
    pub bytes: u64,
    /// When it was last loaded or written.
    #[serde(serialize_with = "unix_seconds")]
    pub last_used: std::time::SystemTime,
    /// Whether this build of Assay can load it; entries of other versions or
    /// engine settings are never loaded, only evicted.
    pub current: bool,
}

fn unix_seconds<S: serde::Serializer>(time: &std::time::SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(time.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// The compiled entries in `dir`, least recently used first. `engines` (one
/// per [`Compiler`](crate::Compiler)) tell which ones this build can load.
pub fn entries(dir: &Path, engines: &[&Engine]) -> std::io::Result<Vec<Entry>> {
    let suffixes: Vec<String> =
        engines.iter().map(|engine| format!("-{:016x}.{ENTRY_EXTENSION}", engine_hash(engine))).collect();
    let mut found = Vec::new();
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for item in listing {
        let item = item?;
        let path = item.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if path.extension().is_none_or(|e| e != ENTRY_EXTENSION) {
            continue;
        }
        // An entry removed by a concurrent prune is simply gone.
        let Ok(metadata) = item.metadata() else { continue };
        found.push(Entry {
            component: name.split('-').next().unwrap_or_default().to_string(),
            bytes: metadata.len(),
            last_used: metadata.modified()?,
            current: suffixes.iter().any(|s| name.ends_with(s.as_str())),
            path,
        });
    }
    found.sort_by(|a, b| a.last_used.cmp(&b.last_used).then_with(|| a.path.cmp(&b.path)));
    Ok(found)
}

/// What a prune or a clear removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    /// Compiled components removed, and their bytes.
    pub entries: u64,
    pub bytes: u64,
    /// Bytes of compiled functions removed (see [`crate::function_cache`]).
    pub function_bytes: u64,
}

/// Removes the least recently used entries until the rest fit in
/// `max_bytes`, never `keep` (the entry just written).
pub fn evict(dir: &Path, max_bytes: u64, keep: Option<&Path>) -> std::io::Result<Removed> {
    let found = entries(dir, &[])?;
    let mut total: u64 = found.iter().map(|e| e.bytes).sum();
    let mut removed = Removed::default();
    for entry in found {
        if total <= max_bytes {
            break;
        }
        if keep == Some(entry.path.as_path()) {
            continue;
        }
        if removed.remove(&entry)? {
            total -= entry.bytes;
        }
    }
    Ok(removed)
}

/// Removes the entries this build cannot load with any of `engines`, then
/// evicts down to `max_bytes`.
pub fn prune(dir: &Path, engines: &[&Engine], max_bytes: u64) -> std::io::Result<Removed> {
    let mut removed = Removed::default();
    for entry in entries(dir, engines)?.into_iter().filter(|e| !e.current) {
        removed.remove(&entry)?;
    }
    let evicted = evict(dir, max_bytes, None)?;
    Ok(Removed { entries: removed.entries + evicted.entries, bytes: removed.bytes + evicted.bytes, function_bytes: 0 })
}

/// Removes every compiled entry and the compiled functions; nothing else
/// in `dir`.
pub fn clear(dir: &Path) -> std::io::Result<Removed> {
    let mut removed = evict(dir, 0, None)?;
    let functions = dir.join(crate::function_cache::FILE_NAME);
    if let Ok(metadata) = std::fs::metadata(&functions) {
        match std::fs::remove_file(&functions) {
            Ok(()) => removed.function_bytes = metadata.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

impl Removed {
    /// Removes `entry` and counts it; `false` when another process removed
    /// it first.
    fn remove(&mut self, entry: &Entry) -> std::io::Result<bool> {
        match std::fs::remove_file(&entry.path) {
            Ok(()) => {
                self.entries += 1;
                self.bytes += entry.bytes;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The component in the entry at `path` when `tag` of its artifact is the
/// one it ends with; `None` for a missing, short, forged or unloadable entry.
fn load_entry(engine: &Engine, path: &Path, tag: impl Fn(&[u8]) -> CacheMac) -> Option<Component> {
    let mut file = std::fs::File::open(path).ok()?;
    let metadata = file.metadata().ok()?;
    let artifact_len = usize::try_from(metadata.len()).ok()?.checked_sub(TAG_BYTES).filter(|&n| n > 0)?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let only_mine = metadata.uid() == unsafe { libc::geteuid() } && metadata.mode() & 0o022 == 0;
    if cfg!(target_os = "linux") && only_mine {
        // Streamed into the MAC, so that no page of the artifact is copied or
        // faulted in unless the code runs it.
        let mut mac = tag(&[]);
        mac.0.update_reader(std::io::Read::take(&mut file, artifact_len as u64)).ok()?;
        let mut stored = [0u8; TAG_BYTES];
        std::io::Read::read_exact(&mut file, &mut stored).ok()?;
        if !mac.verifies(&stored) {
            return None;
        }
        let same_file = PathBuf::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file)));
        // SAFETY: the tag proves this process's key wrote the artifact, from
        // `Component::serialize` of this engine configuration for this
        // component's digest, and only this user can write the file mapped
        // (the one just checked, reopened through its descriptor).
        if let Ok(component) = unsafe { Component::deserialize_file(engine, same_file) } {
            return Some(component);
        }
        // No /proc here, or the mapping was refused: read and check it as
        // anywhere else, rather than compile it again on every run.
        std::io::Seek::rewind(&mut file).ok()?;
    }
    let mut entry = Vec::with_capacity(artifact_len + TAG_BYTES);
    std::io::Read::read_to_end(&mut file, &mut entry).ok()?;
    let (artifact, stored) = entry.split_at(entry.len().checked_sub(TAG_BYTES)?);
    if !tag(artifact).verifies(stored) {
        return None;
    }
    // SAFETY: the tag proves this process's key wrote the entry, from
    // `Component::serialize` of this engine configuration for this
    // component's digest; the bytes checked are the bytes loaded.
    unsafe { Component::deserialize(engine, artifact) }.ok()
}

/// Marks an entry used now, for least-recently-used eviction. Best effort:
/// a read-only cache still loads.
fn mark_used(path: &Path) {
    if let Ok(file) = std::fs::OpenOptions::new().write(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

fn store(dir: &Path, path: &Path, component: &Component, tag: impl Fn(&[u8]) -> CacheMac) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let serialized = component.serialize().map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(&serialized)?;
    file.write_all(&tag(&serialized).finalize())?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn engine_hash(engine: &Engine) -> u64 {
    // `DefaultHasher::new()` uses fixed keys: stable across runs of one build.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    ENTRY_LAYOUT.hash(&mut hasher);
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

    /// A small engine and an empty cache in a folder of its own.
    fn fresh_cache() -> (crate::Sandbox, tempfile::TempDir, ComponentCache) {
        let options = crate::EngineOptions { max_instances: 1, max_memory_mib: 16, ..Default::default() };
        let dir = tempfile::tempdir().unwrap();
        let cache = ComponentCache::new(dir.path(), CacheKey::ephemeral());
        (crate::Sandbox::new(options).unwrap(), dir, cache)
    }

    fn exports(engine: &Engine, component: &Component) -> Vec<String> {
        component.component_type().exports(engine).map(|(name, _)| name.to_string()).collect()
    }

    #[test]
    fn an_entry_swapped_or_written_with_another_key_is_compiled_again_not_loaded() {
        let (sandbox, dir, cache) = fresh_cache();
        let engine = sandbox.engine();
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
        let tail = |bytes: &[u8]| bytes[bytes.len() - TAG_BYTES..].to_vec();
        assert_ne!(tail(&std::fs::read(entry(&our_digest)).unwrap()), tail(&before));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_entry_only_its_owner_can_write_is_mapped_others_are_read_and_a_changed_byte_loads_neither() {
        let (sandbox, dir, cache) = fresh_cache();
        let engine = sandbox.engine();
        let ours = component("ours");
        let digest = crate::Digest::of(&ours);
        cache.load_or_compile(engine, &ours, &digest).unwrap();
        let written = dir.path().join(format!("{digest}-{:016x}.cwasm", engine_hash(engine)));
        let key = &cache.dir.as_ref().unwrap().1;
        let tag = |artifact: &[u8]| key.tag(&digest, engine_hash(engine), artifact);
        let mapped = |path: &Path| std::fs::read_to_string("/proc/self/maps").unwrap().contains(path.to_str().unwrap());
        let copy = |name: &str, mode: u32| {
            let path = dir.path().join(name);
            std::fs::copy(&written, &path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        };

        let private = copy("private.cwasm", 0o600);
        let component = load_entry(engine, &private, tag).expect("an authentic entry loads");
        assert_eq!(exports(engine, &component), ["ours"]);
        assert!(mapped(&private), "an owner-only entry is mapped in place");

        let shared = copy("shared.cwasm", 0o664);
        let component = load_entry(engine, &shared, tag).expect("an authentic entry loads");
        assert_eq!(exports(engine, &component), ["ours"]);
        assert!(!mapped(&shared), "an entry others may write is read and checked in memory");

        for (name, mode) in [("changed-private.cwasm", 0o600), ("changed-shared.cwasm", 0o664)] {
            let path = copy(name, mode);
            let mut bytes = std::fs::read(&path).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 1;
            std::fs::write(&path, &bytes).unwrap();
            assert!(load_entry(engine, &path, tag).is_none(), "{name}: a changed byte is refused");
            assert!(!mapped(&path));
        }
        let short = copy("short.cwasm", 0o600);
        std::fs::write(&short, [0u8; TAG_BYTES]).unwrap();
        assert!(load_entry(engine, &short, tag).is_none());
    }

    #[test]
    fn the_least_recently_used_entries_go_first_and_only_compiled_entries_go() {
        let (sandbox, dir, cache) = fresh_cache();
        let engine = sandbox.engine();
        let names = ["a", "b", "c"];
        let digests: Vec<_> = names.iter().map(|n| crate::Digest::of(&component(n))).collect();
        for (name, digest) in names.iter().zip(&digests) {
            cache.load_or_compile(engine, &component(name), digest).unwrap();
        }
        std::fs::create_dir(dir.path().join("models")).unwrap();
        std::fs::write(dir.path().join("models/answer.json"), "paid for").unwrap();
        std::fs::write(dir.path().join(format!("{}-0000000000000000.cwasm", digests[0])), "old engine").unwrap();
        // Ages a second apart, "a" the oldest; then a hit makes "a" the newest.
        let entry = |digest: &crate::Digest| dir.path().join(format!("{digest}-{:016x}.cwasm", engine_hash(engine)));
        let base = std::time::SystemTime::now() - std::time::Duration::from_secs(100);
        for (i, digest) in digests.iter().enumerate() {
            let file = std::fs::OpenOptions::new().write(true).open(entry(digest)).unwrap();
            file.set_modified(base + std::time::Duration::from_secs(i as u64)).unwrap();
        }
        cache.load_or_compile(engine, &component("a"), &digests[0]).unwrap();
        let listed = entries(dir.path(), &[engine]).unwrap();
        assert_eq!(listed.len(), 4);
        assert_eq!(listed.iter().filter(|e| !e.current).count(), 1, "the other engine's entry is not current");
        assert_eq!(listed.last().unwrap().path, entry(&digests[0]), "a hit marks the entry used");

        // Prune: the other engine's entry, then the least recently used ("b").
        let one = std::fs::metadata(entry(&digests[1])).unwrap().len();
        let removed = prune(dir.path(), &[engine], 2 * one + one / 2).unwrap();
        assert_eq!(removed.entries, 2);
        assert!(!entry(&digests[1]).exists() && entry(&digests[0]).exists() && entry(&digests[2]).exists());
        assert_eq!(clear(dir.path()).unwrap().entries, 2);
        assert!(entries(dir.path(), &[]).unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(dir.path().join("models/answer.json")).unwrap(), "paid for");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn each_compiler_has_entries_of_its_own_and_both_are_current() {
        let (cranelift, dir, cache) = fresh_cache();
        let options = crate::EngineOptions {
            max_instances: 1,
            max_memory_mib: 16,
            compiler: crate::Compiler::Winch,
            ..Default::default()
        };
        let winch = crate::Sandbox::new(options).unwrap();
        let bytes = component("f");
        let digest = crate::Digest::of(&bytes);
        for engine in [cranelift.engine(), winch.engine()] {
            let loaded = cache.load_or_compile(engine, &bytes, &digest).unwrap();
            assert_eq!(exports(engine, &loaded), ["f"]);
        }
        assert_ne!(
            engine_hash(cranelift.engine()),
            engine_hash(winch.engine()),
            "Winch code is never loaded as Cranelift's"
        );
        let listed = entries(dir.path(), &[cranelift.engine(), winch.engine()]).unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|e| e.current));
        assert_eq!(entries(dir.path(), &[cranelift.engine()]).unwrap().iter().filter(|e| e.current).count(), 1);
        assert_eq!(prune(dir.path(), &[cranelift.engine(), winch.engine()], u64::MAX).unwrap().entries, 0);
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
