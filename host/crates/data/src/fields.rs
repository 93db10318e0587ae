//! A record's fields, and where each canonical field is found.
//!
//! Fields stay raw JSON text (or CSV text) until one is asked for, so a
//! record is never parsed into a tree. [`FieldMap`] is the one type that
//! says which field holds the model's output, the user, the rating: for an
//! eval set and for feedback alike, set from `--field` and from `assay.toml`
//! through the same [`FieldMap::set`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A record's fields, in input order.
pub struct Fields<'a>(pub Vec<(Cow<'a, str>, Value<'a>)>);

/// A field's value: JSON as written, or CSV text.
#[derive(Clone, Copy)]
pub enum Value<'a> {
    Json(&'a RawValue),
    Text(&'a str),
}

impl<'a> Fields<'a> {
    /// The value of field `name`, if present.
    pub fn get(&self, name: &str) -> Option<Value<'a>> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// A text field: strings as they are, numbers and booleans as written,
    /// `null` as absent. Objects and arrays are errors.
    pub fn text(&self, name: &str) -> Result<Option<String>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Text(text)) => Ok(Some(text.to_string())),
            Some(Value::Json(raw)) => {
                json_scalar_text(raw).map_err(|found| format!("field \"{name}\": expected a string, found {found}"))
            }
        }
    }

    /// A list of texts: a JSON array of strings, or one string (a CSV file
    /// gives several by repeating the column).
    pub fn texts(&self, name: &str) -> Result<Vec<String>, String> {
        let mut all = Vec::new();
        for (key, value) in &self.0 {
            if key != name {
                continue;
            }
            match value {
                Value::Text(text) => all.push(text.to_string()),
                Value::Json(raw) if raw.get().starts_with('[') => {
                    let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
                    for (i, item) in items.into_iter().enumerate() {
                        match json_scalar_text(item) {
                            Ok(Some(text)) if item.get().starts_with('"') => all.push(text),
                            Ok(found) => {
                                let found = match (found, item.get().as_bytes()[0]) {
                                    (None, _) => "null",
                                    (Some(_), b't' | b'f') => "a boolean",
                                    (Some(_), _) => "a number",
                                };
                                return Err(format!("field \"{name}\"[{i}]: expected a string, found {found}"));
                            }
                            Err(found) => {
                                return Err(format!("field \"{name}\"[{i}]: expected a string, found {found}"));
                            }
                        }
                    }
                }
                Value::Json(raw) => {
                    let text = json_scalar_text(raw).map_err(|found| {
                        format!("field \"{name}\": expected a string or a list of strings, found {found}")
                    })?;
                    all.extend(text);
                }
            }
        }
        Ok(all)
    }

    /// The fields not named in `used`, as a JSON object's text.
    pub fn others_json(&self, used: &[String]) -> String {
        let mut out = String::from("{");
        for (key, value) in self.0.iter().filter(|(k, _)| !used.iter().any(|u| u == k)) {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(key.as_ref()).expect("a string serializes"));
            out.push(':');
            match value {
                Value::Json(raw) => out.push_str(raw.get()),
                Value::Text(text) => out.push_str(&serde_json::to_string(text).expect("a string serializes")),
            }
        }
        out.push('}');
        out
    }

    /// The JSON text of an id field as it should appear in output: strings
    /// and numbers as written, otherwise the line number.
    pub fn id_json(&self, name: &str, line: u64) -> Result<(String, Box<RawValue>), String> {
        let number = |n: u64| (n.to_string(), serde_json::value::to_raw_value(&n).expect("a number serializes"));
        match self.get(name) {
            None => Ok(number(line)),
            Some(Value::Text(text)) => {
                Ok((text.to_string(), serde_json::value::to_raw_value(text).expect("a string serializes")))
            }
            Some(Value::Json(raw)) => match json_scalar_text(raw) {
                Ok(None) => Ok(number(line)),
                Ok(Some(text)) if !raw.get().starts_with('t') && !raw.get().starts_with('f') => {
                    Ok((text, raw.to_owned()))
                }
                Ok(Some(_)) | Err(_) => Err(format!("field \"{name}\": an id must be a string or a number")),
            },
        }
    }
}

pub(crate) fn json_scalar_text(raw: &RawValue) -> Result<Option<String>, &'static str> {
    let text = raw.get();
    match text.as_bytes().first() {
        // serde_json has already checked the raw value, so a string without
        // escapes is its own content: the common case skips a second parse.
        Some(b'"') if !text.contains('\\') => Ok(Some(text[1..text.len() - 1].to_string())),
        Some(b'"') => Ok(Some(serde_json::from_str::<String>(text).map_err(|_| "an invalid string")?)),
        Some(b'n') => Ok(None),
        Some(b'{') => Err("an object"),
        Some(b'[') => Err("a list"),
        _ => Ok(Some(text.to_string())),
    }
}

