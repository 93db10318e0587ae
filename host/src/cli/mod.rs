//! The subcommands of the `assay` binary, one module each, and what the run
//! commands share ([`setup`] before a run, [`finish`] after it).

pub mod cache;
pub mod compare;
pub mod dev;
pub mod finish;
pub mod generate;
pub mod guard;
pub mod inspect;
pub mod lock;
pub mod merge;
pub mod models;
pub mod new;
pub mod package;
pub mod registry;
pub mod report;
pub mod review;
pub mod run;
pub mod serve;
pub mod setup;
pub mod test;
