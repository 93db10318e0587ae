//! The standard metadata a plugin component carries inside itself.
//!
//! A plugin's identity is its sha256 digest, which says nothing about who
//! wrote it, under which license, or where its source is. That information
//! travels inside the component, so it cannot be separated from the bytes it
//! describes: in the custom sections the component-model tools agree on
//! (`wasm-tools metadata`, `wkg`, registries), the component name, `version`,
//! `description`, `authors`, `licenses`, `source`, `homepage` and `revision`.
//! Reading and writing go through `wasm-metadata`, the library those tools
//! use, so a component packaged here reads the same everywhere else, and
//! [`oci_annotations`] gives the annotations a registry shows.
//!
//! Writing metadata changes the digest (the sections are part of the bytes)
//! but not what the component does: code, imports and exports pass through
//! untouched.

use std::collections::BTreeMap;

use wasm_metadata::{
    AddMetadata, AddMetadataField, Authors, Description, Homepage, Licenses, Payload, Revision, Source, Version,
};

/// The standard metadata of a component. `None` is a field it does not carry.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ComponentMetadata {
    /// The component's name, from its component-name section.
    pub name: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    /// The people or organization responsible, free-form.
    pub authors: Option<String>,
    /// An SPDX license expression.
    pub licenses: Option<String>,
    /// A URL of the source code.
    pub source: Option<String>,
    /// A URL with more information.
    pub homepage: Option<String>,
    /// The source-control revision it was built from.
    pub revision: Option<String>,
}

impl ComponentMetadata {
    /// The fields the component carries, by name, in a fixed order.
    pub fn present(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("name", &self.name),
            ("version", &self.version),
            ("description", &self.description),
            ("authors", &self.authors),
            ("licenses", &self.licenses),
            ("source", &self.source),
            ("homepage", &self.homepage),
            ("revision", &self.revision),
        ]
        .into_iter()
        .filter_map(|(field, value)| value.as_deref().map(|v| (field, v)))
    }
}

