//! Files that appear under their name only when complete.
//!
//! Every result file is written to a temporary file in the same folder and
//! renamed over the target, so a crash leaves either the old file or the new
//! one, never half of one. A process that is killed cannot remove its
//! temporary files, so their names say which process on which machine made
//! them, and the next run that writes in the folder removes those whose
//! process is gone. Outputs are created as any program creates files (mode
//! 0666 for files, 0777 for folders, less the umask), so a team's shared
//! results folder stays readable to the team.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use serde::Serialize;

/// Starts the name of every temporary file or folder Assay writes beside
/// its outputs: `.assay-PID@HOST-` and a random suffix.
const TEMPORARY: &str = ".assay-";

/// A temporary file in `dir` for an output, removing stale ones first.
pub fn temporary_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    remove_stale_once(dir);
    let prefix = prefix();
    builder(&prefix, 0o666).tempfile_in(dir)
}

/// A temporary folder in `dir` for outputs, removing stale ones first.
pub fn temporary_dir_in(dir: &Path) -> std::io::Result<tempfile::TempDir> {
    remove_stale_once(dir);
    let prefix = prefix();
    builder(&prefix, 0o777).tempdir_in(dir)
}

/// `.assay-PID@HOST-`: what [`remove_stale`] reads back.
fn prefix() -> String {
    format!("{TEMPORARY}{}@{}-", std::process::id(), host_name())
}

fn builder(prefix: &str, #[allow(unused_variables)] mode: u32) -> tempfile::Builder<'_, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The kernel takes the umask off, as for any file a program creates.
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    builder
}

/// [`remove_stale`], once per folder and process: what a killed process
/// left is there when this one starts, and the judge cache writes many
/// entries into one folder, which must not cost a listing each.
fn remove_stale_once(dir: &Path) {
    static CLEANED: LazyLock<Mutex<HashSet<PathBuf>>> = LazyLock::new(Mutex::default);
    let first = CLEANED.lock().unwrap_or_else(|e| e.into_inner()).insert(dir.to_path_buf());
    if first {
        remove_stale(dir);
    }
}

/// Removes the temporary files and folders in `dir` that a process of this
/// machine left when it was killed. Best effort: what cannot be read or
/// removed is left, and entries of other machines (a shared file system)
/// or of live processes are never touched.
pub fn remove_stale(dir: &Path) {
    let host = host_name();
    // Without the machine's name, liveness cannot be told either.
    if host == "-" {
        return;
    }
    let Ok(listing) = std::fs::read_dir(dir) else { return };
    for entry in listing.flatten() {
        let name = entry.file_name();
        let Some((pid, entry_host)) = name.to_str().and_then(owner) else { continue };
        if entry_host != host || pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let path = entry.path();
        let _ = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// The process and machine a temporary name was made by.
fn owner(name: &str) -> Option<(u32, &str)> {
    let rest = name.strip_prefix(TEMPORARY)?;
    let (pid, rest) = rest.split_once('@')?;
    let (host, _random) = rest.rsplit_once('-')?;
    Some((pid.parse().ok()?, host))
}

/// This machine's name, as the kernel gives it (read once); `-` where it
/// cannot be read (not Linux), and then nothing is ever taken for stale.
fn host_name() -> &'static str {
    static HOST: LazyLock<String> = LazyLock::new(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map_or_else(|_| "-".into(), |name| name.trim().replace('/', "_"))
    });
    &HOST
}

/// Whether process `pid` of this machine still runs, by /proc (Linux, as
/// [`host_name`] is).
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// A file that appears under its name only when complete: it is written to
/// a temporary file in the same folder and renamed over the target, so a
/// crash leaves either the old file or the new one, never half of one.
pub struct AtomicFile {
    path: PathBuf,
    writer: BufWriter<tempfile::NamedTempFile>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> std::io::Result<AtomicFile> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let temp = temporary_file_in(dir)?;
        Ok(AtomicFile { path: path.into(), writer: BufWriter::with_capacity(1 << 20, temp) })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> std::io::Result<()> {
        let temp = self.writer.into_inner().map_err(|e| e.into_error())?;
        temp.as_file().sync_all()?;
        temp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> std::io::Result<()> {
    write_json_with(path, |file| serde_json::to_writer_pretty(file, value))
}

/// Writes `value` as JSON on one line, atomically: for the files programs
/// read back, which may hold a run's every sample.
pub fn write_json_compact(path: &Path, value: &impl Serialize) -> std::io::Result<()> {
    write_json_with(path, |file| serde_json::to_writer(file, value))
}

fn write_json_with(path: &Path, write: impl FnOnce(&mut AtomicFile) -> serde_json::Result<()>) -> std::io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    write(&mut file).map_err(std::io::Error::other)?;
    file.write_all(b"\n")?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_files_appear_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"{}").unwrap();
        assert!(!path.exists());
        file.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        let file = AtomicFile::create(&path).unwrap();
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
    }

    #[test]
    fn stale_temporaries_of_dead_processes_of_this_machine_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let host = host_name();
        let names = [
            format!(".assay-{dead}@{host}-aB3xYz"),
            format!(".assay-{}@{host}-live01", std::process::id()),
            format!(".assay-{dead}@another-machine-Qq1234"),
            ".assay-notes".to_string(),
        ];
        for name in &names {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join(format!(".assay-{dead}@{host}-Dir001"))).unwrap();
        std::fs::write(dir.path().join(format!(".assay-{dead}@{host}-Dir001/decisions.jsonl")), "{}").unwrap();

        remove_stale(dir.path());
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        let mut expected = names[1..].to_vec();
        expected.sort();
        assert_eq!(left, expected, "only the dead process's own file and folder go");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn outputs_follow_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let umask = status.lines().find_map(|l| l.strip_prefix("Umask:")).unwrap().trim();
        let umask = u32::from_str_radix(umask, 8).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_json(&path, &1).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o666 & !umask);
        let folder = temporary_dir_in(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(folder.path()).unwrap().permissions().mode() & 0o777, 0o777 & !umask);
    }
}
