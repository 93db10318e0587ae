//! `assay review apply`: the reviewers' decisions on a guard run's
//! quarantine become final. Each quarantined record goes where more than
//! half of the reviewers assigned to it sent it (pass: accepted, fail:
//! rejected); a record without such a majority stays quarantined, so that
//! feedback no one has cleared never reaches the model. What the guards
//! accepted or rejected stays where they put it.
//!
//! The output folder holds the final `accepted`, `rejected` and
//! `quarantined` files (in the guard run's format, each record exactly as
//! written), `audit.jsonl` (for each record that was quarantined: why the
//! guards held it, each reviewer's current verdict, and every change they
//! made, with who and when) and `applied.json`, whose counts add up to the
//! guard run's records: every record is accounted for. Each file appears
//! whole or not at all, and `applied.json` is written last.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use assay_data::output::{AtomicFile, Route, Summary, read_json, write_json};
use assay_data::run::{self, HeldRecord, RunError};
use serde::{Deserialize, Serialize};

use crate::folder::{self, Item, ReviewKind};
use crate::server::Loaded;
use crate::store::Change;
use crate::verdicts::{Decision, Verdict};

pub const AUDIT_FILE: &str = "audit.jsonl";
pub const APPLIED_FILE: &str = "applied.json";

/// Why a review cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{}: this review is of evaluation samples; only a guard run's quarantine is applied", dir.display())]
    NotQuarantine { dir: PathBuf },
    #[error("{run}: the guard run this review was created from is gone (looked in {tried})")]
    RunMissing { run: String, tried: String },
    #[error("{run}: not a guard run")]
    NotGuardRun { run: String },
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(
        "{run}: its files hold {found} records but its summary counts {counted}; the run folder was changed, so nothing is applied"
    )]
    Unaccounted { run: String, found: u64, counted: u64 },
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot write", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How a record's final route was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecidedBy {
    /// The guards accepted or rejected it.
    Guards,
    /// More than half of its reviewers.
    Reviewers,
    /// It was quarantined and its reviewers have not (yet) decided.
    Undecided,
}

/// One line of `audit.jsonl`: a record the guards quarantined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditLine {
    /// The guard run's folder name.
    pub run: String,
    /// The review item (the record's id, or its line).
    pub item: String,
    /// The line of the guard run's input the record starts on.
    pub line: u64,
    /// Why the guards held it.
    pub held_because: String,
    /// Where it goes now.
    pub decision: Route,
    pub decided_by: DecidedBy,
    /// How many reviewers were assigned, and how many passed and failed it.
    pub assigned: usize,
    pub pass: usize,
    pub fail: usize,
    /// The current verdicts, by reviewer.
    pub verdicts: Vec<Change>,
    /// Every verdict given and withdrawn (`verdict` of null) on it, in order.
    pub history: Vec<Change>,
}

/// A guard run's records by where they end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub records: u64,
    pub accepted_by_guards: u64,
    pub accepted_by_reviewers: u64,
    pub rejected_by_guards: u64,
    pub rejected_by_reviewers: u64,
    /// Quarantined and not (yet) decided by the reviewers.
    pub quarantined: u64,
    /// The files written, by route.
    pub outputs: BTreeMap<String, String>,
}

/// `applied.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    pub assay_version: String,
    pub review: String,
    pub applied_at: String,
    /// Per guard run, by folder name.
    pub runs: BTreeMap<String, Outcome>,
}

