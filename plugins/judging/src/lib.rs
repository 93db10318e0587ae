//! What the built-in judges (`judge`, `judge_pairwise`) share: how a model
//! is asked (alias, temperature, seed, token limit), templates with `{slot}`
//! placeholders read inline or from a granted file, strict reading of the
//! JSON object a template asks for, and G-Eval's probability-weighted score.
//!
//! Kept apart from the SDK because it encodes the judges' choices (the
//! answer shapes, the settings they sign with), not the contract.

use assay_sdk::Setting;
use assay_sdk::model::{Request, ResponseFormat, TokenLogprob};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::Digest as _;

/// How a judge asks its model: the part of a judge's configuration that
/// every judge has. Each judge's own config repeats these fields (serde
/// cannot both flatten and refuse unknown keys) and builds one of these.
#[derive(Debug, Clone)]
pub struct Asking {
    /// The model alias, granted in `[plugins.NAME] models`.
    pub model: String,
    pub temperature: f64,
    pub seed: u64,
    pub max_tokens: u32,
    /// Ask for this many most likely alternatives per output token.
    pub top_logprobs: Option<u8>,
}

impl Asking {
    /// One request: `system`, then `user`, answered as JSON matching `schema`.
    pub fn request(&self, system: &str, user: &str, schema: &str) -> Request {
        Request {
            temperature: Some(self.temperature),
            seed: Some(self.seed),
            max_tokens: Some(self.max_tokens),
            response_format: ResponseFormat::JsonSchema(schema.into()),
            top_logprobs: self.top_logprobs,
            ..Request::chat(&self.model, system, user)
        }
    }

    /// The settings every judge signs with: the model alias (the host adds
    /// the provider and model it stands for), the template's digest, the
    /// temperature and the seed.
    pub fn settings(&self, template: &Template) -> Vec<Setting> {
        vec![
            Setting { key: "model".into(), value: self.model.clone() },
            Setting { key: "template".into(), value: template.digest() },
            Setting { key: "temperature".into(), value: self.temperature.to_string() },
            Setting { key: "seed".into(), value: self.seed.to_string() },
        ]
    }
}

/// A system prompt and a user message with `{slot}` placeholders.
#[derive(Debug, Clone)]
pub struct Template {
    pub system: String,
    pub user: String,
}

impl Template {
    /// The user message from `inline` text, or from `file` (a path in a
    /// directory granted to the plugin), or `default`; it must contain each
    /// of `required`.
    pub fn read(
        system: &str,
        default: &str,
        inline: Option<String>,
        file: Option<String>,
        required: &[&str],
    ) -> Result<Template, String> {
        let user = match (inline, file) {
            (Some(_), Some(_)) => return Err("give `template` or `template_file`, not both".into()),
            (Some(text), None) => text,
            (None, Some(path)) => std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "`template_file` {path:?} cannot be read: {e} (grant its directory with `read` in [plugins.NAME])"
                )
            })?,
            (None, None) => default.to_string(),
        };
        if let Some(missing) = required.iter().find(|slot| !user.contains(*slot)) {
            return Err(format!("the template must contain {missing}, where that text goes"));
        }
        Ok(Template { system: system.to_string(), user })
    }

    /// `sha256:` and the first 12 hex digits of the system prompt and the
    /// user message together: equal digests, equal prompts.
    pub fn digest(&self) -> String {
        let digest = sha2::Sha256::digest(format!("{}\n\u{0}\n{}", self.system, self.user));
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}

/// `text` with each `{slot}` replaced by its value, in one pass, so that a
/// value containing `{output}` (a sample can say anything) is never
/// expanded again.
pub fn fill(text: &str, slots: &[(&str, &str)]) -> String {
    let mut filled = String::with_capacity(text.len() + slots.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = text;
    'outer: while let Some(open) = rest.find('{') {
        filled.push_str(&rest[..open]);
        rest = &rest[open..];
        for (slot, value) in slots {
            if let Some(after) = rest.strip_prefix(slot) {
                filled.push_str(value);
                rest = after;
                continue 'outer;
            }
        }
        filled.push('{');
        rest = &rest[1..];
    }
    filled.push_str(rest);
    filled
}

/// The one JSON object a template asked for, read strictly: nothing
/// around it, no missing or unknown field. `shape` describes the object
/// for the error message.
pub fn read_answer<T: DeserializeOwned>(text: &str, shape: &str) -> Result<T, String> {
    serde_json::from_str(text.trim()).map_err(|e| {
        let start: String = text.chars().take(80).collect();
        format!("the judge's answer is not {shape}: {e}; it begins {start:?}")
    })
}

/// The scale a pointwise judge grades on.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub enum Scale {
    #[serde(rename = "1-5")]
    OneToFive,
    #[serde(rename = "1-10")]
    OneToTen,
    #[serde(rename = "pass-fail")]
    PassFail,
}

