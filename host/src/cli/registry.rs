//! `assay push`, `pull`, `sign`, `verify` and `keygen`: sharing plugins
//! through OCI registries.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use assay_registry::registry::{OciRef, Registries};
use assay_registry::{metadata, trust};
use assay_runtime::Limits;

use super::setup::{single_host, store};

#[derive(Args)]
pub struct PushArgs {
    /// The component to publish.
    component: PathBuf,
    /// Where: oci://HOST/NAMESPACE/NAME:TAG.
    reference: String,
    /// Also sign what was pushed, by its digest, with this private key: no
    /// one can move the tag between the push and the signature.
    #[arg(long, value_name = "FILE")]
    sign: Option<PathBuf>,
}

#[derive(Args)]
pub struct PullArgs {
    /// oci://HOST/NAMESPACE/NAME:TAG or oci://HOST/NAMESPACE/NAME@sha256:DIGEST.
    reference: String,
    /// Also copy the component to this file.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct SignArgs {
    /// The published plugin: best oci://HOST/NAMESPACE/NAME@sha256:DIGEST, as
    /// `push` prints it; a tag is resolved once, and the digest it pointed to
    /// then is what is signed (and printed).
    reference: String,
    /// The team's private key (PKCS#8 PEM, as `assay keygen` writes); an
    /// encrypted one is opened with $ASSAY_KEY_PASSWORD.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The published plugin.
    reference: String,
    /// A public key (PEM, as `assay keygen` or `cosign generate-key-pair` writes).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
}

#[derive(Args)]
pub struct KeygenArgs {
    /// Writes PREFIX.key (private, mode 0600; encrypted with
    /// $ASSAY_KEY_PASSWORD when it is set) and PREFIX.pub.
    prefix: PathBuf,
}

pub fn push(args: PushArgs) -> Result<()> {
    let reference: OciRef = args.reference.parse()?;
    // The key is read first, so a wrong password fails before anything is published.
    let key = args.sign.as_ref().map(|path| trust::load_signing_key(path, key_password().as_deref())).transpose()?;
    let bytes = std::fs::read(&args.component).with_context(|| format!("{}: cannot read", args.component.display()))?;
    // Refuse to publish what no host could run.
    let plugin = single_host(Default::default())?.load(
        &args.component.display().to_string(),
        &bytes,
        &Limits::default(),
        None,
    )?;
    // The manifest's annotations say what `assay package` wrote into the
    // component; one never packaged is still described by `describe()`.
    let mut metadata = metadata::read(&bytes).with_context(|| args.component.display().to_string())?;
    metadata.name.get_or_insert_with(|| plugin.info.name.clone());
    metadata.version.get_or_insert_with(|| plugin.info.version.clone());
    metadata.description.get_or_insert_with(|| plugin.info.description.clone());
    let annotations = metadata::oci_annotations(&metadata);
    let registries = Registries::default();
    let pushed = registries.push(bytes, &reference, annotations)?;
    let pinned = reference.at_digest(&pushed.manifest_digest);
    println!("pushed    {reference}");
    println!("pinned    {pinned}");
    println!("component {}", pushed.component_digest);
    if let (Some(key), Some(path)) = (key, &args.sign) {
        let signature = trust::sign(&key, &reference.repository(), &pushed.manifest_digest);
        registries.attach_signature(&reference, &pushed.manifest_digest, signature)?;
        println!("signed    {pinned}");
        println!("with      {}", path.display());
    }
    print_notes(&registries);
    Ok(())
}

fn print_notes(registries: &Registries) {
    for note in registries.take_notes() {
        eprintln!("warning: {note}");
    }
}

pub fn pull(args: PullArgs) -> Result<()> {
    let reference: OciRef = args.reference.parse()?;
    let store = store()?;
    let registries = Registries::default();
    let pulled = registries.pull(&reference, &store, true, Limits::default().max_component_mib << 20);
    print_notes(&registries);
    let pulled = pulled?;
    println!("pulled    {}", reference.at_digest(&pulled.manifest_digest));
    println!("component {}", pulled.component_digest);
    println!("stored    {}", pulled.path.display());
    if let Some(output) = &args.output {
        std::fs::copy(&pulled.path, output).with_context(|| format!("{}: cannot write", output.display()))?;
        println!("copied to {}", output.display());
    }
    Ok(())
}

pub fn sign(args: SignArgs) -> Result<()> {
    let reference: OciRef = args.reference.parse()?;
    let key = trust::load_signing_key(&args.key, key_password().as_deref())?;
    let registries = Registries::default();
    // Resolved once: everything below is about this digest, wherever the tag goes.
    let pinned = reference.at_digest(&registries.resolve(&reference)?);
    // Only a component artifact is signed: pulling checks the layout and
    // every digest on the way.
    let pulled = registries.pull(&pinned, &store()?, true, Limits::default().max_component_mib << 20)?;
    let signature = trust::sign(&key, &reference.repository(), &pulled.manifest_digest);
    registries.attach_signature(&reference, &pulled.manifest_digest, signature)?;
    print_notes(&registries);
    println!("signed    {pinned}");
    println!("with      {}", args.key.display());
    Ok(())
}

pub fn verify(args: VerifyArgs) -> Result<()> {
    let reference: OciRef = args.reference.parse()?;
    let key = trust::load_verifying_key(&args.key)?;
    let registries = Registries::default();
    let manifest = registries.resolve(&reference)?;
    let signatures = registries.signatures(&reference, &manifest)?;
    if signatures.is_empty() {
        bail!("{}: carries no signature", reference.at_digest(&manifest));
    }
    let mut reasons = Vec::new();
    for signature in &signatures {
        match trust::verify(signature, &key, &manifest) {
            Ok(()) => {
                println!("verified  {} with {}", reference.at_digest(&manifest), args.key.display());
                return Ok(());
            }
            Err(reason) => reasons.push(reason),
        }
    }
    bail!(
        "{}: none of its {} signature(s) verifies with {}: {}",
        reference.at_digest(&manifest),
        signatures.len(),
        args.key.display(),
        reasons.join("; ")
    )
}

pub fn keygen(args: KeygenArgs) -> Result<()> {
    let password = key_password();
    let (private, public) = trust::generate_key_pair(password.as_deref());
    let with_extension = |extension: &str| -> PathBuf {
        let mut path = args.prefix.clone().into_os_string();
        path.push(extension);
        path.into()
    };
    let (private_path, public_path) = (with_extension(".key"), with_extension(".pub"));
    write_new(&private_path, private.as_bytes(), 0o600)?;
    write_new(&public_path, public.as_bytes(), 0o644)?;
    let protection = if password.is_some() {
        "encrypted with $ASSAY_KEY_PASSWORD"
    } else {
        "not encrypted: set ASSAY_KEY_PASSWORD to encrypt it"
    };
    println!("private key {} ({protection}; keep it secret: it signs for your team)", private_path.display());
    println!("public key  {} (give it to the teams that run your plugins)", public_path.display());
    Ok(())
}

/// The private key's password: from the environment, where CI secret stores
/// put it, never from a flag that would show in process lists.
fn key_password() -> Option<String> {
    std::env::var("ASSAY_KEY_PASSWORD").ok().filter(|p| !p.is_empty())
}

/// Writes a file that must not exist yet: a key is never overwritten.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    file.write_all(bytes).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}
