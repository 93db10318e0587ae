//! The folder a guard run (or one of its shards, or their merge) writes,
//! replaced as a whole.
//!
//! The outputs are written into a fresh folder beside `OUT_DIR` and swapped
//! in with one rename when complete, so a crash leaves either the old
//! outputs or the complete new ones. A folder holding anything but guard
//! outputs is refused, since replacing it would lose those files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use assay_data::Format;
use assay_data::output::{Route, temporary_dir_in};

use crate::screen::RouteSink;
use crate::worker::{RunError, output_error};

/// The output files, open in the staging folder.
pub(crate) struct Writers {
    routes: [BufWriter<File>; 3],
    decisions: BufWriter<File>,
    /// Each record's length in its route file, in input order, kept when
    /// a guard may recall: applying recalls moves records between files.
    lengths: Option<Vec<u64>>,
}

impl Writers {
    fn route(&mut self, route: Route) -> &mut BufWriter<File> {
        &mut self.routes[route as usize]
    }

    /// Appends bytes as they are: to a route's file, or to `decisions.jsonl`.
    pub(crate) fn append(&mut self, route: Option<Route>, bytes: &[u8]) -> std::io::Result<()> {
        match route {
            Some(route) => self.route(route).write_all(bytes),
            None => self.decisions.write_all(bytes),
        }
    }

    /// Flushes and syncs every file, so the swap publishes complete ones;
    /// returns the records' lengths, when kept.
    pub(crate) fn finish(self) -> std::io::Result<Vec<u64>> {
        for writer in self.routes.into_iter().chain([self.decisions]) {
            writer.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        Ok(self.lengths.unwrap_or_default())
    }
}

/// The folder the outputs are written in before they replace `OUT_DIR`.
pub(crate) struct Staging {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) writers: Writers,
    /// The header row each route file starts with (empty for JSON Lines).
    pub(crate) header: Vec<u8>,
}

impl Staging {
    /// `recalls`: whether a guard may recall, so records' lengths are kept.
    pub(crate) fn new(
        out_dir: &Path,
        format: Format,
        headers: Option<&[String]>,
        recalls: bool,
    ) -> Result<Staging, RunError> {
        check_out_dir(out_dir)?;
        let parent = out_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(output_error(parent))?;
        // Beside OUT_DIR, so the swap is a rename within one file system.
        let dir = temporary_dir_in(parent).map_err(output_error(parent))?;
        let create = |name: &str| -> Result<BufWriter<File>, RunError> {
            let path = dir.path().join(name);
            let file = File::create(&path).map_err(output_error(&path))?;
            Ok(BufWriter::with_capacity(1 << 20, file))
        };
        let mut routes = [
            create(&Route::Accept.records_file(format))?,
            create(&Route::Quarantine.records_file(format))?,
            create(&Route::Reject.records_file(format))?,
        ];
        let mut header = Vec::new();
        if let Some(headers) = headers {
            // Each file of a table needs its header row to be read alone.
            header = header_row(format, headers).map_err(output_error(dir.path()))?;
            for route in &mut routes {
                route.write_all(&header).map_err(output_error(dir.path()))?;
            }
        }
        let decisions = create("decisions.jsonl")?;
        let lengths = recalls.then(Vec::new);
        Ok(Staging { dir, writers: Writers { routes, decisions, lengths }, header })
    }
}

/// The header row each routed file of a table starts with.
pub(crate) fn header_row(format: Format, headers: &[String]) -> std::io::Result<Vec<u8>> {
    let delimiter = if format == Format::Tsv { b'\t' } else { b',' };
    let mut header =
        csv::WriterBuilder::new().delimiter(delimiter).terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    header.write_record(headers)?;
    header.into_inner().map_err(|e| e.into_error())
}

/// The names `assay guard` writes in `OUT_DIR`.
fn is_output_name(name: &str) -> bool {
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    match stem {
        "accepted" | "quarantined" | "rejected" => ["jsonl", "csv", "tsv"].contains(&ext),
        "decisions" => ext == "jsonl",
        // `shard` in the folder of one shard (`--shard K/N`).
        "summary" | "shard" => ext == "json",
        _ => false,
    }
}

/// Refuses an `OUT_DIR` that holds anything but guard outputs: the whole
/// folder is replaced, and other files in it would be lost.
fn check_out_dir(out_dir: &Path) -> Result<(), RunError> {
    let output_error = |error| RunError::Output { path: out_dir.into(), error };
    if out_dir.file_name().is_none() {
        return Err(output_error(std::io::Error::other(
            "name a folder of its own for the outputs, which it replaces as a whole",
        )));
    }
    let entries = match std::fs::read_dir(out_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(output_error(e)),
    };
    for entry in entries {
        let name = entry.map_err(output_error)?.file_name();
        if !is_output_name(&name.to_string_lossy()) {
            return Err(output_error(std::io::Error::other(format!(
                "holds {:?}, which is not an output of `assay guard`; the folder is replaced as a whole, so give one of its own",
                name
            ))));
        }
    }
    Ok(())
}

/// Publishes the complete staging folder as `target` in one step.
pub(crate) fn swap_in(staging: tempfile::TempDir, target: &Path) -> std::io::Result<()> {
    if !target.exists() {
        return std::fs::rename(staging.path(), target);
    }
    exchange(staging.path(), target)?;
    // The staging folder now holds the old outputs; dropping it deletes them.
    drop(staging);
    Ok(())
}

/// Swaps two folders atomically: a crash leaves one or the other at each path.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let b = CString::new(b.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let result =
        unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) };
    if result == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Without an atomic exchange, the old folder is moved aside first; a crash
/// between the two renames leaves the old outputs complete under the staging
/// name beside `b`.
#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let aside = a.with_extension("old");
    std::fs::rename(b, &aside)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&aside, a)
}

impl RouteSink for Writers {
    fn record(&mut self, route: Route, decision: &[u8], raw: &[u8]) -> std::io::Result<()> {
        if let Some(lengths) = &mut self.lengths {
            lengths.push(raw.len() as u64);
        }
        self.decisions.write_all(decision)?;
        let out = self.route(route);
        out.write_all(raw)?;
        out.write_all(b"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_guard_outputs_may_be_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        assert!(check_out_dir(&out).is_ok());
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("accepted.csv"), "").unwrap();
        std::fs::write(out.join("summary.json"), "").unwrap();
        assert!(check_out_dir(&out).is_ok());
        std::fs::write(out.join("notes.txt"), "").unwrap();
        assert!(check_out_dir(&out).unwrap_err().to_string().contains("notes.txt"));
    }

    #[test]
    fn swapping_replaces_the_whole_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("rejected.jsonl"), "old").unwrap();
        let staging = tempfile::tempdir_in(dir.path()).unwrap();
        std::fs::write(staging.path().join("accepted.jsonl"), "new").unwrap();
        swap_in(staging, &out).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("accepted.jsonl")).unwrap(), "new");
        assert!(!out.join("rejected.jsonl").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the old folder is gone");
    }
}
