//! A review folder: `review.json` says what is asked and of whom,
//! `items.jsonl` holds what is reviewed, each with its texts and the
//! reviewers assigned to it. `assay review create` writes both, once; the
//! reviewers' personal links are printed and kept in `links.txt` (readable
//! by its owner only), while `review.json` keeps only each token's sha256.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use assay_data::output::samples::id_text;
use assay_data::output::{AtomicFile, DecisionLine, Route, Summary, write_json};
use assay_data::run::RunData;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::selection::{self, Selection, SelectionError};

pub const REVIEW_FILE: &str = "review.json";
pub const ITEMS_FILE: &str = "items.jsonl";
pub const LINKS_FILE: &str = "links.txt";

/// What a review asks of its reviewers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Asked of every item, such as "Is the answer appropriate?".
    pub text: String,
    /// A score from `scale[0]` to `scale[1]` besides pass or fail.
    pub scale: Option<[u32; 2]>,
    /// Tags a reviewer may attach.
    pub tags: Vec<String>,
}

/// A reviewer, known by name; the token of their link is kept hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reviewer {
    pub name: String,
    pub token_sha256: String,
}

/// Whether the items are samples of evaluation runs or quarantined records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewKind {
    Samples,
    Quarantine,
}

/// `review.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub kind: ReviewKind,
    pub question: Question,
    /// Whether reviewers see the automatic scores (hiding them avoids
    /// anchoring their judgment).
    pub show_scores: bool,
    pub per_item: usize,
    pub reviewers: Vec<Reviewer>,
    /// How the items were chosen, for people.
    pub selection: String,
    pub seed: u64,
    /// The run folders the items come from.
    pub runs: Vec<String>,
    pub created_at: String,
}

/// One line of `items.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The sample's id, prefixed by its run's name when the review spans runs.
    pub id: String,
    pub run: String,
    pub input: String,
    pub output: String,
    pub references: Vec<String>,
    /// A quarantined feedback record, as written.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub record: Option<String>,
    /// Why the guards held the record.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub held_because: Option<String>,
    pub scores: BTreeMap<String, f64>,
    pub reviewers: Vec<String>,
}

impl Item {
    /// The id its run gave it: without the run's name, which a review of
    /// several runs puts before it.
    pub fn run_id<'a>(&'a self, review: &Review) -> &'a str {
        match review.runs.len() > 1 {
            true => self.id.strip_prefix(self.run.as_str()).and_then(|id| id.strip_prefix(':')).unwrap_or(&self.id),
            false => &self.id,
        }
    }
}

/// What `assay review create` is asked for.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub selection: Selection,
    pub seed: u64,
    pub reviewers: Vec<String>,
    pub per_item: usize,
    pub show_scores: bool,
    pub question: Question,
    /// Where `assay review serve` will be reached, for the links.
    pub base_url: String,
}

