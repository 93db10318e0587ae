//! `oci://HOST/NAMESPACE/NAME:TAG` and `@sha256:DIGEST`: how a plugin in a
//! registry is named.
//!
//! A reference must name its registry host: nothing falls back to Docker Hub
//! by accident. The grammar is the OCI distribution spec's, read by hand,
//! because the OCI crates' parser compiles a large regex on first use (35 ms
//! in every run that names a registry plugin).

use std::fmt;
use std::str::FromStr;

use oci_client::Reference;

/// An `oci://` plugin reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRef {
    pub(crate) inner: Reference,
}

/// Why an `oci://` reference could not be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "{text:?} is not an OCI plugin reference: {why} (expected oci://HOST/NAMESPACE/NAME:TAG or oci://HOST/NAMESPACE/NAME@sha256:DIGEST)"
)]
pub struct RefError {
    text: String,
    why: String,
}

impl FromStr for OciRef {
    type Err = RefError;

    /// Reads the grammar of the distribution spec by hand: the OCI crate's
    /// parser compiles a large regex on first use, 35 ms of every run that
    /// names a registry plugin.
    fn from_str(text: &str) -> Result<OciRef, RefError> {
        let error = |why: &str| RefError { text: text.to_string(), why: why.to_string() };
        let rest = text.strip_prefix("oci://").ok_or_else(|| error("it does not start with oci://"))?;
        // A plugin's home must be named: a bare `team/metric` would mean
        // Docker Hub to other tools.
        let (host, path) =
            rest.split_once('/').ok_or_else(|| error("it names no repository after the registry host"))?;
        let host_chars = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
        if host.is_empty()
            || !host.chars().all(host_chars)
            || !(host.contains('.') || host.contains(':') || host == "localhost")
        {
            return Err(error(
                "it must start with the registry's host, such as registry.example.com or 127.0.0.1:5000",
            ));
        }
        let (path, digest) = match path.split_once('@') {
            Some((path, digest)) => (path, Some(digest)),
            None => (path, None),
        };
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repository, tag)) => (repository, Some(tag)),
            None => (path, None),
        };
        let component_ok = |c: &str| {
            let ends_ok = |ch: Option<char>| ch.is_some_and(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit());
            ends_ok(c.chars().next())
                && ends_ok(c.chars().last())
                && c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
        };
        if !repository.split('/').all(component_ok) {
            return Err(error("a repository name is lowercase letters, digits and . _ - between slashes"));
        }
        if let Some(tag) = tag {
            let tag_ok = tag.len() <= 128
                && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !tag_ok {
                return Err(error("a tag is up to 128 letters, digits and _ . -"));
            }
        }
        if let Some(digest) = digest {
            let hex = digest.strip_prefix("sha256:").unwrap_or_default();
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
                return Err(error("a digest is sha256: and 64 lowercase hex digits"));
            }
        }
        let (registry, repository) = (host.to_string(), repository.to_string());
        let inner = match (tag, digest) {
            (Some(tag), Some(digest)) => {
                Reference::with_tag_and_digest(registry, repository, tag.into(), digest.into())
            }
            (None, Some(digest)) => Reference::with_digest(registry, repository, digest.into()),
            (tag, None) => Reference::with_tag(registry, repository, tag.unwrap_or("latest").into()),
        };
        Ok(OciRef { inner })
    }
}

impl fmt::Display for OciRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}", self.inner.whole())
    }
}

impl OciRef {
    /// `HOST` or `HOST:PORT`.
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// `HOST/NAMESPACE/NAME`: what trust policies and signatures name.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.inner.registry(), self.inner.repository())
    }

    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// The manifest digest, when the reference pins one.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// The same repository, pinned to `digest`.
    pub fn at_digest(&self, digest: &str) -> OciRef {
        OciRef {
            inner: Reference::with_digest(self.inner.registry().into(), self.inner.repository().into(), digest.into()),
        }
    }

    /// The same repository at another tag.
    pub(crate) fn at_tag(&self, tag: &str) -> OciRef {
        OciRef { inner: Reference::with_tag(self.inner.registry().into(), self.inner.repository().into(), tag.into()) }
    }

    /// Whether the registry is on this machine, and so spoken to over HTTP.
    pub(crate) fn is_loopback(&self) -> bool {
        let registry = self.registry();
        let host = match registry.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => registry,
        };
        host == "localhost"
            || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_must_name_their_registry() {
        let r: OciRef = "oci://127.0.0.1:5000/nlp/rouge:1.0".parse().unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "127.0.0.1:5000/nlp/rouge");
        assert_eq!(r.tag(), Some("1.0"));
        assert!(r.is_loopback());
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/nlp/rouge:1.0");
        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned: OciRef = format!("oci://registry.example.com/nlp/rouge@{digest}").parse().unwrap();
        assert_eq!(pinned.digest(), Some(digest.as_str()));
        assert!(!pinned.is_loopback());
        let both: OciRef = format!("oci://[::1]:5000/a/b-c.d:v1.0@{digest}").parse().unwrap();
        assert_eq!((both.tag(), both.digest()), (Some("v1.0"), Some(digest.as_str())));
        assert!(both.is_loopback());
        assert_eq!("oci://localhost/a/b".parse::<OciRef>().unwrap().to_string(), "oci://localhost/a/b:latest");
        for bad in [
            "nlp/rouge:1.0",
            "oci://nlp/rouge:1.0",
            "oci://rouge",
            "oci://example.com/Bad Name",
            "oci://example.com/nlp/rouge@sha256:abc",
            "oci://example.com/nlp/rouge:bad tag",
        ] {
            let error = bad.parse::<OciRef>().unwrap_err().to_string();
            assert!(error.contains(bad), "{error}");
        }
    }
}
