//! The contract's `model` interface on the host's side: a plugin's requests
//! go to a [`ModelBroker`] with the aliases this instance was granted, and
//! the time spent waiting is kept off the plugin's call deadline.
//!
//! The broker itself (providers, keys, budget, cache) lives outside the
//! sandbox crate; this module only decides who may ask and keeps the clock.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crate::contract::since_v0_1::model::{Error, Request, Response};
use crate::wasi::StoreState;

/// The answers to a batch of model requests, one per request, in order.
pub type Answers = Vec<Result<Response, Error>>;

/// Answers plugins' model requests. `grants` are the aliases the asking
/// plugin instance may use; one result per request, in order.
pub trait ModelBroker: Send + Sync {
    fn complete<'a>(
        &'a self,
        grants: &'a [String],
        requests: Vec<Request>,
    ) -> Pin<Box<dyn Future<Output = Answers> + Send + 'a>>;

    /// What each model alias was used for so far.
    fn usage(&self) -> BTreeMap<String, ModelUsage>;

    /// What `alias` stands for, as signatures name it (`provider:model`);
    /// `None` for an alias that is not configured.
    fn identity(&self, alias: &str) -> Option<String>;
}

/// What one model was used for in a run: written per model in `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelUsage {
    /// Requests sent to the provider (retries not counted again).
    pub requests: u64,
    /// Requests answered from the cache, at no cost.
    pub cache_hits: u64,
    pub retries: u64,
    /// Requests that got no answer (after retries, over budget, not cached
    /// in a replay).
    pub failures: u64,
    /// Requests from plugins this model was not granted to.
    pub denied: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// From `price`, when given.
    pub cost: f64,
}

impl ModelUsage {
    /// Adds `other`'s counts: the usage of two parts of one run.
    pub fn add(&mut self, other: &ModelUsage) {
        self.requests += other.requests;
        self.cache_hits += other.cache_hits;
        self.retries += other.retries;
        self.failures += other.failures;
        self.denied += other.denied;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost += other.cost;
    }
}

/// What one plugin instance may ask, and of whom.
#[derive(Clone)]
pub struct ModelAccess {
    pub broker: Arc<dyn ModelBroker>,
    /// The aliases of `[plugins.NAME] models = [...]`.
    pub grants: Arc<[String]>,
}

/// Time an instance spent waiting for models during its current call: it
/// counts against neither the fuel nor the deadline of the call.
#[derive(Debug, Default)]
pub struct ModelWait {
    waiting: AtomicBool,
    waited_ms: AtomicU64,
    /// Of `waited_ms`, what the engine's deadline has already been extended by.
    credited_ms: AtomicU64,
}

impl ModelWait {
    pub(crate) fn reset(&self) {
        self.waited_ms.store(0, Ordering::SeqCst);
        self.credited_ms.store(0, Ordering::SeqCst);
    }

    /// Whether a model request is in flight now.
    pub(crate) fn waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Milliseconds waited in this call so far.
    pub(crate) fn waited_ms(&self) -> u64 {
        self.waited_ms.load(Ordering::SeqCst)
    }

    /// Waiting not yet added to the engine's deadline, now added.
    pub(crate) fn take_uncredited_ms(&self) -> u64 {
        let waited = self.waited_ms();
        waited.saturating_sub(self.credited_ms.swap(waited, Ordering::SeqCst))
    }
}

/// What a plugin without a grant gets for each request.
fn not_granted(requests: &[Request]) -> Vec<Result<Response, Error>> {
    requests.iter().map(|r| Err(Error::NotGranted(r.model.clone()))).collect()
}

impl crate::contract::since_v0_1::model::assay::plugin::model::Host for StoreState {
    async fn complete(&mut self, requests: Vec<Request>) -> Vec<Result<Response, Error>> {
        let Some(access) = self.models.clone() else { return not_granted(&requests) };
        let wait = self.model_wait.clone();
        wait.waiting.store(true, Ordering::SeqCst);
        let started = Instant::now();
        let answers = access.broker.complete(&access.grants, requests).await;
        let waited = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        wait.waited_ms.fetch_add(waited, Ordering::SeqCst);
        wait.waiting.store(false, Ordering::SeqCst);
        answers
    }
}
