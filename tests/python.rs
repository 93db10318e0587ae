//! The Python package's tests (tests/python, pytest), run from the test
//! suite so that `cargo test --workspace` runs them and fails with them.
//!
//! They run in the virtual environment `.ci/run` makes (the package built
//! from python/ with maturin, and pandas, datasets and pytest), against
//! this build's `assay` binary, which they compare the package with.

mod common;

use std::process::Command;

#[test]
fn the_python_package_passes_its_tests() {
    let Some(python) = common::installed_tool("ASSAY_PYTHON_VENV", "python-venv", "bin/python") else { return };
    let root = common::root();
    let done = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/python"])
        .current_dir(&root)
        .env("ASSAY_BIN", env!("CARGO_BIN_EXE_assay"))
        // A component on disk, for loading plugins by path.
        .env("ASSAY_NOOP_WASM", assay_test_artifacts::NOOP)
        .output()
        .expect("running pytest");
    let report = format!("{}{}", String::from_utf8_lossy(&done.stdout), String::from_utf8_lossy(&done.stderr));
    // pytest exits 5 when it collected nothing: that is a failure too.
    assert!(done.status.success(), "pytest exited {:?}:\n{report}", done.status.code());
    assert!(report.contains(" passed"), "{report}");
    assert!(!report.contains(" skipped"), "CI must run every Python test:\n{report}");
}
