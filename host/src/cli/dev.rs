//! `assay dev`: the plugin author's loop. Watches a plugin project (one
//! `assay new` made, or any folder with a `build.sh` that leaves a `.wasm`
//! beside it), and on every change rebuilds it, runs its golden cases and a
//! small run over an eval set or feedback file, and prints what changed
//! since the last round and how long each step took.
//!
//! Each step is this binary run as a child (`assay test`, `assay run`,
//! `assay guard`), so the loop shows exactly what the author would see
//! running them by hand, and a plugin that crashes a step cannot end the
//! loop. The steps compile with Winch, Wasmtime's baseline compiler, where
//! it exists: a rebuilt JavaScript or Python component is 12-18 MiB of
//! interpreter that Cranelift takes seconds to compile and the loop calls
//! only a few times (see [`Compiler`]).
//!
//! Changes are found by polling the project's files (name, size,
//! modification time) four times a second: plugin projects are small, and
//! polling behaves alike on every file system, container mounts included,
//! where change notifications are not always delivered.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use clap::Args;

use assay_data::output::{Summary, read_json};
use assay_runtime::Compiler;

use crate::exit::Exit;

#[derive(Args)]
pub struct DevArgs {
    /// The plugin project: a folder with a build.sh. Default: this folder.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Records to run the plugin over after its cases: an eval set for an
    /// evaluator, a feedback file for a guard. Its first --limit records of
    /// JSON Lines are used; other formats are used whole.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// How many records of --input to run.
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: usize,
    /// One round, then exit with the cases' outcome: for scripts and CI.
    #[arg(long)]
    once: bool,
    /// Build with build.sh's full build every round, never with the
    /// Python shell that reads the project's code at run time.
    #[arg(long)]
    full_build: bool,
    /// What compiles the plugin in the loop's steps. Default: winch (on
    /// x86_64), which compiles a large component several times faster than
    /// cranelift, the default of runs, with the same scores and decisions.
    #[arg(long, value_parser = crate::config::choice::<Compiler>(&["cranelift", "winch"]))]
    compiler: Option<Compiler>,
}

/// Where a round's plugin comes from.
struct Built {
    wasm: PathBuf,
    /// `HOST_DIR:GUEST_PATH` to grant it: the project folder at /src for
    /// the Python shell, which reads the author's code from there.
    grant: Option<String>,
}

/// The module of the Python shell (see the module's own doc), which a
/// Python project's build.sh builds when ASSAY_DEV_SHELL names a folder.
const PYTHON_SHELL: &str = include_str!("../../templates/dev/assay_dev_shell.py");

/// What a round found, kept to say what changed in the next.
#[derive(Default)]
struct Round {
    /// Case label to whether it passed.
    cases: BTreeMap<String, bool>,
    /// Headline metrics or decision counts of the run over --input.
    figures: BTreeMap<String, Option<f64>>,
}

pub fn dev(args: DevArgs) -> Result<ExitCode> {
    let dir = args.dir.canonicalize().with_context(|| format!("{}: no such folder", args.dir.display()))?;
    if !dir.join("build.sh").is_file() {
        bail!(
            "{}: no build.sh, so not a plugin project; `assay new evaluator NAME --lang rust|python|js` makes one",
            dir.display()
        );
    }
    let work = dir.join(".assay-dev");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let input = args.input.as_deref().map(|path| sample_input(path, args.limit, &work)).transpose()?;
    let shell = (!args.full_build).then(|| work.join("shell"));
    if let Some(shell) = &shell {
        std::fs::create_dir_all(shell).with_context(|| format!("creating {}", shell.display()))?;
        let module = shell.join("assay_dev_shell.py");
        std::fs::write(&module, PYTHON_SHELL).with_context(|| format!("writing {}", module.display()))?;
    }
    let compiler = args.compiler.unwrap_or(Compiler::FOR_DEVELOPMENT);
    let mut previous: Option<Round> = None;
    let mut seen = fingerprint(&dir);
    loop {
        let (round, passed) = round(&dir, &work, shell.as_deref(), input.as_deref(), previous.as_ref(), compiler)?;
        if args.once {
            return Ok(if passed { Exit::Success } else { Exit::Failed }.into());
        }
        if let Some(round) = round {
            previous = Some(round);
        }
        println!("watching {} for changes (Ctrl-C to stop)", dir.display());
        seen = wait_for_change(&dir, seen);
    }
}

