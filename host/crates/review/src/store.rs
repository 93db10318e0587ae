//! Where verdicts live while a review runs. By default SQLite in the
//! review folder (`verdicts.db`), in WAL mode with full synchronization, so
//! that a verdict the server acknowledged has reached the disk: a SIGKILL of
//! the server, or a power cut, loses none. Teams that review together on
//! one server can keep the same tables in PostgreSQL instead
//! (`--database postgres://...`); each review gets its own PostgreSQL
//! schema, named after a digest of its `review.json`, so that reviews
//! sharing a database never see each other's verdicts. Commits there are
//! synchronous too.
//!
//! The schema is versioned: SQLite's `PRAGMA user_version`, or PostgreSQL's
//! `schema_version` table, says which migrations have run, and opening a
//! store runs the missing ones in order, each in its own transaction.
//!
//! Both clients block: the server calls the store off its async threads.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use sha2::Digest as _;

use crate::folder::REVIEW_FILE;
use crate::verdicts::{Decision, Verdict};

pub const STORE_FILE: &str = "verdicts.db";

/// Each migration, in order, for SQLite; `user_version` is how many have run.
const SQLITE_MIGRATIONS: &[&str] = &["CREATE TABLE verdicts (
        item TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')),
        score REAL,
        tags TEXT NOT NULL,
        comment TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (item, reviewer)
    );
    -- Every change, for the audit trail of decisions on quarantined feedback.
    CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        item TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        verdict TEXT,
        score REAL,
        tags TEXT NOT NULL,
        comment TEXT NOT NULL,
        at TEXT NOT NULL
    );"];

/// The same tables in PostgreSQL's types (its REAL has single precision);
/// the same number of migrations as SQLite's, in the same order.
const POSTGRES_MIGRATIONS: &[&str] = &["CREATE TABLE verdicts (
        item TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')),
        score DOUBLE PRECISION,
        tags TEXT NOT NULL,
        comment TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (item, reviewer)
    );
    CREATE TABLE history (
        id BIGSERIAL PRIMARY KEY,
        item TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        verdict TEXT,
        score DOUBLE PRECISION,
        tags TEXT NOT NULL,
        comment TEXT NOT NULL,
        at TEXT NOT NULL
    );"];

/// Where a review's verdicts are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Database {
    /// `verdicts.db` in the review folder.
    #[default]
    Sqlite,
    /// A PostgreSQL server, by its `postgres://` URL.
    Postgres(String),
}

impl Database {
    /// `None` or a `postgres://` (or `postgresql://`) URL.
    pub fn from_url(url: Option<&str>) -> Result<Database, StoreError> {
        match url {
            None => Ok(Database::Sqlite),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Database::Postgres(url.to_string()))
            }
            Some(url) => Err(StoreError::Url { url: redacted(url) }),
        }
    }
}

/// A URL as it may be printed: without its password.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Why the store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("--database {url}: expected a postgres:// URL (leave it out for the review folder's SQLite file)")]
    Url { url: String },
    #[error("{}: cannot open the verdict store", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{url}: cannot use the PostgreSQL verdict store")]
    Connect {
        url: String,
        #[source]
        source: postgres::Error,
    },
    #[error("{}: cannot read the review it stores verdicts of", path.display())]
    Review {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{place}: the verdict store has schema version {found}, newer than this assay knows ({known}); use a newer assay"
    )]
    Newer { place: String, found: i64, known: usize },
    #[error("the verdict store failed")]
    Sql(#[from] rusqlite::Error),
    #[error("the PostgreSQL verdict store failed")]
    Postgres(#[from] postgres::Error),
}

/// One change to a reviewer's verdict on an item: a verdict given, or
/// (`verdict` of `None`) withdrawn.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    pub item: String,
    pub reviewer: String,
    pub verdict: Option<Decision>,
    pub score: Option<f64>,
    pub tags: Vec<String>,
    pub comment: String,
    pub at: String,
}

