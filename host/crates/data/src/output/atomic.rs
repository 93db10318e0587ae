//! Files that appear under their name only when complete.
//!
//! Every result file is written to a temporary file in the same folder and
//! renamed over the target, so a crash leaves either the old file or the new
//! one, never half of one.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

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
        let temp = tempfile::Builder::new().prefix(".assay-").tempfile_in(dir)?;
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
    let mut file = AtomicFile::create(path)?;
    serde_json::to_writer_pretty(&mut file, value).map_err(std::io::Error::other)?;
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
}
