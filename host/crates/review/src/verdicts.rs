//! The verdict file: one JSON object per line, the form `assay review
//! export` writes and `assay review import` and `assay review stats` read,
//! so that verdicts gathered anywhere are measured alike.
//!
//! ```json
//! {"item": "qa:17", "reviewer": "ayse", "verdict": "pass", "score": 4, "tags": ["tone"], "comment": "", "at": "2026-12-01T10:00:00Z"}
//! ```
//!
//! Reading is strict and says where: a line that is not such an object is
//! an error naming the file, the line and the field, never skipped.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A reviewer's decision on an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Pass,
    Fail,
}

/// One line of a verdict file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub item: String,
    pub reviewer: String,
    pub verdict: Decision,
    /// On the review's scale (such as 1 to 5), when it asks for one.
    pub score: Option<f64>,
    pub tags: Vec<String>,
    pub comment: String,
    /// When it was given, RFC 3339.
    pub at: String,
}

/// Why a verdict file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum VerdictError {
    #[error("{}: cannot read it", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Line { path: PathBuf, line: usize, message: String },
    #[error("{}:{line}: field `{field}`: {message}", path.display())]
    Field { path: PathBuf, line: usize, field: &'static str, message: String },
}

const FIELDS: [&str; 7] = ["item", "reviewer", "verdict", "score", "tags", "comment", "at"];

impl Verdict {
    /// One line's object, checked field by field so that an error names the field.
    fn from_object(object: &Map<String, Value>) -> Result<Verdict, (&'static str, String)> {
        if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(("", format!("unknown field `{unknown}`; a verdict has {}", FIELDS.join(", "))));
        }
        let text = |field: &'static str, required: bool| -> Result<String, (&'static str, String)> {
            match object.get(field) {
                Some(Value::String(s)) if !(required && s.trim().is_empty()) => Ok(s.clone()),
                Some(Value::String(_)) => Err((field, "must not be empty".into())),
                None | Some(Value::Null) if !required => Ok(String::new()),
                None => Err((field, "is missing".into())),
                Some(other) => Err((field, format!("expected text, found {}", kind(other)))),
            }
        };
        let verdict = match object.get("verdict") {
            Some(Value::String(s)) if s == "pass" => Decision::Pass,
            Some(Value::String(s)) if s == "fail" => Decision::Fail,
            None => return Err(("verdict", "is missing".into())),
            Some(other) => return Err(("verdict", format!("expected \"pass\" or \"fail\", found {other}"))),
        };
        let score = match object.get("score") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => {
                Some(n.as_f64().filter(|v| v.is_finite()).ok_or(("score", "must be finite".into()))?)
            }
            Some(other) => return Err(("score", format!("expected a number or null, found {}", kind(other)))),
        };
        let tags = match object.get("tags") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(tags)) => tags
                .iter()
                .map(|t| t.as_str().map(str::to_string).ok_or(("tags", format!("expected text, found {}", kind(t)))))
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(("tags", format!("expected a list of text, found {}", kind(other)))),
        };
        Ok(Verdict {
            item: text("item", true)?,
            reviewer: text("reviewer", true)?,
            verdict,
            score,
            tags,
            comment: text("comment", false)?,
            at: text("at", false)?,
        })
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Every verdict of the file at `path`, in file order; blank lines are
/// allowed, anything else that is not a verdict is an error.
pub fn read(path: &Path) -> Result<Vec<Verdict>, VerdictError> {
    let file = std::fs::File::open(path).map_err(|source| VerdictError::Read { path: path.into(), source })?;
    let mut verdicts = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line_number = number + 1;
        let line = line.map_err(|source| VerdictError::Read { path: path.into(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        let at_line = |message: String| VerdictError::Line { path: path.into(), line: line_number, message };
        let value: Value = serde_json::from_str(&line).map_err(|e| at_line(format!("not JSON: {e}")))?;
        let Value::Object(object) = value else { return Err(at_line("expected a JSON object".into())) };
        let verdict = Verdict::from_object(&object).map_err(|(field, message)| match field {
            "" => at_line(message),
            field => VerdictError::Field { path: path.into(), line: line_number, field, message },
        })?;
        verdicts.push(verdict);
    }
    Ok(verdicts)
}

/// Writes `verdicts`, one per line, to `out`.
pub fn write(out: &mut impl Write, verdicts: &[Verdict]) -> std::io::Result<()> {
    for verdict in verdicts {
        serde_json::to_writer(&mut *out, verdict)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<Vec<Verdict>, VerdictError> {
        let dir = std::env::temp_dir().join(format!("assay-verdicts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{:x}.jsonl", text.len() * 31 + text.bytes().map(usize::from).sum::<usize>()));
        std::fs::write(&path, text).unwrap();
        let read = read(&path);
        std::fs::remove_file(&path).unwrap();
        read
    }

    #[test]
    fn a_verdict_round_trips() {
        let verdict = Verdict {
            item: "qa:1".into(),
            reviewer: "ayşe".into(),
            verdict: Decision::Fail,
            score: Some(2.0),
            tags: vec!["ton".into()],
            comment: "Kaba bir yanıt".into(),
            at: "2026-12-01T10:00:00Z".into(),
        };
        let mut text = Vec::new();
        write(&mut text, std::slice::from_ref(&verdict)).unwrap();
        assert_eq!(read_text(&String::from_utf8(text).unwrap()).unwrap(), [verdict]);
    }

    #[test]
    fn bad_lines_name_the_line_and_the_field() {
        let good = r#"{"item": "a", "reviewer": "r", "verdict": "pass"}"#;
        let cases = [
            (
                format!("{good}\n{{\"item\": \"a\", \"reviewer\": \"r\", \"verdict\": \"maybe\"}}"),
                ":2: field `verdict`",
            ),
            (format!("{good}\n\n{{\"item\": \"a\", \"verdict\": \"pass\"}}"), ":3: field `reviewer`: is missing"),
            (r#"{"item": "a", "reviewer": "r", "verdict": "pass", "score": "4"}"#.to_string(), ":1: field `score`"),
            (format!("{good}\nnot json"), ":2: not JSON"),
            (r#"{"item": "a", "reviewer": "r", "verdict": "pass", "vote": 1}"#.to_string(), ":1: unknown field `vote`"),
        ];
        for (text, want) in cases {
            let error = read_text(&text).unwrap_err().to_string();
            assert!(error.contains(want), "{error} should contain {want}");
        }
    }
}
