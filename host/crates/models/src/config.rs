//! `[models.NAME]` and the run's model budget, as users write them.

use serde::{Deserialize, Serialize};

/// The wire format a model is reached with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI-compatible chat completions: OpenAI, Azure via `base_url`,
    /// vLLM, llama.cpp server, Ollama, TGI, LiteLLM.
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
}

/// Prices in the currency of `max_cost`, per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

/// One `[models.NAME]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub provider: ProviderKind,
    /// Such as `https://api.openai.com/v1` or `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    /// The provider's model name, such as `gpt-4o-mini`.
    pub model: String,
    /// The environment variable holding the API key, read by the host
    /// alone; none for local servers that need no key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Requests in flight at once, across all workers. Default: 16.
    #[serde(default = "defaults::concurrency")]
    pub max_concurrency: usize,
    /// Requests started per minute; none for no limit.
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Tokens (input and output, as the provider counts them) per minute;
    /// none for no limit.
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
    /// Deadline of one attempt, in milliseconds. Default: 60,000.
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
    /// Retries after a 429, a 5xx or a timeout. Default: 5.
    #[serde(default = "defaults::retries")]
    pub max_retries: u32,
    #[serde(default)]
    pub price: Option<Price>,
}

mod defaults {
    pub fn concurrency() -> usize {
        16
    }
    pub fn timeout_ms() -> u64 {
        60_000
    }
    pub fn retries() -> u32 {
        5
    }
}

/// What a run may spend on models: `[run] max_model_requests`,
/// `max_model_tokens`, `max_cost`. Cache hits are free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub max_requests: Option<u64>,
    pub max_tokens: Option<u64>,
    pub max_cost: Option<f64>,
}

/// How a candidate is prompted by `assay generate` (`[generate.NAME]`, over
/// the command line's defaults): recorded with its outputs, because answers
/// to different prompts are not comparable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationConfig {
    /// A system message before each record's prompt.
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub seed: Option<u64>,
}

impl GenerationConfig {
    /// These settings, each one not given taken from `defaults`.
    pub fn over(&self, defaults: &GenerationConfig) -> GenerationConfig {
        GenerationConfig {
            system: self.system.clone().or_else(|| defaults.system.clone()),
            temperature: self.temperature.or(defaults.temperature),
            max_tokens: self.max_tokens.or(defaults.max_tokens),
            seed: self.seed.or(defaults.seed),
        }
    }
}
