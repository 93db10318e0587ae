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
//! Registries on the loopback interface are spoken to over plain HTTP, as the
//! docker CLI does by default; every other registry over HTTPS. Credentials
//! come from `ASSAY_REGISTRY_USERNAME`/`ASSAY_REGISTRY_PASSWORD`, else from
//! the docker CLI's login (its `config.json`, credential store or helpers),
//! else the registry is used anonymously. They are never printed.

use std::collections::BTreeMap;

use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::OciErrorCode::{BlobUnknown, Denied, ManifestUnknown, NameUnknown, Unauthorized};
use oci_client::errors::{DigestError, OciDistributionError, OciEnvelope, OciErrorCode};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use oci_wasm::{ToConfig, WASM_LAYER_MEDIA_TYPE, WASM_MANIFEST_CONFIG_MEDIA_TYPE, WasmConfig};

pub use crate::reference::{OciRef, RefError};
use crate::store::{LocalStore, StoredSignature};

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach registry {registry}: {reason}")]
    Unreachable { registry: String, reason: String },
    #[error(
        "registry {registry} refused the credentials for {reference} (set ASSAY_REGISTRY_USERNAME and ASSAY_REGISTRY_PASSWORD, or `docker login {registry}`)"
    )]
    Unauthorized { registry: String, reference: String },
    #[error("{reference}: not found in the registry")]
    NotFound { reference: String },
    #[error("{reference}: not a WebAssembly component artifact: {why}")]
    NotAComponent { reference: String, why: String },
    #[error(
        "{reference}: the registry sent {what} that does not match its digest (expected {expected}, got {actual}); refusing it"
    )]
    Corrupt { reference: String, what: &'static str, expected: String, actual: String },
    #[error("{reference}: {message}")]
    Protocol { reference: String, message: String },
    #[error("{reference}: not in the local store, and the network is not to be used")]
    NotStored { reference: String },
    #[error("local plugin store: {0}")]
    Store(#[from] std::io::Error),
}

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

/// A client for the registries of one command, with a blocking interface:
/// every caller is synchronous, and a registry round trip dwarfs the cost of
/// a small runtime.
pub struct Registries {
    runtime: tokio::runtime::Runtime,
    clients: std::sync::Mutex<BTreeMap<String, (std::sync::Arc<Client>, RegistryAuth)>>,
}

impl Default for Registries {
    fn default() -> Self {
        Registries::new()
    }
}

impl Registries {
    pub fn new() -> Registries {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("building a tokio runtime");
        Registries { runtime, clients: Default::default() }
    }

    /// The client for `reference`'s registry and the login to use there,
    /// both made once per registry: the login may take a credential
    /// helper's round trip.
    fn client(&self, reference: &OciRef) -> (std::sync::Arc<Client>, RegistryAuth) {
        let mut clients = self.clients.lock().expect("the client map is never poisoned");
        clients
            .entry(reference.registry().to_string())
            .or_insert_with(|| {
                let protocol = if reference.is_loopback() { ClientProtocol::Http } else { ClientProtocol::Https };
                let client = Client::new(ClientConfig {
                    protocol,
                    connect_timeout: Some(std::time::Duration::from_secs(10)),
                    read_timeout: Some(std::time::Duration::from_secs(60)),
                    ..Default::default()
                });
                (std::sync::Arc::new(client), credentials(reference.registry()))
            })
            .clone()
    }

    /// The digest `reference`'s tag points to now (or the digest it pins).
    pub fn resolve(&self, reference: &OciRef) -> Result<String, RegistryError> {
        if let Some(digest) = reference.digest() {
            return Ok(digest.to_string());
        }
        let (client, auth) = self.client(reference);
        self.runtime.block_on(client.fetch_manifest_digest(&reference.inner, &auth)).map_err(|e| classify(reference, e))
    }

    /// Fetches the component `reference` names into `store`, from the store
    /// itself when the manifest digest is known and already there. Without
    /// `network`, only the store is looked in.
    pub fn pull(&self, reference: &OciRef, store: &LocalStore, network: bool) -> Result<Pulled, RegistryError> {
        let not_stored = || RegistryError::NotStored { reference: reference.to_string() };
        let manifest_digest = match reference.digest() {
            Some(digest) => digest.to_string(),
            None if network => self.resolve(reference)?,
            None => return Err(not_stored()),
        };
        let pinned = reference.at_digest(&manifest_digest);
        let manifest_bytes = match store.get(&manifest_digest)? {
            Some(bytes) => bytes,
            None if !network => return Err(not_stored()),
            None => {
                let (client, auth) = self.client(reference);
                let (bytes, _) = self
                    .runtime
                    .block_on(client.pull_manifest_raw(&pinned.inner, &auth, &[OCI_IMAGE_MEDIA_TYPE]))
                    .map_err(|e| classify(&pinned, e))?;
                check_digest(&pinned, "a manifest", &manifest_digest, &bytes)?;
                store.put(&bytes)?;
                bytes.to_vec()
            }
        };
        let layer = component_layer(&pinned, &manifest_bytes)?;
        let (path, component) = match store.get(&layer.digest)? {
            Some(bytes) => (store.blob_path(&layer.digest)?, bytes),
            None if !network => return Err(not_stored()),
            None => {
                let bytes = self.pull_blob(&pinned, &layer, "a component")?;
                (store.put(&bytes)?.1, bytes)
            }
        };
        Ok(Pulled { manifest_digest, component_digest: layer.digest, path, component })
    }

    /// The blob `layer` describes, checked against its digest.
    fn pull_blob(
        &self,
        reference: &OciRef,
        layer: &OciDescriptor,
        what: &'static str,
    ) -> Result<Vec<u8>, RegistryError> {
        let (client, auth) = self.client(reference);
        let mut bytes = Vec::new();
        self.runtime
            .block_on(async {
                client.store_auth_if_needed(reference.registry(), &auth).await;
                client.pull_blob(&reference.inner, layer, &mut bytes).await
            })
            .map_err(|e| classify(reference, e))?;
        check_digest(reference, what, &layer.digest, &bytes)?;
        Ok(bytes)
    }

    /// Pushes `component` to `reference` in the standard layout, with
    /// `annotations` on the manifest.
    pub fn push(
        &self,
        component: Vec<u8>,
        reference: &OciRef,
        annotations: BTreeMap<String, String>,
    ) -> Result<Pushed, RegistryError> {
        let (config, layer) = WasmConfig::from_raw_component(component, None)
            .map_err(|e| RegistryError::NotAComponent { reference: reference.to_string(), why: format!("{e:#}") })?;
        let component_digest = layer.sha256_digest();
        let config = config
            .to_config()
            .map_err(|e| RegistryError::Protocol { reference: reference.to_string(), message: format!("{e:#}") })?;
        let mut manifest = OciImageManifest::build(
            std::slice::from_ref(&layer),
            &config,
            (!annotations.is_empty()).then_some(annotations),
        );
        manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_string());
        let manifest_digest = self.push_manifest(reference, &[layer], config, manifest)?;
        Ok(Pushed { reference: reference.clone(), manifest_digest, component_digest })
    }

    fn push_manifest(
        &self,
        reference: &OciRef,
        layers: &[ImageLayer],
        config: Config,
        manifest: OciImageManifest,
    ) -> Result<String, RegistryError> {
        let (client, auth) = self.client(reference);
        let manifest = OciManifest::Image(manifest);
        self.runtime
            .block_on(async {
                client.store_auth_if_needed(reference.registry(), &auth).await;
                for layer in layers {
                    client.push_blob(&reference.inner, layer.data.clone(), &layer.sha256_digest()).await?;
                }
                client.push_blob(&reference.inner, config.data.clone(), &config.sha256_digest()).await?;
                client.push_manifest(&reference.inner, &manifest).await
            })
            .map_err(|e| classify(reference, e))?;
        // The registry names the manifest by the digest of the exact bytes
        // it stored; ask rather than re-serialize.
        self.resolve(reference)
    }

    /// The cosign signatures attached to `manifest_digest` in `reference`'s
    /// repository (the `sha256-HEX.sig` tag); none when there is no such tag.
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
            let payload = self.pull_blob(&sig_ref, layer, "a signature payload")?;
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
        let (client, auth) = self.client(reference);
        match self.runtime.block_on(client.pull_image_manifest(&sig_ref.inner, &auth)) {
            Ok((manifest, _)) => Ok(Some(manifest)),
            Err(e) => match classify(&sig_ref, e) {
                RegistryError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
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
        if let Some(existing) = self.signature_manifest(reference, manifest_digest)? {
            for layer in &existing.layers {
                let data = self.pull_blob(&sig_ref, layer, "a signature payload")?;
                layers.push(ImageLayer {
                    data: data.into(),
                    media_type: layer.media_type.clone(),
                    annotations: layer.annotations.clone(),
                });
            }
        }
        let already = layers.iter().any(|l| {
            l.data.as_ref() == signature.payload.as_slice()
                && l.annotations.as_ref().and_then(|a| a.get(SIGNATURE_ANNOTATION)) == Some(&signature.signature)
        });
        if !already {
            layers.push(ImageLayer {
                data: signature.payload.into(),
                media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
                annotations: Some(BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), signature.signature)])),
            });
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
        let mut manifest = OciImageManifest::build(&layers, &config, None);
        manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_string());
        self.push_manifest(&sig_ref, &layers, config, manifest).map(drop)
    }
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

