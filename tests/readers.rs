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

/// Every record of `shard` of the file at `path`, with its chunk's
/// position, its line and its bytes, and the digest of what it read.
type ShardRead = (Vec<(u64, u64, Vec<u8>)>, String);

fn read_shard(path: &Path, format: Format, block_bytes: u64, shard: assay_data::Shard) -> Result<ShardRead, String> {
    let mut reader = Reader::open_shard(path, Some(format), block_bytes, shard).map_err(|e| e.to_string())?;
    let mut records = Vec::new();
    while let Some(chunk) = reader.next_chunk(5).map_err(|e| e.to_string())? {
        records.extend(chunk.records.iter().map(|r| (chunk.position, r.line, r.raw().to_vec())));
    }
    Ok((records, reader.finish().map_err(|e| e.to_string())?.to_string()))
}

/// Rows of RFC 4180 CSV: quoted fields may hold commas, doubled quotes and
/// line breaks; a few blank lines.
fn csv_file() -> impl Strategy<Value = Vec<u8>> {
    let field =
        prop_oneof!["[a-z0-9 ]{0,6}", "[a-z,\"\n\r ]{0,8}".prop_map(|f| format!("\"{}\"", f.replace('"', "\"\"")))];
    // An empty row is a blank line, which holds no record.
    let row = prop_oneof![4 => proptest::collection::vec(field, 2..=2), 1 => Just(Vec::new())];
    proptest::collection::vec(row, 0..25).prop_map(|rows| {
        let mut text = String::from("id,output\n");
        for row in rows {
            text.push_str(&row.join(","));
            text.push('\n');
        }
        text.into_bytes()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever the file, block size and number of shards, the shards read
    /// every record of the whole file once, in the same chunks, and each
    /// hashes exactly its own bytes.
    #[test]
    fn shards_together_read_what_the_whole_file_holds(
        jsonl in plausible_file(),
        csv in csv_file(),
        block_bytes in 1u64..200,
        count in 1u64..9,
    ) {
        let dir = tempfile::tempdir().unwrap();
        for (bytes, format) in [(jsonl, Format::Jsonl), (csv, Format::Csv)] {
            let path = dir.path().join("input");
            std::fs::write(&path, &bytes).unwrap();
            let Ok((whole, _)) = read_shard(&path, format, block_bytes, assay_data::Shard::WHOLE) else { continue };
            let mut joined = Vec::new();
            for index in 0..count {
                let shard = assay_data::Shard { index, count };
                let (records, digest) = read_shard(&path, format, block_bytes, shard).unwrap();
                let (start, end) = shard.range(bytes.len() as u64, block_bytes);
                prop_assert_eq!(digest, assay_runtime::Digest::of(&bytes[start as usize..end as usize]).to_string());
                joined.extend(records);
            }
            prop_assert_eq!(&joined, &whole, "{:?} {:?}", format, String::from_utf8_lossy(&bytes));

            // A resumed run reads from a block on, and still hashes it all.
            let blocks = (bytes.len() as u64).div_ceil(block_bytes);
            let from = blocks * count / 8;
            let mut reader = Reader::open_shard_from(&path, Some(format), block_bytes, assay_data::Shard::WHOLE, from * block_bytes).unwrap();
            let mut rest = Vec::new();
            while let Some(chunk) = reader.next_chunk(5).unwrap() {
                rest.extend(chunk.records.iter().map(|r| (chunk.position, r.line, r.raw().to_vec())));
            }
            prop_assert_eq!(reader.finish().unwrap(), assay_runtime::Digest::of(&bytes));
            let expected: Vec<_> = whole.iter().filter(|(position, _, _)| position >> 32 >= from).cloned().collect();
            prop_assert_eq!(rest, expected, "from block {}", from);
        }
    }
}
