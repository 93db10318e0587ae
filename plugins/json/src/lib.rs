//! `json`: whether the output is JSON and whether it conforms to a JSON Schema.
//!
//! - `valid`: 1 when the output parses as one JSON value under RFC 8259
//!   (surrounding whitespace allowed; no `NaN`, comments or trailing commas;
//!   at most 128 levels of nesting), else 0.
//! - `schema_valid`: 1 when the output is valid JSON and conforms to the
//!   configured `schema`, else 0. Without a schema it equals `valid`, so a
//!   report can always gate on `schema_valid`.
//!
//! The schema's `$schema` picks the draft (4, 6, 7, 2019-09, 2020-12);
//! without one it is 2020-12. `format` is an annotation, not checked, as
//! those drafts specify by default. Only references inside the schema
//! resolve: a sandboxed plugin fetches nothing, so a remote `$ref` is a
//! configuration error.
//!
//! With `strip_code_fence`, an output that is a single Markdown code block
//! (an opening fence with any info string such as `json` on its own line,
//! then the closing fence at the very end) is judged by the text inside the
//! block, as chat models tend to answer; any other output is judged as is.

use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::{PluginInfo, Setting};
use jsonschema::Validator;
use serde_json::Value;

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The JSON Schema outputs must conform to, as a JSON value.
    schema: Option<Value>,
    /// Judge the inside of a Markdown code block that makes up the whole output.
    strip_code_fence: bool,
}

pub struct Json {
    schema: Option<(Value, Validator)>,
    strip_code_fence: bool,
}

/// What the output says, if it is JSON, and whether that conforms to the schema.
#[derive(Debug, PartialEq)]
pub struct Verdict {
    pub valid: bool,
    pub schema_valid: bool,
}

impl Json {
    pub fn judge(&self, output: &str) -> Verdict {
        let text = if self.strip_code_fence { unfenced(output) } else { output };
        match serde_json::from_str::<Value>(text) {
            Err(_) => Verdict { valid: false, schema_valid: false },
            Ok(value) => Verdict {
                valid: true,
                schema_valid: self.schema.as_ref().is_none_or(|(_, validator)| validator.is_valid(&value)),
            },
        }
    }
}

/// The inside of the Markdown code block that `output` consists of, or
/// `output` itself when it is not one such block.
fn unfenced(output: &str) -> &str {
    let block = output.trim();
    block
        .strip_prefix("```")
        .and_then(|rest| rest.split_once('\n'))
        .and_then(|(_info, body)| body.strip_suffix("```"))
        .unwrap_or(output)
}

impl Evaluator for Json {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("json", "1 when the output is valid JSON, and when it conforms to a JSON Schema")
    }

    fn metrics() -> Vec<Metric> {
        vec![
            Metric::sample("valid", "share of outputs that parse as JSON", true),
            Metric::sample("schema_valid", "share of outputs that are JSON conforming to the schema", true),
        ]
    }

    fn new(config: Config) -> Result<Self, String> {
        let schema = match config.schema {
            None => None,
            Some(schema) => {
                let validator = jsonschema::validator_for(&schema)
                    .map_err(|e| format!("`schema` is not a usable JSON Schema: {e}"))?;
                Some((schema, validator))
            }
        };
        Ok(Json { schema, strip_code_fence: config.strip_code_fence })
    }

    fn settings(&self) -> Vec<Setting> {
        let schema = self.schema.as_ref().map_or_else(|| "none".to_string(), |(schema, _)| schema_digest(schema));
        vec![Setting::new("schema", schema), Setting::new("strip_code_fence", self.strip_code_fence)]
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        let verdict = self.judge(&sample.output);
        let one_if = |b: bool| if b { 1.0 } else { 0.0 };
        Ok(Scores::new(vec![one_if(verdict.valid), one_if(verdict.schema_valid)]))
    }
}

assay_sdk::export_evaluator!(Json);

