#[path = "../../../tests/conformance/harness.rs"]
mod harness;

#[test]
fn matches_the_squad_v1_1_script() {
    let checked = harness::check::<assay_plugin_token_f1::TokenF1>("token_f1.jsonl");
    assert!(checked >= 45, "only {checked} values checked");
}
