//! Builds guest crates into `wasm32-wasip2` components from a build script.
//!
//! Shared by `host/crates/builtins/build.rs` (the built-in plugins embedded in `assay`) and
//! `tests/artifacts/build.rs` (the test plugins), following the pattern of
//! wasmtime's test-programs artifacts: a nested `cargo build` with its own
//! target directory, so it never waits on the outer build's lock.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "wasm32-wasip2";

/// A guest crate: its folder name and its package name.
pub struct Guest {
    pub name: String,
    pub package: String,
}

/// The `cdylib` crates directly under `dir`, sorted by folder name. Other
/// crates there (the SDK, shared libraries) are not components.
pub fn guests_in(dir: &Path) -> Vec<Guest> {
    let mut guests = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.expect("reading a directory entry").path();
        let manifest = path.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let doc: toml::Table = text.parse().unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let is_component = doc
            .get("lib")
            .and_then(|lib| lib.get("crate-type"))
            .and_then(|types| types.as_array())
            .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
        if !is_component {
            continue;
        }
        let package = doc["package"]["name"].as_str().expect("package.name").to_string();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        guests.push(Guest { name, package });
    }
    guests.sort_by(|a, b| a.name.cmp(&b.name));
    guests
}

/// Builds `guests` with the workspace's `plugin` profile and returns the
/// path of each component, in the same order.
pub fn build(guests: &[Guest], target_dir: &Path) -> Vec<PathBuf> {
    ensure_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--profile", "plugin", "--target", TARGET])
        .arg("--target-dir")
        .arg(target_dir)
        // The outer build's flags (coverage, sanitizers, a host target) are
        // not meant for the guests.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR");
    for guest in guests {
        cmd.args(["--package", &guest.package]);
    }
    let status = cmd.status().expect("running cargo to build the wasm plugins");
    assert!(status.success(), "building the wasm plugins failed (see the errors above)");
    guests
        .iter()
        .map(|guest| target_dir.join(TARGET).join("plugin").join(format!("{}.wasm", guest.package.replace('-', "_"))))
        .collect()
}

/// The wasm target is not installed by `rust-toolchain.toml` when automatic
/// installs are off, so add it here, or stop with the one-line fix.
fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output().expect("running rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).exists() {
        return;
    }
    let added = Command::new("rustup").args(["target", "add", TARGET]).status().is_ok_and(|s| s.success());
    assert!(added, "the {TARGET} target is missing; install it with: rustup target add {TARGET}");
}

/// Where guest builds go: beside the profile directories of the outer
/// target directory, so debug and release builds of the host share them.
pub fn target_dir(out_dir: &Path) -> PathBuf {
    // OUT_DIR is <target>/[<triple>/]<profile>/build/<pkg>-<hash>/out.
    let profile_dir = out_dir.ancestors().nth(3).expect("OUT_DIR has the usual layout");
    profile_dir.parent().expect("a target directory").join("assay-guests")
}

/// Tells cargo to rebuild when anything under `path` changes.
pub fn rerun_if_changed(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}
