//! The two wire formats: what is sent for a [`ChatRequest`] and how an
//! answer is read back. Pure functions, so each format is tested without a
//! network.

use serde_json::{Value, json};

use crate::chat::{ChatRequest, ChatResponse, FinishReason, ResponseFormat, Role, TokenLogprob, Usage};
use crate::config::{ModelConfig, ProviderKind};

/// Anthropic requires `max_tokens`; this is sent when the plugin gave none.
const ANTHROPIC_DEFAULT_MAX_TOKENS: u32 = 1024;
/// The Messages API version this host speaks.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// What is sent for one request, without the key: the caller adds it, so
/// nothing built here can carry it.
#[derive(Debug)]
pub struct Outgoing {
    pub url: String,
    /// Headers beyond the content type and the key.
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

/// The outgoing request for `request` in `config`'s wire format.
pub fn request_body(config: &ModelConfig, request: &ChatRequest) -> Result<Outgoing, String> {
    let base = config.base_url.trim_end_matches('/');
    match config.provider {
        ProviderKind::Openai => {
            let messages: Vec<Value> =
                request.messages.iter().map(|m| json!({"role": role(m.role), "content": m.content})).collect();
            let mut body = json!({"model": config.model, "messages": messages});
            let object = body.as_object_mut().expect("an object");
            if let Some(t) = request.temperature {
                object.insert("temperature".into(), json!(t));
            }
            if let Some(n) = request.max_tokens {
                object.insert("max_tokens".into(), json!(n));
            }
            if let Some(seed) = request.seed {
                object.insert("seed".into(), json!(seed));
            }
            if let ResponseFormat::JsonSchema(schema) = &request.response_format {
                let schema: Value = serde_json::from_str(schema)
                    .map_err(|e| format!("the response format's schema is not JSON: {e}"))?;
                object.insert(
                    "response_format".into(),
                    json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": true}}),
                );
            }
            if let Some(k) = request.top_logprobs {
                object.insert("logprobs".into(), json!(true));
                object.insert("top_logprobs".into(), json!(k));
            }
            Ok(Outgoing { url: format!("{base}/chat/completions"), headers: Vec::new(), body })
        }
        ProviderKind::Anthropic => {
            let mut system: Vec<&str> =
                request.messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
            let schema_note;
            if let ResponseFormat::JsonSchema(schema) = &request.response_format {
                // The Messages API has no response-format parameter: the
                // schema goes into the system prompt, and the answer is
                // checked by the plugin as any other.
                schema_note = format!("Answer with one JSON value that matches this JSON Schema:\n{schema}");
                system.push(&schema_note);
            }
            let messages: Vec<Value> = request
                .messages
                .iter()
                .filter(|m| m.role != Role::System)
                .map(|m| json!({"role": role(m.role), "content": m.content}))
                .collect();
            let max_tokens = request.max_tokens.unwrap_or(ANTHROPIC_DEFAULT_MAX_TOKENS);
            let mut body = json!({"model": config.model, "max_tokens": max_tokens, "messages": messages});
            let object = body.as_object_mut().expect("an object");
            if !system.is_empty() {
                object.insert("system".into(), json!(system.join("\n\n")));
            }
            if let Some(t) = request.temperature {
                object.insert("temperature".into(), json!(t));
            }
            let headers = vec![("anthropic-version", ANTHROPIC_VERSION.to_string())];
            Ok(Outgoing { url: format!("{base}/messages"), headers, body })
        }
    }
}

fn role(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// Reads a successful answer; a message saying what is wrong with it otherwise.
pub fn parse_response(provider: ProviderKind, body: &[u8]) -> Result<ChatResponse, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    match provider {
        ProviderKind::Openai => {
            let choice = value["choices"].get(0).ok_or("the answer has no choices")?;
            let text = choice["message"]["content"].as_str().ok_or("the answer has no message content")?;
            let finish_reason = match choice["finish_reason"].as_str() {
                Some("stop") => FinishReason::Stop,
                Some("length") => FinishReason::Length,
                Some("content_filter") => FinishReason::ContentFilter,
                _ => FinishReason::Other,
            };
            let usage = Usage {
                input_tokens: count(&value["usage"]["prompt_tokens"]),
                output_tokens: count(&value["usage"]["completion_tokens"]),
            };
            let logprobs = choice["logprobs"]["content"].as_array().map(|tokens| {
                tokens
                    .iter()
                    .map(|t| TokenLogprob {
                        token: t["token"].as_str().unwrap_or_default().to_string(),
                        logprob: t["logprob"].as_f64().unwrap_or(f64::NEG_INFINITY),
                        top: t["top_logprobs"]
                            .as_array()
                            .map(|top| {
                                top.iter()
                                    .map(|a| {
                                        let token = a["token"].as_str().unwrap_or_default().to_string();
                                        (token, a["logprob"].as_f64().unwrap_or(f64::NEG_INFINITY))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect()
            });
            Ok(ChatResponse { text: text.to_string(), finish_reason, usage, logprobs, latency_ms: None, cached: false })
        }
        ProviderKind::Anthropic => {
            let blocks = value["content"].as_array().ok_or("the answer has no content")?;
            let text: String = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
            let finish_reason = match value["stop_reason"].as_str() {
                Some("end_turn" | "stop_sequence") => FinishReason::Stop,
                Some("max_tokens") => FinishReason::Length,
                _ => FinishReason::Other,
            };
            let usage = Usage {
                input_tokens: count(&value["usage"]["input_tokens"]),
                output_tokens: count(&value["usage"]["output_tokens"]),
            };
            Ok(ChatResponse { text, finish_reason, usage, logprobs: None, latency_ms: None, cached: false })
        }
    }
}

/// The provider's own error message from an error answer, when it has one.
pub fn error_message(body: &[u8]) -> String {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match value["error"]["message"].as_str() {
        Some(message) => message.to_string(),
        None => String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
    }
}
