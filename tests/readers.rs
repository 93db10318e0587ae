//! Property tests of the input readers: whatever bytes an eval set or a
//! feedback file holds, reading it never panics. Each record is either used
//! or a counted bad record with its line and a message; a file that cannot be
//! read at all is one clear error. The cargo-fuzz targets in `host/fuzz`
//! explore the same functions further, on nightly.

use std::path::Path;

use assay_data::{FieldMap, Format, Reader, eval_record, feedback_record};
use proptest::prelude::*;

/// Reads `bytes` as `format` to the end, checking every record; returns how
/// many records were usable and how many were bad, or the error that stopped
/// reading.
fn read_all(dir: &Path, bytes: &[u8], format: Format) -> Result<(usize, usize), String> {
    let path = dir.join("input");
    std::fs::write(&path, bytes).unwrap();
    let mut reader = Reader::open(&path, Some(format)).map_err(|e| e.to_string())?;
    let (fields, feedback_fields) = (FieldMap::samples(), FieldMap::feedback());
    let (mut good, mut bad) = (0, 0);
    let mut last_line = 0;
    while let Some(chunk) = reader.next_chunk(7).map_err(|e| e.to_string())? {
        for record in &chunk.records {
            // Not strictly increasing: the CSV reader counts lines by `\n`,
            // so rows ended by a bare `\r` share a line number.
            assert!(record.line >= last_line.max(1), "records come in line order");
            last_line = record.line;
            match eval_record(record, &fields) {
                Ok(_) => good += 1,
                Err(b) => {
                    assert_eq!(b.line, record.line, "a bad record names its own line");
                    assert!(!b.message.is_empty());
                    bad += 1;
                }
            }
            if let Err(b) = feedback_record(record, &feedback_fields) {
                assert!(!b.message.is_empty() && b.line == record.line);
            }
        }
    }
    let digest = reader.finish().map_err(|e| e.to_string())?;
    assert_eq!(digest.to_string().len(), 64, "the input's sha256 is always computed");
    Ok((good, bad))
}

/// Lines that look like records, to get past the first byte of the parsers.
fn plausible_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(br#"{"id": 1, "output": "a", "reference": "a"}"#.to_vec()),
        Just(br#"{"output": ["x"], "reference": {"k": null}, "rating": 2}"#.to_vec()),
        Just(br#"{"id": {"nested": true}, "output": "\ud800", "reference": [1, 2]}"#.to_vec()),
        Just(br#"{"output": "a", "reference": "b", "input": 1e999}"#.to_vec()),
        Just(b"id,output,reference".to_vec()),
        Just(b"1,\"unterminated,quote".to_vec()),
        Just(b"\xEF\xBB\xBF{}".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
        "[ -~]{0,40}".prop_map(String::into_bytes),
    ]
}

fn plausible_file() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (plausible_line(), prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..]), Just(&b""[..])]),
        0..20,
    )
    .prop_map(|lines| lines.into_iter().flat_map(|(line, end)| line.into_iter().chain(end.iter().copied())).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_a_reader(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        for format in [Format::Jsonl, Format::Csv, Format::Tsv] {
            if let Err(message) = read_all(dir.path(), &bytes, format) {
                prop_assert!(!message.is_empty());
            }
        }
    }

    #[test]
    fn record_like_lines_are_used_or_counted_as_bad(bytes in plausible_file()) {
        let dir = tempfile::tempdir().unwrap();
        for format in [Format::Jsonl, Format::Csv, Format::Tsv] {
            match read_all(dir.path(), &bytes, format) {
                Ok((good, bad)) => {
                    // JSON Lines: one record per non-blank line, used or not.
                    if format == Format::Jsonl {
                        let text_lines = bytes.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count();
                        prop_assert_eq!(good + bad, text_lines, "{:?}", String::from_utf8_lossy(&bytes));
                    }
                }
                Err(message) => prop_assert!(message.contains("input"), "the error names the file: {}", message),
            }
        }
    }
}
