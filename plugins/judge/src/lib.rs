//! `judge`: a language model grades each output on a rubric (pointwise).
//!
//! The host brokers the model: this plugin names an alias
//! (`config.model`), which its `[plugins.NAME]` table must grant, and sends
//! a whole batch at once. The default template asks for one JSON object,
//! `{"reason": string, "score": number}`, with a JSON Schema response format;
//! the answer is parsed strictly, and an answer that is not such an object,
//! or whose score is off the scale, is an error for that sample, never a
//! guess. Templates are text with `{rubric}`, `{scale}`, `{input}`,
//! `{output}` and `{reference}`, in any language, inline or in a file of a
//! granted directory.
//!
//! Metrics: `score` on the configured scale, `normalized` to [0, 1], and
//! `weighted`, the probability-weighted score of G-Eval when `logprobs` is
//! set (the endpoint must then return logprobs, or the sample fails);
//! without `logprobs`, `weighted` is the score itself. The signature names
//! the model (the host adds its provider and name), the scale, the
//! template's digest, the temperature and the seed.

// The export macro only exists on wasm: `cargo test --workspace` also builds
// this crate natively, where the plugin is unit-tested.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use assay_judging::{Asking, Scale, Template, fill, read_answer};
use assay_sdk::Setting;
use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
use assay_sdk::model::{self, Response};
use serde::Deserialize;

/// The system prompt of the default template.
const SYSTEM: &str = "You are an impartial judge. Grade the answer on the criteria. Reply with only a JSON object \
    {\"reason\": string, \"score\": number}: the reason in one or two sentences, the score {scale}.";

/// The user message of the default template.
const TEMPLATE: &str = "Criteria: {rubric}\n\nQuestion:\n{input}\n\nAnswer:\n{output}\n{reference}";

/// What the model must answer.
const ANSWER_SCHEMA: &str = r#"{"type":"object","properties":{"reason":{"type":"string"},"score":{"type":"number"}},"required":["reason","score"],"additionalProperties":false}"#;
const ANSWER_SHAPE: &str = "{\"reason\": string, \"score\": number}";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The model alias, granted in `[plugins.NAME] models`.
    model: String,
    /// What a good answer is, in the judging language.
    rubric: String,
    #[serde(default = "default_scale")]
    scale: Scale,
    /// The user message; the default asks for the JSON object.
    #[serde(default)]
    template: Option<String>,
    /// The user message from a file in a granted directory.
    #[serde(default)]
    template_file: Option<String>,
    #[serde(default)]
    temperature: f64,
    #[serde(default)]
    seed: u64,
    #[serde(default = "default_max_tokens")]
    max_tokens: u32,
    /// Ask for token logprobs and report G-Eval's weighted score.
    #[serde(default)]
    logprobs: bool,
}

fn default_scale() -> Scale {
    Scale::OneToFive
}

fn default_max_tokens() -> u32 {
    512
}

struct Judge {
    asking: Asking,
    rubric: String,
    scale: Scale,
    template: Template,
}

/// The model's answer, as the template asks for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Verdict {
    #[allow(dead_code)]
    reason: String,
    score: f64,
}

impl Judge {
    fn request(&self, sample: &Sample) -> model::Request {
        let scale = self.scale.instruction();
        let reference = match sample.references.first() {
            Some(reference) => format!("\nReference answer:\n{reference}\n"),
            None => String::new(),
        };
        let slots = [
            ("{rubric}", self.rubric.as_str()),
            ("{scale}", scale),
            ("{input}", sample.input.as_str()),
            ("{output}", sample.output.as_str()),
            ("{reference}", reference.as_str()),
        ];
        let system = fill(&self.template.system, &slots);
        self.asking.request(&system, &fill(&self.template.user, &slots), ANSWER_SCHEMA)
    }

    /// The scores an answer gives, strictly: one JSON object, a score on the scale.
    fn read(&self, response: &Response) -> Result<Scores, String> {
        let verdict: Verdict = read_answer(&response.text, ANSWER_SHAPE)?;
        let score = self.scale.check(verdict.score)?;
        let weighted = match (&self.asking.top_logprobs, &response.logprobs) {
            (None, _) => score,
            (Some(_), None) => return Err("`logprobs` is set, but the endpoint returned no logprobs".into()),
            (Some(_), Some(tokens)) => self
                .scale
                .weighted(tokens)
                .ok_or("`logprobs` is set, but no token of the answer gives the score with its alternatives")?,
        };
        Ok(Scores::new(vec![score, self.scale.normalize(score), weighted]))
    }
}

impl Evaluator for Judge {
    type Config = Config;

    fn describe() -> assay_sdk::PluginInfo {
        assay_sdk::plugin_info!("judge", "a language model grades each output on a rubric")
    }

    fn metrics() -> Vec<Metric> {
        vec![
            Metric::sample("score", "the judge's score on the configured scale", true),
            Metric::sample("normalized", "the score mapped to [0, 1]", true),
            Metric::sample(
                "weighted",
                "the score weighted by the judge's token probabilities (G-Eval) with `logprobs`; else the score",
                true,
            ),
        ]
    }

    fn new(config: Config) -> Result<Self, String> {
        if config.rubric.trim().is_empty() {
            return Err("`rubric` must say what a good answer is".into());
        }
        let template = Template::read(SYSTEM, TEMPLATE, config.template, config.template_file, &["{output}"])?;
        let asking = Asking {
            model: config.model,
            temperature: config.temperature,
            seed: config.seed,
            max_tokens: config.max_tokens,
            // Enough alternatives to cover a 1-10 scale's likely scores.
            top_logprobs: config.logprobs.then_some(10),
        };
        Ok(Judge { asking, rubric: config.rubric, scale: config.scale, template })
    }

