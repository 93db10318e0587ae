//! Plugins in OCI registries: `oci://HOST/NAMESPACE/NAME:TAG` or `@sha256:...`.
//!
//! A plugin is stored the way the WebAssembly ecosystem stores components
//! (the layout `wkg` and `oras` read): an OCI image manifest whose config has
//! media type `application/vnd.wasm.config.v0+json` and whose one layer,
//! `application/wasm`, is the component's bytes. So the layer digest is the
//! plugin's identity, the same sha256 every result file records, and the
//! manifest digest is what a tag points to.
//!
//! Nothing read from a registry is trusted before it is checked against a
//! digest: a manifest against the digest it was asked for (or, for a tag,
//! against the digest it is then known by), and the component against the
//! layer digest in that manifest. Verified bytes go into the local
//! [`LocalStore`], from which later runs, including offline ones, load them.
//!
//! Everything read from a registry is bounded before it is kept: a manifest
//! is at most [`MAX_MANIFEST_BYTES`], a blob at most what its descriptor
//! declares, and a descriptor is refused before the download when it declares
//! more than the caller allows (`max_component_mib`, or
//! [`MAX_SIGNATURE_PAYLOAD_BYTES`] for signatures). Bytes are hashed as they
//! arrive, and reading stops at the declared size.
//!
//! Registries on the loopback interface are spoken to over plain HTTP, as the
//! docker CLI does by default; every other registry over HTTPS. Credentials
//! are bound to one registry each: `ASSAY_REGISTRY_USERNAME` and
//! `ASSAY_REGISTRY_PASSWORD` go only to the registry `ASSAY_REGISTRY` names;
//! else the docker CLI's login for that registry (its `config.json`,
//! credential store or helpers) is used; else the registry is used
//! anonymously. They are never printed. A registry that does not answer is
//! asked nothing more in the same command.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::OciErrorCode::{BlobUnknown, Denied, ManifestUnknown, NameUnknown, Unauthorized};
use oci_client::errors::{DigestError, OciDistributionError, OciEnvelope, OciErrorCode};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_wasm::{ToConfig, WASM_LAYER_MEDIA_TYPE, WASM_MANIFEST_CONFIG_MEDIA_TYPE, WasmConfig};
use sha2::Digest as _;

pub use crate::reference::{OciRef, RefError};
use crate::store::{LocalStore, Lookup, StoredSignature};

/// The largest manifest read, as registries themselves bound them.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// The largest signature payload read; a cosign payload is a few hundred bytes.
pub const MAX_SIGNATURE_PAYLOAD_BYTES: u64 = 64 << 10;
/// The most signatures read for one manifest.
pub const MAX_SIGNATURES: usize = 16;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach registry {registry}: {reason}")]
    Unreachable { registry: String, reason: String },
    #[error("registry {registry} refused the credentials from {login} for {reference} ({LOGIN_HINT})")]
    Refused { registry: String, reference: String, login: &'static str },
    #[error("registry {registry} requires credentials for {reference}, and none were sent ({hint})")]
    NeedsCredentials { registry: String, reference: String, hint: String },
    #[error("cannot read the docker CLI's login for registry {registry}: {reason}")]
    Credentials { registry: String, reason: String },
    #[error("{reference}: not found in the registry")]
    NotFound { reference: String },
    #[error("{reference}: not a WebAssembly component artifact: {why}")]
    NotAComponent { reference: String, why: String },
    #[error(
        "{reference}: the registry sent {what} that does not match its digest (expected {expected}, got {actual}); refusing it"
    )]
    Corrupt { reference: String, what: &'static str, expected: String, actual: String },
    #[error("{reference}: {what} is {size} bytes, over the {limit} byte limit ({bound}); not downloaded")]
    TooLarge { reference: String, what: &'static str, size: u64, limit: u64, bound: &'static str },
    #[error("{reference}: the registry sent more than {limit} bytes for {what} ({bound}); refusing it")]
    Overlong { reference: String, what: &'static str, limit: u64, bound: &'static str },
    #[error("{reference}: {message}")]
    Protocol { reference: String, message: String },
    #[error("{reference}: {}, and the network is not to be used", stored_state(.damaged))]
    NotStored { reference: String, damaged: bool },
    #[error("local plugin store")]
    Store(#[from] std::io::Error),
}

fn stored_state(damaged: &bool) -> &'static str {
    if *damaged { "the local store's copy was damaged (it was removed)" } else { "not in the local store" }
}

