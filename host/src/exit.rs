//! The exit codes of `assay`, in one place: scripts and CI act on them, so
//! each means one thing and none ever changes.

use std::process::ExitCode;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything ran and passed.
    Success = 0,
    /// The run could not be done: bad input, bad configuration, a plugin
    /// that does not load.
    Failed = 1,
    /// The command line was wrong (clap's own code).
    Usage = 2,
    /// The run finished, but some samples, corpus metrics or records failed.
    Errors = 3,
    /// The run finished but missed a gate (`[gates]` in the configuration).
    GateFailed = 4,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}
