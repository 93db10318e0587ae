//! The plugins compiled into the `assay` binary.
//!
//! They are ordinary components, built from `plugins/*` by the build script,
//! and run through exactly the same sandbox as third-party plugins. This
//! crate holds only their bytes, so that the slow guest build reruns only
//! when a plugin, the SDK or the WIT changes, never for a host edit.
//!
//! What it must not depend on: anything. Every other crate may use it.

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The component bytes of a built-in plugin.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTINS.iter().find(|(n, ..)| *n == name).map(|(_, bytes, _)| *bytes)
}

/// The sha256 of a built-in plugin's component bytes, computed when the
/// binary was built.
pub fn sha256(name: &str) -> Option<[u8; 32]> {
    BUILTINS.iter().find(|(n, ..)| *n == name).map(|(.., digest)| *digest)
}

/// Names of all built-in plugins, sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|(name, ..)| *name)
}

#[cfg(test)]
mod tests {
    use sha2::Digest as _;

    #[test]
    fn each_recorded_digest_is_that_of_the_bytes() {
        assert!(super::names().count() > 10);
        for name in super::names() {
            let computed: [u8; 32] = sha2::Sha256::digest(super::get(name).unwrap()).into();
            assert_eq!(super::sha256(name), Some(computed), "{name}");
        }
        assert_eq!(super::sha256("no-such-plugin"), None);
    }
}
