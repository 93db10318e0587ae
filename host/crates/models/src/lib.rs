//! Language models, called on plugins' behalf.
//!
//! A plugin that judges outputs with a stronger model never holds the API
//! key and never reaches the network: it asks the host by model alias, and
//! this crate decides whether that plugin was granted that alias, spends the
//! run's budget, calls the provider (OpenAI-compatible chat completions or
//! Anthropic messages) with bounded concurrency, a request rate and retries,
//! and keeps every answer in a content-addressed cache, so a judged eval set
//! re-scores the same outputs for free, offline, forever ([`cache`]).
//!
//! What this crate must not depend on: file formats of eval sets, or
//! anything of a command line. It depends on the runtime only for the
//! contract's `model` types, which [`contract`] converts, so that the
//! runtime reaches it through its `ModelBroker` trait; the binary builds it
//! from `[models.NAME]`.

pub mod broker;
pub mod cache;
pub mod chat;
pub mod config;
pub mod contract;
pub mod provider;

pub use broker::{Broker, ModelUsage};
pub use cache::{CacheMode, ResponseCache};
pub use chat::{
    ChatRequest, ChatResponse, FinishReason, Message, ModelError, ResponseFormat, Role, TokenLogprob, Usage,
};
pub use config::{Budget, GenerationConfig, ModelConfig, Price, ProviderKind};