/// What to do about a registry that wants credentials.
const LOGIN_HINT: &str = "set ASSAY_REGISTRY to the registry's host with ASSAY_REGISTRY_USERNAME and \
    ASSAY_REGISTRY_PASSWORD, or `docker login` to it";

/// A plugin fetched from a registry (or found in the store) and verified.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The digest the tag pointed to, or that the reference pinned.
    pub manifest_digest: String,
    /// The component's own sha256: the plugin's identity.
    pub component_digest: String,
    /// The verified component, in the local store.
    pub path: std::path::PathBuf,
    /// Its bytes, as checked against `component_digest`.
    pub component: Vec<u8>,
}

/// What `push` put where.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub reference: OciRef,
    pub manifest_digest: String,
    pub component_digest: String,
}

/// The media type of a cosign simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation that carries a cosign signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// How long to wait for a registry: `[registry]` in `assay.toml`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryOptions {
    /// Seconds to wait for a connection. Default: 3.
    pub connect_timeout_secs: u64,
    /// Seconds to wait for each read of an answer (not for a whole
    /// download). Default: 5.
    pub read_timeout_secs: u64,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions { connect_timeout_secs: 3, read_timeout_secs: 5 }
    }
}

/// Where the login sent to a registry came from.
#[derive(Debug, Clone)]
struct Login {
    auth: RegistryAuth,
    /// `None` when the registry is used anonymously.
    from: Option<&'static str>,
    /// Why environment credentials were not sent here, when they are set.
    withheld: Option<String>,
}

/// A client for the registries of one command, with a blocking interface:
/// every caller is synchronous, and a registry round trip dwarfs the cost of
/// a small runtime.
pub struct Registries {
    runtime: tokio::runtime::Runtime,
    options: RegistryOptions,
    /// For the reads this module bounds itself (manifests); oci-client keeps
    /// its own for blobs, pushes and token exchanges. Made at first use: it
    /// reads the system's certificates, a few milliseconds that a run of
    /// built-in plugins alone should not pay.
    http: std::sync::OnceLock<reqwest::Client>,
    clients: Mutex<BTreeMap<String, (Arc<Client>, Login)>>,
    /// Registries that did not answer, and why: not asked again.
    down: Mutex<BTreeMap<String, String>>,
    /// What the user should hear that does not stop the command.
    notes: Mutex<Vec<String>>,
}

impl Default for Registries {
    fn default() -> Self {
        Registries::new(RegistryOptions::default())
    }
}

