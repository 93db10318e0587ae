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
    // Each component's sha256 is computed here, once: a run digests every
    // plugin it loads, and the built-ins are megabytes a process would
    // otherwise hash again at every start.
    let mut code = String::from(
        "/// Built-in plugins: (name, component bytes, their sha256), sorted by name.\n\
         pub static BUILTINS: &[(&str, &[u8], [u8; 32])] = &[\n",
    );
    for (plugin, path) in plugins.iter().zip(&paths) {
        use sha2::Digest as _;
        // The embedded bytes are this build's own copy: the guests' target
        // directory is shared by every build of this crate (debug, release,
        // other feature sets), and one of them may rebuild a component after
        // this digest was taken, which include_bytes! of the shared file
        // would then embed under the old digest.
        let bytes = std::fs::read(path).unwrap();
        let copy = out_dir.join(format!("{}.wasm", plugin.name));
        std::fs::write(&copy, &bytes).unwrap();
        let digest: [u8; 32] = sha2::Sha256::digest(&bytes).into();
        writeln!(code, "    ({:?}, include_bytes!({:?}), {digest:?}),", plugin.name, copy).unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("builtins.rs"), code).unwrap();
}
