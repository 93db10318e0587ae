//! Settling which bytes each plugin of a run is.
//!
//! A plugin's source, as `-e` or a config writes it, is a built-in name, a
//! path to a `.wasm` component, or an `oci://` reference. Resolving it means
//! finding the exact component it stands for, checking that against
//! `assay.lock` when there is one, and against the trust policy, and saying
//! what the lock should record. It is the one place these rules live, so
//! `run`, `guard`, `lock` and `inspect` cannot disagree on them:
//!
//! - With a lock, a tag is read as the manifest digest the lock recorded, so
//!   the run gets the locked bytes (from the local store: no network) even
//!   after the tag moved. A local file or built-in whose bytes changed since
//!   gets a warning.
//! - `--locked` turns every difference from the lock into an error naming
//!   the plugin and both digests, and re-reads each tag to catch one that
//!   moved. A registry that cannot be reached then only costs that check: the
//!   locked bytes are still run, from the store.
//! - `--offline` never touches the network: everything must be in the store.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use assay_runtime::host::PluginSpec;
use assay_runtime::{Digest, Grant, Limits};

use crate::lock::{LockFile, Locked};
use crate::registry::{OciRef, RefError, Registries, RegistryError, RegistryOptions};
use crate::store::{LocalStore, StoredSignature};
use crate::trust::{TrustError, TrustPolicy};

/// A source as written, before its bytes are found.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceText {
    Builtin(String),
    Path(PathBuf),
    Oci(OciRef),
}

impl SourceText {
    /// Reads `text`; a relative path is taken from `base`.
    pub fn parse(text: &str, base: &Path) -> Result<SourceText, ResolveError> {
        if text.starts_with("oci://") {
            return Ok(SourceText::Oci(text.parse()?));
        }
        if text.contains('/') || text.ends_with(".wasm") {
            return Ok(SourceText::Path(base.join(text)));
        }
        if assay_builtins::get(text).is_some() {
            return Ok(SourceText::Builtin(text.to_string()));
        }
        let names: Vec<&str> = assay_builtins::names().collect();
        Err(ResolveError::UnknownSource { text: text.to_string(), builtins: names.join(", ") })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "no built-in plugin named {text:?} (built-ins: {builtins}); a component path must end in .wasm, a registry reference start with oci://"
    )]
    UnknownSource { text: String, builtins: String },
    #[error(transparent)]
    Reference(#[from] RefError),
    #[error(
        "{path}: no such plugin component; a plugin runs once built (in its project: ./build.sh, or \
         `cargo build --target wasm32-wasip2 --release` for Rust; `assay new` makes a project)"
    )]
    Missing { path: PathBuf },
    #[error("{path}: not a plugin component; give the .wasm file a plugin project's build writes, not its source")]
    NotAComponent { path: PathBuf },
    #[error("{path}: cannot read the plugin")]
    Read {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{path}: the component is {size} bytes, over the {limit} byte limit (limits.max_component_mib)")]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
    #[error("plugin {name}")]
    Registry {
        name: String,
        #[source]
        error: RegistryError,
    },
    #[error(
        "plugin {name}: {reference} is {}, and --offline forbids fetching it (run once online, or `assay lock`, to store it)",
        if *.damaged { "damaged in the local store (the copy was removed)" } else { "not in the local store" }
    )]
    Offline { name: String, reference: String, damaged: bool },
    #[error(
        "plugin {name}: its bytes do not match {lock}: locked {locked}, found {found} (run `assay lock` to accept the new bytes)"
    )]
    Mismatch { name: String, lock: String, locked: String, found: String },
    #[error(
        "plugin {name}: {reference} now points to manifest {found}, but {lock} pins {locked} (a tag was moved; run `assay lock` to accept the new bytes)"
    )]
    TagMoved { name: String, reference: String, lock: String, locked: String, found: String },
    #[error("plugin {name}: not in {lock} (run `assay lock`)")]
    NotLocked { name: String, lock: String },
    #[error(
        "plugin {name}: {lock} locks source {locked:?}, but the config now says {source_text:?} (run `assay lock`)"
    )]
    Stale { name: String, lock: String, locked: String, source_text: String },
    #[error("--locked needs {lock}; run `assay lock` to write it")]
    NoLock { lock: String },
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("local plugin store")]
    Store(#[source] std::io::Error),
}