impl Registries {
    pub fn new(options: RegistryOptions) -> Registries {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("building a tokio runtime");
        Registries {
            runtime,
            options,
            http: std::sync::OnceLock::new(),
            clients: Default::default(),
            down: Default::default(),
            notes: Default::default(),
        }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(self.options.connect_timeout_secs))
                .read_timeout(Duration::from_secs(self.options.read_timeout_secs))
                .build()
                .expect("building an HTTP client")
        })
    }

    /// Notes gathered so far (a damaged store entry fetched again,
    /// credentials not sent), each once; the caller prints them.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().expect("notes are never poisoned"))
    }

    fn note(&self, note: String) {
        let mut notes = self.notes.lock().expect("notes are never poisoned");
        if !notes.contains(&note) {
            notes.push(note);
        }
    }

    /// The client for `reference`'s registry and the login to use there,
    /// both made once per registry: the login may take a credential
    /// helper's round trip. A registry that did not answer before fails at once.
    fn client(&self, reference: &OciRef) -> Result<(Arc<Client>, Login), RegistryError> {
        let registry = reference.registry();
        if let Some(reason) = self.down.lock().expect("never poisoned").get(registry) {
            return Err(RegistryError::Unreachable { registry: registry.to_string(), reason: reason.clone() });
        }
        let mut clients = self.clients.lock().expect("the client map is never poisoned");
        if let Some(client) = clients.get(registry) {
            return Ok(client.clone());
        }
        let protocol = if reference.is_loopback() { ClientProtocol::Http } else { ClientProtocol::Https };
        let client = Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(Duration::from_secs(self.options.connect_timeout_secs)),
            read_timeout: Some(Duration::from_secs(self.options.read_timeout_secs)),
            ..Default::default()
        });
        let login = login(registry)?;
        let entry = (Arc::new(client), login);
        clients.insert(registry.to_string(), entry.clone());
        Ok(entry)
    }

    /// Turns a client error into a typed one, remembering a registry that
    /// did not answer.
    fn fail(&self, reference: &OciRef, login: &Login, error: OciDistributionError) -> RegistryError {
        self.remember(classify(reference, login, error))
    }

    fn remember(&self, error: RegistryError) -> RegistryError {
        if let RegistryError::Unreachable { registry, reason } = &error {
            self.down.lock().expect("never poisoned").insert(registry.clone(), reason.clone());
        }
        error
    }

    /// A manifest request (HEAD or GET) to `reference`, with its login.
    async fn manifest_request(
        &self,
        reference: &OciRef,
        method: reqwest::Method,
    ) -> Result<reqwest::Response, RegistryError> {
        let (client, login) = self.client(reference)?;
        let token = client
            .auth(&reference.inner, &login.auth, oci_client::RegistryOperation::Pull)
            .await
            .map_err(|e| self.fail(reference, &login, e))?;
        let scheme = if reference.is_loopback() { "http" } else { "https" };
        let target = reference.digest().or(reference.tag()).unwrap_or("latest");
        let url = format!("{scheme}://{}/v2/{}/manifests/{target}", reference.registry(), reference.inner.repository());
        let mut request = self.http().request(method, url).header(reqwest::header::ACCEPT, OCI_IMAGE_MEDIA_TYPE);
        request = match (token, &login.auth) {
            (Some(token), _) => request.bearer_auth(token),
            (None, RegistryAuth::Basic(user, password)) => request.basic_auth(user, Some(password)),
            _ => request,
        };
        let response = request.send().await.map_err(|e| self.remember(transport(reference, e)))?;
        match response.status().as_u16() {
            200..=299 => Ok(response),
            401 | 403 => Err(unauthorized(reference, &login)),
            404 => Err(RegistryError::NotFound { reference: reference.to_string() }),
            code => Err(RegistryError::Protocol {
                reference: reference.to_string(),
                message: format!("the registry answered {code} for the manifest"),
            }),
        }
    }

    /// The manifest `reference` names, at most [`MAX_MANIFEST_BYTES`], and its digest.
    async fn fetch_manifest(&self, reference: &OciRef) -> Result<(Vec<u8>, String), RegistryError> {
        let response = self.manifest_request(reference, reqwest::Method::GET).await?;
        let bytes = self.read_bounded(reference, response, "its manifest", MAX_MANIFEST_BYTES).await?;
        let digest = sha256_digest(&bytes);
        if let Some(expected) = reference.digest().filter(|expected| *expected != digest) {
            return Err(RegistryError::Corrupt {
                reference: reference.to_string(),
                what: "a manifest",
                expected: expected.to_string(),
                actual: digest,
            });
        }
        Ok((bytes, digest))
    }

    /// An answer's body, refused as soon as it passes `limit`: a registry
    /// that streams without end costs at most `limit` bytes of memory.
    async fn read_bounded(
        &self,
        reference: &OciRef,
        mut response: reqwest::Response,
        what: &'static str,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let bound = "manifests are at most 4 MiB";
        if let Some(size) = response.content_length().filter(|&size| size > limit) {
            return Err(RegistryError::TooLarge { reference: reference.to_string(), what, size, limit, bound });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.remember(transport(reference, e)))? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(RegistryError::Overlong { reference: reference.to_string(), what, limit, bound });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// The digest `reference`'s tag points to now (or the digest it pins).
    pub fn resolve(&self, reference: &OciRef) -> Result<String, RegistryError> {
        if let Some(digest) = reference.digest() {
            return Ok(digest.to_string());
        }
        self.runtime.block_on(async {
            let head = self.manifest_request(reference, reqwest::Method::HEAD).await?;
            let header = head.headers().get("docker-content-digest").and_then(|v| v.to_str().ok());
            match header.filter(|d| d.starts_with("sha256:") && d.len() == 71) {
                Some(digest) => Ok(digest.to_string()),
                // Not every registry names the digest: hash the manifest.
                None => Ok(self.fetch_manifest(reference).await?.1),
            }
        })
    }

    /// Fetches the component `reference` names into `store`, from the store
    /// itself when the manifest digest is known and already there. Without
    /// `network`, only the store is looked in. A component declared larger
    /// than `max_component_bytes` is refused before it is downloaded.
    pub fn pull(
        &self,
        reference: &OciRef,
        store: &LocalStore,
        network: bool,
        max_component_bytes: u64,
    ) -> Result<Pulled, RegistryError> {
        let not_stored = |damaged| RegistryError::NotStored { reference: reference.to_string(), damaged };
        let manifest_digest = match reference.digest() {
            Some(digest) => digest.to_string(),
            None if network => self.resolve(reference)?,
            None => return Err(not_stored(false)),
        };
        let pinned = reference.at_digest(&manifest_digest);
        let manifest_bytes = match self.lookup(&pinned, store, &manifest_digest, "manifest")? {
            Ok(bytes) => bytes,
            Err(damaged) if !network => return Err(not_stored(damaged)),
            Err(_) => {
                let (bytes, digest) = self.runtime.block_on(self.fetch_manifest(&pinned))?;
                store.put_verified(&digest, &bytes)?;
                bytes
            }
        };
        let layer = component_layer(&pinned, &manifest_bytes)?;
        let size = declared_size(&pinned, &layer, "the component", max_component_bytes, "limits.max_component_mib")?;
        let (path, component) = match self.lookup(&pinned, store, &layer.digest, "component")? {
            Ok(bytes) => (store.blob_path(&layer.digest)?, bytes),
            Err(damaged) if !network => return Err(not_stored(damaged)),
            Err(_) => {
                let bytes = self.runtime.block_on(self.fetch_blob(&pinned, &layer, size, "the component"))?;
                (store.put_verified(&layer.digest, &bytes)?, bytes)
            }
        };
        Ok(Pulled { manifest_digest, component_digest: layer.digest, path, component })
    }

    /// An entry of the store, or whether a missing one was damaged (and so
    /// removed), noting that it is fetched again.
    fn lookup(
        &self,
        reference: &OciRef,
        store: &LocalStore,
        digest: &str,
        what: &str,
    ) -> Result<Result<Vec<u8>, bool>, RegistryError> {
        Ok(match store.lookup(digest)? {
            Lookup::Found(bytes) => Ok(bytes),
            Lookup::Missing => Err(false),
            Lookup::Damaged => {
                self.note(format!("{reference}: the local store's copy of its {what} was damaged; it was removed"));
                Err(true)
            }
        })
    }

    /// The blob `layer` describes, at most `size` bytes (its declared size,
    /// already checked against the caller's bound), hashed as it arrives.
    async fn fetch_blob(
        &self,
        reference: &OciRef,
        layer: &OciDescriptor,
        size: u64,
        what: &'static str,
    ) -> Result<Vec<u8>, RegistryError> {
        let (client, login) = self.client(reference)?;
        client.store_auth_if_needed(reference.registry(), &login.auth).await;
        let mut stream =
            client.pull_blob_stream(&reference.inner, layer).await.map_err(|e| self.fail(reference, &login, e))?;
        let overlong = || RegistryError::Overlong {
            reference: reference.to_string(),
            what,
            limit: size,
            bound: "the size its descriptor declares",
        };
        if stream.content_length.is_some_and(|length| length > size) {
            return Err(overlong());
        }
        let mut hasher = sha2::Sha256::new();
        let mut bytes = Vec::with_capacity(size.min(16 << 20) as usize);
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(error) => match error.into_inner().map(|inner| inner.downcast::<reqwest::Error>()) {
                    Some(Ok(error)) => return Err(self.remember(transport(reference, *error))),
                    // oci-client's own digest check, at the end of the
                    // stream: the check below says more.
                    _ => break,
                },
            };
            if (bytes.len() + chunk.len()) as u64 > size {
                return Err(overlong());
            }
            hasher.update(&chunk);
            bytes.extend_from_slice(&chunk);
        }
        let actual = format!("sha256:{:x}", hasher.finalize());
        if actual != layer.digest {
            return Err(RegistryError::Corrupt {
                reference: reference.to_string(),
                what,
                expected: layer.digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Pushes `component` to `reference` in the standard layout, with
    /// `annotations` on the manifest. The same bytes and annotations always
    /// make the same manifest, so re-publishing is not a moved tag: the
    /// config's creation time is `SOURCE_DATE_EPOCH`, else the Unix epoch.
    pub fn push(
        &self,
        component: Vec<u8>,
        reference: &OciRef,
        annotations: BTreeMap<String, String>,
    ) -> Result<Pushed, RegistryError> {
        let (mut config, layer) = WasmConfig::from_raw_component(component, None)
            .map_err(|e| RegistryError::NotAComponent { reference: reference.to_string(), why: format!("{e:#}") })?;
        config.created = reproducible_time();
        let component_digest = layer.sha256_digest();
        let config = config
            .to_config()
            .map_err(|e| RegistryError::Protocol { reference: reference.to_string(), message: format!("{e:#}") })?;
        let manifest = OciImageManifest::build(
            std::slice::from_ref(&layer),
            &config,
            (!annotations.is_empty()).then_some(annotations),
        );
        let manifest_digest = self.push_manifest(reference, &[layer], config, manifest)?;
        Ok(Pushed { reference: reference.clone(), manifest_digest, component_digest })
    }

    /// Pushes the blobs and the manifest, and returns the manifest's digest,
    /// computed from the exact bytes sent: asking the registry afterwards
    /// would name whatever the tag points to by then.
    fn push_manifest(
        &self,
        reference: &OciRef,
        layers: &[ImageLayer],
        config: Config,
        mut manifest: OciImageManifest,
    ) -> Result<String, RegistryError> {
        manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_string());
        let body = serde_json::to_vec(&manifest).expect("manifests serialize");
        let digest = sha256_digest(&body);
        let (client, login) = self.client(reference)?;
        self.runtime
            .block_on(async {
                client.store_auth_if_needed(reference.registry(), &login.auth).await;
                for layer in layers {
                    client.push_blob(&reference.inner, layer.data.clone(), &layer.sha256_digest()).await?;
                }
                client.push_blob(&reference.inner, config.data.clone(), &config.sha256_digest()).await?;
                let content_type = reqwest::header::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE);
                client.push_manifest_raw(&reference.inner, body, content_type).await
            })
            .map_err(|e| self.fail(reference, &login, e))?;
        Ok(digest)
    }

    /// The cosign signatures attached to `manifest_digest` in `reference`'s
    /// repository (the `sha256-HEX.sig` tag); none when there is no such tag.
    /// At most [`MAX_SIGNATURES`] are read, each payload at most
    /// [`MAX_SIGNATURE_PAYLOAD_BYTES`]: a layer declaring more is skipped
    /// unread, so junk attached beside a signature costs nothing.
    pub fn signatures(&self, reference: &OciRef, manifest_digest: &str) -> Result<Vec<StoredSignature>, RegistryError> {
        let Some(manifest) = self.signature_manifest(reference, manifest_digest)? else {
            return Ok(Vec::new());
        };
        let sig_ref = signature_ref(reference, manifest_digest);
        let mut signatures = Vec::new();
        for layer in manifest.layers.iter().filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE) {
            let Some(signature) = layer.annotations.as_ref().and_then(|a| a.get(SIGNATURE_ANNOTATION)) else {
                continue;
            };
            let Ok(size) = declared_size(&sig_ref, layer, "a signature payload", MAX_SIGNATURE_PAYLOAD_BYTES, "")
            else {
                self.note(format!("{sig_ref}: skipped a signature layer of {} bytes", layer.size));
                continue;
            };
            if signatures.len() == MAX_SIGNATURES {
                self.note(format!("{sig_ref}: read only the first {MAX_SIGNATURES} signatures"));
                break;
            }
            let payload = self.runtime.block_on(self.fetch_blob(&sig_ref, layer, size, "a signature payload"))?;
            signatures.push(StoredSignature { payload, signature: signature.clone() });
        }
        Ok(signatures)
    }

    fn signature_manifest(
        &self,
        reference: &OciRef,
        manifest_digest: &str,
    ) -> Result<Option<OciImageManifest>, RegistryError> {
        let sig_ref = signature_ref(reference, manifest_digest);
        match self.runtime.block_on(self.fetch_manifest(&sig_ref)) {
            Ok((bytes, _)) => serde_json::from_slice(&bytes).map(Some).map_err(|e| RegistryError::Protocol {
                reference: sig_ref.to_string(),
                message: format!("its signature manifest is not an OCI image manifest: {e}"),
            }),
            Err(RegistryError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Attaches a signature to `manifest_digest`, as `cosign sign` does: one
    /// more layer in the repository's `sha256-HEX.sig` manifest.
    pub fn attach_signature(
        &self,
        reference: &OciRef,
        manifest_digest: &str,
        signature: StoredSignature,
    ) -> Result<(), RegistryError> {
        let sig_ref = signature_ref(reference, manifest_digest);
        let mut layers: Vec<ImageLayer> = Vec::new();
        for existing in self.signatures(reference, manifest_digest)? {
            layers.push(signature_layer(existing));
        }
        let already = layers.iter().any(|l| {
            l.data.as_ref() == signature.payload.as_slice()
                && l.annotations.as_ref().and_then(|a| a.get(SIGNATURE_ANNOTATION)) == Some(&signature.signature)
        });
        if !already {
            layers.push(signature_layer(signature));
        }
        // cosign's signature images carry a minimal image config that lists
        // the layers, so that their digests tell signatures apart.
        let diff_ids: Vec<String> = layers.iter().map(ImageLayer::sha256_digest).collect();
        let config_json = serde_json::json!({
            "architecture": "",
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {},
        });
        let config = Config {
            data: serde_json::to_vec(&config_json).expect("JSON values serialize").into(),
            media_type: oci_client::manifest::IMAGE_CONFIG_MEDIA_TYPE.to_string(),
            annotations: None,
        };
        let manifest = OciImageManifest::build(&layers, &config, None);
        self.push_manifest(&sig_ref, &layers, config, manifest).map(drop)
    }
}

fn signature_layer(signature: StoredSignature) -> ImageLayer {
    ImageLayer {
        data: signature.payload.into(),
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
        annotations: Some(BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), signature.signature)])),
    }
}