fn check_digest(reference: &OciRef, what: &'static str, expected: &str, bytes: &[u8]) -> Result<(), RegistryError> {
    let actual = sha256_digest(bytes);
    if actual != expected {
        return Err(RegistryError::Corrupt {
            reference: reference.to_string(),
            what,
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

/// The login for `registry`, from the environment or the docker CLI's.
fn credentials(registry: &str) -> RegistryAuth {
    let env = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let (Some(user), Some(password)) = (env("ASSAY_REGISTRY_USERNAME"), env("ASSAY_REGISTRY_PASSWORD")) {
        return RegistryAuth::Basic(user, password);
    }
    match docker_credential::get_credential(registry) {
        Ok(docker_credential::DockerCredential::UsernamePassword(user, password)) => {
            RegistryAuth::Basic(user, password)
        }
        Ok(docker_credential::DockerCredential::IdentityToken(token)) => RegistryAuth::Bearer(token),
        Err(_) => RegistryAuth::Anonymous,
    }
}

fn has_code(envelope: &OciEnvelope, codes: &[OciErrorCode]) -> bool {
    envelope.errors.iter().any(|e| codes.contains(&e.code))
}

/// Turns a client error into one that says what to do about it.
fn classify(reference: &OciRef, error: OciDistributionError) -> RegistryError {
    let registry = reference.registry().to_string();
    match error {
        OciDistributionError::RequestError(e) if e.is_connect() || e.is_timeout() => {
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(inner) = source {
                reason = inner.to_string();
                source = inner.source();
            }
            RegistryError::Unreachable { registry, reason }
        }
        OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => {
            RegistryError::Unauthorized { registry, reference: reference.to_string() }
        }
        OciDistributionError::ImageManifestNotFoundError(_) => {
            RegistryError::NotFound { reference: reference.to_string() }
        }
        OciDistributionError::ServerError { code: 404, .. } => {
            RegistryError::NotFound { reference: reference.to_string() }
        }
        OciDistributionError::ServerError { code: 401 | 403, .. } => {
            RegistryError::Unauthorized { registry, reference: reference.to_string() }
        }
        OciDistributionError::RegistryError { envelope, .. }
            if has_code(&envelope, &[ManifestUnknown, NameUnknown, BlobUnknown]) =>
        {
            RegistryError::NotFound { reference: reference.to_string() }
        }
        OciDistributionError::RegistryError { envelope, .. } if has_code(&envelope, &[Unauthorized, Denied]) => {
            RegistryError::Unauthorized { registry, reference: reference.to_string() }
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
