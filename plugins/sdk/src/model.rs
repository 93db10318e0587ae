//! Asking language models through the host (since contract 0.1.1).
//!
//! A plugin names a model by the alias its configuration grants
//! (`[plugins.NAME] models = ["grader"]`); the host holds the key, spends the
//! run's budget and caches every answer. Send a whole batch with
//! [`complete`]: the host runs the requests concurrently. A plugin that
//! never calls [`complete`] does not import the interface.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        inline: "
            package assay:sdk-model;

            world model-import {
                import assay:plugin/model@0.1.4;
            }
        ",
        world: "assay:sdk-model/model-import",
        generate_all,
    });
}

pub use bindings::assay::plugin::model::{
    Error, FinishReason, Message, ProviderError, Request, Response, ResponseFormat, Role, TokenLogprob, Usage,
};

/// Asks every request at once; one result per request, in order.
pub fn complete(requests: &[Request]) -> Vec<Result<Response, Error>> {
    bindings::assay::plugin::model::complete(requests)
}

impl Request {
    /// A deterministic request (temperature 0, seed 0) to `model` with a
    /// system prompt and one user message, answered as text.
    pub fn chat(model: &str, system: &str, user: &str) -> Request {
        Request {
            model: model.into(),
            messages: vec![
                Message { role: Role::System, content: system.into() },
                Message { role: Role::User, content: user.into() },
            ],
            temperature: Some(0.0),
            max_tokens: None,
            seed: Some(0),
            response_format: ResponseFormat::Text,
            top_logprobs: None,
        }
    }
}

impl std::fmt::Display for Error {
    /// The error's stable kind, and what it says, as a plugin reports it for
    /// a sample.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NotGranted(alias) => write!(f, "not-granted: the model {alias:?} is not granted to this plugin"),
            Error::BudgetExhausted(which) => write!(f, "budget-exhausted: {which}"),
            Error::RateLimited => f.write_str("rate-limited: the provider kept refusing after retries"),
            Error::TimedOut => f.write_str("timed-out: the provider did not answer in time"),
            Error::Provider(e) => write!(f, "provider: {} {}", e.status, e.message),
            Error::NotCached => f.write_str("not-cached: --replay forbids the network, and the cache has no answer"),
        }
    }
}
