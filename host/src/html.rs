//! `assay report`: one self-contained HTML file over one or more run
//! folders.
//!
//! The page is a static shell, the runs as JSON, and a script that draws
//! tables and SVG charts from them. Nothing is fetched: the script and style
//! are inline and allowed by their hashes in a Content-Security-Policy whose
//! default is `'none'`, so the file works offline and, if anything ever
//! tried to load a resource, the browser would refuse.
//!
//! The runs are read back by `assay_data::run`, texts clipped to
//! [`MAX_TEXT_CHARS`] so that a report over long documents stays a file a
//! browser opens quickly.

use assay_data::run::RunData;
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Longest text kept per field.
pub const MAX_TEXT_CHARS: usize = 2000;

const SCRIPT: &str = include_str!("html/report.js");
const STYLE: &str = include_str!("html/report.css");

/// Whether several runs' differences are significant, as the page shows it.
#[derive(Serialize)]
pub enum Significance {
    /// Paired tests of each run against the first.
    #[serde(rename = "tested")]
    Tested(assay_compare::comparison::Comparison),
    /// Why the runs could not be tested.
    #[serde(rename = "untested")]
    Untested(String),
}

/// The whole page.
pub fn render(runs: &[RunData], significance: Option<&Significance>) -> String {
    #[derive(Serialize)]
    struct Page<'a> {
        generator: String,
        runs: &'a [RunData],
        significance: Option<&'a Significance>,
    }
    let generator = format!("assay {}", env!("CARGO_PKG_VERSION"));
    let data = serde_json::to_string(&Page { generator, runs, significance }).expect("values serialize");
    let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    page(&format!("assay report: {}", names.join(" vs ")), data)
}

/// The page of `assay compare --candidates`: the same script and style,
/// drawing the decision instead of runs.
pub fn render_decision(decision: &assay_compare::comparison::Decision) -> String {
    #[derive(Serialize)]
    struct Page<'a> {
        generator: String,
        decision: &'a assay_compare::comparison::Decision,
    }
    let generator = format!("assay {}", env!("CARGO_PKG_VERSION"));
    let data = serde_json::to_string(&Page { generator, decision }).expect("values serialize");
    page(&format!("assay compare: {} candidates", decision.candidates.len()), data)
}

/// The page around `data` (JSON).
fn page(title: &str, data: String) -> String {
    // `<` only occurs inside JSON strings, where \u003c means the same, so
    // no text can close the script element early; `\/` means `/` there
    // too, so a link in the data is no address in the file.
    let data = data.replace('<', "\\u003c").replace("://", ":\\/\\/");
    let csp = format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; img-src data:; base-uri 'none'; form-action 'none'",
        hash(SCRIPT),
        hash(STYLE)
    );
    let title = escape(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <noscript>This report draws its tables and charts with JavaScript; the data is in the script element below.</noscript>\n\
         <main id=\"app\"></main>\n\
         <script type=\"application/json\" id=\"assay-data\">{data}</script>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
}

/// A CSP source for an inline element's exact text.
fn hash(text: &str) -> String {
    format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes())))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_data::output::SampleLine;
    use assay_data::run::SampleView;

    #[test]
    fn the_page_allows_only_its_own_script_and_style_and_cannot_be_closed_by_data() {
        let line: SampleLine =
            serde_json::from_str(r#"{"id":"</script><script>alert(1)</script>","scores":{},"errors":{}}"#).unwrap();
        let run = RunData {
            name: "r".into(),
            dir: "r".into(),
            summary: crate::gate::tests::summary("evaluation", serde_json::json!({})),
            samples: vec![SampleView { line, input: None, output: None, references: None, label: None, usage: None }],
            records_note: None,
            held: Vec::new(),
        };
        let page = render(&[run], None);
        assert!(page.contains(&format!("script-src '{}'", hash(SCRIPT))));
        assert!(page.contains("default-src 'none'"));
        assert_eq!(page.matches("</script>").count(), 2, "only the page's own script elements close");
        assert!(!page.contains("http://") && !page.contains("https://"), "no address to fetch from");
    }
}