/// A schema's name in signatures: the first 16 hex digits of the sha256 of
/// its JSON text (keys sorted, no spaces), which the whole schema in the
/// summary's `config` can be checked against.
fn schema_digest(schema: &serde_json::Value) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(schema.to_string().as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plugin(config: Value) -> Result<Json, String> {
        Json::new(serde_json::from_value(config).map_err(|e| e.to_string())?)
    }

    fn judge(config: Value, output: &str) -> (bool, bool) {
        let verdict = plugin(config).unwrap().judge(output);
        (verdict.valid, verdict.schema_valid)
    }

    #[test]
    fn parses_strict_json_only() {
        for ok in ["{}", "[1, 2.5e3, null]", " \"text\"\n", "true", "-0", "{\"a\": {\"b\": [\"\\u00e9\"]}}"] {
            assert_eq!(judge(json!({}), ok), (true, true), "{ok}");
        }
        for bad in ["", "{", "{'a': 1}", "[1, 2,]", "NaN", "{\"a\": 1} {\"b\": 2}", "// note\n{}", "01"] {
            assert_eq!(judge(json!({}), bad), (false, false), "{bad}");
        }
    }

    #[test]
    fn checks_the_schema() {
        let schema = json!({
            "type": "object",
            "required": ["name", "age"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "age": {"$ref": "#/$defs/age"},
                "tags": {"type": "array", "items": {"enum": ["a", "b"]}}
            },
            "additionalProperties": false,
            "$defs": {"age": {"type": "integer", "minimum": 0}}
        });
        let config = json!({"schema": schema});
        assert_eq!(judge(config.clone(), r#"{"name": "Ada", "age": 36, "tags": ["a"]}"#), (true, true));
        assert_eq!(judge(config.clone(), r#"{"name": "Ada", "age": 36.0}"#), (true, true));
        assert_eq!(judge(config.clone(), r#"{"name": "Ada"}"#), (true, false));
        assert_eq!(judge(config.clone(), r#"{"name": "Ada", "age": -1}"#), (true, false));
        assert_eq!(judge(config.clone(), r#"{"name": "Ada", "age": 1, "tags": ["c"]}"#), (true, false));
        assert_eq!(judge(config.clone(), r#"{"name": "Ada", "age": 1, "extra": 0}"#), (true, false));
        assert_eq!(judge(config, r#"{"name": "Ada", "age": 36"#), (false, false));
    }

    #[test]
    fn the_schema_draft_comes_from_the_schema() {
        // Draft 4 has no `const`, so it ignores it; 2020-12 enforces it.
        let draft4 = json!({"schema": {"$schema": "http://json-schema.org/draft-04/schema#", "const": 1}});
        assert_eq!(judge(draft4, "2"), (true, true));
        assert_eq!(judge(json!({"schema": {"const": 1}}), "2"), (true, false));
    }

    #[test]
    fn bad_schemas_and_keys_are_configuration_errors() {
        assert!(plugin(json!({"schema": {"type": "no-such-type"}})).is_err());
        let remote = plugin(json!({"schema": {"$ref": "https://example.com/schema.json"}}));
        assert!(remote.err().unwrap().contains("https://example.com/schema.json"));
        assert!(plugin(json!({"strip_fence": true})).is_err());
    }

    #[test]
    fn strips_a_code_fence_only_when_asked_and_only_around_the_whole_output() {
        let fenced = "```json\n{\"answer\": 42}\n```\n";
        assert_eq!(judge(json!({}), fenced), (false, false));
        assert_eq!(judge(json!({"strip_code_fence": true}), fenced), (true, true));
        assert_eq!(judge(json!({"strip_code_fence": true}), "```\n[1]\n```"), (true, true));
        assert_eq!(judge(json!({"strip_code_fence": true}), "  {\"plain\": true} "), (true, true));
        let prose = "Here you go:\n```json\n{\"answer\": 42}\n```";
        assert_eq!(judge(json!({"strip_code_fence": true}), prose), (false, false));
        assert_eq!(judge(json!({"strip_code_fence": true}), "```json {\"a\": 1}```"), (false, false));
        let with_schema = json!({"strip_code_fence": true, "schema": {"required": ["answer"]}});
        assert_eq!(judge(with_schema, "```json\n{\"other\": 1}\n```"), (true, false));
    }

    #[test]
    fn scores_and_settings_follow_the_verdict() {
        let mut plugin = plugin(json!({"schema": {"type": "array"}})).unwrap();
        let sample = |output: &str| Sample {
            id: "1".into(),
            input: String::new(),
            output: output.into(),
            references: Vec::new(),
            label: None,
            metadata: "{}".into(),
        };
        assert_eq!(plugin.score(&sample("[]")).unwrap().values, [1.0, 1.0]);
        assert_eq!(plugin.score(&sample("{}")).unwrap().values, [1.0, 0.0]);
        assert_eq!(plugin.score(&sample("nope")).unwrap().values, [0.0, 0.0]);
        let settings: Vec<_> = plugin.settings().into_iter().map(|s| (s.key, s.value)).collect();
        // sha256 of `{"type":"array"}`, as `sha256sum` gives it.
        assert_eq!(settings[0], ("schema".to_string(), "sha256:6a7f71a05a1d45ad".to_string()));
    }
}
