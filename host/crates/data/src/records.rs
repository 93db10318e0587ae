//! Records as plugins take them: samples for evaluators, feedback for guards.
//!
//! Both are read from the same raw fields, through a [`FieldMap`], so an
//! eval set and a feedback file mean the same in JSON Lines and in CSV, and
//! `assay test` reads a case exactly as `assay run` reads a line.

use assay_runtime::{Feedback, Instant, Rating, Sample};
use serde_json::value::RawValue;

use crate::fields::{Field, FieldMap, Value, json_scalar_text};
use crate::reader::{BadRecord, RawRecord};

/// A sample ready for evaluators, and the JSON text of its id.
#[derive(Debug)]
pub struct EvalRecord {
    pub sample: Sample,
    pub id_json: Box<RawValue>,
}

/// Interprets a raw record as an eval-set sample.
pub fn eval_record(record: &RawRecord, map: &FieldMap) -> Result<EvalRecord, BadRecord> {
    let fields = record.fields()?;
    let bad = |message: String| BadRecord { line: record.line, message };
    let name = |field| map.name(field);
    let (id, id_json) = fields.id_json(name(Field::Id), record.line).map_err(bad)?;
    let output = fields.text(name(Field::Output)).map_err(bad)?.ok_or_else(|| {
        bad(format!(
            "missing field \"{}\" (the model's answer; map another field with --field output=NAME)",
            name(Field::Output)
        ))
    })?;
    let input = fields.text(name(Field::Input)).map_err(bad)?.unwrap_or_default();
    let references = fields.texts(name(Field::Reference)).map_err(bad)?;
    let label = fields.text(name(Field::Label)).map_err(bad)?;
    let metadata = fields.others_json(map.used());
    Ok(EvalRecord { sample: Sample { id, input, output, references, label, metadata }, id_json })
}

/// A feedback record ready for guards, and the JSON text of its id.
#[derive(Debug)]
pub struct FeedbackRecord {
    pub feedback: Feedback,
    pub id_json: Box<RawValue>,
}

/// Interprets a raw record as a feedback record.
pub fn feedback_record(record: &RawRecord, map: &FieldMap) -> Result<FeedbackRecord, BadRecord> {
    let fields = record.fields()?;
    let bad = |message: String| BadRecord { line: record.line, message };
    let name = |field| map.name(field);
    let (id, id_json) = fields.id_json(name(Field::Id), record.line).map_err(bad)?;
    // A CSV file cannot leave a column out of one row, so an empty optional
    // field means "not given", in JSON too, for the same record to mean the
    // same thing in both formats.
    let optional = |name: &str| fields.text(name).map(|t| t.filter(|t| !t.is_empty()));
    let timestamp = match fields.get(name(Field::Timestamp)) {
        None => None,
        Some(value) => instant(value).map_err(|e| bad(format!("field \"{}\": {e}", name(Field::Timestamp))))?,
    };
    let rating = match fields.get(name(Field::Rating)) {
        None => None,
        Some(value) => rating(value).map_err(|e| bad(format!("field \"{}\": {e}", name(Field::Rating))))?,
    };
    let feedback = Feedback {
        id,
        user: fields.text(name(Field::User)).map_err(bad)?.unwrap_or_default(),
        timestamp,
        prompt: fields.text(name(Field::Prompt)).map_err(bad)?.unwrap_or_default(),
        output: fields.text(name(Field::Output)).map_err(bad)?.unwrap_or_default(),
        rating,
        correction: optional(name(Field::Correction)).map_err(bad)?,
        comment: optional(name(Field::Comment)).map_err(bad)?,
        metadata: fields.others_json(map.used()),
    };
    Ok(FeedbackRecord { feedback, id_json })
}

/// A scalar field as text; `None` for null and empty text.
fn scalar(value: Value<'_>) -> Result<Option<String>, String> {
    let text = match value {
        Value::Text(text) => text.to_string(),
        Value::Json(raw) => {
            match json_scalar_text(raw).map_err(|found| format!("expected a string or a number, found {found}"))? {
                None => return Ok(None),
                Some(text) => text,
            }
        }
    };
    Ok((!text.is_empty()).then_some(text))
}

/// An RFC 3339 timestamp, or Unix seconds (fractions allowed).
fn instant(value: Value<'_>) -> Result<Option<Instant>, String> {
    let Some(text) = scalar(value)? else { return Ok(None) };
    let timestamp = match text.parse::<f64>() {
        Ok(seconds) => {
            jiff::Timestamp::from_nanosecond((seconds * 1e9).round() as i128).map_err(|e| format!("{text}: {e}"))?
        }
        Err(_) => text
            .parse::<jiff::Timestamp>()
            .map_err(|e| format!("expected an RFC 3339 timestamp or Unix seconds, found {text:?} ({e})"))?,
    };
    // The WIT instant counts whole seconds down, so its nanoseconds are never negative.
    let nanos = timestamp.as_nanosecond();
    Ok(Some(Instant {
        seconds: nanos.div_euclid(1_000_000_000) as i64,
        nanoseconds: nanos.rem_euclid(1_000_000_000) as u32,
    }))
}

