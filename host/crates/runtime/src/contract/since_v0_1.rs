//! Contract `assay:plugin@0.1.x`: host-side bindings generated from the same
//! WIT (`wit/assay.wit`) the guests build against.

/// The `evaluator-plugin` world.
pub mod evaluator {
    wasmtime::component::bindgen!({
        path: "../../../wit",
        world: "evaluator-plugin",
        exports: { default: async },
    });
}

/// The `guard-plugin` world.
pub mod guard {
    wasmtime::component::bindgen!({
        path: "../../../wit",
        world: "guard-plugin",
        exports: { default: async },
    });
}

pub use evaluator::exports::assay::plugin::evaluator::{Level, Sample, Scores, Statistic};
pub use guard::exports::assay::plugin::guard::{Decision, Feedback, Instant, Rating, Verdict};

/// The `model-evaluator-plugin` world (since 0.1.1): its exports are the
/// evaluator's, found by the bindings above; what it adds is the imported
/// `model` interface, which the host implements.
pub mod model {
    wasmtime::component::bindgen!({
        path: "../../../wit",
        world: "model-evaluator-plugin",
        imports: { default: async },
        exports: { default: async },
    });

    pub use assay::plugin::model::{
        Error, FinishReason, Message, ProviderError, Request, Response, ResponseFormat, Role, TokenLogprob, Usage,
    };
}

/// The `guard-scope` interface (since 0.1.2), on its own: a guard may or may
/// not export it, so it is looked up apart from the guard's bindings, once,
/// when the guard is loaded.
pub mod scope {
    wasmtime::component::bindgen!({
        path: "../../../wit",
        inline: "
            package assay:host-scope;

            world guard-scope {
                export assay:plugin/guard-scope@0.1.4;
            }
        ",
        world: "assay:host-scope/guard-scope",
        exports: { default: async },
    });

    pub use exports::assay::plugin::guard_scope::Scope;
}

/// The `guard-recall` interface (since 0.1.3), apart from the guard's
/// bindings for the same reason as `guard-scope`: a guard may or may not
/// export it. It is loaded on the guard's own instance, since recalls come
/// from the state that instance built; the world names `guard` too because
/// a recall's verdict is the guard interface's type.
pub mod recall {
    wasmtime::component::bindgen!({
        path: "../../../wit",
        inline: "
            package assay:host-recall;

            world guard-recall {
                export assay:plugin/guard@0.1.4;
                export assay:plugin/guard-recall@0.1.4;
            }
        ",
        world: "assay:host-recall/guard-recall",
        exports: { default: async },
    });

    pub use exports::assay::plugin::guard_recall::Recall;

    impl From<exports::assay::plugin::guard::Verdict> for super::Verdict {
        fn from(verdict: exports::assay::plugin::guard::Verdict) -> Self {
            use exports::assay::plugin::guard::Verdict as V;
            match verdict {
                V::Accept => super::Verdict::Accept,
                V::Quarantine => super::Verdict::Quarantine,
                V::Reject => super::Verdict::Reject,
            }
        }
    }
}

/// The `guard-state` interface (since 0.1.4), apart from the guard's
/// bindings as `guard-recall` is, and loaded on the guard's own instance:
/// the state saved is the one that instance built.
pub mod state {
    wasmtime::component::bindgen!({
        path: "../../../wit",
        inline: "
            package assay:host-state;

            world guard-state {
                export assay:plugin/guard-state@0.1.4;
            }
        ",
        world: "assay:host-state/guard-state",
        exports: { default: async },
    });
}