/// A descriptor's declared size, refused when it passes `limit`: nothing is
/// downloaded for a descriptor that claims more than the caller allows.
fn declared_size(
    reference: &OciRef,
    layer: &OciDescriptor,
    what: &'static str,
    limit: u64,
    bound: &'static str,
) -> Result<u64, RegistryError> {
    let size = u64::try_from(layer.size).map_err(|_| RegistryError::Protocol {
        reference: reference.to_string(),
        message: format!("{what} declares a negative size"),
    })?;
    if size > limit {
        return Err(RegistryError::TooLarge { reference: reference.to_string(), what, size, limit, bound });
    }
    Ok(size)
}

/// The creation time pushed manifests record: `SOURCE_DATE_EPOCH` (the
/// reproducible-builds convention), else the Unix epoch.
fn reproducible_time() -> chrono::DateTime<chrono::Utc> {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
        .unwrap_or_default()
}

/// The tag cosign keeps a manifest's signatures under.
fn signature_ref(reference: &OciRef, manifest_digest: &str) -> OciRef {
    reference.at_tag(&format!("{}.sig", manifest_digest.replace(':', "-")))
}

/// The one `application/wasm` layer of a component artifact's manifest.
fn component_layer(reference: &OciRef, manifest: &[u8]) -> Result<OciDescriptor, RegistryError> {
    let not_component = |why: String| RegistryError::NotAComponent { reference: reference.to_string(), why };
    let manifest: OciImageManifest = serde_json::from_slice(manifest)
        .map_err(|e| not_component(format!("its manifest is not an OCI image manifest: {e}")))?;
    if manifest.config.media_type != WASM_MANIFEST_CONFIG_MEDIA_TYPE {
        return Err(not_component(format!(
            "config media type is {:?}, not {WASM_MANIFEST_CONFIG_MEDIA_TYPE:?}",
            manifest.config.media_type
        )));
    }
    match manifest.layers.as_slice() {
        [layer] if layer.media_type == WASM_LAYER_MEDIA_TYPE => Ok(layer.clone()),
        [layer] => Err(not_component(format!(
            "its layer has media type {:?}, not {WASM_LAYER_MEDIA_TYPE:?}",
            layer.media_type
        ))),
        layers => Err(not_component(format!("it has {} layers; a component artifact has one", layers.len()))),
    }
}