impl From<&Verdict> for Change {
    fn from(v: &Verdict) -> Change {
        Change {
            item: v.item.clone(),
            reviewer: v.reviewer.clone(),
            verdict: Some(v.verdict),
            score: v.score,
            tags: v.tags.clone(),
            comment: v.comment.clone(),
            at: v.at.clone(),
        }
    }
}

enum Backend {
    Sqlite(Connection),
    Postgres(postgres::Client),
}

/// The verdicts of one review.
pub struct Store {
    backend: Backend,
}

/// The statements both backends run: SQLite reads `$1` as the first
/// parameter too, so each is written once.
const UPSERT: &str =
    "INSERT INTO verdicts (item, reviewer, verdict, score, tags, comment, at) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (item, reviewer) DO UPDATE SET verdict = excluded.verdict, score = excluded.score,
     tags = excluded.tags, comment = excluded.comment, at = excluded.at";
const RECORD: &str =
    "INSERT INTO history (item, reviewer, verdict, score, tags, comment, at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const DELETE: &str = "DELETE FROM verdicts WHERE item = $1 AND reviewer = $2";
/// Both reads take one parameter, a reviewer or NULL for all.
const CURRENT: &str = "SELECT item, reviewer, verdict, score, tags, comment, at FROM verdicts
     WHERE CAST($1 AS TEXT) IS NULL OR reviewer = $1 ORDER BY item, reviewer";
const HISTORY: &str = "SELECT item, reviewer, verdict, score, tags, comment, at FROM history
     WHERE CAST($1 AS TEXT) IS NULL OR reviewer = $1 ORDER BY id";

impl Store {
    /// Opens (creating if needed) the store of the review in `dir`.
    pub fn open(dir: &Path, database: &Database) -> Result<Store, StoreError> {
        match database {
            Database::Sqlite => Store::open_sqlite(&dir.join(STORE_FILE)),
            Database::Postgres(url) => Store::open_postgres(dir, url),
        }
    }

    fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        let open = |source| StoreError::Open { path: path.into(), source };
        let mut connection = Connection::open(path).map_err(open)?;
        connection.pragma_update(None, "journal_mode", "WAL").map_err(open)?;
        connection.pragma_update(None, "synchronous", "FULL").map_err(open)?;
        connection.busy_timeout(std::time::Duration::from_secs(5)).map_err(open)?;
        let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(open)?;
        if version > SQLITE_MIGRATIONS.len() as i64 {
            let place = path.display().to_string();
            return Err(StoreError::Newer { place, found: version, known: SQLITE_MIGRATIONS.len() });
        }
        for (index, migration) in SQLITE_MIGRATIONS.iter().enumerate().skip(version as usize) {
            let transaction = connection.transaction().map_err(open)?;
            transaction.execute_batch(migration).map_err(open)?;
            transaction.pragma_update(None, "user_version", index as i64 + 1).map_err(open)?;
            transaction.commit().map_err(open)?;
        }
        Ok(Store { backend: Backend::Sqlite(connection) })
    }

    fn open_postgres(dir: &Path, url: &str) -> Result<Store, StoreError> {
        let review_path = dir.join(REVIEW_FILE);
        let review = std::fs::read(&review_path).map_err(|source| StoreError::Review { path: review_path, source })?;
        let schema = postgres_schema(&review);
        let connect = |source| StoreError::Connect { url: redacted(url), source };
        let mut client = postgres::Client::connect(url, postgres::NoTls).map_err(connect)?;
        client
            .batch_execute(&format!(
                "SET synchronous_commit = on;
                 CREATE SCHEMA IF NOT EXISTS {schema};
                 SET search_path TO {schema};
                 CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            ))
            .map_err(connect)?;
        for (index, migration) in POSTGRES_MIGRATIONS.iter().enumerate() {
            let mut transaction = client.transaction().map_err(connect)?;
            // One server migrates while the others wait, then skip.
            transaction.batch_execute("LOCK TABLE schema_version IN EXCLUSIVE MODE").map_err(connect)?;
            let found: i32 = transaction
                .query_opt("SELECT max(version) FROM schema_version", &[])
                .map_err(connect)?
                .and_then(|row| row.get::<_, Option<i32>>(0))
                .unwrap_or(0);
            if found as usize > POSTGRES_MIGRATIONS.len() {
                let place = format!("{} (schema {schema})", redacted(url));
                return Err(StoreError::Newer { place, found: found.into(), known: POSTGRES_MIGRATIONS.len() });
            }
            if found as usize > index {
                continue;
            }
            transaction.batch_execute(migration).map_err(connect)?;
            transaction.execute("DELETE FROM schema_version", &[]).map_err(connect)?;
            transaction
                .execute("INSERT INTO schema_version (version) VALUES ($1)", &[&(index as i32 + 1)])
                .map_err(connect)?;
            transaction.commit().map_err(connect)?;
        }
        Ok(Store { backend: Backend::Postgres(client) })
    }

    /// Keeps `verdict`, replacing the reviewer's earlier one on the item;
    /// returns once it is on disk.
    pub fn put(&mut self, verdict: &Verdict) -> Result<(), StoreError> {
        let tags = serde_json::to_string(&verdict.tags).expect("text serializes");
        let decision = decision_text(verdict.verdict);
        let Verdict { item, reviewer, score, comment, at, .. } = verdict;
        match &mut self.backend {
            Backend::Sqlite(connection) => {
                let transaction = connection.transaction()?;
                for statement in [UPSERT, RECORD] {
                    transaction.execute(statement, params![item, reviewer, decision, score, tags, comment, at])?;
                }
                transaction.commit()?;
            }
            Backend::Postgres(client) => {
                let mut transaction = client.transaction()?;
                for statement in [UPSERT, RECORD] {
                    transaction.execute(statement, &[item, reviewer, &decision, score, &tags, comment, at])?;
                }
                transaction.commit()?;
            }
        }
        Ok(())
    }

    /// Withdraws the reviewer's verdict on the item (an undo); whether there was one.
    pub fn remove(&mut self, item: &str, reviewer: &str, at: &str) -> Result<bool, StoreError> {
        let (none, no_score, no_tags, no_comment): (Option<&str>, Option<f64>, &str, &str) = (None, None, "[]", "");
        match &mut self.backend {
            Backend::Sqlite(connection) => {
                let transaction = connection.transaction()?;
                let removed = transaction.execute(DELETE, params![item, reviewer])? > 0;
                if removed {
                    transaction.execute(RECORD, params![item, reviewer, none, no_score, no_tags, no_comment, at])?;
                }
                transaction.commit()?;
                Ok(removed)
            }
            Backend::Postgres(client) => {
                let mut transaction = client.transaction()?;
                let removed = transaction.execute(DELETE, &[&item, &reviewer])? > 0;
                if removed {
                    transaction.execute(RECORD, &[&item, &reviewer, &none, &no_score, &no_tags, &no_comment, &at])?;
                }
                transaction.commit()?;
                Ok(removed)
            }
        }
    }

    /// The current verdicts, of one reviewer or of all, by item then reviewer.
    pub fn verdicts(&mut self, reviewer: Option<&str>) -> Result<Vec<Verdict>, StoreError> {
        let changes = self.rows(CURRENT, reviewer)?;
        Ok(changes
            .into_iter()
            .map(|c| Verdict {
                verdict: c.verdict.expect("the verdicts table has no withdrawn rows"),
                item: c.item,
                reviewer: c.reviewer,
                score: c.score,
                tags: c.tags,
                comment: c.comment,
                at: c.at,
            })
            .collect())
    }

    /// Every change ever made, in the order it was made: the audit trail.
    pub fn history(&mut self) -> Result<Vec<Change>, StoreError> {
        self.rows(HISTORY, None)
    }

    fn rows(&mut self, query: &str, reviewer: Option<&str>) -> Result<Vec<Change>, StoreError> {
        type Row = (String, String, Option<String>, Option<f64>, String, String, String);
        let rows: Vec<Row> = match &mut self.backend {
            Backend::Sqlite(connection) => {
                let mut statement = connection.prepare(query)?;
                let read = |row: &rusqlite::Row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?))
                };
                statement.query_map(params![reviewer], read)?.collect::<Result<_, _>>()?
            }
            Backend::Postgres(client) => client
                .query(query, &[&reviewer])?
                .iter()
                .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
                .collect(),
        };
        Ok(rows
            .into_iter()
            .map(|(item, reviewer, verdict, score, tags, comment, at)| Change {
                item,
                reviewer,
                verdict: verdict.map(|v| if v == "pass" { Decision::Pass } else { Decision::Fail }),
                score,
                tags: serde_json::from_str(&tags).unwrap_or_default(),
                comment,
                at,
            })
            .collect())
    }
}

