//! Builds the test plugins under `tests/plugins` and exports their paths as
//! constants, like wasmtime's test-programs artifacts.

#[path = "../../host/crates/builtins/build/guests.rs"]
mod guests;

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().parent().unwrap();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    guests::rerun_if_changed(&root.join("tests/plugins"));
    guests::rerun_if_changed(&root.join("plugins/sdk"));
    guests::rerun_if_changed(&root.join("wit"));

    let plugins = guests::guests_in(&root.join("tests/plugins"));
    let paths = guests::build(&plugins, &guests::target_dir(&out_dir));
    let mut code = String::new();
    for (plugin, path) in plugins.iter().zip(&paths) {
        writeln!(
            code,
            "/// The `{}` test plugin.\npub const {}: &str = {:?};",
            plugin.name,
            plugin.name.to_uppercase(),
            path
        )
        .unwrap();
    }
    std::fs::write(out_dir.join("artifacts.rs"), code).unwrap();
}