/// Applies the review `loaded` (read from `dir`), whose current verdicts
/// are `verdicts` and whose changes are `history`, writing to `out`.
pub fn apply(
    dir: &Path,
    loaded: &Loaded,
    verdicts: &[Verdict],
    history: &[Change],
    out: &Path,
) -> Result<Applied, ApplyError> {
    if loaded.review.kind != ReviewKind::Quarantine {
        return Err(ApplyError::NotQuarantine { dir: dir.into() });
    }
    let mut current: HashMap<&str, Vec<&Verdict>> = HashMap::new();
    for verdict in verdicts {
        current.entry(&verdict.item).or_default().push(verdict);
    }
    let mut changes: HashMap<&str, Vec<&Change>> = HashMap::new();
    for change in history {
        changes.entry(&change.item).or_default().push(change);
    }
    let items: HashMap<(&str, &str), &Item> =
        loaded.items.iter().map(|item| ((item.run.as_str(), item.run_id(&loaded.review)), item)).collect();

    let several = loaded.review.runs.len() > 1;
    let mut applied = Applied {
        assay_version: env!("CARGO_PKG_VERSION").to_string(),
        review: dir.display().to_string(),
        applied_at: jiff::Timestamp::now().to_string(),
        runs: BTreeMap::new(),
    };
    let mut audit = Vec::new();
    for recorded in &loaded.review.runs {
        let run_dir = locate(dir, recorded)?;
        let Summary::Guard(summary) = read_json::<Summary>(&run_dir.join("summary.json")).map_err(RunError::from)?
        else {
            return Err(ApplyError::NotGuardRun { run: recorded.clone() });
        };
        let name = run::run_name(&run_dir);
        let records = run::routed_records(&run_dir, &summary, &Route::ALL)?;
        let found = records.iter().filter(|r| r.record.is_some()).count() as u64;
        if found != summary.counts.records || records.len() as u64 != found {
            return Err(ApplyError::Unaccounted { run: recorded.clone(), found, counted: summary.counts.records });
        }
        let mut outcome = Outcome { records: summary.counts.records, ..Outcome::default() };
        let mut routed: BTreeMap<Route, Vec<&HeldRecord>> = Route::ALL.iter().map(|&r| (r, Vec::new())).collect();
        for record in &records {
            let decision = &record.decision;
            let (route, by) = match decision.decision {
                Route::Accept => (Route::Accept, DecidedBy::Guards),
                Route::Reject => (Route::Reject, DecidedBy::Guards),
                Route::Quarantine => {
                    let id = decision.id_text();
                    let item = items.get(&(name.as_str(), id.as_str())).copied();
                    let line = audit_line(&name, record, item, &current, &changes);
                    let decided = (line.decision, line.decided_by);
                    audit.push(line);
                    decided
                }
            };
            match (route, by) {
                (Route::Accept, DecidedBy::Guards) => outcome.accepted_by_guards += 1,
                (Route::Accept, _) => outcome.accepted_by_reviewers += 1,
                (Route::Reject, DecidedBy::Guards) => outcome.rejected_by_guards += 1,
                (Route::Reject, _) => outcome.rejected_by_reviewers += 1,
                (Route::Quarantine, _) => outcome.quarantined += 1,
            }
            routed.get_mut(&route).expect("every route").push(record);
        }
        let run_out = if several { out.join(&name) } else { out.to_path_buf() };
        std::fs::create_dir_all(&run_out).map_err(|source| ApplyError::Write { path: run_out.clone(), source })?;
        for (route, records) in routed {
            let Some(file) = summary.outputs.get(route.file_stem()) else { continue };
            write_records(&run_dir.join(file), &run_out.join(file), &records)?;
            let shown = if several { format!("{name}/{file}") } else { file.clone() };
            outcome.outputs.insert(route.file_stem().to_string(), shown);
        }
        applied.runs.insert(name, outcome);
    }
    let audit_path = out.join(AUDIT_FILE);
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ApplyError::Write { path, source }
    };
    let mut file = AtomicFile::create(&audit_path).map_err(write_error(&audit_path))?;
    for line in &audit {
        serde_json::to_writer(&mut file, line).map_err(std::io::Error::from).map_err(write_error(&audit_path))?;
        file.write_all(b"\n").map_err(write_error(&audit_path))?;
    }
    file.commit().map_err(write_error(&audit_path))?;
    let applied_path = out.join(APPLIED_FILE);
    write_json(&applied_path, &applied).map_err(write_error(&applied_path))?;
    Ok(applied)
}

fn audit_line(
    run: &str,
    record: &HeldRecord,
    item: Option<&Item>,
    current: &HashMap<&str, Vec<&Verdict>>,
    changes: &HashMap<&str, Vec<&Change>>,
) -> AuditLine {
    let decision = &record.decision;
    let id = item.map_or_else(|| decision.id_text(), |i| i.id.clone());
    let assigned = item.map_or(0, |i| i.reviewers.len());
    let given: Vec<&Verdict> = current.get(id.as_str()).into_iter().flatten().copied().collect();
    let pass = given.iter().filter(|v| v.verdict == Decision::Pass).count();
    let fail = given.len() - pass;
    // A majority of those assigned, not of those who answered: one early
    // verdict does not decide an item two people were asked about.
    let (route, by) = if 2 * pass > assigned {
        (Route::Accept, DecidedBy::Reviewers)
    } else if 2 * fail > assigned {
        (Route::Reject, DecidedBy::Reviewers)
    } else {
        (Route::Quarantine, DecidedBy::Undecided)
    };
    AuditLine {
        run: run.to_string(),
        line: decision.line,
        held_because: folder::held_because(decision),
        decision: route,
        decided_by: by,
        assigned,
        pass,
        fail,
        verdicts: given.iter().map(|v| Change::from(*v)).collect(),
        history: changes.get(id.as_str()).into_iter().flatten().map(|c| (*c).clone()).collect(),
        item: id,
    }
}

/// The guard run folder as recorded at creation (relative to where
/// `assay review create` ran), else beside the review folder.
fn locate(review_dir: &Path, recorded: &str) -> Result<PathBuf, ApplyError> {
    let as_recorded = PathBuf::from(recorded);
    let beside = review_dir.parent().unwrap_or(Path::new(".")).join(as_recorded.file_name().unwrap_or_default());
    [as_recorded.clone(), beside.clone()].into_iter().find(|dir| dir.join("summary.json").is_file()).ok_or_else(|| {
        ApplyError::RunMissing {
            run: recorded.to_string(),
            tried: format!("{} and {}", as_recorded.display(), beside.display()),
        }
    })
}

/// Writes `records` to `path`, with the header row of `source` (the guard
/// run's file of the same route) when the format has one.
fn write_records(source: &Path, path: &Path, records: &[&HeldRecord]) -> Result<(), ApplyError> {
    let write_error = |source| ApplyError::Write { path: path.into(), source };
    let mut file = AtomicFile::create(path).map_err(write_error)?;
    let tabular =
        matches!(assay_data::Format::from_path(source), Some(assay_data::Format::Csv | assay_data::Format::Tsv));
    if tabular {
        let text = std::fs::read(source).map_err(|error| ApplyError::Read { path: source.into(), source: error })?;
        let header = text.split_inclusive(|&b| b == b'\n').next().unwrap_or_default();
        file.write_all(header).map_err(write_error)?;
    }
    for record in records {
        let text = record.record.as_deref().unwrap_or_default();
        file.write_all(text.as_bytes()).map_err(write_error)?;
        if !text.ends_with('\n') {
            file.write_all(b"\n").map_err(write_error)?;
        }
    }
    file.commit().map_err(write_error)
}