/// `sha256:HEX` of `bytes`: how registries and locks name content.
pub fn sha256_digest(bytes: &[u8]) -> String {
    assay_runtime::Digest::of(bytes).oci()
}

/// The login for `registry`: the environment's, when `ASSAY_REGISTRY` names
/// this registry; else the docker CLI's for it; else none, saying why
/// environment credentials that are set were not sent.
fn login(registry: &str) -> Result<Login, RegistryError> {
    let env = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut withheld = None;
    if let (Some(user), Some(password)) = (env("ASSAY_REGISTRY_USERNAME"), env("ASSAY_REGISTRY_PASSWORD")) {
        match env("ASSAY_REGISTRY") {
            Some(host) if host == registry => {
                let auth = RegistryAuth::Basic(user, password);
                return Ok(Login { auth, from: Some("ASSAY_REGISTRY_USERNAME"), withheld: None });
            }
            Some(host) => {
                withheld =
                    Some(format!("ASSAY_REGISTRY_USERNAME and ASSAY_REGISTRY_PASSWORD are for {host}, not {registry}"))
            }
            None => {
                withheld = Some(
                    "ASSAY_REGISTRY_USERNAME and ASSAY_REGISTRY_PASSWORD are set, but ASSAY_REGISTRY does not name \
                     the registry they are for"
                        .to_string(),
                )
            }
        }
    }
    let anonymous = Login { auth: RegistryAuth::Anonymous, from: None, withheld };
    let credentials_error = |reason: String| RegistryError::Credentials { registry: registry.to_string(), reason };
    // docker_credential reports a missing config.json as unreadable: no
    // file is no login, an unreadable one is an error.
    let Some(config) = docker_config_path().filter(|path| path.exists()) else { return Ok(anonymous) };
    use docker_credential::CredentialRetrievalError as E;
    match docker_credential::get_credential(registry) {
        Ok(docker_credential::DockerCredential::UsernamePassword(user, password)) => {
            Ok(Login { auth: RegistryAuth::Basic(user, password), from: Some("docker login"), withheld: None })
        }
        Ok(docker_credential::DockerCredential::IdentityToken(token)) => {
            Ok(Login { auth: RegistryAuth::Bearer(token), from: Some("docker login"), withheld: None })
        }
        Err(E::NoCredentialConfigured | E::ConfigNotFound) => Ok(anonymous),
        Err(E::ConfigReadError) => {
            Err(credentials_error(format!("{} cannot be read or is not valid JSON", config.display())))
        }
        Err(E::HelperFailure { helper, stderr, .. }) => Err(credentials_error(format!(
            "the credential helper docker-credential-{helper} failed: {}",
            stderr.trim()
        ))),
        Err(other) => {
            let helper = configured_helper(&config, registry).unwrap_or_else(|| "?".into());
            Err(credentials_error(format!("the credential helper docker-credential-{helper} failed: {other}")))
        }
    }
}