/// One build, test and run. `None` when the build failed (the last good
/// round stays the one to compare with); the flag says whether all passed.
fn round(
    dir: &Path,
    work: &Path,
    shell: Option<&Path>,
    input: Option<&Path>,
    previous: Option<&Round>,
    compiler: Compiler,
) -> Result<(Option<Round>, bool)> {
    let started = Instant::now();
    let build_started = SystemTime::now();
    let mut build = Command::new("bash");
    build.arg(dir.join("build.sh")).current_dir(dir).env("ASSAY", self_exe()?).env("ASSAY_DEV", "1");
    if let Some(shell) = shell {
        build.env("ASSAY_DEV_SHELL", shell);
    }
    let built = build.output().context("running build.sh")?;
    let build_time = started.elapsed();
    if !built.status.success() {
        print_tail(&built, 30);
        println!("build failed after {:.1} s", build_time.as_secs_f64());
        return Ok((None, false));
    }
    // A build.sh that knows the shell leaves it in the shell folder; any
    // other leaves its component in the project.
    let from_shell = shell.and_then(|shell| newest_wasm(shell, build_started));
    let built = match from_shell {
        Some(wasm) => Built { wasm, grant: Some(format!("{}:/src", dir.display())) },
        None => match newest_wasm(dir, build_started) {
            Some(wasm) => Built { wasm, grant: None },
            None => {
                println!("build.sh succeeded but wrote no .wasm file in {}", dir.display());
                return Ok((None, false));
            }
        },
    };
    let wasm = built.wasm.as_path();
    let mut round = Round::default();
    let mut timings = vec![format!("build {:.1} s", build_time.as_secs_f64())];
    let mut passed = true;

    let cases = dir.join("cases.jsonl");
    if cases.is_file() {
        let step = Instant::now();
        let mut test = vec![OsString::from("test"), "-v".into(), wasm.into(), "--cases".into(), cases.into()];
        test.extend(["--compiler".into(), compiler.name().into()]);
        if let Some(grant) = &built.grant {
            test.extend(["--grant".into(), grant.into()]);
        }
        let output = assay(&test)?;
        timings.push(format!("cases {:.1} s", step.elapsed().as_secs_f64()));
        passed &= output.status.success();
        // Each case's outcome is kept; failing cases are printed in full
        // (with what the plugin printed), passing ones only in the summary line.
        let mut failing = false;
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if let Some(label) = line.strip_prefix("ok ") {
                round.cases.insert(label.to_string(), true);
                failing = false;
            } else if let Some(label) = line.strip_prefix("FAIL ") {
                round.cases.insert(label.to_string(), false);
                failing = true;
            } else if !line.starts_with("  ") {
                failing = false;
            }
            if failing || line.contains(" passed, ") {
                println!("{line}");
            }
        }
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
    }

    if let Some(input) = input {
        let step = Instant::now();
        let out = work.join("run");
        let kind = inspect_kind(wasm, compiler)?;
        let (command, flag) = if kind == "guard" { ("guard", "-g") } else { ("run", "-e") };
        let mut run = vec![OsString::from(command), "-q".into(), "-o".into(), (&out).into(), input.into(), flag.into()];
        run.extend([wasm.into(), "--compiler".into(), compiler.name().into()]);
        if let Some(grant) = &built.grant {
            // The file name addresses a plugin given as a path (--set alike).
            let name = wasm.file_stem().unwrap_or_default().to_string_lossy();
            run.extend(["--grant".into(), format!("{name}={grant}").into()]);
        }
        let output = assay(&run)?;
        timings.push(format!("run {:.1} s", step.elapsed().as_secs_f64()));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        match read_json::<Summary>(&out.join("summary.json")) {
            Ok(summary) => {
                if let Summary::Evaluation(evaluation) = &summary {
                    round.figures.extend(evaluation.metrics.clone());
                }
                for (name, count) in summary.counts() {
                    round.figures.insert(format!("{name} (count)"), Some(count as f64));
                }
                passed &= !summary.has_errors();
            }
            Err(_) => passed = false,
        }
    }

    print_changes(&round, previous);
    timings.push(format!("rebuild-to-result {:.1} s", started.elapsed().as_secs_f64()));
    println!("{}", timings.join(", "));
    Ok((Some(round), passed))
}

