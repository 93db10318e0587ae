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
                export assay:plugin/guard-scope@0.1.2;
            }
        ",
        world: "assay:host-scope/guard-scope",
        exports: { default: async },
    });

    pub use exports::assay::plugin::guard_scope::Scope;
}
