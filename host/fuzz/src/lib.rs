//! What both fuzz targets share: feeding bytes to the readers.

use std::path::PathBuf;
use std::sync::OnceLock;

use assay_data::{Format, RawRecord, Reader};

/// Writes `data` to a file (the readers read files, as the host does) and
/// reads it as JSON Lines, CSV and TSV, handing every record to `check`.
/// Errors are fine; panics are what the fuzzer looks for.
pub fn read_every_record(data: &[u8], mut check: impl FnMut(&RawRecord)) {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| std::env::temp_dir().join(format!("assay-fuzz-{}", std::process::id())));
    std::fs::write(path, data).expect("writing the fuzz input");
    for format in [Format::Jsonl, Format::Csv, Format::Tsv] {
        let Ok(mut reader) = Reader::open(path, Some(format)) else { continue };
        while let Ok(Some(chunk)) = reader.next_chunk(5) {
            chunk.records.iter().for_each(&mut check);
        }
        let _ = reader.finish();
    }
}
