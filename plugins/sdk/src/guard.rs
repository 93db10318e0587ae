//! Feedback guards: screen feedback records in input order, keeping state,
//! or declaring that they keep none ([`Guard::scope`]) so that a run may be
//! split across instances and machines; a guard that keeps state may take
//! back decisions on earlier records once later ones show what they were
//! ([`Guard::recalls`]), and save that state for a service to restore
//! instead of screening its whole log again ([`Guard::save`]).

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        // Every guard exports `guard-scope`, `guard-recall` and
        // `guard-state`; one that does not override `Guard::scope` answers
        // `run`, as a guard without it is taken to, one that does not
        // override `Guard::recalls` recalls nothing, and one that keeps
        // state without overriding `Guard::save` says it cannot save.
        world: "saving-guard-plugin",
        pub_export_macro: true,
        export_macro_name: "__export_guard_bindings",
        default_bindings_module: "assay_sdk::guard::bindings",
        // One `PluginInfo` and `Setting` type for both plugin kinds.
        with: { "assay:plugin/types@0.1.4": crate::evaluator::bindings::assay::plugin::types },
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

    /// Everything `screen` and `recalls` depend on beyond the
    /// configuration, for `assay serve` to keep beside its log, so that a
    /// restart restores it ([`Guard::restore`]) instead of screening the
    /// whole log again, and old parts of the log may be deleted. [`saved`]
    /// and [`restored`] do the encoding for a state that derives serde's
    /// traits. The default saves nothing for a guard of [`Scope::Record`],
    /// which keeps nothing, and says that a guard of [`Scope::Run`] cannot
    /// save: the service then keeps its whole log.
    fn save(&self) -> Result<Vec<u8>, String> {
        match Self::scope() {
            Scope::Record => Ok(Vec::new()),
            Scope::Run => Err(format!("{} keeps state across records and cannot save it", Self::describe().name)),
        }
    }

    /// Continues from `state`, which [`Guard::save`] returned on an
    /// instance configured the same way: from then on this instance must
    /// decide and recall exactly as that one would have.
    fn restore(&mut self, _state: &[u8]) -> Result<(), String> {
        match Self::scope() {
            Scope::Record => Ok(()),
            Scope::Run => Err(format!("{} keeps state across records and cannot restore it", Self::describe().name)),
        }
    }
}

/// A state as [`Guard::save`] returns it: `{"format": FORMAT, "state": ...}`
/// in JSON (floats round-trip exactly). Bump `format` when the state's
/// shape changes, so that [`restored`] refuses a state of another shape
/// rather than misreading it.
pub fn saved<S: serde::Serialize>(format: u32, state: &S) -> Result<Vec<u8>, String> {
    #[derive(serde::Serialize)]
    struct Saved<'a, S> {
        format: u32,
        state: &'a S,
    }
    serde_json::to_vec(&Saved { format, state }).map_err(|e| e.to_string())
}

/// Reads a state [`saved`] wrote with the same `format`.
pub fn restored<S: serde::de::DeserializeOwned>(format: u32, bytes: &[u8]) -> Result<S, String> {
    // Read in two passes, straight from the bytes (no `Value` between, which
    // would round integers beyond 64 bits).
    #[derive(serde::Deserialize)]
    struct Format {
        format: u32,
    }
    #[derive(serde::Deserialize)]
    struct Saved<S> {
        state: S,
    }
    let found: Format = serde_json::from_slice(bytes).map_err(|e| format!("not a saved state: {e}"))?;
    if found.format != format {
        return Err(format!("a state saved in format {}; this version reads format {format}", found.format));
    }
    let saved: Saved<S> =
        serde_json::from_slice(bytes).map_err(|e| format!("a saved state that does not read: {e}"))?;
    Ok(saved.state)
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
pub fn save<T: Guard>(state: &'static State<T>) -> Result<Vec<u8>, String> {
    state.with(|cell| match cell.borrow().as_ref() {
        Some(guard) => guard.save(),
        None => Err("the host asked for the state before `configure`".to_string()),
    })
}

#[doc(hidden)]
pub fn restore<T: Guard>(state: &'static State<T>, saved: Vec<u8>) -> Result<(), String> {
    state.with(|cell| match cell.borrow_mut().as_mut() {
        Some(guard) => guard.restore(&saved),
        None => Err("the host restored a state before `configure`".to_string()),
    })
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
            use $crate::guard::bindings::exports::assay::plugin::guard_state as wit_state;
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
            impl wit_state::Guest for Export {
                fn save() -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                    $crate::guard::save(&STATE)
                }
                fn restore(state: ::std::vec::Vec<u8>) -> ::std::result::Result<(), ::std::string::String> {
                    $crate::guard::restore(&STATE, state)
                }
            }
            // Native builds (unit tests of a plugin's logic) must not carry
            // the component export symbols: their names do not link there.
            #[cfg(target_arch = "wasm32")]
    $crate::guard::bindings::__export_guard_bindings!(Export with_types_in $crate::guard::bindings);
        };
    };
}
