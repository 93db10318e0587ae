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

/// An error and its causes, as anyhow's `{:#}` writes them, but a cause
/// that the text before it already quotes is said once: several errors
/// name their cause in their own message (`{path}: {error}`) and also give
/// it as their source, for callers that print one error alone.
pub fn message(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1).map(ToString::to_string) {
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_an_error_already_quotes_is_said_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("{path}: {error}")]
        struct Quoting {
            path: String,
            #[source]
            error: std::io::Error,
        }
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let error = anyhow::Error::from(Quoting { path: "qa.jsonl".into(), error: io() }).context("merging");
        assert_eq!(message(&error), "merging: qa.jsonl: entity not found");
        let error = anyhow::Error::from(io()).context("reading qa.jsonl");
        assert_eq!(message(&error), "reading qa.jsonl: entity not found");
    }
}
