//! Live plugin instances, one type per plugin kind, and the checks every
//! answer passes before the host believes it.
//!
//! Each call runs under the plugin's limits (fuel, deadline, memory), and
//! every way it can end becomes a [`Failure`]. An answer that breaks the
//! contract (the wrong number of results, a value that is not finite, more
//! text than the plugin may return) is an `invalid-output` failure, checked
//! here once for every caller. Evaluators and guards are separate types, so
//! a guard call on an evaluator cannot be written.

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use wasmtime::Store;

use crate::bounds;
use crate::contract::{Decision, Feedback, Sample, Scope, Scores, Statistic, Verdict, since_v0_1};
use crate::engine::{Sandbox, deadline_ticks};
use crate::failure::{Failure, classify};
use crate::host::{Host, LoadedPlugin};
use crate::limits::Limits;
use crate::models::ModelAccess;
use crate::plugin::{Info, Kind, MetricInfo, MetricLevel, Plugin, Pre};
use crate::wasi::{Determinism, Grant, StoreState, new_store};

/// Fuel granted to instantiation and `configure`, which run once per
/// instance: enough for a Python interpreter to start.
const SETUP_FUEL: u64 = 50_000_000_000;

/// A plugin's answer for one record: its value, or its own message.
pub type PerRecord<T> = Vec<Result<T, String>>;

/// A runtime for driving plugin calls from a worker thread. Calls are async
/// only so that a deadline can interrupt a plugin blocked in a host call.
pub fn call_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("building a tokio runtime")
}

/// What both kinds of instance have: a store under the plugin's limits.
struct Session {
    store: Store<StoreState>,
    limits: Limits,
}

impl Session {
    async fn new<T>(
        pre: impl AsyncFnOnce(&mut Store<StoreState>) -> wasmtime::Result<T>,
        sandbox: &Sandbox,
        limits: &Limits,
        determinism: &Determinism,
        grants: &[Grant],
        models: Option<ModelAccess>,
    ) -> Result<(Session, T), Failure> {
        let store = new_store(sandbox.engine(), limits, determinism, grants, models)?;
        let mut session = Session { store, limits: *limits };
        let bindings = session.call(SETUP_FUEL, 0, pre).await?;
        Ok((session, bindings))
    }

    /// Runs one guest call under the plugin's limits and types its failure.
    async fn call<R>(
        &mut self,
        fuel: u64,
        call_seed: u64,
        call: impl AsyncFnOnce(&mut Store<StoreState>) -> wasmtime::Result<R>,
    ) -> Result<R, Failure> {
        let limits = self.limits;
        let store = &mut self.store;
        store.data_mut().reset_call(call_seed);
        store.set_fuel(fuel).expect("fuel is enabled");
        store.set_epoch_deadline(deadline_ticks(limits.timeout_ms));
        // The epoch deadline stops wasm code; this timer also stops a plugin
        // parked in a host call. It fires a little later so that the epoch, which
        // says exactly what happened, normally wins. Time spent waiting for a
        // model is given back to both: the model's own timeouts and the run's
        // budget bound it.
        let wait = store.data().model_wait.clone();
        let grace = Duration::from_millis(limits.timeout_ms + 50);
        let outcome = {
            let mut call = std::pin::pin!(call(&mut *store));
            let mut timer = std::pin::pin!(tokio::time::sleep(grace));
            let mut credited = 0;
            std::future::poll_fn(|cx| {
                if let Poll::Ready(result) = call.as_mut().poll(cx) {
                    return Poll::Ready(Some(result));
                }
                while timer.as_mut().poll(cx).is_ready() {
                    let waited = wait.waited_ms();
                    let more = if wait.waiting() {
                        grace
                    } else if waited > credited {
                        let more = Duration::from_millis(waited - credited);
                        credited = waited;
                        more
                    } else {
                        return Poll::Ready(None);
                    };
                    let next = timer.deadline() + more;
                    timer.as_mut().reset(next);
                }
                Poll::Pending
            })
            .await
        };
        match outcome {
            None => Err(Failure::Timeout(limits.timeout_ms)),
            Some(Err(error)) => Err(classify(&error, store.data(), &limits, fuel)),
            Some(Ok(value)) => Ok(value),
        }
    }

