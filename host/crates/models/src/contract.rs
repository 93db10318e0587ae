//! The broker as the runtime sees it: the contract's `model` types in and
//! out, converted at this one boundary.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use assay_runtime::contract::since_v0_1::model as wit;

use crate::broker::Broker;
use crate::chat::{ChatRequest, ChatResponse, FinishReason, Message, ModelError, ResponseFormat, Role};

/// The runtime's handle on a broker.
pub struct Brokered(pub Arc<Broker>);

impl assay_runtime::ModelBroker for Brokered {
    fn complete<'a>(
        &'a self,
        grants: &'a [String],
        requests: Vec<wit::Request>,
    ) -> Pin<Box<dyn Future<Output = assay_runtime::models::Answers> + Send + 'a>> {
        Box::pin(async move {
            let requests = requests.into_iter().map(request).collect();
            let answers = self.0.complete(grants, requests).await;
            answers.into_iter().map(|answer| answer.map(response).map_err(error)).collect()
        })
    }

    fn usage(&self) -> std::collections::BTreeMap<String, assay_runtime::ModelUsage> {
        self.0.usage()
    }

    fn identity(&self, alias: &str) -> Option<String> {
        self.0.identity(alias)
    }
}

fn request(r: wit::Request) -> ChatRequest {
    ChatRequest {
        model: r.model,
        messages: r
            .messages
            .into_iter()
            .map(|m| Message {
                role: match m.role {
                    wit::Role::System => Role::System,
                    wit::Role::User => Role::User,
                    wit::Role::Assistant => Role::Assistant,
                },
                content: m.content,
            })
            .collect(),
        temperature: r.temperature,
        max_tokens: r.max_tokens,
        seed: r.seed,
        response_format: match r.response_format {
            wit::ResponseFormat::Text => ResponseFormat::Text,
            wit::ResponseFormat::JsonSchema(schema) => ResponseFormat::JsonSchema(schema),
        },
        top_logprobs: r.top_logprobs,
    }
}

fn response(r: ChatResponse) -> wit::Response {
    wit::Response {
        text: r.text,
        finish_reason: match r.finish_reason {
            FinishReason::Stop => wit::FinishReason::Stop,
            FinishReason::Length => wit::FinishReason::Length,
            FinishReason::ContentFilter => wit::FinishReason::ContentFilter,
            FinishReason::Other => wit::FinishReason::Other,
        },
        usage: wit::Usage { input_tokens: r.usage.input_tokens, output_tokens: r.usage.output_tokens },
        logprobs: r.logprobs.map(|tokens| {
            tokens.into_iter().map(|t| wit::TokenLogprob { token: t.token, logprob: t.logprob, top: t.top }).collect()
        }),
        cached: r.cached,
    }
}

fn error(e: ModelError) -> wit::Error {
    match e {
        ModelError::NotGranted(alias) | ModelError::Unknown(alias) => wit::Error::NotGranted(alias),
        ModelError::BudgetExhausted(which) => wit::Error::BudgetExhausted(which),
        ModelError::RateLimited(_) => wit::Error::RateLimited,
        ModelError::TimedOut(_) => wit::Error::TimedOut,
        ModelError::Provider { status, message } => wit::Error::Provider(wit::ProviderError { status, message }),
        ModelError::NotCached => wit::Error::NotCached,
    }
}
