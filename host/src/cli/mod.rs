//! The subcommands of the `assay` binary, one module each.

pub mod inspect;
pub mod run;
