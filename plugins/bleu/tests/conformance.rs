#[path = "../../../tests/conformance/harness.rs"]
mod harness;

#[test]
fn matches_sacrebleu() {
    let checked = harness::check::<assay_plugin_bleu::Bleu>("bleu.jsonl");
    assert!(checked > 400, "only {checked} values checked");
}
