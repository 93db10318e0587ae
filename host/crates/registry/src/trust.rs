//! Who may publish the plugins a pipeline runs: signatures and the policy
//! that says whose signatures count.
//!
//! Signatures use cosign's key-pair format, the one the OCI ecosystem already
//! verifies: an ECDSA P-256 signature over a "simple signing" JSON payload
//! that names the manifest digest, stored as a layer of the
//! `sha256-HEX.sig` manifest beside the plugin, with the signature in the
//! `dev.cosignproject.cosign/signature` annotation. A plugin signed by
//! `assay sign` verifies with `cosign verify --key team.pub
//! --insecure-ignore-tlog`, and one signed by `cosign sign --key ...
//! --tlog-upload=false` verifies with Assay. Public keys are PEM
//! `PUBLIC KEY` files (the format of `cosign.pub`); private keys are PKCS#8
//! PEM, encrypted with a password (PBES2: PBKDF2-SHA256 and AES-256-CBC)
//! or not, as `openssl` writes them. Keyless
//! signing (Fulcio certificates, Rekor transparency log) needs those public
//! services, so it is not offered.
//!
//! The policy lives in the config:
//!
//! ```toml
//! [trust]
//! require_signatures = true
//!
//! [trust.keys.nlp-team]
//! public_key = "keys/nlp-team.pub"           # relative to the config file
//! repositories = ["registry.example.com/nlp"] # HOST/NAMESPACE prefixes this key may sign
//! ```
//!
//! A key counts only for the repositories it is listed for, so one team's
//! key cannot vouch for another team's namespace.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use indexmap::IndexMap;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::Deserialize;

use crate::store::StoredSignature;

/// Why a key could not be used, or a plugin is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}: not a {expected} (expected a PEM {expected}, as `assay keygen` or openssl writes)")]
    BadKey { path: PathBuf, expected: &'static str },
    #[error("{path}: the key is encrypted; set ASSAY_KEY_PASSWORD to its password")]
    NeedsPassword { path: PathBuf },
    #[error("{path}: cannot decrypt the key: wrong password (ASSAY_KEY_PASSWORD)")]
    WrongPassword { path: PathBuf },
    #[error("{subject}: refused by the trust policy: {reason}")]
    Untrusted { subject: String, reason: String },
}

/// `[trust]` in the config.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustPolicy {
    /// Refuse any plugin from a registry that carries no signature by a key
    /// trusted for its repository, and any plugin given as a local file.
    pub require_signatures: bool,
    /// Team keys by name.
    pub keys: IndexMap<String, TrustedKey>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    /// A PEM public key, relative to the config file.
    pub public_key: PathBuf,
    /// `HOST/NAMESPACE[/NAME]` prefixes the key may sign for; `*` is every
    /// repository.
    pub repositories: Vec<String>,
}

