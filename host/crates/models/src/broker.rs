//! The broker between plugins and models: grants, budget, cache, and the
//! calls themselves, with bounded concurrency, a request rate and retries.
//!
//! HTTP runs on the broker's own small runtime: plugin calls come from
//! worker threads that each drive a runtime of their own only while they
//! wait, and a connection pooled by one must not depend on another being
//! driven. Answers come back in request order whatever order they finish in.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use assay_runtime::models::ModelUsage;

use crate::cache::{CacheMode, KeyedRequest, ResponseCache};
use crate::chat::{ChatRequest, ChatResponse, ModelError};
use crate::config::{Budget, ModelConfig, ProviderKind};
use crate::provider;

/// The longest a retry waits, whatever the provider's `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The first retry's wait before jitter; each later one doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Why the broker could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("models.{alias}: the API key variable {variable} is not set")]
    MissingKey { alias: String, variable: String },
    #[error("cannot start the model client")]
    Client(#[source] reqwest::Error),
    #[error("cannot start the model runtime")]
    Runtime(#[source] std::io::Error),
}

/// How a run may use its models.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub cache: Option<ResponseCache>,
    pub mode: CacheMode,
    /// `--replay`: answers come from the cache or not at all.
    pub replay: bool,
    pub budget: Budget,
}

struct Model {
    config: ModelConfig,
    /// Read from the environment by the host, once; never written anywhere.
    key: Option<String>,
    permits: tokio::sync::Semaphore,
    /// When the next request may start, under `requests_per_minute`.
    next_start: Mutex<Instant>,
    /// When the next request may start, under `tokens_per_minute`: each
    /// answer moves it on by the time its tokens are worth.
    next_token_start: Mutex<Instant>,
    usage: Mutex<ModelUsage>,
}

#[derive(Debug, Default)]
struct Spent {
    requests: u64,
    tokens: u64,
    cost: f64,
}

pub struct Broker {
    models: BTreeMap<String, Model>,
    http: reqwest::Client,
    policy: Policy,
    spent: Mutex<Spent>,
    notes: Mutex<Vec<String>>,
    runtime: tokio::runtime::Runtime,
}

impl Broker {
    /// A broker for the configured models, with keys from the environment.
    pub fn new(models: &BTreeMap<String, ModelConfig>, policy: Policy) -> Result<Arc<Broker>, BrokerError> {
        Broker::with_keys(models, policy, &|variable| std::env::var(variable).ok())
    }

