//! Compiles the built-in plugins (`plugins/*`) to components and embeds them,
//! so `assay` is one file that carries its batteries.

#[path = "build/guests.rs"]
mod guests;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    // host/crates/builtins -> the repository's root.
    let root = manifest_dir.ancestors().nth(3).unwrap();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    guests::rerun_if_changed(&root.join("plugins"));
    guests::rerun_if_changed(&root.join("wit"));
    guests::rerun_if_changed(Path::new("build/guests.rs"));

    let plugins = guests::guests_in(&root.join("plugins"));
    let paths = guests::build(&plugins, &guests::target_dir(&out_dir));
    let mut code = String::from(
        "/// Built-in plugins: (name, component bytes), sorted by name.\npub static BUILTINS: &[(&str, &[u8])] = &[\n",
    );
    for (plugin, path) in plugins.iter().zip(&paths) {
        writeln!(code, "    ({:?}, include_bytes!({:?})),", plugin.name, path).unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("builtins.rs"), code).unwrap();
}