    /// Fuel the last call used, given the budget it had.
    fn fuel_used(&self, budget: u64) -> u64 {
        budget.saturating_sub(self.store.get_fuel().unwrap_or(0))
    }

    /// Fails when a call's answers hold more text than the plugin may
    /// return (`limits.max_output_bytes`); `done` says what they did.
    fn within_output_bytes(&self, text_bytes: usize, done: &str) -> Result<(), Failure> {
        let limit = self.limits.max_output_bytes;
        if text_bytes as u64 > limit {
            return Err(Failure::InvalidOutput(format!(
                "{done} {text_bytes} bytes of text for one batch, over the {limit} byte limit (limits.max_output_bytes)"
            )));
        }
        Ok(())
    }

    /// Checks a batch's answers against the contract: one per record, and no
    /// more text in all than the plugin may return. Each answer then passes
    /// `check`; a plugin's own error becomes a `plugin-error` failure.
    fn check_batch<T>(
        &self,
        results: PerRecord<T>,
        batch: usize,
        what: &str,
        text_len: impl Fn(&T) -> usize,
        check: impl Fn(T) -> Result<T, Failure>,
    ) -> Result<Vec<Result<T, Failure>>, Failure> {
        if results.len() != batch {
            return Err(Failure::InvalidOutput(format!("returned {} {what} for a batch of {batch}", results.len())));
        }
        let text_bytes: usize = results.iter().map(|r| r.as_ref().map_or_else(String::len, &text_len)).sum();
        self.within_output_bytes(text_bytes, "returned")?;
        Ok(results
            .into_iter()
            .map(|result| check(result.map_err(|message| bounds::plugin_error(message, ""))?))
            .collect())
    }
}

/// What either kind of instance does.
pub trait Instance: Sized {
    /// Instantiates `plugin` in a fresh store that can read the `grants`
    /// directories and ask the models `models` gives, not yet configured.
    fn new(
        plugin: &Plugin,
        sandbox: &Sandbox,
        limits: &Limits,
        determinism: &Determinism,
        grants: &[Grant],
        models: Option<ModelAccess>,
    ) -> impl Future<Output = Result<Self, Failure>>;

    /// Passes the configuration (JSON text); returns the effective settings.
    fn configure(&mut self, config: &str) -> impl Future<Output = Result<Vec<(String, String)>, Failure>>;

    /// Fuel the last call used, given the budget it had.
    fn fuel_used(&self, budget: u64) -> u64;

    /// Takes what the plugin printed since the last take. A call's failure
    /// quotes what was printed since the last take, so taking after every
    /// call keeps each failure's quote to its own call.
    fn take_log(&mut self) -> String;

    /// Hands what the plugin printed since the last take to the host's log.
    fn forward_log(&mut self, host: &Host, plugin: &str) {
        let text = self.take_log();
        host.log(plugin, &text);
    }

    /// A fresh instance of `loaded`, configured as the run configured it.
    fn instantiate(
        loaded: &LoadedPlugin,
        host: &Host,
        determinism: &Determinism,
    ) -> impl Future<Output = Result<Self, Failure>> {
        async move {
            let models = host.model_access(&loaded.models);
            let mut instance =
                Self::new(&loaded.plugin, host.sandbox(), &loaded.limits, determinism, &loaded.grants, models).await?;
            let configured = instance.configure(&loaded.config_json).await;
            instance.forward_log(host, &loaded.name);
            configured?;
            Ok(instance)
        }
    }
}

