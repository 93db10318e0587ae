//! Compiled functions, reused from one component to the next.
//!
//! Every rebuild of a Python or JavaScript plugin is a new 12-18 MiB
//! component (a whole CPython or SpiderMonkey), so the compiled-component
//! cache, keyed by the component's digest, never hits while its author
//! iterates, and each build costs a full compile. Yet almost every function
//! in it is the interpreter's and did not change. Cranelift's incremental
//! cache reuses the compiled code of any function whose IR it has seen
//! before, whatever component it came from; this module is its store.
//!
//! Entries are native code, so, as in [`crate::cache`], each is
//! authenticated with the cache key (a BLAKE3 keyed hash over the entry) and one
//! that does not verify is never used. They live in one append-only file,
//! `functions.log` in the cache directory, written under an exclusive lock
//! so that processes compiling at once do not interleave records, and read
//! under a shared one so that no reader sees half a record. A record cut
//! short by a crash, or a log past its cap (a quarter of the cache's),
//! starts the log afresh.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::cache::CacheKey;

/// The file's name in the cache directory.
pub const FILE_NAME: &str = "functions.log";

/// Bytes of a record's header: the key's and the value's lengths.
const HEADER_BYTES: u64 = 8;
/// Bytes of a record's tag.
const TAG_BYTES: usize = 32;

/// The store of compiled functions that the engine asks during compilation.
pub struct FunctionCache {
    path: PathBuf,
    key: Arc<CacheKey>,
    max_bytes: u64,
    /// Appends go through this handle, under an exclusive lock.
    log: Mutex<Option<File>>,
    /// The log as it stood at the first lookup: read only when something
    /// is compiled, so that runs of cached components never pay for it.
    snapshot: std::sync::OnceLock<Snapshot>,
}

/// A reader of the log and where each entry's value is in it.
#[derive(Default)]
struct Snapshot {
    reader: Option<File>,
    /// Key to (value offset, value length).
    index: HashMap<Vec<u8>, (u64, u32)>,
}

impl std::fmt::Debug for FunctionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionCache").field("path", &self.path).finish()
    }
}

impl FunctionCache {
    /// The store in `dir`, whose log is started afresh when it is larger
    /// than `max_bytes`. Never fails: without a usable file the engine
    /// compiles every function, as it would without a store.
    pub fn open(dir: &Path, key: Arc<CacheKey>, max_bytes: u64) -> FunctionCache {
        let path = dir.join(FILE_NAME);
        FunctionCache { path, key, max_bytes, log: Mutex::new(None), snapshot: std::sync::OnceLock::new() }
    }

    fn snapshot(&self) -> &Snapshot {
        self.snapshot.get_or_init(|| {
            let Ok(file) = File::open(&self.path) else { return Snapshot::default() };
            let whole = Flock::new(&file, libc::LOCK_SH).ok().and_then(|_lock| {
                let len = file.metadata().ok()?.len();
                (len <= self.max_bytes).then(|| read_index(&file, len)).flatten()
            });
            match whole {
                Some(index) => Snapshot { reader: Some(file), index },
                None => {
                    let _ = std::fs::remove_file(&self.path);
                    Snapshot::default()
                }
            }
        })
    }

    fn tag(&self, key: &[u8], value: &[u8]) -> crate::cache::CacheMac {
        let mut mac = self.key.mac();
        mac.update(b"assay compiled function\0");
        mac.update(&(key.len() as u64).to_le_bytes());
        mac.update(key);
        mac.update(value);
        mac
    }

    fn append(&self, record: &[u8]) -> std::io::Result<()> {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            *log = Some(std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&self.path)?);
        }
        let file = log.as_ref().expect("just opened");
        let _lock = Flock::new(file, libc::LOCK_EX)?;
        // `Write` for `&File`: the lock borrows the file too.
        (&mut &*file).write_all(record)
    }
}