    /// A broker whose keys `keys` reads by variable name. Keys are read now;
    /// one named but unset is an error, unless `--replay` means no request
    /// is ever sent.
    pub fn with_keys(
        models: &BTreeMap<String, ModelConfig>,
        policy: Policy,
        keys: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<Broker>, BrokerError> {
        let mut built = BTreeMap::new();
        for (alias, config) in models {
            let key = match &config.api_key_env {
                None => None,
                Some(variable) => match keys(variable).filter(|k| !k.is_empty()) {
                    Some(key) => Some(key),
                    None if policy.replay => None,
                    None => {
                        return Err(BrokerError::MissingKey { alias: alias.clone(), variable: variable.clone() });
                    }
                },
            };
            built.insert(
                alias.clone(),
                Model {
                    config: config.clone(),
                    key,
                    permits: tokio::sync::Semaphore::new(config.max_concurrency.max(1)),
                    next_start: Mutex::new(Instant::now()),
                    next_token_start: Mutex::new(Instant::now()),
                    usage: Mutex::new(ModelUsage::default()),
                },
            );
        }
        let http = reqwest::Client::builder().build().map_err(BrokerError::Client)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("assay-models")
            .enable_all()
            .build()
            .map_err(BrokerError::Runtime)?;
        Ok(Arc::new(Broker { models: built, http, policy, spent: Mutex::default(), notes: Mutex::default(), runtime }))
    }

    /// Answers `requests` for a plugin granted the aliases `grants`, all at
    /// once (within each model's concurrency), one result per request in order.
    pub async fn complete(
        self: &Arc<Self>,
        grants: &[String],
        requests: Vec<ChatRequest>,
    ) -> Vec<Result<ChatResponse, ModelError>> {
        let grants: Arc<[String]> = grants.into();
        let handles: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let (broker, grants) = (self.clone(), grants.clone());
                self.runtime.spawn(async move { broker.one(&grants, request).await })
            })
            .collect();
        let mut results = Vec::with_capacity(handles.len());
        for handle in handles {
            results.push(handle.await.unwrap_or_else(|e| {
                Err(ModelError::Provider { status: 0, message: format!("the model call panicked: {e}") })
            }));
        }
        results
    }

    /// Each model's usage so far.
    pub fn usage(&self) -> BTreeMap<String, ModelUsage> {
        self.models.iter().map(|(alias, m)| (alias.clone(), m.usage.lock().expect("never poisoned").clone())).collect()
    }

    /// `provider/model` for a configured alias, such as `openai/gpt-4o-mini`.
    pub fn identity(&self, alias: &str) -> Option<String> {
        let config = &self.models.get(alias)?.config;
        let provider = serde_json::to_value(config.provider).ok()?;
        Some(format!("{}/{}", provider.as_str()?, config.model))
    }

    /// Warnings gathered so far, each once.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().expect("never poisoned"))
    }

    fn note(&self, note: String) {
        let mut notes = self.notes.lock().expect("never poisoned");
        if !notes.contains(&note) {
            notes.push(note);
        }
    }

    async fn one(&self, grants: &[String], request: ChatRequest) -> Result<ChatResponse, ModelError> {
        let Some(model) = self.models.get(&request.model) else {
            return Err(ModelError::Unknown(request.model));
        };
        let usage = |f: &dyn Fn(&mut ModelUsage)| f(&mut model.usage.lock().expect("never poisoned"));
        if !grants.contains(&request.model) {
            usage(&|u| u.denied += 1);
            return Err(ModelError::NotGranted(request.model));
        }
        if request.temperature.is_some_and(|t| t > 0.0) && request.seed.is_none() {
            self.note(format!(
                "model {}: requests with temperature > 0 and no seed are answered once, then from the cache: \
                 the cache makes them deterministic",
                request.model
            ));
        }
        let keyed = KeyedRequest::new(&model.config, &request);
        if let Some(cache) = self.policy.cache.as_ref().filter(|_| self.policy.mode != CacheMode::Off)
            && let Some(hit) = cache.get(&keyed)
        {
            usage(&|u| u.cache_hits += 1);
            return Ok(hit);
        }
        let outcome = if self.policy.replay { Err(ModelError::NotCached) } else { self.send(model, &request).await };
        match outcome {
            Ok(response) => {
                self.spend_tokens(model, response.usage.input_tokens + response.usage.output_tokens);
                let cost = model.config.price.map_or(0.0, |p| {
                    (response.usage.input_tokens as f64 * p.input_per_mtok
                        + response.usage.output_tokens as f64 * p.output_per_mtok)
                        / 1e6
                });
                usage(&|u| {
                    u.requests += 1;
                    u.input_tokens += response.usage.input_tokens;
                    u.output_tokens += response.usage.output_tokens;
                    u.cost += cost;
                });
                let mut spent = self.spent.lock().expect("never poisoned");
                spent.tokens += response.usage.input_tokens + response.usage.output_tokens;
                spent.cost += cost;
                drop(spent);
                if let Some(cache) = self.policy.cache.as_ref().filter(|_| self.policy.mode == CacheMode::Rw)
                    && let Err(error) = cache.put(&keyed, &response)
                {
                    self.note(format!("the model cache could not keep an answer: {error}"));
                }
                Ok(response)
            }
            Err(error) => {
                usage(&|u| u.failures += 1);
                Err(error)
            }
        }
    }

    /// Takes one request from the run's budget, or says which limit is reached.
    fn spend(&self, model: &Model, request: &ChatRequest) -> Result<(), ModelError> {
        let budget = self.policy.budget;
        let mut spent = self.spent.lock().expect("never poisoned");
        if let Some(max) = budget.max_requests.filter(|&max| spent.requests >= max) {
            return Err(ModelError::BudgetExhausted(format!("max_model_requests = {max} reached")));
        }
        let asked = u64::from(request.max_tokens.unwrap_or(0));
        if let Some(max) = budget.max_tokens.filter(|&max| spent.tokens + asked > max || spent.tokens >= max) {
            return Err(ModelError::BudgetExhausted(format!("max_model_tokens = {max} reached")));
        }
        let worst = model.config.price.map_or(0.0, |p| asked as f64 * p.output_per_mtok / 1e6);
        if let Some(max) = budget.max_cost.filter(|&max| spent.cost + worst > max || spent.cost >= max) {
            return Err(ModelError::BudgetExhausted(format!("max_cost = {max} reached")));
        }
        spent.requests += 1;
        Ok(())
    }

    /// Spends from the budget and sends one request, retrying 429s, 5xxs, timeouts and lost
    /// connections with exponential backoff and jitter, honouring `Retry-After`.
    async fn send(&self, model: &Model, request: &ChatRequest) -> Result<ChatResponse, ModelError> {
        let config = &model.config;
        let outgoing =
            provider::request_body(config, request).map_err(|message| ModelError::Provider { status: 0, message })?;
        let body = serde_json::to_vec(&outgoing.body).expect("JSON values serialize");
        let mut retries = 0;
        loop {
            let attempt = {
                let _permit = model.permits.acquire().await.expect("the semaphore is never closed");
                // Spent once a request may start, so the spending of the
                // requests before it is known: the budget is passed by at
                // most the requests in flight at once.
                if retries == 0 {
                    self.spend(model, request)?;
                }
                self.rate_slot(model).await;
                let started = Instant::now();
                let attempt = self.attempt(model, &outgoing.url, &outgoing.headers, &body).await;
                (attempt, started.elapsed())
            };
            let (after, error) = match attempt {
                (Attempt::Answer(mut response), took) => {
                    response.latency_ms = Some(took.as_secs_f64() * 1000.0);
                    return Ok(response);
                }
                (Attempt::Fatal(error), _) => return Err(error),
                (Attempt::Retry { error, after }, _) => (after, error),
            };
            if retries >= config.max_retries {
                return Err(error);
            }
            retries += 1;
            model.usage.lock().expect("never poisoned").retries += 1;
            tokio::time::sleep(backoff(retries, after)).await;
        }
    }

    /// Waits for this model's next start under `requests_per_minute` and
    /// `tokens_per_minute`.
    async fn rate_slot(&self, model: &Model) {
        if let Some(rpm) = model.config.requests_per_minute.filter(|&r| r > 0) {
            let interval = Duration::from_secs(60) / rpm;
            let start = {
                let mut next = model.next_start.lock().expect("never poisoned");
                let start = (*next).max(Instant::now());
                *next = start + interval;
                start
            };
            tokio::time::sleep_until(start.into()).await;
        }
        if model.config.tokens_per_minute.is_some_and(|t| t > 0) {
            let start = *model.next_token_start.lock().expect("never poisoned");
            tokio::time::sleep_until(start.into()).await;
        }
    }

    /// Under `tokens_per_minute`, an answer that used `tokens` delays the
    /// model's next start by the time those tokens are worth: the tokens
    /// are known only once the provider counted them, so the limit holds on
    /// average, paid after the fact, as providers' own token buckets do.
    fn spend_tokens(&self, model: &Model, tokens: u64) {
        let Some(tpm) = model.config.tokens_per_minute.filter(|&t| t > 0) else { return };
        let worth = Duration::from_secs(60).mul_f64(tokens as f64 / tpm as f64);
        let mut next = model.next_token_start.lock().expect("never poisoned");
        *next = (*next).max(Instant::now()) + worth;
    }

    async fn attempt(&self, model: &Model, url: &str, headers: &[(&'static str, String)], body: &[u8]) -> Attempt {
        let config = &model.config;
        let mut http = self
            .http
            .post(url)
            .timeout(Duration::from_millis(config.timeout_ms))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            http = http.header(*name, value);
        }
        if let Some(key) = &model.key {
            http = match config.provider {
                ProviderKind::Openai => http.bearer_auth(key),
                ProviderKind::Anthropic => http.header("x-api-key", key),
            };
        }
        let timed_out = ModelError::TimedOut(config.timeout_ms);
        let lost = |e: reqwest::Error| {
            if e.is_timeout() {
                Attempt::Retry { error: ModelError::TimedOut(config.timeout_ms), after: None }
            } else {
                let message = redact(&format!("cannot reach {}: {}", config.base_url, innermost(&e)), &model.key);
                Attempt::Retry { error: ModelError::Provider { status: 0, message }, after: None }
            }
        };
        let response = match http.send().await {
            Ok(response) => response,
            Err(e) => return lost(e),
        };
        let status = response.status().as_u16();
        let after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(e) if e.is_timeout() => return Attempt::Retry { error: timed_out, after: None },
            Err(e) => return lost(e),
        };
        let provider_error = |status| ModelError::Provider {
            status,
            message: redact(&clip(&provider::error_message(&bytes), 1024), &model.key),
        };
        match status {
            200..=299 => match provider::parse_response(config.provider, &bytes) {
                Ok(response) => Attempt::Answer(response),
                Err(message) => Attempt::Fatal(ModelError::Provider { status, message: redact(&message, &model.key) }),
            },
            429 => Attempt::Retry { error: ModelError::RateLimited(config.max_retries), after },
            500..=599 => Attempt::Retry { error: provider_error(status), after },
            _ => Attempt::Fatal(provider_error(status)),
        }
    }
}