/// Implements [`Instance`] for the instance type of one plugin kind: the
/// worlds' generated bindings differ in type, not in how they are driven.
macro_rules! impl_instance {
    (
        $instance:ident, $kind:ident, $api:ident, $bindings:ty,
        |$plugin:ident, $store:ident, $component:ident| { $($field:ident: $value:expr),* }
    ) => {
        impl Instance for $instance {
            async fn new(
                plugin: &Plugin,
                sandbox: &Sandbox,
                limits: &Limits,
                determinism: &Determinism,
                grants: &[Grant],
                models: Option<ModelAccess>,
            ) -> Result<Self, Failure> {
                let Pre::$kind(pre) = &plugin.pre else { return Err(wrong_kind(plugin, Kind::$kind)) };
                let $plugin = plugin;
                // Instantiated by hand rather than through the world's `Pre`,
                // so that bindings of other exports (a guard's recalls) can be
                // loaded on the same instance.
                let instantiate = async |$store: &mut Store<StoreState>| {
                    let $component = pre.instance_pre().instantiate_async(&mut *$store).await?;
                    let bindings = <$bindings>::new(&mut *$store, &$component)?;
                    $(let $field = $value;)*
                    Ok((bindings, ($($field,)*)))
                };
                let (session, (bindings, ($($field,)*))) =
                    Session::new(instantiate, sandbox, limits, determinism, grants, models).await?;
                Ok($instance { session, bindings, $($field),* })
            }

            async fn configure(&mut self, config: &str) -> Result<Vec<(String, String)>, Failure> {
                let api = self.bindings.$api();
                let result = self.session.call(SETUP_FUEL, 0, async |s| api.call_configure(s, config).await).await?;
                let settings: Vec<(String, String)> = result
                    .map_err(|message| bounds::plugin_error(message, "rejected its configuration"))?
                    .into_iter()
                    .map(|s| (s.key, s.value))
                    .collect();
                bounds::check_settings(&settings)?;
                Ok(settings)
            }

            fn take_log(&mut self) -> String {
                self.session.store.data_mut().take_log()
            }

            fn fuel_used(&self, budget: u64) -> u64 {
                self.session.fuel_used(budget)
            }
        }
    };
}

/// A live evaluator.
pub struct EvaluatorInstance {
    session: Session,
    bindings: since_v0_1::evaluator::EvaluatorPlugin,
    metrics: Arc<[MetricInfo]>,
}

impl_instance!(
    EvaluatorInstance,
    Evaluator,
    assay_plugin_evaluator,
    since_v0_1::evaluator::EvaluatorPlugin,
    |plugin, _store, _component| { metrics: plugin.metrics.clone() }
);

impl EvaluatorInstance {
    pub(crate) async fn describe(&mut self) -> Result<(Info, Vec<MetricInfo>), Failure> {
        let api = self.bindings.assay_plugin_evaluator();
        let (info, metrics) = self
            .session
            .call(SETUP_FUEL, 0, async |s| {
                let info = api.call_describe(&mut *s).await?;
                let metrics = api.call_metrics(&mut *s).await?;
                Ok((info, metrics))
            })
            .await?;
        let metrics = metrics
            .into_iter()
            .map(|m| MetricInfo {
                name: m.name,
                description: m.description,
                higher_is_better: m.higher_is_better,
                level: m.level.into(),
            })
            .collect();
        Ok((Info { name: info.name, version: info.version, description: info.description }, metrics))
    }

    /// Scores a batch of samples, each answer checked against the contract.
    /// `call_seed` must depend only on the batch's position in the input,
    /// never on which worker runs it.
    pub async fn score(&mut self, batch: &[Sample], call_seed: u64) -> Result<Vec<Result<Scores, Failure>>, Failure> {
        let api = self.bindings.assay_plugin_evaluator();
        let fuel = self.session.limits.call_fuel(batch.len());
        let results = self.session.call(fuel, call_seed, async |s| api.call_score(s, batch).await).await?;
        let metrics = self.metrics.iter().filter(|m| m.level == MetricLevel::Sample).count();
        let statistics_text = |scores: &Scores| scores.statistics.iter().map(|s| s.name.len()).sum();
        let results = self.session.check_batch(results, batch.len(), "results", statistics_text, |scores| {
            if scores.values.len() != metrics {
                return Err(Failure::InvalidOutput(format!(
                    "returned {} values, but declares {metrics} sample metrics",
                    scores.values.len()
                )));
            }
            if let Some(bad) = scores.values.iter().find(|v| !v.is_finite()) {
                return Err(Failure::InvalidOutput(format!("returned the value {bad}; scores must be finite")));
            }
            if let Some(bad) = scores.statistics.iter().find(|s| !s.value.is_finite()) {
                return Err(Failure::InvalidOutput(format!(
                    "returned {} for statistic {:?}; statistics must be finite",
                    bad.value, bad.name
                )));
            }
            Ok(scores)
        })?;
        let names = results.iter().flatten().flat_map(|scores| scores.statistics.iter().map(|s| s.name.as_str()));
        bounds::check_statistic_names(names)?;
        Ok(results)
    }

