#[path = "../../../tests/conformance/harness.rs"]
mod harness;

#[test]
fn matches_rapidfuzz_and_scikit_learn() {
    let checked = harness::check::<assay_plugin_similarity::Similarity>("similarity.jsonl");
    assert!(checked >= 64, "only {checked} values checked");
}
