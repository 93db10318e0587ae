#[path = "../../../tests/conformance/harness.rs"]
mod harness;

#[test]
fn matches_sacrebleu() {
    let checked = harness::check::<assay_plugin_chrf::Chrf>("chrf.jsonl");
    assert!(checked > 300, "only {checked} values checked");
}
