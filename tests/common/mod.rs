//! Helpers shared by the integration tests: they drive the real `assay`
//! binary, as a user or a CI job would.

#![allow(dead_code, unused_imports)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use assay_test_artifacts as artifacts;

/// The `assay` binary under test, with a compiled-component cache shared by
/// all tests of this build (so each component compiles once).
pub fn assay() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_assay"));
    cmd.env("ASSAY_CACHE_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("assay-cache"));
    // Past the default cap of 1 GiB, tests would evict each other's
    // compiled Python and JavaScript plugins (about 40 MB each) and compile
    // them again.
    cmd.env("ASSAY_CACHE_MAX_MIB", "16384");
    cmd.env_remove("RUST_LOG");
    cmd
}

/// Runs a command and returns its output, with stdout and stderr shown on failure.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("running assay")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit code, printing the output when it differs.
#[track_caller]
pub fn expect_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
        stdout(output),
        stderr(output)
    );
}

/// The repository's root folder.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Writes `lines` as a JSON Lines file in `dir`.
pub fn jsonl(dir: &Path, name: &str, lines: &[serde_json::Value]) -> PathBuf {
    let path = dir.join(name);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// Reads a JSON Lines file.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}
/// A program `.ci/run` installs under `$XDG_CACHE_HOME/assay/DIR` (or
/// `$ENV`), or `None` outside CI when it is missing.
pub fn installed_tool(env: &str, dir: &str, program: &str) -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")));
    let root = std::env::var_os(env).map(PathBuf::from).or_else(|| Some(cache?.join("assay").join(dir)))?;
    let path = root.join(program);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing, and CI must run the interop tests: .ci/run installs it",
        path.display()
    );
    eprintln!("SKIPPED: {} is not installed (.ci/run installs it)", path.display());
    None
}
