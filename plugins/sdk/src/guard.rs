//! Feedback guards: screen feedback records in input order, keeping state,
//! or declaring that they keep none ([`Guard::scope`]) so that a run may be
//! split across instances and machines; a guard that keeps state may take
//! back decisions on earlier records once later ones show what they were
//! ([`Guard::recalls`]).

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        // Every guard exports `guard-scope` and `guard-recall`; one that does
        // not override `Guard::scope` answers `run`, as a guard without it is
        // taken to, and one that does not override `Guard::recalls` recalls
        // nothing.
        world: "recalling-guard-plugin",
        pub_export_macro: true,
        export_macro_name: "__export_guard_bindings",
        default_bindings_module: "assay_sdk::guard::bindings",
        // One `PluginInfo` and `Setting` type for both plugin kinds.
        with: { "assay:plugin/types@0.1.3": crate::evaluator::bindings::assay::plugin::types },
    });
}

pub use bindings::exports::assay::plugin::guard::{Decision, Feedback, Instant, Rating, Verdict};
pub use bindings::exports::assay::plugin::guard_recall::Recall;
pub use bindings::exports::assay::plugin::guard_scope::Scope;

use crate::{PluginInfo, Setting};

/// A feedback guard: implement this and call [`export_guard!`](crate::export_guard).
///
/// One instance sees every record of a run in input order, so `screen` may
/// keep state in `self`.
pub trait Guard: Sized + 'static {
    /// The configuration, deserialized from the JSON the host passes.
    type Config: serde::de::DeserializeOwned;

    /// Who this guard is; see [`plugin_info!`](crate::plugin_info).
    fn describe() -> PluginInfo;

    /// Build a configured guard, or say what is wrong with the configuration.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// The settings that change the decisions, recorded in the summary.
    fn settings(&self) -> Vec<Setting> {
        Vec::new()
    }

    /// What a decision depends on: [`Scope::Run`] (the default) when
    /// `screen` uses what earlier records left in `self`, [`Scope::Record`]
    /// when it never does. Only `Record` guards may run sharded (`assay
    /// guard --shard`); the host refuses the others, since each shard's
    /// instance would see only its part of the feedback.
    fn scope() -> Scope {
        Scope::Run
    }

    /// Decide on one record.
    fn screen(&mut self, record: &Feedback) -> Result<Decision, String>;

    /// Decisions on earlier records to take back, asked after each batch
    /// of `screen` calls: return each at most once. The host applies a
    /// recall only if it tightens this guard's decision on the record
    /// (accept to quarantine or reject, quarantine to reject), so a guard
    /// may recall a record it is unsure it held. The default recalls
    /// nothing.
    fn recalls(&mut self) -> Vec<Recall> {
        Vec::new()
    }
}

impl Recall {
    /// Holds the record `id` for review after all.
    pub fn quarantine(id: impl Into<String>, reason: impl Into<String>) -> Self {
        Recall { id: id.into(), verdict: Verdict::Quarantine, reason: reason.into() }
    }

    /// Rejects the record `id` after all.
    pub fn reject(id: impl Into<String>, reason: impl Into<String>) -> Self {
        Recall { id: id.into(), verdict: Verdict::Reject, reason: reason.into() }
    }
}

impl Decision {
    pub fn accept() -> Self {
        Decision { verdict: Verdict::Accept, reason: String::new(), risk: None }
    }

    pub fn quarantine(reason: impl Into<String>) -> Self {
        Decision { verdict: Verdict::Quarantine, reason: reason.into(), risk: None }
    }

    pub fn reject(reason: impl Into<String>) -> Self {
        Decision { verdict: Verdict::Reject, reason: reason.into(), risk: None }
    }

    /// Attaches a risk score in [0, 1].
    pub fn with_risk(mut self, risk: f64) -> Self {
        self.risk = Some(risk);
        self
    }
}

#[doc(hidden)]
pub use crate::State;

#[doc(hidden)]
pub fn configure<T: Guard>(state: &'static State<T>, config: String) -> Result<Vec<Setting>, String> {
    crate::configure(state, &config, T::new, T::settings)
}

#[doc(hidden)]
pub fn recalls<T: Guard>(state: &'static State<T>) -> Vec<Recall> {
    state.with(|cell| cell.borrow_mut().as_mut().map(Guard::recalls).unwrap_or_default())
}

#[doc(hidden)]
pub fn screen<T: Guard>(state: &'static State<T>, batch: Vec<Feedback>) -> Vec<Result<Decision, String>> {
    state.with(|cell| match cell.borrow_mut().as_mut() {
        Some(guard) => batch.iter().map(|record| guard.screen(record)).collect(),
        None => batch.iter().map(|_| Err("the host called the guard before `configure`".to_string())).collect(),
    })
}

/// Exports a type implementing [`Guard`] as the component's guard.
#[macro_export]
macro_rules! export_guard {
    ($ty:ty) => {
        const _: () = {
            use $crate::guard::bindings::exports::assay::plugin::guard as wit;
            use $crate::guard::bindings::exports::assay::plugin::guard_recall as wit_recall;
            use $crate::guard::bindings::exports::assay::plugin::guard_scope as wit_scope;
            ::std::thread_local! {
                static STATE: ::std::cell::RefCell<::std::option::Option<$ty>> =
                    const { ::std::cell::RefCell::new(None) };
            }
            struct Export;
            impl wit::Guest for Export {
                fn describe() -> $crate::PluginInfo {
                    <$ty as $crate::guard::Guard>::describe()
                }
                fn configure(
                    config: ::std::string::String,
                ) -> ::std::result::Result<::std::vec::Vec<$crate::Setting>, ::std::string::String> {
                    $crate::guard::configure(&STATE, config)
                }
                fn screen(
                    batch: ::std::vec::Vec<wit::Feedback>,
                ) -> ::std::vec::Vec<::std::result::Result<wit::Decision, ::std::string::String>> {
                    $crate::guard::screen(&STATE, batch)
                }
            }
            impl wit_scope::Guest for Export {
                fn decision_scope() -> wit_scope::Scope {
                    <$ty as $crate::guard::Guard>::scope()
                }
            }
            impl wit_recall::Guest for Export {
                fn recalls() -> ::std::vec::Vec<wit_recall::Recall> {
                    $crate::guard::recalls(&STATE)
                }
            }
            // Native builds (unit tests of a plugin's logic) must not carry
            // the component export symbols: their names do not link there.
            #[cfg(target_arch = "wasm32")]
    $crate::guard::bindings::__export_guard_bindings!(Export with_types_in $crate::guard::bindings);
        };
    };
}