/// How strictly a run holds to its lock.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    /// Refuse anything the lock does not describe.
    pub locked: bool,
    /// Never use the network.
    pub offline: bool,
}

/// Where a plugin's component came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    Builtin(String),
    Path(PathBuf),
    /// A component pulled from a registry into the local store.
    Oci {
        /// The reference as written, `oci://HOST/NAMESPACE/NAME:TAG`.
        reference: String,
        /// The manifest digest it resolved to.
        manifest: String,
        /// The verified component in the store.
        path: PathBuf,
    },
}

impl Origin {
    /// `builtin:NAME`, the path as given, or the registry reference with
    /// the manifest digest it resolved to.
    pub fn label(&self) -> String {
        match self {
            Origin::Builtin(name) => format!("builtin:{name}"),
            Origin::Path(path) => path.display().to_string(),
            Origin::Oci { reference, .. } if reference.contains('@') => reference.clone(),
            Origin::Oci { reference, manifest, .. } => format!("{reference}@{manifest}"),
        }
    }
}

/// One resolved plugin: where it came from, its bytes as checked against
/// the lock (read once, so what runs is what was checked), and what the lock
/// should record.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub origin: Origin,
    pub component: Arc<Cow<'static, [u8]>>,
    /// The component's sha256, computed once here for the lock and the host.
    pub sha256: Digest,
    /// What `assay.lock` records for it.
    pub locked: Locked,
}

impl Resolved {
    /// The plugin instance to run from this component.
    pub fn spec(
        &self,
        name: &str,
        config_json: String,
        limits: Limits,
        grants: Vec<Grant>,
        models: Vec<String>,
    ) -> PluginSpec {
        PluginSpec {
            name: name.to_string(),
            origin: self.origin.label(),
            component: self.component.clone(),
            sha256: self.sha256,
            config_json,
            limits,
            grants,
            models,
        }
    }
}

pub struct Resolver<'a> {
    registries: Registries,
    store: LocalStore,
    lock: Option<(PathBuf, LockFile)>,
    policy: &'a TrustPolicy,
    /// Where key paths of the policy start: the config's folder.
    policy_dir: PathBuf,
    mode: Mode,
    /// Things worth telling the user that do not stop the run.
    pub warnings: Vec<String>,
}