    /// Corpus-level metrics from summed statistics, each a declared corpus
    /// metric (or family member), finite, and given once.
    pub async fn finalize(&mut self, statistics: &[Statistic]) -> Result<Vec<(String, f64)>, Failure> {
        let api = self.bindings.assay_plugin_evaluator();
        let result = self.session.call(SETUP_FUEL, 0, async |s| api.call_finalize(s, statistics).await).await?;
        let values: Vec<(String, f64)> = result
            .map_err(|message| bounds::plugin_error(message, ""))?
            .into_iter()
            .map(|c| (c.name, c.value))
            .collect();
        bounds::check_corpus_values(&values)?;
        let mut seen = std::collections::BTreeSet::new();
        for (name, value) in &values {
            let declared = self.metrics.iter().any(|m| m.level == MetricLevel::Corpus && m.matches(name));
            if !declared {
                return Err(Failure::InvalidOutput(format!(
                    "`finalize` returned {name:?}, which is not a declared corpus metric"
                )));
            }
            if !value.is_finite() {
                return Err(Failure::InvalidOutput(format!("`finalize` returned {value} for {name:?}")));
            }
            if !seen.insert(name.as_str()) {
                return Err(Failure::InvalidOutput(format!("`finalize` returned {name:?} twice")));
            }
        }
        Ok(values)
    }
}

/// A live feedback guard.
pub struct GuardInstance {
    session: Session,
    bindings: since_v0_1::guard::GuardPlugin,
    /// Its `guard-recall` export, when it has one (since contract 0.1.3).
    recall: Option<since_v0_1::recall::GuardRecall>,
    /// Its `guard-state` export, when it has one (since contract 0.1.4).
    state: Option<since_v0_1::state::GuardState>,
}

impl_instance!(
    GuardInstance,
    Guard,
    assay_plugin_guard,
    since_v0_1::guard::GuardPlugin,
    |plugin, store, component| {
        recall: match plugin.recalls {
            true => Some(since_v0_1::recall::GuardRecall::new(&mut *store, &component)?),
            false => None,
        },
        state: match plugin.saves {
            true => Some(since_v0_1::state::GuardState::new(&mut *store, &component)?),
            false => None,
        }
    }
);

/// A decision a guard takes back: the record's id as the guard was given
/// it, and a verdict the host applies only if it is tighter than the one
/// the guard gave that record.
#[derive(Debug, Clone, PartialEq)]
pub struct Recall {
    pub id: String,
    pub verdict: Verdict,
    pub reason: String,
}

/// What a guard answered for a batch.
#[derive(Debug)]
pub struct Screened {
    /// One per record, in order.
    pub decisions: Vec<Result<Decision, Failure>>,
    /// What it took back after the batch, in the order it gave them.
    pub recalls: Vec<Recall>,
}

impl GuardInstance {
    pub(crate) async fn describe(&mut self) -> Result<Info, Failure> {
        let api = self.bindings.assay_plugin_guard();
        let info = self.session.call(SETUP_FUEL, 0, async |s| api.call_describe(s).await).await?;
        Ok(Info { name: info.name, version: info.version, description: info.description })
    }

    /// Screens a batch of feedback records, each decision checked against
    /// the contract. A guard that recalls is asked for its recalls in the
    /// same call, under the same limits: if asking fails, the batch fails.
    pub async fn screen(&mut self, batch: &[Feedback], call_seed: u64) -> Result<Screened, Failure> {
        let api = self.bindings.assay_plugin_guard();
        let recall = self.recall.as_ref().map(|r| r.assay_plugin_guard_recall());
        let fuel = self.session.limits.call_fuel(batch.len());
        let (results, recalls) = self
            .session
            .call(fuel, call_seed, async |s| {
                let results = api.call_screen(&mut *s, batch).await?;
                let recalls = match recall {
                    Some(api) => api.call_recalls(&mut *s).await?,
                    None => Vec::new(),
                };
                Ok((results, recalls))
            })
            .await?;
        let decisions = self.session.check_batch(
            results,
            batch.len(),
            "decisions",
            |d: &Decision| d.reason.len(),
            check_decision,
        )?;
        let recalled_bytes = recalls.iter().map(|r| r.id.len() + r.reason.len()).sum();
        self.session.within_output_bytes(recalled_bytes, &format!("recalled {} records with", recalls.len()))?;
        let recalls = check_recalls(recalls)?;
        Ok(Screened { decisions, recalls })
    }
}