/// What differs from the previous round: cases that started or stopped
/// passing, figures that moved. The first round prints every figure.
fn print_changes(round: &Round, previous: Option<&Round>) {
    let Some(previous) = previous else {
        for (name, value) in &round.figures {
            println!("{name}: {}", figure(*value));
        }
        return;
    };
    let mut changed = false;
    for (label, passed) in &round.cases {
        match (previous.cases.get(label), passed) {
            (Some(false), true) => println!("now passes: {label}"),
            (Some(true), false) => println!("now FAILS: {label}"),
            (None, _) => println!("new case: {label} ({})", if *passed { "passes" } else { "FAILS" }),
            _ => continue,
        }
        changed = true;
    }
    for (name, value) in &round.figures {
        let before = previous.figures.get(name).copied();
        if before.flatten() != *value {
            println!("{name}: {} -> {}", before.map_or("-".into(), figure), figure(*value));
            changed = true;
        }
    }
    if !changed {
        println!("no change in cases or results");
    }
}

fn figure(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

/// This binary, for the steps and for build.sh's packaging step.
fn self_exe() -> Result<PathBuf> {
    std::env::current_exe().context("finding the assay binary")
}

fn assay(args: &[OsString]) -> Result<Output> {
    Command::new(self_exe()?).args(args).output().context("running assay")
}

/// `evaluator` or `guard`, as `assay inspect` tells.
fn inspect_kind(wasm: &Path, compiler: Compiler) -> Result<String> {
    let output = assay(&["inspect".into(), "--json".into(), wasm.into(), "--compiler".into(), compiler.name().into()])?;
    let info: serde_json::Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("assay inspect {}: {}", wasm.display(), String::from_utf8_lossy(&output.stderr)))?;
    Ok(info["kind"].as_str().unwrap_or("evaluator").to_string())
}

/// The `.wasm` file directly in `dir` that the build wrote (modified since
/// it started), the newest if several were.
fn newest_wasm(dir: &Path, since: SystemTime) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|item| item.path())
        .filter(|path| path.extension().is_some_and(|e| e == "wasm"))
        .filter_map(|path| Some((std::fs::metadata(&path).ok()?.modified().ok()?, path)))
        .filter(|(modified, _)| *modified >= since)
        .max()
        .map(|(_, path)| path)
}

/// The first `limit` records of a JSON Lines file, copied to `work`; any
/// other file as it is.
fn sample_input(path: &Path, limit: usize, work: &Path) -> Result<PathBuf> {
    let path = path.canonicalize().with_context(|| format!("{}: no such file", path.display()))?;
    if path.extension().is_none_or(|e| e != "jsonl") {
        return Ok(path);
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut sample: String =
        text.lines().filter(|l| !l.trim().is_empty()).take(limit).flat_map(|l| [l, "\n"]).collect();
    if sample.is_empty() {
        sample.push('\n');
    }
    let copy = work.join(path.file_name().expect("a file"));
    std::fs::write(&copy, sample).with_context(|| format!("writing {}", copy.display()))?;
    Ok(copy)
}

/// What a change is noticed by: every source file's path, size and
/// modification time. Build outputs and toolchain folders are left out, or
/// every build would start the next one.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    const SKIPPED: &[&str] = &["target", "node_modules", "__pycache__", ".git", ".assay-dev"];
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let Ok(listing) = std::fs::read_dir(&folder) else { continue };
        for item in listing.flatten() {
            let path = item.path();
            let name = item.file_name();
            let Ok(metadata) = item.metadata() else { continue };
            if metadata.is_dir() {
                if !SKIPPED.iter().any(|s| name == *s) {
                    pending.push(path);
                }
            } else if path.extension().is_none_or(|e| e != "wasm") {
                found.push((path, metadata.len(), metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
            }
        }
    }
    found.sort();
    found
}

/// Blocks until the project's files differ from `seen` and have stayed the
/// same for a moment (an editor's save can be several writes); returns them.
fn wait_for_change(dir: &Path, seen: Vec<(PathBuf, u64, SystemTime)>) -> Vec<(PathBuf, u64, SystemTime)> {
    const POLL: Duration = Duration::from_millis(250);
    loop {
        std::thread::sleep(POLL);
        let now = fingerprint(dir);
        if now != seen {
            let mut settled = now;
            loop {
                std::thread::sleep(POLL);
                let again = fingerprint(dir);
                if again == settled {
                    return settled;
                }
                settled = again;
            }
        }
    }
}

fn print_tail(output: &Output, lines: usize) {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let all: Vec<&str> = text.lines().collect();
    for line in &all[all.len().saturating_sub(lines)..] {
        println!("{}", crate::text::terminal(line));
    }
}
