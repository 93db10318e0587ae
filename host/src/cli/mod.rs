//! The subcommands of the `assay` binary, one module each.

pub mod gates;
pub mod guard;
pub mod inspect;
pub mod lock;
pub mod new;
pub mod package;
pub mod registry;
pub mod report;
pub mod run;
pub mod test;