/// The errors `wasm-metadata` gives, kept whole as a source.
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why metadata could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("not a WebAssembly component, or its metadata is malformed")]
    Read(#[source] Cause),
    #[error("a core WebAssembly module, not a component")]
    NotAComponent,
    #[error("{field} {value:?} is not valid")]
    Invalid {
        field: &'static str,
        value: String,
        #[source]
        error: Cause,
    },
    #[error("writing metadata")]
    Write(#[source] Cause),
}

/// The metadata of the top-level component; nested components and modules
/// carry their own, which describe parts, not the plugin.
pub fn read(bytes: &[u8]) -> Result<ComponentMetadata, MetadataError> {
    let payload = Payload::from_binary(bytes).map_err(|e| MetadataError::Read(e.into()))?;
    let Payload::Component { metadata, .. } = payload else {
        return Err(MetadataError::NotAComponent);
    };
    Ok(ComponentMetadata {
        name: metadata.name,
        version: text(metadata.version),
        description: text(metadata.description),
        authors: text(metadata.authors),
        licenses: text(metadata.licenses),
        source: text(metadata.source),
        homepage: text(metadata.homepage),
        revision: text(metadata.revision),
    })
}

fn text<T: std::fmt::Display>(field: Option<T>) -> Option<String> {
    field.map(|value| value.to_string())
}

/// The component with each field of `metadata` that is `Some` set, replacing
/// any value it had; the other fields keep theirs. Licenses must be an SPDX
/// expression, and source and homepage URLs.
pub fn write(bytes: &[u8], metadata: &ComponentMetadata) -> Result<Vec<u8>, MetadataError> {
    // wasm-metadata would as readily write a core module's sections.
    read(bytes)?;
    let mut add = AddMetadata::default();
    add.name = set(&metadata.name, |v| Ok(v.to_string()))?;
    add.version = set(&metadata.version, |v| Ok(Version::new(v.to_string())))?;
    add.description = set(&metadata.description, |v| Ok(Description::new(v.to_string())))?;
    add.authors = set(&metadata.authors, |v| Ok(Authors::new(v.to_string())))?;
    add.licenses = set(&metadata.licenses, |v| Licenses::new(v).map_err(invalid("license", v)))?;
    add.source = set(&metadata.source, |v| Source::new(v).map_err(invalid("source", v)))?;
    add.homepage = set(&metadata.homepage, |v| Homepage::new(v).map_err(invalid("homepage", v)))?;
    add.revision = set(&metadata.revision, |v| Ok(Revision::new(v.to_string())))?;
    add.processed_by = vec![("assay".into(), env!("CARGO_PKG_VERSION").into())];
    // wasm-metadata 0.262 appends a set field without removing the section
    // already there (readers take the last), so those are cleared first.
    let mut clear = AddMetadata::default();
    clear.version = cleared(&add.version);
    clear.description = cleared(&add.description);
    clear.authors = cleared(&add.authors);
    clear.licenses = cleared(&add.licenses);
    clear.source = cleared(&add.source);
    clear.homepage = cleared(&add.homepage);
    clear.revision = cleared(&add.revision);
    let cleared_bytes = clear.to_wasm(bytes).map_err(|e| MetadataError::Write(e.into()))?;
    add.to_wasm(&cleared_bytes).map_err(|e| MetadataError::Write(e.into()))
}

fn cleared<T: std::fmt::Debug + Clone>(field: &AddMetadataField<T>) -> AddMetadataField<T> {
    if field.is_keep() { AddMetadataField::Keep } else { AddMetadataField::Clear }
}

fn set<T: std::fmt::Debug + Clone>(
    value: &Option<String>,
    make: impl FnOnce(&str) -> Result<T, MetadataError>,
) -> Result<AddMetadataField<T>, MetadataError> {
    Ok(match value {
        Some(value) => AddMetadataField::Set(make(value)?),
        None => AddMetadataField::Keep,
    })
}

fn invalid<E: Into<Cause>>(field: &'static str, value: &str) -> impl FnOnce(E) -> MetadataError {
    let value = value.to_string();
    move |e| MetadataError::Invalid { field, value, error: e.into() }
}

/// The OCI annotations (image-spec `org.opencontainers.image.*` keys) that
/// carry the same fields when the component is pushed to an OCI registry.
/// The section-to-key mapping is WebAssembly tool-conventions'
/// `Annotations.md` (`homepage` is `url`); the component name, which it does
/// not list, is the image's `title`.
pub fn oci_annotations(metadata: &ComponentMetadata) -> BTreeMap<String, String> {
    metadata
        .present()
        .map(|(field, value)| {
            // The image spec's names for the two fields it calls otherwise.
            let key = match field {
                "name" => "title",
                "homepage" => "url",
                other => other,
            };
            (format!("org.opencontainers.image.{key}"), value.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_runtime::{ComponentCache, Host, Limits};

    fn component() -> &'static [u8] {
        assay_builtins::get("exact_match").expect("the exact_match built-in")
    }

    fn full() -> ComponentMetadata {
        ComponentMetadata {
            name: Some("exact-match".into()),
            version: Some("1.2.3".into()),
            description: Some("Scores 1 when the output equals the reference".into()),
            authors: Some("Ada <ada@example.com>, Grace".into()),
            licenses: Some("MIT OR Apache-2.0".into()),
            source: Some("https://example.com/assay/exact_match".into()),
            homepage: Some("https://example.com/".into()),
            revision: Some("de978e17a80c1118f606fce919ba9b7d5a04a5ad".into()),
        }
    }

    #[test]
    fn written_metadata_reads_back() {
        let bytes = write(component(), &full()).unwrap();
        assert_eq!(read(&bytes).unwrap(), full());
    }

    #[test]
    fn writing_twice_replaces_and_keeps_unset_fields() {
        let once = write(component(), &full()).unwrap();
        let update =
            ComponentMetadata { version: Some("2.0.0".into()), licenses: Some("MIT".into()), ..Default::default() };
        let twice = write(&once, &update).unwrap();
        assert_eq!(
            read(&twice).unwrap(),
            ComponentMetadata { version: Some("2.0.0".into()), licenses: Some("MIT".into()), ..full() }
        );
        // The same bytes again, not a second copy of each section.
        assert_eq!(write(&once, &full()).unwrap(), once);
    }

    #[test]
    fn the_written_component_still_loads_as_the_same_plugin() {
        let packaged = write(component(), &full()).unwrap();
        let host = Host::new(&[], 1, ComponentCache::disabled()).unwrap();
        let plugin = host.load("exact_match.wasm", &packaged, &Limits::default(), None).unwrap();
        assert_eq!(plugin.info.name, "exact_match");
        assert_eq!(plugin.metrics.len(), 1);
    }

    #[test]
    fn invalid_fields_and_inputs_are_refused() {
        let bad_license = ComponentMetadata { licenses: Some("not a licence".into()), ..Default::default() };
        assert!(matches!(write(component(), &bad_license), Err(MetadataError::Invalid { field: "license", .. })));
        let bad_source = ComponentMetadata { source: Some("no url".into()), ..Default::default() };
        assert!(matches!(write(component(), &bad_source), Err(MetadataError::Invalid { field: "source", .. })));
        assert!(matches!(read(b"not wasm"), Err(MetadataError::Read(_))));
        let module = b"\0asm\x01\0\0\0";
        assert!(matches!(write(module, &full()), Err(MetadataError::NotAComponent)));
    }

    #[test]
    fn oci_annotations_use_the_image_spec_keys() {
        let annotations = oci_annotations(&full());
        assert_eq!(annotations.len(), 8);
        assert_eq!(annotations["org.opencontainers.image.title"], "exact-match");
        assert_eq!(annotations["org.opencontainers.image.url"], "https://example.com/");
        assert_eq!(annotations["org.opencontainers.image.licenses"], "MIT OR Apache-2.0");
        assert!(oci_annotations(&ComponentMetadata::default()).is_empty());
    }
}
