//! Headless Chromium for the pages `assay` writes (the report, the
//! decision of `assay compare`): each page's `#selftest` exercises it and
//! writes what it saw into the DOM, which these helpers read back, with the
//! browser's own network log proving nothing was fetched.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::common::{run, stderr, stdout};

/// Headless Chromium, or None when it is missing outside CI (in CI a
/// missing browser fails the test).
pub fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|p| p.is_file()))
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing, and CI must run the browser tests: apt-get install chromium"
        );
        eprintln!(
            "SKIPPED: chromium is not installed (apt-get install chromium); the browser test runs only where it is, and always in CI"
        );
    }
    found
}

/// Opens `html#selftest` in headless Chromium and returns what the page's
/// self-test wrote, plus the DOM.
pub fn selftest(browser: &Path, html: &Path) -> (Value, String) {
    let profile = tempfile::tempdir().unwrap();
    let output = run(std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
        ])
        .args(["--disable-component-update", "--disable-sync", "--virtual-time-budget=10000", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--log-net-log={}", profile.path().join("netlog.json").display()))
        .arg(format!("file://{}#selftest", html.display())));
    assert!(output.status.success(), "chromium failed: {}", stderr(&output));
    assert_eq!(
        page_requests(&profile.path().join("netlog.json")),
        Vec::<String>::new(),
        "requests the page made, from the browser's network log"
    );
    let dom = stdout(&output);
    assert!(!dom.contains("id=\"script-error\""), "the page's script failed: {dom}");
    let start =
        dom.find("<pre id=\"selftest-result\">").unwrap_or_else(|| panic!("no self-test result in the DOM: {dom}"))
            + "<pre id=\"selftest-result\">".len();
    let text = &dom[start..start + dom[start..].find("</pre>").unwrap()];
    let text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ").replace("&amp;", "&");
    let result: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(result["errors"], serde_json::json!([]), "the self-test ran through");
    // Nothing was fetched, and nothing in the page points anywhere.
    assert_eq!(result["resources"], serde_json::json!([]), "network requests");
    assert_eq!(result["external"], serde_json::json!([]), "elements with addresses");
    assert_eq!(result["violations"], serde_json::json!([]), "nothing the page does is blocked by its policy");
    assert_eq!(result["styled"], true, "the policy admits the page's style");
    (result, dom)
}

/// URLs of the network requests a page started, from a Chromium NetLog.
/// Requests the browser makes for itself (updates, accounts) have no
/// initiating origin and are not the page's doing.
pub fn page_requests(netlog: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(netlog).expect("chromium wrote its network log");
    // A log cut short at exit lacks the closing brackets of its event list.
    let log: Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .expect("the network log is JSON");
    let start_job = &log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    assert!(start_job.is_u64(), "the log names its event types");
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        // The end of a job is an event too, without parameters.
        .filter(|e| {
            &e["type"] == start_job && e["params"]["url"].is_string() && e["params"]["initiator"] != "not an origin"
        })
        .map(|e| e["params"]["url"].as_str().unwrap().to_string())
        .collect()
}

pub fn assert_charts_drawn(result: &Value, expected: usize) {
    let charts = result["charts"].as_array().unwrap();
    assert_eq!(charts.len(), expected, "{charts:?}");
    for chart in charts {
        assert!(chart["width"].as_f64().unwrap() > 0.0 && chart["height"].as_f64().unwrap() > 0.0, "{chart}");
        assert!(chart["marks"].as_u64().unwrap() > 0, "{chart}");
    }
}

pub fn assert_offline_page(html: &Path) {
    let text = std::fs::read_to_string(html).unwrap();
    assert!(
        text.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'sha256-"),
        "a CSP blocks every fetch"
    );
    assert!(!text.contains("http://") && !text.contains("https://"), "no address in the file");
}
