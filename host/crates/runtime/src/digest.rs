//! The sha256 digest that identifies a component or an input file.
//!
//! A plugin's identity is the digest of its bytes, not its name or its
//! source: summaries, locks and registries all name plugins by it. One type
//! computes and spells it, so the same bytes are never written two ways.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// A sha256 digest. It displays as 64 lowercase hex digits; [`Digest::oci`]
/// gives the `sha256:HEX` form registries and locks use.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// A digest computed elsewhere, such as by a hashing reader.
    pub fn from_hasher(hasher: Sha256) -> Digest {
        Digest(hasher.finalize().into())
    }

    /// A digest computed elsewhere, as its 32 bytes (the built-ins', when
    /// the binary was built).
    pub const fn from_bytes(bytes: [u8; 32]) -> Digest {
        Digest(bytes)
    }

    /// `sha256:HEX`, as OCI registries and `assay.lock` write it.
    pub fn oci(&self) -> String {
        format!("sha256:{self}")
    }

    /// The first `n` hex digits, for short labels such as signatures.
    pub fn short(&self, n: usize) -> String {
        let mut hex = self.to_string();
        hex.truncate(n);
        hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl std::str::FromStr for Digest {
    type Err = String;

    /// Reads 64 hex digits, with or without the `sha256:` prefix.
    fn from_str(text: &str) -> Result<Digest, String> {
        let hex = text.strip_prefix("sha256:").unwrap_or(text);
        let invalid = || format!("{text:?} is not a sha256 digest (64 hex digits)");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| invalid())?;
        }
        Ok(Digest(bytes))
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_print_and_parse_back() {
        let digest = Digest::of(b"abc");
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(digest.to_string(), hex);
        assert_eq!(digest.oci(), format!("sha256:{hex}"));
        assert_eq!(digest.short(12), &hex[..12]);
        assert_eq!(hex.parse::<Digest>().unwrap(), digest);
        assert_eq!(digest.oci().parse::<Digest>().unwrap(), digest);
        assert!("abc".parse::<Digest>().is_err());
        assert!(format!("{}zz", &hex[..62]).parse::<Digest>().is_err());
    }
}