/// Why a review cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{}: a review is already there; reviews are created once (choose another folder)", dir.display())]
    Exists { dir: PathBuf },
    #[error("{0}")]
    Invalid(String),
    #[error("{run}: {note}; people cannot review what they cannot read")]
    NoTexts { run: String, note: String },
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error("{}: cannot write", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no randomness for the reviewers' tokens")]
    Random(#[source] getrandom::Error),
}

/// Why the guards held a record: each guard that did not accept it, with
/// its reason, and why the record could not be read, when it could not.
pub(crate) fn held_because(decision: &DecisionLine) -> String {
    let reasons: Vec<String> = decision
        .guards
        .iter()
        .filter(|(_, entry)| entry.decision != Route::Accept)
        .map(|(guard, entry)| format!("{guard}: {}", entry.reason))
        .chain(decision.error.iter().map(|e| format!("{}: {}", e.kind, e.message)))
        .collect();
    reasons.join("; ")
}

/// A reviewer's name and the link only they receive.
pub struct Link {
    pub reviewer: String,
    pub url: String,
}

/// Creates the review in `dir` from `runs`: chooses the items, assigns
/// reviewers, and returns each reviewer's link.
pub fn create(dir: &Path, runs: &[RunData], options: &CreateOptions) -> Result<Vec<Link>, CreateError> {
    if dir.join(REVIEW_FILE).exists() {
        return Err(CreateError::Exists { dir: dir.into() });
    }
    let invalid = |message: String| Err(CreateError::Invalid(message));
    let mut names = options.reviewers.clone();
    names.sort();
    names.dedup();
    if names.len() != options.reviewers.len()
        || names.iter().any(|n| n.trim().is_empty() || n.contains(char::is_control))
    {
        return invalid("reviewer names must be distinct and not empty".into());
    }
    if options.per_item == 0 || options.per_item > options.reviewers.len() {
        return invalid(format!(
            "each item can be seen by 1 to {} reviewers (as many as are named), not {}",
            options.reviewers.len(),
            options.per_item
        ));
    }
    let kinds: Vec<ReviewKind> = runs
        .iter()
        .map(|run| match run.summary {
            Summary::Evaluation(_) => ReviewKind::Samples,
            Summary::Guard(_) => ReviewKind::Quarantine,
        })
        .collect();
    let kind = kinds[0];
    if kinds.iter().any(|k| *k != kind) {
        return invalid("a review is of evaluation runs or of guard runs, not both".into());
    }

    let prefix = runs.len() > 1;
    let mut candidates = Vec::new();
    for run in runs {
        let id = |raw: &str| if prefix { format!("{}:{raw}", run.name) } else { raw.to_string() };
        match kind {
            ReviewKind::Samples => {
                if let Some(note) = &run.records_note {
                    return Err(CreateError::NoTexts { run: run.dir.clone(), note: note.clone() });
                }
                for sample in &run.samples {
                    candidates.push(Item {
                        id: id(&id_text(&sample.line.id)),
                        run: run.name.clone(),
                        input: sample.input.clone().unwrap_or_default(),
                        output: sample.output.clone().unwrap_or_default(),
                        references: sample.references.clone().unwrap_or_default(),
                        record: None,
                        held_because: None,
                        scores: sample.line.scores.0.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                        reviewers: Vec::new(),
                    });
                }
            }
            ReviewKind::Quarantine => {
                for held in run.held.iter().filter(|h| h.decision.decision == Route::Quarantine) {
                    let raw_id = held.decision.id_text();
                    candidates.push(Item {
                        id: id(&raw_id),
                        run: run.name.clone(),
                        input: String::new(),
                        output: String::new(),
                        references: Vec::new(),
                        record: held.record.clone(),
                        held_because: Some(held_because(&held.decision)),
                        scores: BTreeMap::new(),
                        reviewers: Vec::new(),
                    });
                }
            }
        }
    }
    let selection = match (kind, &options.selection) {
        (ReviewKind::Quarantine, Selection::All) => Selection::All,
        (ReviewKind::Quarantine, other) => {
            return invalid(format!("a guard run's review covers its quarantine, all of it; drop `{other}`"));
        }
        (ReviewKind::Samples, selection) => selection.clone(),
    };
    let scores: Vec<BTreeMap<String, f64>> = candidates.iter().map(|c| c.scores.clone()).collect();
    let chosen = selection::select(&scores, &selection, options.seed)?;
    let assigned = selection::assign(chosen.len(), &options.reviewers, options.per_item);
    let items: Vec<Item> =
        chosen.into_iter().zip(assigned).map(|(i, reviewers)| Item { reviewers, ..candidates[i].clone() }).collect();

    let mut links = Vec::new();
    let mut reviewers = Vec::new();
    for name in &options.reviewers {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).map_err(CreateError::Random)?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        reviewers.push(Reviewer { name: name.clone(), token_sha256: token_digest(&token) });
        links.push(Link {
            reviewer: name.clone(),
            url: format!("{}/r/{token}", options.base_url.trim_end_matches('/')),
        });
    }
    let review = Review {
        kind,
        question: options.question.clone(),
        show_scores: options.show_scores,
        per_item: options.per_item,
        reviewers,
        selection: format!("{selection} of {}", candidates.len()),
        seed: options.seed,
        runs: runs.iter().map(|r| r.dir.clone()).collect(),
        created_at: jiff::Timestamp::now().to_string(),
    };

    std::fs::create_dir_all(dir).map_err(|source| CreateError::Write { path: dir.into(), source })?;
    let write_error = |path: PathBuf| move |source: std::io::Error| CreateError::Write { path, source };
    let items_path = dir.join(ITEMS_FILE);
    let mut file = AtomicFile::create(&items_path).map_err(write_error(items_path.clone()))?;
    for item in &items {
        serde_json::to_writer(&mut file, item)
            .map_err(|e| CreateError::Write { path: items_path.clone(), source: e.into() })?;
        file.write_all(b"\n").map_err(write_error(items_path.clone()))?;
    }
    file.commit().map_err(write_error(items_path))?;
    let links_path = dir.join(LINKS_FILE);
    write_links(&links_path, &links).map_err(write_error(links_path))?;
    // review.json last: its presence says the review is complete.
    let review_path = dir.join(REVIEW_FILE);
    write_json(&review_path, &review).map_err(write_error(review_path))?;
    Ok(links)
}

/// The hex sha256 of a token, as `review.json` keeps it.
pub fn token_digest(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `links.txt`, readable and writable by its owner only.
fn write_links(path: &Path, links: &[Link]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    for link in links {
        writeln!(file, "{}\t{}", link.reviewer, link.url)?;
    }
    file.sync_all()
}
