//! The `assay` binary: the command line's parser and its dispatch to the
//! commands of the `assay_cli` library (this package's own library, which
//! the Python bindings share).

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use assay_cli::exit::{Exit, message};
use assay_cli::{cli, text};

/// mimalloc rather than glibc's allocator: records are allocated on the
/// reading and working threads and freed on others, which glibc's arenas
/// handle slowly (a quarter of `assay run`'s CPU time for a cheap metric went
/// to malloc and free; about 25% less CPU with mimalloc, same outputs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
