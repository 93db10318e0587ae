//! The `assay` command line: score model outputs and screen user feedback
//! with sandboxed WebAssembly plugins.
//!
//! This crate is the edge: flags and `assay.toml` ([`config`]), terminal
//! tables and progress ([`table`]), CI files ([`ci`], [`gate`]), the HTML
//! report ([`html`]), exit codes ([`exit`]). The work is done by the library
//! crates it drives, which other programs can embed without any of this:
//!
//! - `assay-runtime`: the sandbox, limits, failures and the WIT contract;
//! - `assay-data`: readers, field maps and the typed result files;
//! - `assay-registry`: plugin sources, OCI registries, locks and trust;
//! - `assay-pipeline`: evaluating and screening records on parallel workers;
//! - `assay-builtins`: the built-in plugins' components.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod ci;
mod cli;
mod config;
mod exit;
mod gate;
mod html;
mod table;
mod text;

use exit::Exit;

/// Score model outputs and screen user feedback with sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(name = "assay", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run evaluator plugins over an eval set.
    Run(cli::run::RunArgs),
    /// List the built-in plugins and their metrics.
    Plugins,
    /// Show what a plugin component is: its contract, metrics, imports, digest.
    Inspect(cli::inspect::InspectArgs),
    /// Screen user feedback with guard plugins: accept, quarantine or reject each record.
    Guard(cli::guard::GuardArgs),
    /// Screen feedback online: the guards as an HTTP service with a write-ahead log and recalls.
    Serve(cli::serve::ServeArgs),
    /// Write one self-contained HTML report over run folders.
    Report(cli::report::ReportArgs),
    /// Ask candidate models for their answers to an eval set's prompts, one eval set each.
    Generate(cli::generate::GenerateArgs),
    /// Put the shards of a sharded run (`assay run --shard K/N`) together into the run's results.
    Merge(cli::merge::MergeArgs),
    /// Whether candidates' runs differ significantly from a baseline's, metric by metric.
    Compare(cli::compare::CompareArgs),
    /// Check a plugin against golden cases: expected scores or decisions.
    Test(cli::test::TestArgs),
    /// Rebuild a plugin project on every change, run its cases and a small run, and say what changed.
    Dev(cli::dev::DevArgs),
    /// Create a plugin project (Rust, Python or JavaScript) that builds as generated.
    New(cli::new::NewArgs),
    /// Write a plugin's metadata (name, version, authors, license, source...) into the component.
    Package(cli::package::PackageArgs),
    /// Pin every plugin of a config to its exact bytes in assay.lock.
    Lock(cli::lock::LockArgs),
    /// Publish a component to an OCI registry.
    Push(cli::registry::PushArgs),
    /// Fetch a component from an OCI registry into the local store.
    Pull(cli::registry::PullArgs),
    /// Sign a published plugin with a team key (cosign's format).
    Sign(cli::registry::SignArgs),
    /// Check a published plugin's signature against a public key.
    Verify(cli::registry::VerifyArgs),
    /// Create a signing key pair for a team.
    Keygen(cli::registry::KeygenArgs),
    /// The compiled-component cache: list, size, prune, clear.
    Cache(cli::cache::CacheArgs),
    /// Move judged model answers between machines: export and import the model cache.
    Models(cli::models::ModelsArgs),
    /// Measure people's verdicts: agreement among reviewers, and of each metric with them.
    Review(cli::review::ReviewArgs),
    /// Print a shell completion script, such as `assay completions bash > /etc/bash_completion.d/assay`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let usage = error.use_stderr();
            let _ = error.print();
            return if usage { Exit::Usage } else { Exit::Success }.into();
        }
    };
    let done = |result: anyhow::Result<()>| result.map(|()| Exit::Success.into());
    let result = match cli.command {
        Command::Run(args) => cli::run::run(args),
        Command::Plugins => done(cli::inspect::plugins()),
        Command::Inspect(args) => done(cli::inspect::inspect(args)),
        Command::Guard(args) => cli::guard::guard(args),
        Command::Serve(args) => done(cli::serve::serve(args)),
        Command::Report(args) => done(cli::report::report(args)),
        Command::Merge(args) => cli::merge::merge(args),
        Command::Compare(args) => done(cli::compare::compare(args)),
        Command::Generate(args) => done(cli::generate::generate(args)),
        Command::Test(args) => cli::test::test(args),
        Command::New(args) => done(cli::new::new(args)),
        Command::Dev(args) => cli::dev::dev(args),
        Command::Package(args) => done(cli::package::package(args)),
        Command::Lock(args) => done(cli::lock::lock(args)),
        Command::Push(args) => done(cli::registry::push(args)),
        Command::Pull(args) => done(cli::registry::pull(args)),
        Command::Sign(args) => done(cli::registry::sign(args)),
        Command::Verify(args) => done(cli::registry::verify(args)),
        Command::Keygen(args) => done(cli::registry::keygen(args)),
        Command::Models(args) => done(cli::models::models(args)),
        Command::Cache(args) => done(cli::cache::cache(args)),
        Command::Review(args) => done(cli::review::review(args)),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "assay", &mut std::io::stdout());
            Ok(Exit::Success.into())
        }
    };
    result.unwrap_or_else(|error| {
        // Errors quote plugins (a refused configuration, a failed load).
        eprintln!("error: {}", text::terminal(&message(&error)));
        Exit::Failed.into()
    })
}

/// An error and its causes, as anyhow's `{:#}` writes them, but a cause
/// that the text before it already quotes is said once: several errors
/// name their cause in their own message (`{path}: {error}`) and also give
/// it as their source, for callers that print one error alone.
fn message(error: &anyhow::Error) -> String {
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

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