/// The PostgreSQL schema of the review whose `review.json` is `review`:
/// written once, at creation, so its digest names the review for good.
fn postgres_schema(review: &[u8]) -> String {
    let digest = sha2::Sha256::digest(review);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("assay_review_{hex}")
}

fn decision_text(decision: Decision) -> &'static str {
    match decision {
        Decision::Pass => "pass",
        Decision::Fail => "fail",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(item: &str, decision: Decision, at: &str) -> Verdict {
        Verdict {
            item: item.into(),
            reviewer: "ayşe".into(),
            verdict: decision,
            score: Some(3.0),
            tags: vec!["ton".into()],
            comment: "İyi değil".into(),
            at: at.into(),
        }
    }

    #[test]
    fn verdicts_are_replaced_withdrawn_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), &Database::Sqlite).unwrap();
        store.put(&verdict("q1", Decision::Fail, "1")).unwrap();
        store.put(&verdict("q1", Decision::Pass, "2")).unwrap();
        store.put(&verdict("q2", Decision::Fail, "3")).unwrap();
        assert!(store.remove("q2", "ayşe", "4").unwrap());
        assert!(!store.remove("q2", "ayşe", "5").unwrap());
        drop(store);
        let mut store = Store::open(dir.path(), &Database::Sqlite).unwrap();
        assert_eq!(store.verdicts(None).unwrap(), [verdict("q1", Decision::Pass, "2")]);
        assert_eq!(store.verdicts(Some("barış")).unwrap(), []);
        let history = store.history().unwrap();
        let trail: Vec<(&str, Option<Decision>, &str)> =
            history.iter().map(|c| (c.item.as_str(), c.verdict, c.at.as_str())).collect();
        assert_eq!(
            trail,
            [
                ("q1", Some(Decision::Fail), "1"),
                ("q1", Some(Decision::Pass), "2"),
                ("q2", Some(Decision::Fail), "3"),
                ("q2", None, "4")
            ],
            "every change is kept, in order, withdrawals included"
        );
        assert_eq!(history[0].comment, "İyi değil");
    }

    #[test]
    fn a_store_from_a_newer_assay_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), &Database::Sqlite).unwrap());
        let connection = Connection::open(dir.path().join(STORE_FILE)).unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
        drop(connection);
        let error = Store::open(dir.path(), &Database::Sqlite).err().unwrap().to_string();
        assert!(error.contains("schema version 99"), "{error}");
    }

    #[test]
    fn urls_are_printed_without_their_password() {
        assert_eq!(redacted("postgres://assay:s3cret@db:5432/reviews"), "postgres://assay:***@db:5432/reviews");
        assert_eq!(redacted("postgres://assay@db/reviews"), "postgres://assay@db/reviews");
        let error = Database::from_url(Some("mysql://root:hunter2@db/x")).err().unwrap().to_string();
        assert!(error.contains("mysql://root:***@db/x") && !error.contains("hunter2"), "{error}");
        assert_eq!(Database::from_url(None).unwrap(), Database::Sqlite);
    }

    #[test]
    fn each_review_has_its_own_postgres_schema() {
        let (a, b) = (postgres_schema(b"{\"seed\":1}"), postgres_schema(b"{\"seed\":2}"));
        assert_ne!(a, b);
        assert!(a.starts_with("assay_review_") && a.len() == "assay_review_".len() + 16, "{a}");
        assert!(
            a.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'),
            "a plain identifier: {a}"
        );
    }
}
