//! Asks the model its configuration names (`{"model": ALIAS}`) about every
//! sample's output, in one batch per call, and scores 1 when the answer is
//! the fake test model's (`judged: ` and the output). A request without an
//! answer fails the sample with the error's kind.

// The export macro only exists on wasm: `cargo test --workspace` also builds
// this crate natively, where nothing uses the plugin.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use std::cell::RefCell;

wit_bindgen::generate!({ path: "../../../wit", world: "model-evaluator-plugin" });

use assay::plugin::model::{self, Error, Message, Request, ResponseFormat, Role};
use assay::plugin::types::{PluginInfo, Setting};
use exports::assay::plugin::evaluator::{CorpusScore, Guest, Level, Metric, Sample, Scores, Statistic};

thread_local! {
    static ALIAS: RefCell<String> = const { RefCell::new(String::new()) };
}

struct Probe;

fn metric(name: &str, description: &str) -> Metric {
    Metric { name: name.into(), description: description.into(), higher_is_better: true, level: Level::Sample }
}

fn kind(error: &Error) -> String {
    match error {
        Error::NotGranted(alias) => format!("not-granted: {alias}"),
        Error::BudgetExhausted(which) => format!("budget-exhausted: {which}"),
        Error::RateLimited => "rate-limited".into(),
        Error::TimedOut => "timed-out".into(),
        Error::Provider(e) => format!("provider: {} {}", e.status, e.message),
        Error::NotCached => "not-cached".into(),
    }
}

impl Guest for Probe {
    fn describe() -> PluginInfo {
        PluginInfo { name: "model_probe".into(), version: "0.1.0".into(), description: "asks a model".into() }
    }

    fn metrics() -> Vec<Metric> {
        vec![metric("agrees", "1 when the model's answer is the expected one")]
    }

    fn configure(config: String) -> Result<Vec<Setting>, String> {
        // {"model":"ALIAS"}, read without a JSON parser: the alias is a word.
        let alias = config.split('"').nth(3).unwrap_or("grader").to_string();
        ALIAS.with(|a| *a.borrow_mut() = alias.clone());
        Ok(vec![Setting { key: "model".into(), value: alias }])
    }

    fn score(batch: Vec<Sample>) -> Vec<Result<Scores, String>> {
        let alias = ALIAS.with(|a| a.borrow().clone());
        let requests: Vec<Request> = batch
            .iter()
            .map(|s| Request {
                model: alias.clone(),
                messages: vec![
                    Message { role: Role::System, content: "Grade the answer.".into() },
                    Message { role: Role::User, content: s.output.clone() },
                ],
                temperature: Some(0.0),
                max_tokens: Some(16),
                seed: Some(1),
                response_format: ResponseFormat::Text,
                top_logprobs: None,
            })
            .collect();
        let answers = model::complete(&requests);
        batch
            .iter()
            .zip(answers)
            .map(|(sample, answer)| match answer {
                Ok(response) => {
                    let agrees = response.text == format!("judged: {}", sample.output);
                    Ok(Scores { values: vec![if agrees { 1.0 } else { 0.0 }], statistics: Vec::new() })
                }
                Err(error) => Err(kind(&error)),
            })
            .collect()
    }

    fn finalize(_: Vec<Statistic>) -> Result<Vec<CorpusScore>, String> {
        Ok(Vec::new())
    }
}

#[cfg(target_arch = "wasm32")]
export!(Probe);