impl<'a> Resolver<'a> {
    /// `lock` is the lock file's path and contents when the run has a config
    /// (`None` contents when the file does not exist yet).
    pub fn new(
        store: LocalStore,
        lock: Option<(PathBuf, Option<LockFile>)>,
        policy: &'a TrustPolicy,
        policy_dir: &Path,
        mode: Mode,
        registry: RegistryOptions,
    ) -> Result<Resolver<'a>, ResolveError> {
        let lock = match lock {
            Some((path, Some(lock))) => Some((path, lock)),
            Some((path, None)) if mode.locked => {
                return Err(ResolveError::NoLock { lock: path.display().to_string() });
            }
            _ => None,
        };
        Ok(Resolver {
            registries: Registries::new(registry),
            store,
            lock,
            policy,
            policy_dir: policy_dir.to_path_buf(),
            mode,
            warnings: Vec::new(),
        })
    }

    /// Resolves instance `name`'s source `text` (relative paths from `base`).
    /// `name` is empty for a component named by path on the command line,
    /// which no lock can pin. A component over `max_component_mib` is
    /// refused before it is read or downloaded.
    pub fn resolve(
        &mut self,
        name: &str,
        text: &str,
        base: &Path,
        max_component_mib: u64,
    ) -> Result<Resolved, ResolveError> {
        let parsed = SourceText::parse(text, base)?;
        let entry = self.lock_entry(name, text)?;
        let shown = if name.is_empty() { text } else { name };
        let limit = max_component_mib.saturating_mul(1 << 20);
        // The registry path verified the component's digest as it arrived or
        // was read from the store; it is not computed a second time.
        let mut verified = None;
        let (origin, bytes, manifest) = match parsed {
            SourceText::Builtin(builtin) => {
                let bytes = assay_builtins::get(&builtin).expect("parse checked the name");
                verified = assay_builtins::sha256(&builtin).map(Digest::from_bytes);
                (Origin::Builtin(builtin), Cow::Borrowed(bytes), None)
            }
            SourceText::Path(path) => {
                self.policy.check_local_file(&path.display().to_string())?;
                let bytes = read_bounded(&path, limit)?;
                (Origin::Path(path), Cow::Owned(bytes), None)
            }
            SourceText::Oci(reference) => {
                let manifest = self.manifest_digest(shown, &reference, entry.as_ref())?;
                // The policy first: a component no trusted key signed is
                // never downloaded, let alone stored.
                self.check_signatures(shown, &reference, &manifest)?;
                let pinned = reference.at_digest(&manifest);
                let pulled = self.registries.pull(&pinned, &self.store, !self.mode.offline, limit);
                self.warnings.extend(self.registries.take_notes());
                let pulled = pulled.map_err(|error| match error {
                    RegistryError::NotStored { damaged, .. } => {
                        ResolveError::Offline { name: shown.to_string(), reference: reference.to_string(), damaged }
                    }
                    error => ResolveError::Registry { name: shown.to_string(), error },
                })?;
                verified = pulled.component_digest.parse::<Digest>().ok();
                let origin =
                    Origin::Oci { reference: reference.to_string(), manifest: manifest.clone(), path: pulled.path };
                (origin, Cow::Owned(pulled.component), Some(manifest))
            }
        };
        let sha256 = verified.unwrap_or_else(|| Digest::of(&bytes));
        let digest = sha256.oci();
        if let Some(entry) = &entry
            && entry.digest != digest
        {
            let lock = self.lock_path();
            if self.mode.locked {
                return Err(ResolveError::Mismatch {
                    name: shown.to_string(),
                    lock,
                    locked: entry.digest.clone(),
                    found: digest,
                });
            }
            self.warnings.push(format!("plugin {shown}: its bytes changed since {lock} was written (locked {}, found {digest}); run `assay lock`", entry.digest));
        }
        let locked = Locked { name: name.to_string(), source: text.to_string(), manifest, digest };
        Ok(Resolved { origin, component: Arc::new(bytes), sha256, locked })
    }

    fn lock_path(&self) -> String {
        self.lock.as_ref().map(|(path, _)| path.display().to_string()).unwrap_or_default()
    }

    /// The lock's entry for `name`, if it pins the same source.
    fn lock_entry(&mut self, name: &str, text: &str) -> Result<Option<Locked>, ResolveError> {
        let Some((path, lock)) = &self.lock else {
            return Ok(None);
        };
        let lock_path = path.display().to_string();
        let shown = if name.is_empty() { text } else { name };
        match lock.get(name).filter(|_| !name.is_empty()) {
            Some(entry) if entry.source == text => Ok(Some(entry.clone())),
            Some(entry) if self.mode.locked => Err(ResolveError::Stale {
                name: shown.to_string(),
                lock: lock_path,
                locked: entry.source.clone(),
                source_text: text.to_string(),
            }),
            Some(_) => {
                self.warnings.push(format!("plugin {shown}: {lock_path} locks another source; run `assay lock`"));
                Ok(None)
            }
            None if self.mode.locked => Err(ResolveError::NotLocked { name: shown.to_string(), lock: lock_path }),
            None => Ok(None),
        }
    }

    /// The manifest digest `reference` stands for in this run.
    fn manifest_digest(
        &mut self,
        name: &str,
        reference: &OciRef,
        entry: Option<&Locked>,
    ) -> Result<String, ResolveError> {
        if let Some(digest) = reference.digest() {
            return Ok(digest.to_string());
        }
        let registry_error = |error| ResolveError::Registry { name: name.to_string(), error };
        let Some(locked) = entry.and_then(|e| e.manifest.clone()) else {
            if self.mode.offline {
                return Err(ResolveError::Offline {
                    name: name.to_string(),
                    reference: reference.to_string(),
                    damaged: false,
                });
            }
            return self.registries.resolve(reference).map_err(registry_error);
        };
        if self.mode.locked && !self.mode.offline {
            match self.registries.resolve(reference) {
                Ok(found) if found != locked => {
                    return Err(ResolveError::TagMoved { name: name.to_string(), reference: reference.to_string(), lock: self.lock_path(), locked, found });
                }
                Ok(_) => {}
                Err(RegistryError::Unreachable { registry, reason }) => self.warnings.push(format!(
                    "plugin {name}: cannot reach registry {registry} ({reason}) to check that {reference} still points to the locked {locked}; running the locked bytes"
                )),
                Err(error) => return Err(registry_error(error)),
            }
        }
        Ok(locked)
    }

    /// Applies the trust policy. Signatures that verified once are kept in
    /// the store by manifest digest and verified again from there, with no
    /// network; otherwise the registry's signatures now are fetched (and
    /// kept), or, when it cannot be reached, the policy fails on what the
    /// store has.
    fn check_signatures(&mut self, name: &str, reference: &OciRef, manifest: &str) -> Result<(), ResolveError> {
        if !self.policy.require_signatures {
            return Ok(());
        }
        let subject = format!("plugin {name} ({reference})");
        let repository = reference.repository();
        let check = |signatures: &[StoredSignature]| {
            self.policy.check_registry_plugin(&self.policy_dir, &subject, &repository, manifest, signatures)
        };
        let stored = self.store.signatures(manifest).map_err(ResolveError::Store)?;
        if !stored.is_empty() && check(&stored).is_ok() {
            return Ok(());
        }
        if self.mode.offline {
            check(&stored)?;
            return Ok(());
        }
        let fetched = self.registries.signatures(reference, manifest);
        self.warnings.extend(self.registries.take_notes());
        let signatures = match fetched {
            Ok(signatures) => signatures,
            Err(RegistryError::Unreachable { .. }) => stored,
            Err(error) => return Err(ResolveError::Registry { name: name.to_string(), error }),
        };
        check(&signatures)?;
        self.store.put_signatures(manifest, &signatures).map_err(ResolveError::Store)?;
        Ok(())
    }
}

/// A local component, refused unread when larger than `limit` bytes.
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ResolveError> {
    let read_error = |error| ResolveError::Read { path: path.to_path_buf(), error };
    let mut file = std::fs::File::open(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => ResolveError::Missing { path: path.to_path_buf() },
        _ => read_error(error),
    })?;
    let size = file.metadata().map_err(read_error)?.len();
    if size > limit {
        return Err(ResolveError::TooLarge { path: path.to_path_buf(), size, limit });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // Read at most one byte past the limit, in case the file grows meanwhile.
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut file, limit + 1), &mut bytes).map_err(read_error)?;
    if bytes.len() as u64 > limit {
        return Err(ResolveError::TooLarge { path: path.to_path_buf(), size: bytes.len() as u64, limit });
    }
    // Every WebAssembly binary starts so; a script or a text file given by
    // mistake is named as such, not dumped as bytes that failed to parse.
    if !bytes.starts_with(b"\0asm") {
        return Err(ResolveError::NotAComponent { path: path.to_path_buf() });
    }
    Ok(bytes)
}