impl wasmtime::CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let snapshot = self.snapshot();
        let (offset, len) = *snapshot.index.get(key)?;
        let mut bytes = vec![0; len as usize + TAG_BYTES];
        snapshot.reader.as_ref()?.read_exact_at(&mut bytes, offset).ok()?;
        let (value, tag) = bytes.split_at(len as usize);
        self.tag(key, value).verifies(tag).then_some(())?;
        bytes.truncate(len as usize);
        Some(Cow::Owned(bytes))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let (Ok(key_len), Ok(value_len)) = (u32::try_from(key.len()), u32::try_from(value.len())) else {
            return false;
        };
        let mut record = Vec::with_capacity(HEADER_BYTES as usize + key.len() + value.len() + TAG_BYTES);
        record.extend_from_slice(&key_len.to_le_bytes());
        record.extend_from_slice(&value_len.to_le_bytes());
        record.extend_from_slice(key);
        record.extend_from_slice(&value);
        record.extend_from_slice(&self.tag(key, &value).finalize());
        // A store that cannot be written only costs time on the next compile.
        self.append(&record).is_ok()
    }
}

/// Each record's key and where its value is, or `None` when the last
/// record runs past the end of the file's `end` bytes (a crash cut it short).
fn read_index(file: &File, end: u64) -> Option<HashMap<Vec<u8>, (u64, u32)>> {
    let mut index = HashMap::new();
    let mut at = 0u64;
    let mut header = [0u8; HEADER_BYTES as usize];
    while at < end {
        file.read_exact_at(&mut header, at).ok()?;
        let key_len = u64::from(u32::from_le_bytes(header[..4].try_into().expect("4 bytes")));
        let value_len = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        let value_at = at + HEADER_BYTES + key_len;
        let next = value_at + u64::from(value_len) + TAG_BYTES as u64;
        if next > end {
            return None;
        }
        let mut key = vec![0; key_len as usize];
        file.read_exact_at(&mut key, at + HEADER_BYTES).ok()?;
        index.insert(key, (value_at, value_len));
        at = next;
    }
    Some(index)
}

/// A `flock` on a file (`LOCK_SH` or `LOCK_EX`), released when dropped.
struct Flock<'a>(&'a File);

impl<'a> Flock<'a> {
    fn new(file: &'a File, operation: libc::c_int) -> std::io::Result<Flock<'a>> {
        use std::os::fd::AsRawFd as _;
        // SAFETY: flock only reads the descriptor, which `file` keeps open.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Flock(file))
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd as _;
        // SAFETY: as above.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::CacheStore as _;

    use super::*;

    #[test]
    fn entries_come_back_in_the_next_process_and_forged_or_torn_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let key = Arc::new(CacheKey::ephemeral());
        let store = FunctionCache::open(dir.path(), key.clone(), 1 << 20);
        assert!(store.get(b"f").is_none());
        assert!(store.insert(b"f", b"code of f".to_vec()));
        assert!(store.insert(b"g", b"code of g".to_vec()));

        let next = FunctionCache::open(dir.path(), key.clone(), 1 << 20);
        assert_eq!(next.get(b"f").as_deref(), Some(&b"code of f"[..]));
        assert_eq!(next.get(b"g").as_deref(), Some(&b"code of g"[..]));

        // Another key's entries (a cache restored from elsewhere) are not used.
        let other = FunctionCache::open(dir.path(), Arc::new(CacheKey::ephemeral()), 1 << 20);
        assert!(other.get(b"f").is_none());

        // A flipped byte of code fails its tag; the others still serve.
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.windows(9).position(|w| w == b"code of f").unwrap();
        bytes[at] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let tampered = FunctionCache::open(dir.path(), key.clone(), 1 << 20);
        assert!(tampered.get(b"f").is_none());
        assert_eq!(tampered.get(b"g").as_deref(), Some(&b"code of g"[..]));

        // A record cut short starts the log afresh, so that later appends
        // are not lost behind it.
        bytes.extend_from_slice(&[3, 0, 0, 0, 200, 0, 0, 0, b'h']);
        std::fs::write(&path, &bytes).unwrap();
        let torn = FunctionCache::open(dir.path(), key.clone(), 1 << 20);
        assert!(torn.get(b"g").is_none());
        assert!(!path.exists());
        assert!(torn.insert(b"h", b"code of h".to_vec()));
        assert_eq!(FunctionCache::open(dir.path(), key.clone(), 1 << 20).get(b"h").as_deref(), Some(&b"code of h"[..]));

        // Past its cap, the log starts afresh.
        let capped = FunctionCache::open(dir.path(), key, 10);
        assert!(path.exists(), "nothing is read until something is compiled");
        assert!(capped.get(b"h").is_none());
        assert!(!path.exists());
    }
}
