//! Where verdicts live while a review runs: SQLite in the review folder
//! (`verdicts.db`), in WAL mode with full synchronization, so that a
//! verdict the server acknowledged has reached the disk: a SIGKILL of the
//! server, or a power cut, loses none.
//!
//! The schema is versioned: `PRAGMA user_version` says which migrations
//! have run, and opening a store runs the missing ones in order, each in
//! its own transaction.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use crate::verdicts::{Decision, Verdict};

pub const STORE_FILE: &str = "verdicts.db";

/// Each migration, in order; `user_version` is how many have run.
const MIGRATIONS: &[&str] = &["CREATE TABLE verdicts (
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

/// Why the store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: cannot open the verdict store", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{}: the verdict store has schema version {found}, newer than this assay knows ({known}); use a newer assay", path.display())]
    Newer { path: PathBuf, found: i64, known: usize },
    #[error("the verdict store failed")]
    Sql(#[from] rusqlite::Error),
}

/// The verdicts of one review.
pub struct Store {
    connection: Connection,
}

impl Store {
    /// Opens (creating if needed) the store of the review in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(STORE_FILE);
        let open = |source| StoreError::Open { path: path.clone(), source };
        let mut connection = Connection::open(&path).map_err(open)?;
        connection.pragma_update(None, "journal_mode", "WAL").map_err(open)?;
        connection.pragma_update(None, "synchronous", "FULL").map_err(open)?;
        connection.busy_timeout(std::time::Duration::from_secs(5)).map_err(open)?;
        let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(open)?;
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::Newer { path, found: version, known: MIGRATIONS.len() });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let transaction = connection.transaction().map_err(open)?;
            transaction.execute_batch(migration).map_err(open)?;
            transaction.pragma_update(None, "user_version", index as i64 + 1).map_err(open)?;
            transaction.commit().map_err(open)?;
        }
        Ok(Store { connection })
    }

    /// Keeps `verdict`, replacing the reviewer's earlier one on the item;
    /// returns once it is on disk.
    pub fn put(&mut self, verdict: &Verdict) -> Result<(), StoreError> {
        let tags = serde_json::to_string(&verdict.tags).expect("text serializes");
        let decision = decision_text(verdict.verdict);
        let transaction = self.connection.transaction()?;
        transaction.execute(
            "INSERT INTO verdicts (item, reviewer, verdict, score, tags, comment, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (item, reviewer) DO UPDATE SET verdict = ?3, score = ?4, tags = ?5, comment = ?6, at = ?7",
            params![verdict.item, verdict.reviewer, decision, verdict.score, tags, verdict.comment, verdict.at],
        )?;
        transaction.execute(
            "INSERT INTO history (item, reviewer, verdict, score, tags, comment, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![verdict.item, verdict.reviewer, decision, verdict.score, tags, verdict.comment, verdict.at],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Withdraws the reviewer's verdict on the item (an undo); whether there was one.
    pub fn remove(&mut self, item: &str, reviewer: &str, at: &str) -> Result<bool, StoreError> {
        let transaction = self.connection.transaction()?;
        let removed =
            transaction.execute("DELETE FROM verdicts WHERE item = ?1 AND reviewer = ?2", params![item, reviewer])?;
        if removed > 0 {
            transaction.execute(
                "INSERT INTO history (item, reviewer, verdict, score, tags, comment, at) VALUES (?1, ?2, NULL, NULL, '[]', '', ?3)",
                params![item, reviewer, at],
            )?;
        }
        transaction.commit()?;
        Ok(removed > 0)
    }

    /// The current verdicts, of one reviewer or of all, by item then reviewer.
    pub fn verdicts(&self, reviewer: Option<&str>) -> Result<Vec<Verdict>, StoreError> {
        let mut statement = self.connection.prepare(
            "SELECT item, reviewer, verdict, score, tags, comment, at FROM verdicts
             WHERE ?1 IS NULL OR reviewer = ?1 ORDER BY item, reviewer",
        )?;
        let rows = statement.query_map(params![reviewer], |row| {
            let decision: String = row.get(2)?;
            let tags: String = row.get(4)?;
            Ok(Verdict {
                item: row.get(0)?,
                reviewer: row.get(1)?,
                verdict: if decision == "pass" { Decision::Pass } else { Decision::Fail },
                score: row.get(3)?,
                tags: serde_json::from_str(&tags).unwrap_or_default(),
                comment: row.get(5)?,
                at: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
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
        let mut store = Store::open(dir.path()).unwrap();
        store.put(&verdict("q1", Decision::Fail, "1")).unwrap();
        store.put(&verdict("q1", Decision::Pass, "2")).unwrap();
        store.put(&verdict("q2", Decision::Fail, "3")).unwrap();
        assert!(store.remove("q2", "ayşe", "4").unwrap());
        assert!(!store.remove("q2", "ayşe", "5").unwrap());
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.verdicts(None).unwrap(), [verdict("q1", Decision::Pass, "2")]);
        assert_eq!(store.verdicts(Some("barış")).unwrap(), []);
        let history: i64 = store.connection.query_row("SELECT count(*) FROM history", [], |r| r.get(0)).unwrap();
        assert_eq!(history, 4, "every change is kept");
    }

    #[test]
    fn a_store_from_a_newer_assay_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let connection = Connection::open(dir.path().join(STORE_FILE)).unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
        drop(connection);
        let error = Store::open(dir.path()).err().unwrap().to_string();
        assert!(error.contains("schema version 99"), "{error}");
    }
}
