//! A PostgreSQL server of one test's own: Debian's `postgresql` (`.ci/run`
//! installs it), a fresh cluster in a temporary folder, listening on a free
//! loopback port, stopped when dropped. PostgreSQL refuses to run as root,
//! so under root the cluster belongs to, and runs as, the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    _dir: tempfile::TempDir,
    /// `postgres://assay@127.0.0.1:PORT/postgres`
    pub url: String,
}

/// The newest installed server's programs, or `None` where there is none
/// (CI must have one).
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("postgres").is_file() && bin.join("initdb").is_file())
        .collect();
    found.sort();
    let newest = found.pop();
    if newest.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL is missing, and CI must test the PostgreSQL store: apt-get install postgresql"
        );
        eprintln!("SKIPPED: PostgreSQL is not installed (apt-get install postgresql)");
    }
    newest
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// `program` of the server's, run as the user that owns the cluster.
fn command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin.join(program));
        command
    } else {
        Command::new(bin.join(program))
    }
}

fn check(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Postgres {
    /// A running server, or `None` where PostgreSQL is not installed.
    pub fn start() -> Option<Postgres> {
        let bin = bin_dir()?;
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            check(Command::new("chown").args(["postgres:postgres"]).arg(dir.path()), "chown");
        }
        let data = dir.path().join("data");
        check(
            command(&bin, "initdb")
                .args(["--username", "assay", "--auth", "trust", "--encoding", "UTF8", "--no-instructions", "-D"])
                .arg(&data),
            "initdb",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = format!("-h 127.0.0.1 -p {port} -k {}", dir.path().display());
        check(
            command(&bin, "pg_ctl")
                .args(["start", "--wait", "--silent", "-D"])
                .arg(&data)
                .args(["-l"])
                .arg(dir.path().join("server.log"))
                .args(["-o", &options]),
            "pg_ctl start",
        );
        Some(Postgres { bin, data, _dir: dir, url: format!("postgres://assay@127.0.0.1:{port}/postgres") })
    }

    /// Runs SQL through psql, returning what it printed (unaligned, tuples only).
    pub fn sql(&self, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args(["--no-psqlrc", "-At", "-v", "ON_ERROR_STOP=1", "-d", &self.url, "-c", sql])
            .output()
            .unwrap();
        assert!(output.status.success(), "psql: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = command(&self.bin, "pg_ctl")
            .args(["stop", "--mode", "immediate", "--silent", "-D"])
            .arg(&self.data)
            .output();
    }
}
