//! `assay.lock`: the exact plugin bytes a config runs.
//!
//! For every plugin instance of a config, the lock records the source as the
//! config writes it, the registry manifest it resolved to (for `oci://`
//! sources) and the component's sha256. `assay lock` writes it beside the
//! config; runs with that config then fetch registry plugins by the locked
//! manifest digest (from the local store when they are there, so no network
//! is needed), and `--locked` refuses to run anything the lock does not
//! describe, as `cargo --locked` does.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The lock file's name, beside the config file.
pub const LOCK_FILE: &str = "assay.lock";

/// The format this version of Assay writes and reads.
const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub version: u32,
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<Locked>,
}

/// One plugin instance of the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locked {
    /// The instance name, `[plugins.NAME]`.
    pub name: String,
    /// The source as the config writes it.
    pub source: String,
    /// For a registry plugin: the manifest digest its reference resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// The component's sha256: the plugin's identity.
    pub digest: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: cannot write: {error}")]
    Write { path: PathBuf, error: std::io::Error },
}

impl LockFile {
    pub fn new(plugins: Vec<Locked>) -> LockFile {
        LockFile { version: VERSION, plugins }
    }

    /// Where the lock of the config at `config` lives.
    pub fn path_for(config: &Path) -> PathBuf {
        config.parent().unwrap_or(Path::new("")).join(LOCK_FILE)
    }

    /// The lock at `path`, or `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<LockFile>, LockError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(LockError::Read { path: path.into(), error });
            }
        };
        let lock: LockFile =
            toml::from_str(&text).map_err(|e| LockError::Parse { path: path.into(), message: e.to_string() })?;
        if lock.version != VERSION {
            return Err(LockError::Parse {
                path: path.into(),
                message: format!(
                    "lock format version {} is not {VERSION}, the one this Assay reads; run `assay lock` to rewrite it",
                    lock.version
                ),
            });
        }
        Ok(Some(lock))
    }

    pub fn save(&self, path: &Path) -> Result<(), LockError> {
        let text = format!(
            "# Written by `assay lock`: the exact plugins the config beside it runs.\n# Check it in; `assay run --locked` refuses anything it does not describe.\n\n{}",
            toml::to_string(self).expect("a lock serializes")
        );
        let write = || {
            let mut file = assay_data::output::AtomicFile::create(path)?;
            std::io::Write::write_all(&mut file, text.as_bytes())?;
            file.commit()
        };
        write().map_err(|error| LockError::Write { path: path.into(), error })
    }

    pub fn get(&self, name: &str) -> Option<&Locked> {
        self.plugins.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_round_trips_and_other_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        assert_eq!(LockFile::load(&path).unwrap(), None);
        let lock = LockFile::new(vec![
            Locked {
                name: "rouge".into(),
                source: "oci://example.com/nlp/rouge:1".into(),
                manifest: Some("sha256:aa".into()),
                digest: "sha256:bb".into(),
            },
            Locked { name: "exact".into(), source: "exact_match".into(), manifest: None, digest: "sha256:cc".into() },
        ]);
        lock.save(&path).unwrap();
        assert_eq!(LockFile::load(&path).unwrap(), Some(lock));
        std::fs::write(&path, "version = 9\n").unwrap();
        assert!(LockFile::load(&path).unwrap_err().to_string().contains("version 9"));
    }
}