/// Why a guard's state could not be saved or restored.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// It does not export `guard-state` (contract 0.1.4).
    #[error("it does not save its state (it does not export guard-state, contract 0.1.4)")]
    NotExported,
    /// It exports it, and answered with an error.
    #[error("{0}")]
    Refused(String),
    /// The call failed: a trap, a limit.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl GuardInstance {
    /// The guard's state, as bytes only it reads (`guard-state.save`),
    /// under the limits of a setup call.
    pub async fn save(&mut self) -> Result<Vec<u8>, StateError> {
        let api = self.state.as_ref().ok_or(StateError::NotExported)?.assay_plugin_guard_state();
        let saved = self.session.call(SETUP_FUEL, 0, async |s| api.call_save(s).await).await?;
        saved.map_err(StateError::Refused)
    }

    /// Continues from `state`, which `save` returned on an instance of the
    /// same guard configured the same way (`guard-state.restore`).
    pub async fn restore(&mut self, state: &[u8]) -> Result<(), StateError> {
        let api = self.state.as_ref().ok_or(StateError::NotExported)?.assay_plugin_guard_state();
        let restored = self.session.call(SETUP_FUEL, 0, async |s| api.call_restore(s, state).await).await?;
        restored.map_err(StateError::Refused)
    }
}

/// Asks a guard that exports `guard-scope` (contract 0.1.2) what its
/// decisions depend on, on a throwaway instance that is never configured.
pub(crate) async fn guard_scope(
    pre: &since_v0_1::scope::GuardScopePre<StoreState>,
    sandbox: &Sandbox,
    limits: &Limits,
    grants: &[Grant],
) -> Result<Scope, Failure> {
    let instantiate = async |s: &mut Store<StoreState>| pre.instantiate_async(s).await;
    let (mut session, bindings) =
        Session::new(instantiate, sandbox, limits, &Determinism::default(), grants, None).await?;
    let api = bindings.assay_plugin_guard_scope();
    session.call(SETUP_FUEL, 0, async |s| api.call_decision_scope(s).await).await
}

/// Checks each of a guard's recalls against the contract: its reason within
/// bounds. Whether each one tightens a decision is for the caller, who
/// knows the decisions.
fn check_recalls(recalls: Vec<since_v0_1::recall::Recall>) -> Result<Vec<Recall>, Failure> {
    recalls
        .into_iter()
        .map(|r| {
            bounds::message_within_bounds(&r.reason, "a recall's reason")?;
            Ok(Recall { id: r.id, verdict: r.verdict.into(), reason: r.reason })
        })
        .collect()
}

fn check_decision(decision: Decision) -> Result<Decision, Failure> {
    bounds::message_within_bounds(&decision.reason, "a reason")?;
    match decision.risk {
        Some(risk) if !(0.0..=1.0).contains(&risk) => {
            Err(Failure::InvalidOutput(format!("returned the risk {risk}; a risk is in [0, 1]")))
        }
        _ => Ok(decision),
    }
}

fn wrong_kind(plugin: &Plugin, expected: Kind) -> Failure {
    Failure::PluginError(format!(
        "{} is {} plugin, not {}",
        plugin.origin,
        plugin.kind.with_article(),
        expected.with_article()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risks_are_checked_against_the_contract() {
        let decision = |risk| Decision { verdict: Verdict::Accept, reason: String::new(), risk };
        assert!(check_decision(decision(Some(1.0))).is_ok());
        assert!(check_decision(decision(None)).is_ok());
        assert_eq!(check_decision(decision(Some(f64::NAN))).unwrap_err().kind(), "invalid-output");
        assert_eq!(check_decision(decision(Some(-0.1))).unwrap_err().kind(), "invalid-output");
        let wordy = Decision { reason: "r".repeat(bounds::MAX_MESSAGE_BYTES + 1), ..decision(None) };
        assert!(check_decision(wordy).unwrap_err().to_string().contains("a reason of 4097 bytes"));
    }
}
