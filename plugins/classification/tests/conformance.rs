#[path = "../../../tests/conformance/harness.rs"]
mod harness;

#[test]
fn matches_scikit_learn() {
    let checked = harness::check::<assay_plugin_classification::Classification>("classification.jsonl");
    assert!(checked > 1000, "only {checked} values checked");
}
