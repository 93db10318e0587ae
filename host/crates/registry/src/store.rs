//! The local, content-addressed store of pulled plugins.
//!
//! Everything fetched from a registry (components, their manifests, and the
//! signatures attached to them) is kept here under its sha256, so a run
//! whose plugins are pinned by digest (an `@sha256:` reference, or a tag
//! pinned by `assay.lock`) needs no network. Entries are written atomically
//! and checked against their name each time they are read: a file that was
//! damaged on disk is dropped and fetched again, never run.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::registry::sha256_digest;

/// One cosign-style signature: a signed payload and its signature, as
/// stored in the signature manifest beside the plugin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredSignature {
    pub payload: Vec<u8>,
    /// Base64 of the DER signature, as in cosign's annotation.
    pub signature: String,
}

/// What the store holds under a digest.
#[derive(Debug, PartialEq)]
pub enum Lookup {
    Found(Vec<u8>),
    Missing,
    /// There was an entry, but its bytes did not match its name; it is gone.
    Damaged,
}

/// The store in one folder: `sha256/HEX` entries and the signatures last seen.
pub struct LocalStore {
    dir: PathBuf,
}

impl LocalStore {
    pub fn new(dir: impl Into<PathBuf>) -> LocalStore {
        LocalStore { dir: dir.into() }
    }

    /// `store/` in the cache directory (`$ASSAY_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/assay`, else `~/.cache/assay`).
    pub fn default_location() -> Option<LocalStore> {
        assay_runtime::ComponentCache::default_dir().map(|dir| LocalStore::new(dir.join("store")))
    }

    pub(crate) fn blob_path(&self, digest: &str) -> std::io::Result<PathBuf> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{digest:?} is not a sha256 digest"))
            })?;
        Ok(self.dir.join("sha256").join(hex))
    }

    /// The bytes stored under `digest`, if any and intact.
    pub fn get(&self, digest: &str) -> std::io::Result<Option<Vec<u8>>> {
        Ok(match self.lookup(digest)? {
            Lookup::Found(bytes) => Some(bytes),
            Lookup::Missing | Lookup::Damaged => None,
        })
    }

    /// The entry under `digest`; one whose bytes no longer match is removed,
    /// so that it is fetched again, and reported as damaged.
    pub fn lookup(&self, digest: &str) -> std::io::Result<Lookup> {
        let path = self.blob_path(digest)?;
        match std::fs::read(&path) {
            Ok(bytes) if sha256_digest(&bytes) == digest => Ok(Lookup::Found(bytes)),
            Ok(_) => {
                let _ = std::fs::remove_file(&path);
                Ok(Lookup::Damaged)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lookup::Missing),
            Err(e) => Err(e),
        }
    }

    /// Stores `bytes`; returns their digest and where they are.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<(String, PathBuf)> {
        let digest = sha256_digest(bytes);
        let path = self.put_verified(&digest, bytes)?;
        Ok((digest, path))
    }

    /// Stores `bytes` whose digest the caller has just checked to be
    /// `digest`, without hashing them again; returns where they are.
    pub(crate) fn put_verified(&self, digest: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.blob_path(digest)?;
        write_atomically(&path, bytes)?;
        Ok(path)
    }

    fn signatures_path(&self, manifest_digest: &str) -> std::io::Result<PathBuf> {
        let blob = self.blob_path(manifest_digest)?;
        Ok(self.dir.join("signatures").join(blob.file_name().expect("a blob path has a name")))
    }

    /// The signatures last seen attached to `manifest_digest`. They are
    /// verified against the trusted keys each time they are used, so a
    /// stale or tampered file can only make verification fail.
    pub fn signatures(&self, manifest_digest: &str) -> std::io::Result<Vec<StoredSignature>> {
        match std::fs::read(self.signatures_path(manifest_digest)?) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    pub fn put_signatures(&self, manifest_digest: &str, signatures: &[StoredSignature]) -> std::io::Result<()> {
        let json = serde_json::to_vec(signatures).expect("signatures serialize");
        write_atomically(&self.signatures_path(manifest_digest)?, &json)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().expect("store paths have a parent"))?;
    let mut file = assay_data::output::AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_by_digest_and_damaged_ones_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let (digest, path) = store.put(b"component bytes").unwrap();
        assert_eq!(digest, sha256_digest(b"component bytes"));
        assert_eq!(store.get(&digest).unwrap().as_deref(), Some(&b"component bytes"[..]));
        std::fs::write(&path, b"damaged").unwrap();
        assert_eq!(store.lookup(&digest).unwrap(), Lookup::Damaged);
        assert_eq!(store.lookup(&digest).unwrap(), Lookup::Missing);
        assert!(!path.exists(), "a damaged entry is removed so it is fetched again");
        assert!(store.get("sha256:../../etc/passwd").is_err());
    }
}
