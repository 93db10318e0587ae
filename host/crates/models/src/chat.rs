//! What a plugin asks a model and what it gets back: the host-side shape of
//! the contract's `model` interface, and its typed errors.

use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

/// The form an answer must take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type", content = "schema")]
pub enum ResponseFormat {
    Text,
    /// A JSON value matching this JSON Schema (its text).
    JsonSchema(String),
}

/// One chat request, as a plugin makes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// A model alias from the configuration (`[models.NAME]`), never a URL.
    pub model: String,
    pub messages: Vec<Message>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub seed: Option<u64>,
    pub response_format: ResponseFormat,
    /// Log-probabilities of the output tokens with this many alternatives
    /// each; `None` asks for none.
    pub top_logprobs: Option<u8>,
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinishReason {
    Stop,
    Length,
    ContentFilter,
    Other,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// One output token's log-probability, and the most likely alternatives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f64,
    pub top: Vec<(String, f64)>,
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub text: String,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub logprobs: Option<Vec<TokenLogprob>>,
    /// How long the answering attempt took; kept in the cache with the
    /// answer, so a replayed answer keeps the latency the model had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Whether it came from the cache (then it cost nothing this run).
    #[serde(default, skip_serializing)]
    pub cached: bool,
}

/// Why a request got no answer. Each kind is stable: plugins match on it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("this plugin is not granted the model {0:?} ([plugins.NAME] models = [...])")]
    NotGranted(String),
    #[error("no model {0:?} is configured ([models.NAME])")]
    Unknown(String),
    #[error("the run's model budget is exhausted: {0}")]
    BudgetExhausted(String),
    #[error("rate limited by the provider after {0} retries")]
    RateLimited(u32),
    #[error("the provider did not answer within {0} ms, after retries")]
    TimedOut(u64),
    #[error("the provider answered {status}: {message}")]
    Provider { status: u16, message: String },
    #[error("not in the model cache, and --replay forbids the network")]
    NotCached,
}

impl ModelError {
    /// The stable kind, as plugins and result files name it.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelError::NotGranted(_) => "not-granted",
            ModelError::Unknown(_) => "not-granted",
            ModelError::BudgetExhausted(_) => "budget-exhausted",
            ModelError::RateLimited(_) => "rate-limited",
            ModelError::TimedOut(_) => "timed-out",
            ModelError::Provider { .. } => "provider",
            ModelError::NotCached => "not-cached",
        }
    }
}
