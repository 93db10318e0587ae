//! Paths of the test plugins, compiled from `tests/plugins/*` by the build
//! script. Each constant is named after the plugin's folder, in upper case.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