/// Where the docker CLI keeps its logins: `$DOCKER_CONFIG/config.json`,
/// else `~/.docker/config.json`.
fn docker_config_path() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".docker")))?;
    Some(dir.join("config.json"))
}

/// The credential helper docker's config names for `registry`, for messages.
fn configured_helper(config: &std::path::Path, registry: &str) -> Option<String> {
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(config).ok()?).ok()?;
    let helper = config["credHelpers"][registry].as_str().or(config["credsStore"].as_str())?;
    Some(helper.to_string())
}

fn unauthorized(reference: &OciRef, login: &Login) -> RegistryError {
    let (registry, reference) = (reference.registry().to_string(), reference.to_string());
    match login.from {
        Some(login) => RegistryError::Refused { registry, reference, login },
        None => {
            let hint = login.withheld.clone().unwrap_or_else(|| LOGIN_HINT.to_string());
            RegistryError::NeedsCredentials { registry, reference, hint }
        }
    }
}

/// A request that failed on the way: a registry that cannot be reached or
/// did not answer in time, or a broken exchange.
fn transport(reference: &OciRef, error: reqwest::Error) -> RegistryError {
    if error.is_connect() || error.is_timeout() {
        return RegistryError::Unreachable { registry: reference.registry().to_string(), reason: innermost(&error) };
    }
    RegistryError::Protocol { reference: reference.to_string(), message: innermost(&error) }
}

fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        reason = inner.to_string();
        source = inner.source();
    }
    reason
}

fn has_code(envelope: &OciEnvelope, codes: &[OciErrorCode]) -> bool {
    envelope.errors.iter().any(|e| codes.contains(&e.code))
}

/// Turns a client error into one that says what to do about it.
fn classify(reference: &OciRef, login: &Login, error: OciDistributionError) -> RegistryError {
    match error {
        OciDistributionError::RequestError(e) => transport(reference, e),
        OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => {
            unauthorized(reference, login)
        }
        OciDistributionError::ImageManifestNotFoundError(_) => {
            RegistryError::NotFound { reference: reference.to_string() }
        }
        OciDistributionError::ServerError { code: 404, .. } => {
            RegistryError::NotFound { reference: reference.to_string() }
        }
        OciDistributionError::ServerError { code: 401 | 403, .. } => unauthorized(reference, login),
        OciDistributionError::RegistryError { envelope, .. }
            if has_code(&envelope, &[ManifestUnknown, NameUnknown, BlobUnknown]) =>
        {
            RegistryError::NotFound { reference: reference.to_string() }
        }
        OciDistributionError::RegistryError { envelope, .. } if has_code(&envelope, &[Unauthorized, Denied]) => {
            unauthorized(reference, login)
        }
        OciDistributionError::DigestError(DigestError::VerificationError { expected, actual }) => {
            RegistryError::Corrupt { reference: reference.to_string(), what: "content", expected, actual }
        }
        other => RegistryError::Protocol { reference: reference.to_string(), message: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_live_under_cosigns_tag() {
        let r: OciRef = "oci://localhost:5000/nlp/rouge:1.0".parse().unwrap();
        let digest = format!("sha256:{}", "b".repeat(64));
        assert_eq!(
            signature_ref(&r, &digest).to_string(),
            format!("oci://localhost:5000/nlp/rouge:sha256-{}.sig", "b".repeat(64))
        );
    }
}