impl Scale {
    pub fn bounds(self) -> (f64, f64) {
        match self {
            Scale::OneToFive => (1.0, 5.0),
            Scale::OneToTen => (1.0, 10.0),
            Scale::PassFail => (0.0, 1.0),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scale::OneToFive => "1-5",
            Scale::OneToTen => "1-10",
            Scale::PassFail => "pass-fail",
        }
    }

    /// How the prompt states the scale.
    pub fn instruction(self) -> &'static str {
        match self {
            Scale::OneToFive => "an integer from 1 (worst) to 5 (best)",
            Scale::OneToTen => "an integer from 1 (worst) to 10 (best)",
            Scale::PassFail => "1 if the answer passes, 0 if it fails",
        }
    }

    /// `score` if it is a whole number on the scale.
    pub fn check(self, score: f64) -> Result<f64, String> {
        let (low, high) = self.bounds();
        if (low..=high).contains(&score) && score.fract() == 0.0 {
            Ok(score)
        } else {
            Err(format!("the judge gave the score {score}, off the {} scale", self.name()))
        }
    }

    /// `score` mapped to [0, 1].
    pub fn normalize(self, score: f64) -> f64 {
        let (low, high) = self.bounds();
        (score - low) / (high - low)
    }

    /// The probability-weighted score, as G-Eval computes it: at the token
    /// that gave the score (the first whole-number token on the scale after
    /// the text `"score"`), each alternative that is itself a score on the
    /// scale weighs its value by its probability, renormalized over those
    /// alternatives. `None` when no such token is found.
    pub fn weighted(self, tokens: &[TokenLogprob]) -> Option<f64> {
        let (low, high) = self.bounds();
        let on_scale =
            |token: &str| token.trim().parse::<u32>().ok().map(f64::from).filter(|v| (low..=high).contains(v));
        let mut text = String::new();
        let position = tokens.iter().position(|t| {
            let found = text.contains("\"score\"") && on_scale(&t.token).is_some();
            text.push_str(&t.token);
            found
        })?;
        let token = &tokens[position];
        let mut alternatives: Vec<(f64, f64)> =
            token.top.iter().filter_map(|(text, logprob)| Some((on_scale(text)?, logprob.exp()))).collect();
        if alternatives.is_empty() {
            alternatives.push((on_scale(&token.token)?, token.logprob.exp()));
        }
        // A value listed twice (" 4" and "4") counts once per spelling: both
        // are the model saying 4.
        let total: f64 = alternatives.iter().map(|(_, p)| p).sum();
        (total > 0.0).then(|| alternatives.iter().map(|(v, p)| v * p).sum::<f64>() / total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(text: &str, logprob: f64, top: &[(&str, f64)]) -> TokenLogprob {
        TokenLogprob { token: text.into(), logprob, top: top.iter().map(|(t, l)| (t.to_string(), *l)).collect() }
    }

    #[test]
    fn slots_are_filled_once_and_values_are_never_expanded() {
        let filled = fill("Q: {input}\nA: {output} {unknown}", &[("{input}", "say {output}"), ("{output}", "ok")]);
        assert_eq!(filled, "Q: say {output}\nA: ok {unknown}");
    }

    #[test]
    fn the_weighted_score_reads_the_alternatives_of_the_score_token() {
        let tokens = [
            token("{\"", 0.0, &[]),
            token("reason", 0.0, &[]),
            token("\":\"", 0.0, &[]),
            token("5", 0.0, &[]), // a number in the reason is not the score
            token(" stars\",\"", 0.0, &[]),
            token("score", 0.0, &[]),
            token("\":", 0.0, &[]),
            token("4", 0.6f64.ln(), &[("4", 0.6f64.ln()), ("5", 0.3f64.ln()), ("x", 0.1f64.ln())]),
            token("}", 0.0, &[]),
        ];
        let weighted = Scale::OneToFive.weighted(&tokens).unwrap();
        assert!((weighted - (4.0 * 0.6 + 5.0 * 0.3) / 0.9).abs() < 1e-12, "{weighted}");
        assert_eq!(Scale::OneToFive.weighted(&tokens[..7]), None);
    }

    #[test]
    fn scores_off_the_scale_are_refused() {
        assert_eq!(Scale::OneToTen.check(10.0), Ok(10.0));
        assert!(Scale::OneToFive.check(0.0).unwrap_err().contains("off the 1-5 scale"));
        assert!(Scale::PassFail.check(0.5).is_err());
        assert_eq!(Scale::OneToFive.normalize(4.0), 0.75);
    }
}