    fn settings(&self) -> Vec<Setting> {
        let mut settings = self.asking.settings(&self.template);
        settings.insert(1, Setting { key: "scale".into(), value: self.scale.name().into() });
        if self.asking.top_logprobs.is_some() {
            settings.push(Setting { key: "logprobs".into(), value: "yes".into() });
        }
        settings
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        self.score_batch(std::slice::from_ref(sample)).pop().expect("one result per sample")
    }

    /// The whole batch in one request list: the host runs it concurrently.
    fn score_batch(&mut self, batch: &[Sample]) -> Vec<Result<Scores, String>> {
        let requests: Vec<model::Request> = batch.iter().map(|s| self.request(s)).collect();
        model::complete(&requests)
            .into_iter()
            .map(|answer| match answer {
                Ok(response) => self.read(&response),
                Err(error) => Err(error.to_string()),
            })
            .collect()
    }
}

#[cfg(target_arch = "wasm32")]
assay_sdk::export_evaluator!(Judge);

#[cfg(test)]
mod tests {
    use super::*;
    use assay_sdk::model::{FinishReason, ResponseFormat, TokenLogprob, Usage};

    fn judge(config: serde_json::Value) -> Judge {
        let mut base = serde_json::json!({"model": "grader", "rubric": "Doğru mu?"});
        base.as_object_mut().unwrap().extend(config.as_object().unwrap().clone());
        Judge::new(serde_json::from_value(base).unwrap()).unwrap()
    }

    fn answer(text: &str, logprobs: Option<Vec<TokenLogprob>>) -> Response {
        Response {
            text: text.into(),
            finish_reason: FinishReason::Stop,
            usage: Usage { input_tokens: 0, output_tokens: 0 },
            logprobs,
            cached: false,
        }
    }

    #[test]
    fn answers_are_read_strictly_on_the_scale() {
        let five = judge(serde_json::json!({"scale": "1-5"}));
        let read = |text: &str| five.read(&answer(text, None));
        assert_eq!(read(r#"{"reason": "iyi", "score": 4}"#).unwrap().values, [4.0, 0.75, 4.0]);
        assert!(read(r#"{"reason": "x", "score": 6}"#).unwrap_err().contains("off the 1-5 scale"));
        assert!(read(r#"{"reason": "x", "score": 3.5}"#).is_err());
        assert!(read("Score: 4").unwrap_err().contains("not {\"reason\""));
        assert!(read(r#"{"score": 4}"#).is_err(), "the reason is required");
        let pass = judge(serde_json::json!({"scale": "pass-fail"}));
        assert_eq!(pass.read(&answer(r#"{"reason": "", "score": 1}"#, None)).unwrap().values, [1.0, 1.0, 1.0]);
    }

    #[test]
    fn with_logprobs_the_weighted_score_is_required() {
        let judge = judge(serde_json::json!({"logprobs": true}));
        assert!(judge.read(&answer(r#"{"reason": "", "score": 4}"#, None)).unwrap_err().contains("no logprobs"));
        let tokens = vec![
            TokenLogprob { token: "{\"reason\":\"\",\"score\":".into(), logprob: 0.0, top: vec![] },
            TokenLogprob {
                token: "4".into(),
                logprob: -0.1,
                top: vec![("4".into(), 0.5f64.ln()), ("3".into(), 0.5f64.ln())],
            },
        ];
        let scores = judge.read(&answer(r#"{"reason": "", "score": 4}"#, Some(tokens))).unwrap();
        assert_eq!(scores.values[..2], [4.0, 0.75]);
        assert!((scores.values[2] - 3.5).abs() < 1e-12, "{:?}", scores.values);
    }

    #[test]
    fn the_prompt_carries_the_rubric_the_answer_and_the_reference() {
        let judge = judge(serde_json::json!({"scale": "1-10"}));
        let sample = Sample::new("İstanbul {rubric}", ["Ankara"]);
        let request = judge.request(&sample);
        let user = &request.messages[1].content;
        assert!(
            user.contains("Criteria: Doğru mu?") && user.contains("İstanbul {rubric}") && user.contains("Ankara"),
            "{user}"
        );
        assert!(request.messages[0].content.contains("an integer from 1 (worst) to 10 (best)"));
        assert_eq!(request.model, "grader");
        assert!(matches!(request.response_format, ResponseFormat::JsonSchema(_)));
        assert_eq!(request.top_logprobs, None);
    }

    #[test]
    fn a_configuration_without_a_rubric_or_an_output_slot_is_refused() {
        let config = |v| serde_json::from_value::<Config>(v).unwrap();
        assert!(Judge::new(config(serde_json::json!({"model": "m", "rubric": " "}))).is_err());
        assert!(Judge::new(config(serde_json::json!({"model": "m", "rubric": "r", "template": "{input}"}))).is_err());
        let both = serde_json::json!({"model": "m", "rubric": "r", "template": "{output}", "template_file": "/t.txt"});
        assert!(Judge::new(config(both)).err().unwrap().contains("not both"));
        let missing = serde_json::json!({"model": "m", "rubric": "r", "template_file": "/nowhere/t.txt"});
        assert!(Judge::new(config(missing)).err().unwrap().contains("cannot be read"));
    }
}
