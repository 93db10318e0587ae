//! `samples.jsonl`: one line per sample of an evaluation, in input order.
//!
//! ```json
//! {"id":"qa-011","scores":{"no_refusal/pass":1.0},"errors":{"exact":{"kind":"timeout","message":"..."}}}
//! ```

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{ErrorEntry, Pairs};

/// One line of `samples.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SampleLine<'a> {
    /// The record's id as it was written in the input (a string or a
    /// number), or its line number.
    pub id: Cow<'a, RawValue>,
    /// The sample's value of every sample-level metric, keyed `PLUGIN/METRIC`.
    pub scores: Pairs<Cow<'a, str>, f64>,
    /// The plugins that failed on this sample, with how.
    pub errors: Pairs<Cow<'a, str>, ErrorEntry>,
    /// Per plugin, the statistics it reported for this sample (`assay run
    /// --keep-statistics`): what its corpus metrics are computed from, kept
    /// so that `assay compare` can recompute them on resampled eval sets.
    #[serde(default, skip_serializing_if = "Pairs::is_empty")]
    pub statistics: Pairs<Cow<'a, str>, Pairs<Cow<'a, str>, f64>>,
}

impl SampleLine<'_> {
    /// Appends the line, with its newline, to `out`: the same JSON as
    /// [`Serialize`] gives, written directly, because it is written once
    /// per sample and a run writes a million a second.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(self.id.get().as_bytes());
        out.extend_from_slice(b",\"scores\":");
        write_object(out, &self.scores);
        out.extend_from_slice(b",\"errors\":");
        write_object(out, &self.errors);
        if !self.statistics.is_empty() {
            out.extend_from_slice(b",\"statistics\":");
            write_object(out, &self.statistics);
        }
        out.extend_from_slice(b"}\n");
    }
}

/// A JSON object of `pairs`, in order.
fn write_object<V: Serialize>(out: &mut Vec<u8>, pairs: &Pairs<Cow<'_, str>, V>) {
    out.push(b'{');
    for (i, (key, value)) in pairs.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_key(out, key);
        serde_json::to_writer(&mut *out, value).expect("writing to a Vec");
    }
    out.push(b'}');
}

/// `"key":`, escaped as JSON only when it needs to be.
fn write_key(out: &mut Vec<u8>, key: &str) {
    if key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, key).expect("writing to a Vec");
    }
    out.push(b':');
}

/// A record's id as people read it: strings as they are, numbers as written.
pub fn id_text(id: &RawValue) -> String {
    serde_json::from_str::<String>(id.get()).unwrap_or_else(|_| id.get().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_lines_read_back_as_written() {
        let text =
            r#"{"id":"q1","scores":{"exact/exact_match":1.0},"errors":{"rouge":{"kind":"trap","message":"boom"}}}"#;
        let line: SampleLine = serde_json::from_str(text).unwrap();
        assert_eq!(line.scores.get("exact/exact_match"), Some(&1.0));
        assert_eq!(line.errors.get("rouge").unwrap().kind, "trap");
        assert_eq!(id_text(&line.id), "q1");
        let mut out = Vec::new();
        line.write_to(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), format!("{text}\n"));
        assert_eq!(serde_json::to_string(&line).unwrap(), text, "written as serde writes it");
        let odd: SampleLine =
            serde_json::from_str(r#"{"id":7,"scores":{"a\"b\\c\u0001/é":0.5,"x":1e-7},"errors":{}}"#).unwrap();
        let mut out = Vec::new();
        odd.write_to(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), format!("{}\n", serde_json::to_string(&odd).unwrap()));
        let kept = r#"{"id":"q2","scores":{},"errors":{},"statistics":{"bleu":{"matches_1":3.0,"ref_len":4.0}}}"#;
        let line: SampleLine = serde_json::from_str(kept).unwrap();
        assert_eq!(line.statistics.get("bleu").unwrap().get("ref_len"), Some(&4.0));
        let mut out = Vec::new();
        line.write_to(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), format!("{kept}\n"));
    }
}
