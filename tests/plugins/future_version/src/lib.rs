//! Exports `assay:plugin/evaluator@0.2.0`, which the host must refuse by name.

wit_bindgen::generate!({ path: "wit", world: "evaluator-plugin" });

struct Future;

impl exports::assay::plugin::evaluator::Guest for Future {
    fn describe() -> String {
        "from the future".into()
    }
}

#[cfg(target_arch = "wasm32")]
export!(Future);