/// Parses one JSON Lines record into its fields without building a tree:
/// values stay as raw JSON text until a field is asked for.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Fields<'_>, String> {
    struct ObjectVisitor;
    impl<'de> Visitor<'de> for ObjectVisitor {
        type Value = Vec<(Cow<'de, str>, Value<'de>)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut fields: Self::Value = Vec::new();
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                let value: &'de RawValue = map.next_value()?;
                if fields.iter().any(|(k, _)| *k == key) {
                    return Err(serde::de::Error::custom(format_args!("field \"{key}\" appears twice")));
                }
                fields.push((key, Value::Json(value)));
            }
            Ok(fields)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let fields =
        de.deserialize_map(ObjectVisitor).and_then(|fields| de.end().map(|()| fields)).map_err(describe_json_error)?;
    Ok(Fields(fields))
}

/// serde_json's message, with its position as a column (the line is ours).
fn describe_json_error(error: serde_json::Error) -> String {
    let text = error.to_string();
    let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
    format!("invalid JSON at column {}: {message}", error.column())
}

/// The kinds of record Assay reads, each with its canonical fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A sample of an eval set (`assay run`).
    Sample,
    /// A feedback record (`assay guard`).
    Feedback,
}

/// A canonical field: what a plugin receives, whatever the input calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    Input,
    Output,
    Reference,
    Label,
    User,
    Timestamp,
    Prompt,
    Rating,
    Correction,
    Comment,
}

impl Field {
    const ALL: [Field; 11] = [
        Field::Id,
        Field::Input,
        Field::Output,
        Field::Reference,
        Field::Label,
        Field::User,
        Field::Timestamp,
        Field::Prompt,
        Field::Rating,
        Field::Correction,
        Field::Comment,
    ];

    /// The field's canonical name, which is also its default source name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Input => "input",
            Field::Output => "output",
            Field::Reference => "reference",
            Field::Label => "label",
            Field::User => "user",
            Field::Timestamp => "timestamp",
            Field::Prompt => "prompt",
            Field::Rating => "rating",
            Field::Correction => "correction",
            Field::Comment => "comment",
        }
    }
}

impl RecordKind {
    /// The canonical fields of this kind of record, in the order help lists them.
    pub fn fields(self) -> &'static [Field] {
        match self {
            RecordKind::Sample => &[Field::Id, Field::Input, Field::Output, Field::Reference, Field::Label],
            RecordKind::Feedback => &[
                Field::Id,
                Field::User,
                Field::Timestamp,
                Field::Prompt,
                Field::Output,
                Field::Rating,
                Field::Correction,
                Field::Comment,
            ],
        }
    }
}

/// Where the canonical fields of one kind of record are found.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMap {
    kind: RecordKind,
    /// The source name of every canonical field, indexed by [`Field`].
    names: [String; Field::ALL.len()],
    /// The source names of this kind's fields, kept so that reading a record
    /// does not list them again.
    used: Vec<String>,
}

impl FieldMap {
    /// Every field under its canonical name.
    pub fn new(kind: RecordKind) -> Self {
        let mut map = FieldMap { kind, names: Field::ALL.map(|f| f.name().to_string()), used: Vec::new() };
        map.used = map.kind.fields().iter().map(|f| map.name(*f).to_string()).collect();
        map
    }

    /// The fields of an eval set, under their canonical names.
    pub fn samples() -> Self {
        FieldMap::new(RecordKind::Sample)
    }

    /// The fields of feedback, under their canonical names.
    pub fn feedback() -> Self {
        FieldMap::new(RecordKind::Feedback)
    }

    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The name a canonical field has in the input.
    pub fn name(&self, field: Field) -> &str {
        &self.names[field as usize]
    }

    /// Reads `canonical` from the input's field `source`, as `--field` and
    /// `[dataset] fields` say.
    pub fn set(&mut self, canonical: &str, source: &str) -> Result<(), String> {
        let canonical =
            if canonical == "references" && self.kind == RecordKind::Sample { "reference" } else { canonical };
        let fields = self.kind.fields();
        let field = fields.iter().find(|f| f.name() == canonical).ok_or_else(|| {
            let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
            format!("unknown field {canonical:?}: the fields are {}", names.join(", "))
        })?;
        self.names[*field as usize] = source.to_string();
        self.used = fields.iter().map(|f| self.names[*f as usize].clone()).collect();
        Ok(())
    }

    /// Each of this kind's canonical fields and the input field it is read
    /// from.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.kind.fields().iter().map(|f| (f.name().to_string(), self.name(*f).to_string())).collect()
    }

    /// The source names of this kind's canonical fields: what is not
    /// metadata.
    pub fn used(&self) -> &[String] {
        &self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_maps_know_their_kind_of_record() {
        let mut samples = FieldMap::samples();
        samples.set("output", "prediction").unwrap();
        samples.set("references", "answers").unwrap();
        assert_eq!((samples.name(Field::Output), samples.name(Field::Reference)), ("prediction", "answers"));
        assert_eq!(
            samples.set("user", "x").unwrap_err(),
            "unknown field \"user\": the fields are id, input, output, reference, label"
        );
        let mut feedback = FieldMap::feedback();
        feedback.set("user", "author").unwrap();
        assert_eq!(
            feedback.used(),
            ["id", "author", "timestamp", "prompt", "output", "rating", "correction", "comment"]
        );
        assert!(feedback.set("label", "x").is_err());
    }
}