/// `up`/`thumbs_up`/`true`, `down`/`thumbs_down`/`false`, or a number.
fn rating(value: Value<'_>) -> Result<Option<Rating>, String> {
    let Some(text) = scalar(value)? else { return Ok(None) };
    Ok(Some(match text.to_ascii_lowercase().as_str() {
        "up" | "thumbs_up" | "true" => Rating::Up,
        "down" | "thumbs_down" | "false" => Rating::Down,
        other => match other.parse::<f64>() {
            Ok(score) if score.is_finite() => Rating::Score(score),
            _ => return Err(format!("expected \"up\", \"down\", true, false or a number, found {text:?}")),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::Reader;
    use crate::reader::tests::{all, write};

    #[test]
    fn bad_json_and_bad_fields_name_the_problem() {
        let (_dir, path) = write(
            "b.jsonl",
            "{\"output\": \n{\"output\": {\"a\":1}}\n{\"input\":\"q\"}\n{\"output\":\"a\",\"output\":\"b\"}\n",
        );
        let records = all(&mut Reader::open(&path, None).unwrap());
        let map = FieldMap::samples();
        let errors: Vec<BadRecord> = records.iter().map(|r| eval_record(r, &map).err().unwrap()).collect();
        assert_eq!(errors[0].line, 1);
        assert!(errors[0].message.starts_with("invalid JSON at column"), "{}", errors[0].message);
        assert_eq!(errors[1].message, "field \"output\": expected a string, found an object");
        assert!(errors[2].message.starts_with("missing field \"output\""));
        assert!(errors[3].message.contains("appears twice"), "{}", errors[3].message);
    }

    #[test]
    fn references_metadata_and_field_mapping() {
        let (_dir, path) = write(
            "c.jsonl",
            "{\"id\":\"q1\",\"prediction\":\"a\",\"reference\":[\"a\",\"b\"],\"label\":1,\"topic\":{\"x\":[1]}}\n",
        );
        let records = all(&mut Reader::open(&path, None).unwrap());
        let mut map = FieldMap::samples();
        map.set("output", "prediction").unwrap();
        let record = eval_record(&records[0], &map).unwrap();
        assert_eq!(record.id_json.get(), "\"q1\"");
        assert_eq!(record.sample.references, vec!["a", "b"]);
        assert_eq!(record.sample.label.as_deref(), Some("1"));
        assert_eq!(record.sample.metadata, "{\"topic\":{\"x\":[1]}}");
        assert!(map.set("outptu", "x").is_err());
        let (_dir, path) = write("f.jsonl", "{\"output\":\"a\",\"reference\":[\"x\\u00e9\",2]}\n");
        let records = all(&mut Reader::open(&path, None).unwrap());
        let message = eval_record(&records[0], &FieldMap::samples()).unwrap_err().message;
        assert_eq!(message, "field \"reference\"[1]: expected a string, found a number");
    }

    #[test]
    fn feedback_fields_timestamps_ratings_and_metadata() {
        let (_dir, path) = write(
            "f.jsonl",
            concat!(
                "{\"id\":\"a\",\"user\":\"u1\",\"timestamp\":\"2024-05-06T08:00:00.25Z\",\"rating\":\"thumbs_up\",\"correction\":\"\",\"channel\":\"web\"}\n",
                "{\"timestamp\":-1.5,\"rating\":false,\"comment\":\"hi\"}\n",
                "{\"rating\":4.5}\n",
                "{\"rating\":\"meh\"}\n",
                "{\"timestamp\":\"yesterday\"}\n",
            ),
        );
        let records = all(&mut Reader::open(&path, None).unwrap());
        let map = FieldMap::feedback();
        let first = feedback_record(&records[0], &map).unwrap();
        assert_eq!(first.id_json.get(), "\"a\"");
        let at = first.feedback.timestamp.unwrap();
        assert_eq!((at.seconds, at.nanoseconds), (1_714_982_400, 250_000_000));
        assert!(matches!(first.feedback.rating, Some(assay_runtime::Rating::Up)));
        assert_eq!(first.feedback.correction, None, "an empty field is absent");
        assert_eq!(first.feedback.metadata, "{\"channel\":\"web\"}");
        let second = feedback_record(&records[1], &map).unwrap();
        let at = second.feedback.timestamp.unwrap();
        assert_eq!((at.seconds, at.nanoseconds), (-2, 500_000_000), "nanoseconds count up from the second below");
        assert!(matches!(second.feedback.rating, Some(assay_runtime::Rating::Down)));
        assert_eq!((second.id_json.get(), second.feedback.comment.as_deref()), ("2", Some("hi")));
        assert!(matches!(
            feedback_record(&records[2], &map).unwrap().feedback.rating,
            Some(assay_runtime::Rating::Score(4.5))
        ));
        assert!(
            feedback_record(&records[3], &map).unwrap_err().message.starts_with("field \"rating\": expected \"up\"")
        );
        assert!(feedback_record(&records[4], &map).unwrap_err().message.contains("RFC 3339"));
        let mut map = FieldMap::feedback();
        assert!(map.set("author", "x").is_err());
    }
}
