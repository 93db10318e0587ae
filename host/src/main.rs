//! The `assay` command line.
//!
//! Exit codes: 0 success; 1 the run could not be done (bad input, bad
//! configuration, a plugin that cannot load); 2 usage error; 3 the run
//! finished but some samples or corpus metrics failed; 4 the run finished
//! but missed a gate (`[gates]` in the configuration).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

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
    /// Write one self-contained HTML report over run folders.
    Report(cli::report::ReportArgs),
    /// Check a plugin against golden cases: expected scores or decisions.
    Test(cli::test::TestArgs),
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cli::run::run(args),
        Command::Plugins => cli::inspect::plugins().map(|()| ExitCode::SUCCESS),
        Command::Inspect(args) => cli::inspect::inspect(args).map(|()| ExitCode::SUCCESS),
        Command::Guard(args) => cli::guard::guard(args),
        Command::Report(args) => cli::report::report(args).map(|()| ExitCode::SUCCESS),
        Command::Test(args) => cli::test::test(args),
        Command::New(args) => cli::new::new(args).map(|()| ExitCode::SUCCESS),
        Command::Package(args) => cli::package::package(args).map(|()| ExitCode::SUCCESS),
        Command::Lock(args) => cli::lock::lock(args).map(|()| ExitCode::SUCCESS),
        Command::Push(args) => cli::registry::push(args).map(|()| ExitCode::SUCCESS),
        Command::Pull(args) => cli::registry::pull(args).map(|()| ExitCode::SUCCESS),
        Command::Sign(args) => cli::registry::sign(args).map(|()| ExitCode::SUCCESS),
        Command::Verify(args) => cli::registry::verify(args).map(|()| ExitCode::SUCCESS),
        Command::Keygen(args) => cli::registry::keygen(args).map(|()| ExitCode::SUCCESS),
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(1)
    })
}