impl TrustedKey {
    fn covers(&self, repository: &str) -> bool {
        self.repositories.iter().any(|scope| {
            let scope = scope.trim_end_matches("/*").trim_end_matches('/');
            scope == "*"
                || repository == scope
                || repository.strip_prefix(scope).is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

/// What the policy makes of one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustVerdict {
    /// No signature was asked for.
    NotRequired,
    /// Signed by the named trusted key.
    SignedBy(String),
}

impl TrustPolicy {
    /// Checks a plugin from `repository` at `manifest_digest`, given the
    /// signatures attached to it. `base_dir` is where key paths start.
    pub fn check_registry_plugin(
        &self,
        base_dir: &Path,
        subject: &str,
        repository: &str,
        manifest_digest: &str,
        signatures: &[StoredSignature],
    ) -> Result<TrustVerdict, TrustError> {
        if !self.require_signatures {
            return Ok(TrustVerdict::NotRequired);
        }
        let untrusted = |reason: String| TrustError::Untrusted { subject: subject.to_string(), reason };
        let keys: Vec<(&String, &TrustedKey)> = self.keys.iter().filter(|(_, key)| key.covers(repository)).collect();
        if keys.is_empty() {
            return Err(untrusted(format!(
                "signatures are required and no key in [trust.keys] is trusted for {repository}"
            )));
        }
        if signatures.is_empty() {
            return Err(untrusted(format!(
                "signatures are required and {repository}@{manifest_digest} carries none (`assay sign` attaches one)"
            )));
        }
        for (name, key) in &keys {
            let verifying = load_verifying_key(&base_dir.join(&key.public_key))?;
            if signatures.iter().any(|s| verify(s, &verifying, manifest_digest).is_ok()) {
                return Ok(TrustVerdict::SignedBy((*name).clone()));
            }
        }
        let names: Vec<&str> = keys.iter().map(|(name, _)| name.as_str()).collect();
        Err(untrusted(format!(
            "none of its {} signature(s) verifies with a key trusted for {repository} ({})",
            signatures.len(),
            names.join(", ")
        )))
    }

    /// Checks a plugin given as a local file: it carries no signature.
    pub fn check_local_file(&self, subject: &str) -> Result<TrustVerdict, TrustError> {
        if self.require_signatures {
            return Err(TrustError::Untrusted {
                subject: subject.to_string(),
                reason: "signatures are required and a local file carries none; publish it with `assay push` and `assay sign`".into(),
            });
        }
        Ok(TrustVerdict::NotRequired)
    }
}

/// A new key pair: the PKCS#8 PEM private key, encrypted when a `password`
/// is given, and the PEM public key.
pub fn generate_key_pair(password: Option<&str>) -> (p256::pkcs8::der::zeroize::Zeroizing<String>, String) {
    let mut rng = p256::elliptic_curve::rand_core::OsRng;
    let key = SigningKey::random(&mut rng);
    let private = match password {
        Some(password) => encrypt_pem(&key, password, &mut rng),
        None => key.to_pkcs8_pem(LineEnding::LF).expect("a P-256 key encodes as PKCS#8"),
    };
    let public = key.verifying_key().to_public_key_pem(LineEnding::LF).expect("a P-256 key encodes as SPKI");
    (private, public)
}

/// PBES2 with PBKDF2-SHA256 and AES-256-CBC, as `openssl pkcs8 -topk8 -v2
/// aes-256-cbc` writes: the pkcs8 crate's default, scrypt, uses more memory
/// than openssl allows by default, so openssl could not open the key.
fn encrypt_pem(
    key: &SigningKey,
    password: &str,
    rng: &mut impl p256::elliptic_curve::rand_core::RngCore,
) -> p256::pkcs8::der::zeroize::Zeroizing<String> {
    use pkcs8::der::pem::PemLabel;
    let (mut salt, mut iv) = ([0u8; 16], [0u8; 16]);
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut iv);
    // OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(600_000, &salt, &iv).expect("valid PBES2 parameters");
    let document = key.to_pkcs8_der().expect("a P-256 key encodes as PKCS#8");
    let info = pkcs8::PrivateKeyInfo::try_from(document.as_bytes()).expect("just encoded");
    let encrypted = info.encrypt_with_params(params, password).expect("encryption with valid parameters");
    encrypted.to_pem(pkcs8::EncryptedPrivateKeyInfo::PEM_LABEL, LineEnding::LF).expect("PEM encodes")
}

/// Reads a private key; an encrypted one (`ENCRYPTED PRIVATE KEY`) needs
/// its `password`.
pub fn load_signing_key(path: &Path, password: Option<&str>) -> Result<SigningKey, TrustError> {
    let text = std::fs::read_to_string(path).map_err(|error| TrustError::Read { path: path.into(), error })?;
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let password = password.ok_or_else(|| TrustError::NeedsPassword { path: path.into() })?;
        return SigningKey::from_pkcs8_encrypted_pem(&text, password)
            .map_err(|_| TrustError::WrongPassword { path: path.into() });
    }
    SigningKey::from_pkcs8_pem(&text)
        .or_else(|_| p256::SecretKey::from_sec1_pem(&text).map(SigningKey::from))
        .map_err(|_| TrustError::BadKey { path: path.into(), expected: "P-256 private key" })
}

pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey, TrustError> {
    let text = std::fs::read_to_string(path).map_err(|error| TrustError::Read { path: path.into(), error })?;
    VerifyingKey::from_public_key_pem(&text)
        .map_err(|_| TrustError::BadKey { path: path.into(), expected: "P-256 public key" })
}

/// cosign's simple signing payload for `manifest_digest` in `repository`.
pub fn payload(repository: &str, manifest_digest: &str) -> Vec<u8> {
    let payload = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": manifest_digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    });
    serde_json::to_vec(&payload).expect("JSON values serialize")
}

pub fn sign(key: &SigningKey, repository: &str, manifest_digest: &str) -> StoredSignature {
    let payload = payload(repository, manifest_digest);
    let signature: Signature = key.sign(&payload);
    StoredSignature { payload, signature: BASE64.encode(signature.to_der()) }
}

/// Checks that `signature` is `key`'s and vouches for `manifest_digest`.
/// Like cosign, the payload's repository is not compared: signed artifacts
/// may be copied between registries; which keys count where is the policy's
/// business.
pub fn verify(signature: &StoredSignature, key: &VerifyingKey, manifest_digest: &str) -> Result<(), String> {
    let der = BASE64.decode(signature.signature.trim()).map_err(|e| format!("signature is not base64: {e}"))?;
    let parsed = Signature::from_der(&der).map_err(|e| format!("signature is not an ECDSA signature: {e}"))?;
    key.verify(&signature.payload, &parsed).map_err(|_| "signature does not verify with this key".to_string())?;
    #[derive(Deserialize)]
    struct Payload {
        critical: Critical,
    }
    #[derive(Deserialize)]
    struct Critical {
        image: Image,
    }
    #[derive(Deserialize)]
    struct Image {
        #[serde(rename = "docker-manifest-digest")]
        digest: String,
    }
    let payload: Payload =
        serde_json::from_slice(&signature.payload).map_err(|e| format!("payload is not a cosign payload: {e}"))?;
    if payload.critical.image.digest != manifest_digest {
        return Err(format!("signature vouches for {}, not {manifest_digest}", payload.critical.image.digest));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let (private, public) = generate_key_pair(None);
        let (private_path, public_path) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
        std::fs::write(&private_path, private.as_bytes()).unwrap();
        std::fs::write(&public_path, public).unwrap();
        (private_path, public_path)
    }

    #[test]
    fn signatures_verify_only_with_their_key_and_digest() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = keys(dir.path(), "a");
        let (_, other_public) = keys(dir.path(), "b");
        let digest = format!("sha256:{}", "1".repeat(64));
        let signature = sign(&load_signing_key(&private, None).unwrap(), "example.com/nlp/rouge", &digest);
        let key = load_verifying_key(&public).unwrap();
        assert_eq!(verify(&signature, &key, &digest), Ok(()));
        assert!(verify(&signature, &load_verifying_key(&other_public).unwrap(), &digest).is_err());
        assert!(verify(&signature, &key, &format!("sha256:{}", "2".repeat(64))).unwrap_err().contains("vouches for"));
        let mut tampered = signature.clone();
        tampered.payload = payload("example.com/nlp/rouge", &format!("sha256:{}", "2".repeat(64)));
        assert!(verify(&tampered, &key, &format!("sha256:{}", "2".repeat(64))).is_err());
        let text = String::from_utf8(signature.payload).unwrap();
        assert!(text.contains(r#""docker-manifest-digest":"sha256:111"#), "{text}");
    }

    #[test]
    fn an_encrypted_key_needs_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = generate_key_pair(Some("correct horse"));
        assert!(private.contains("ENCRYPTED PRIVATE KEY"));
        let path = dir.path().join("team.key");
        std::fs::write(&path, private.as_bytes()).unwrap();
        assert!(matches!(load_signing_key(&path, None), Err(TrustError::NeedsPassword { .. })));
        assert!(matches!(load_signing_key(&path, Some("wrong")), Err(TrustError::WrongPassword { .. })));
        let key = load_signing_key(&path, Some("correct horse")).unwrap();
        std::fs::write(dir.path().join("team.pub"), public).unwrap();
        let digest = format!("sha256:{}", "4".repeat(64));
        let signature = sign(&key, "example.com/nlp/x", &digest);
        assert_eq!(verify(&signature, &load_verifying_key(&dir.path().join("team.pub")).unwrap(), &digest), Ok(()));
    }

    #[test]
    fn keys_that_openssl_encrypted_sign_for_their_public_key() {
        // `openssl pkcs8 -topk8 -v2 aes-256-cbc` of a prime256v1 key, password `assay-test`.
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/registry");
        let key = load_signing_key(&fixtures.join("openssl-encrypted.key"), Some("assay-test")).unwrap();
        let digest = format!("sha256:{}", "5".repeat(64));
        let signature = sign(&key, "example.com/nlp/x", &digest);
        assert_eq!(verify(&signature, &load_verifying_key(&fixtures.join("openssl.pub")).unwrap(), &digest), Ok(()));
    }

    #[test]
    fn keys_count_only_for_their_repositories() {
        let key = TrustedKey {
            public_key: "k.pub".into(),
            repositories: vec!["example.com/nlp".into(), "other.org/x/*".into()],
        };
        assert!(key.covers("example.com/nlp/rouge"));
        assert!(key.covers("other.org/x/y"));
        assert!(!key.covers("example.com/nlpx/rouge"));
        assert!(!key.covers("example.com/vision/rouge"));
    }

    #[test]
    fn a_policy_that_requires_signatures_says_why_it_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let (private, _) = keys(dir.path(), "nlp");
        let policy = TrustPolicy {
            require_signatures: true,
            keys: IndexMap::from([(
                "nlp".to_string(),
                TrustedKey { public_key: "nlp.pub".into(), repositories: vec!["example.com/nlp".into()] },
            )]),
        };
        let digest = format!("sha256:{}", "3".repeat(64));
        let check =
            |repo: &str, sigs: &[StoredSignature]| policy.check_registry_plugin(dir.path(), "p", repo, &digest, sigs);
        let signature = sign(&load_signing_key(&private, None).unwrap(), "example.com/nlp/rouge", &digest);
        assert_eq!(
            check("example.com/nlp/rouge", std::slice::from_ref(&signature)).unwrap(),
            TrustVerdict::SignedBy("nlp".into())
        );
        assert!(check("example.com/nlp/rouge", &[]).unwrap_err().to_string().contains("carries none"));
        assert!(
            check("example.com/vision/rouge", &[signature])
                .unwrap_err()
                .to_string()
                .contains("no key in [trust.keys] is trusted")
        );
        assert!(policy.check_local_file("x.wasm").unwrap_err().to_string().contains("local file"));
        assert_eq!(TrustPolicy::default().check_local_file("x.wasm").unwrap(), TrustVerdict::NotRequired);
    }
}