enum Attempt {
    Answer(ChatResponse),
    Fatal(ModelError),
    Retry { error: ModelError, after: Option<Duration> },
}

/// The wait before retry number `retry` (from 1): what the provider asked
/// for, else 250 ms doubled per retry, with up to half of it taken off at
/// random so that workers do not retry in step.
fn backoff(retry: u32, after: Option<Duration>) -> Duration {
    if let Some(after) = after {
        return after.min(MAX_BACKOFF);
    }
    let base = FIRST_BACKOFF.saturating_mul(1 << retry.saturating_sub(1).min(16)).min(MAX_BACKOFF);
    // A random number without a generator: RandomState is seeded per process.
    let random = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), retry);
    base.mul_f64(1.0 - (random % 1000) as f64 / 2000.0)
}

/// `text` without the API key in it, should a provider have echoed it.
fn redact(text: &str, key: &Option<String>) -> String {
    match key {
        Some(key) if key.len() >= 4 => text.replace(key.as_str(), "[redacted]"),
        _ => text.to_string(),
    }
}

fn clip(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        reason = inner.to_string();
        source = inner.source();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        for retry in 1..=4 {
            let base = FIRST_BACKOFF * (1 << (retry - 1));
            let wait = backoff(retry, None);
            assert!(wait <= base && wait >= base / 2, "retry {retry}: {wait:?}");
        }
        assert_eq!(backoff(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(backoff(1, Some(Duration::from_secs(3600))), MAX_BACKOFF);
        assert!(backoff(40, None) <= MAX_BACKOFF);
    }

    #[test]
    fn a_key_echoed_by_a_provider_is_redacted() {
        let key = Some("sk-secret-123".to_string());
        assert_eq!(redact("Incorrect API key: sk-secret-123", &key), "Incorrect API key: [redacted]");
    }
}
