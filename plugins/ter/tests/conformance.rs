#[path = "../../../tests/conformance/harness.rs"]
mod harness;

#[test]
fn matches_sacrebleu() {
    let checked = harness::check::<assay_plugin_ter::Ter>("ter.jsonl");
    assert!(checked > 250, "only {checked} values checked");
}
