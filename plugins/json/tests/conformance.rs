#[path = "../../../tests/conformance/harness.rs"]
mod harness;

#[test]
fn matches_python_json_and_jsonschema() {
    let checked = harness::check::<assay_plugin_json::Json>("json.jsonl");
    assert!(checked >= 192, "only {checked} values checked");
}
