//! `classification`: accuracy, precision, recall, F1 and the confusion matrix
//! of predicted labels (the sample's output) against gold labels (its label),
//! equal to scikit-learn's `accuracy_score` and
//! `precision_recall_fscore_support(labels=..., zero_division=0)` where the
//! labels are the sorted union of gold and predicted labels: a class that is
//! only ever predicted counts, with support 0.
//!
//! Each sample reports one statistic, its cell of the confusion matrix; every
//! corpus metric derives from the summed matrix, so any split of the run over
//! instances gives the same numbers.
//!
//! Class names inside `[...]` of metric and statistic names are escaped so a
//! name splits in exactly one way: `\`, `]` and `=` get a backslash in front
//! (so the only bare `=>` is the one between gold and predicted class), and
//! the empty class, such as an empty output, is written `\0`, because a family
//! member needs a non-empty text where the `*` stands.

use std::collections::BTreeMap;

use assay_sdk::evaluator::{CorpusScore, Evaluator, Metric, Sample, Scores, Statistics};
use assay_sdk::{PluginInfo, Setting};

#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Compare labels without surrounding whitespace: generative models
    /// often end their answer with a newline.
    trim: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { trim: true }
    }
}

pub struct Classification {
    trim: bool,
}

/// A class name as written between `[` and `]` in metric and statistic names.
pub fn encode(class: &str) -> String {
    if class.is_empty() {
        return EMPTY.to_string();
    }
    let mut out = String::with_capacity(class.len());
    for c in class.chars() {
        if ESCAPED.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The class name that `encode` turned into `text`, if it did.
pub fn decode(text: &str) -> Option<String> {
    if text == EMPTY {
        return Some(String::new());
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().filter(|&c| ESCAPED.contains(c))?),
            c if ESCAPED.contains(c) => return None,
            c => out.push(c),
        }
    }
    (!out.is_empty()).then_some(out)
}

const ESCAPED: &str = "\\]=";
const EMPTY: &str = "\\0";
const CONFUSION: &str = "confusion[";

/// The name of a confusion-matrix cell, both as statistic and as corpus metric.
pub fn cell_name(gold: &str, predicted: &str) -> String {
    format!("{CONFUSION}{}=>{}]", encode(gold), encode(predicted))
}

/// The gold and predicted class of a `cell_name`.
pub fn parse_cell(name: &str) -> Option<(String, String)> {
    let inner = name.strip_prefix(CONFUSION)?.strip_suffix(']')?;
    // Every `=` inside a class name is escaped, so the first bare one
    // starts the separator.
    let mut escaped = false;
    let split = inner.char_indices().find_map(|(i, c)| {
        let bare_equals = c == '=' && !escaped;
        escaped = c == '\\' && !escaped;
        bare_equals.then_some(i)
    })?;
    let predicted = inner[split..].strip_prefix("=>")?;
    Some((decode(&inner[..split])?, decode(predicted)?))
}

/// scikit-learn's `zero_division=0`: an undefined ratio counts as 0.
fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 { 0.0 } else { numerator / denominator }
}

#[derive(Default)]
struct ClassCounts {
    true_positives: f64,
    predicted: f64,
    support: f64,
}

impl ClassCounts {
    fn precision(&self) -> f64 {
        ratio(self.true_positives, self.predicted)
    }

    fn recall(&self) -> f64 {
        ratio(self.true_positives, self.support)
    }

    /// 2·tp / (2·tp + fp + fn), the form scikit-learn uses, which is 0 rather
    /// than undefined when precision and recall are both 0.
    fn f1(&self) -> f64 {
        ratio(2.0 * self.true_positives, self.support + self.predicted)
    }
}

/// A per-class measure: its name in metric names, and how to compute it.
type Measure = (&'static str, fn(&ClassCounts) -> f64);

const MEASURES: [Measure; 3] =
    [("precision", ClassCounts::precision), ("recall", ClassCounts::recall), ("f1", ClassCounts::f1)];

/// The corpus metrics of a confusion matrix given as counts per (gold, predicted) cell.
fn corpus_scores(cells: &BTreeMap<(String, String), f64>) -> Result<Vec<CorpusScore>, String> {
    let mut counts: BTreeMap<&str, ClassCounts> = BTreeMap::new();
    let mut total = ClassCounts::default();
    for ((gold, predicted), &n) in cells {
        counts.entry(gold).or_default().support += n;
        counts.entry(predicted).or_default().predicted += n;
        total.support += n;
        total.predicted += n;
        if gold == predicted {
            counts.entry(gold).or_default().true_positives += n;
            total.true_positives += n;
        }
    }
    if total.support == 0.0 {
        return Err("no sample with a label was scored".into());
    }

    let mut scores = vec![CorpusScore::new("accuracy", total.true_positives / total.support)];
    for (measure, value) in MEASURES {
        scores.push(CorpusScore::new(format!("{measure}_micro"), value(&total)));
    }
    for (measure, value) in MEASURES {
        let sum: f64 = counts.values().map(value).sum();
        scores.push(CorpusScore::new(format!("{measure}_macro"), sum / counts.len() as f64));
    }
    for (measure, value) in MEASURES {
        let sum: f64 = counts.values().map(|c| value(c) * c.support).sum();
        scores.push(CorpusScore::new(format!("{measure}_weighted"), sum / total.support));
    }
    for (class, c) in &counts {
        let class = encode(class);
        for (measure, value) in MEASURES {
            scores.push(CorpusScore::new(format!("{measure}[{class}]"), value(c)));
        }
        scores.push(CorpusScore::new(format!("support[{class}]"), c.support));
    }
    for ((gold, predicted), &n) in cells {
        scores.push(CorpusScore::new(cell_name(gold, predicted), n));
    }
    Ok(scores)
}

impl Evaluator for Classification {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!(
            "classification",
            "Accuracy, precision, recall, F1 and confusion matrix of output labels against gold labels"
        )
    }

    fn metrics() -> Vec<Metric> {
        vec![
            Metric::sample("correct", "1 when the output equals the gold label, else 0", true),
            Metric::corpus("accuracy", "share of samples whose output equals the gold label", true),
            Metric::corpus("precision_micro", "precision over all predictions (equals accuracy)", true),
            Metric::corpus("recall_micro", "recall over all gold labels (equals accuracy)", true),
            Metric::corpus("f1_micro", "F1 of micro precision and recall (equals accuracy)", true),
            Metric::corpus("precision_macro", "unweighted mean of the per-class precisions", true),
            Metric::corpus("recall_macro", "unweighted mean of the per-class recalls", true),
            Metric::corpus("f1_macro", "unweighted mean of the per-class F1 scores", true),
            Metric::corpus("precision_weighted", "mean of the per-class precisions weighted by support", true),
            Metric::corpus("recall_weighted", "mean of the per-class recalls weighted by support", true),
            Metric::corpus("f1_weighted", "mean of the per-class F1 scores weighted by support", true),
            Metric::corpus("precision[*]", "precision of one class (0 when never predicted)", true),
            Metric::corpus("recall[*]", "recall of one class (0 when it is no gold label)", true),
            Metric::corpus("f1[*]", "F1 score of one class", true),
            Metric::corpus("support[*]", "number of samples whose gold label is this class", false),
            Metric::corpus("confusion[*]", "number of samples with gold label => predicted label", false),
        ]
    }

    fn new(config: Config) -> Result<Self, String> {
        Ok(Classification { trim: config.trim })
    }

    fn settings(&self) -> Vec<Setting> {
        vec![Setting::new("trim", self.trim)]
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        let gold = sample.label.as_deref().ok_or("the sample has no label")?;
        let predicted = sample.output.as_str();
        let (gold, predicted) = if self.trim { (gold.trim(), predicted.trim()) } else { (gold, predicted) };
        let correct = if gold == predicted { 1.0 } else { 0.0 };
        Ok(Scores::new(vec![correct]).stat(cell_name(gold, predicted), 1.0))
    }

    fn finalize(&self, statistics: &Statistics) -> Result<Vec<CorpusScore>, String> {
        let mut cells = BTreeMap::new();
        for (name, n) in statistics.iter() {
            let cell = parse_cell(name).ok_or_else(|| format!("unexpected statistic `{name}`"))?;
            // A cell that no sample reached would add its classes to the
            // averages although no sample has them.
            if n != 0.0 {
                cells.insert(cell, n);
            }
        }
        corpus_scores(&cells)
    }
}

assay_sdk::export_evaluator!(Classification);

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const TRICKY: [&str; 16] =
        ["", "a", "b", "a=>b", "b=>c", "=", "=>", ">", "]", "x]", "[x]", "\\", "\\0", "0", "a\\", "a="];

    fn sample(label: Option<&str>, output: &str) -> Sample {
        let sample = Sample::new(output, Vec::<String>::new());
        match label {
            Some(label) => sample.with_label(label),
            None => sample,
        }
    }

    #[test]
    fn cell_names_are_distinct_and_parse_back() {
        let mut seen = BTreeSet::new();
        for gold in TRICKY {
            for predicted in TRICKY {
                let name = cell_name(gold, predicted);
                assert_eq!(parse_cell(&name), Some((gold.to_string(), predicted.to_string())), "{name}");
                assert!(seen.insert(name.clone()), "{name} is ambiguous");
            }
        }
        assert_eq!(cell_name("a=>b", "c"), "confusion[a\\=>b=>c]");
        assert_eq!(cell_name("a", "b=>c"), "confusion[a=>b\\=>c]");
        assert_eq!(cell_name("", "x]"), "confusion[\\0=>x\\]]");
    }

    #[test]
    fn class_names_are_never_empty_and_round_trip() {
        for class in TRICKY {
            let encoded = encode(class);
            assert!(!encoded.is_empty());
            assert_eq!(decode(&encoded).as_deref(), Some(class));
        }
        assert_eq!(encode("positive"), "positive", "ordinary names stay readable");
    }

    #[test]
    fn malformed_names_are_rejected() {
        for text in ["", "a]b", "a=b", "\\x", "a\\0", "\\"] {
            assert_eq!(decode(text), None, "{text}");
        }
        for name in ["confusion[a]", "confusion[a=>]", "confusion[=>b]", "confusion[a=>b", "f1[a=>b]"] {
            assert_eq!(parse_cell(name), None, "{name}");
        }
        let stats: Statistics = [("tp[a]".to_string(), 1.0)].into_iter().collect();
        let plugin = Classification::new(Config::default()).unwrap();
        assert!(plugin.finalize(&stats).unwrap_err().contains("tp[a]"));
    }

    #[test]
    fn trims_unless_told_not_to() {
        let mut trimmed = Classification::new(Config::default()).unwrap();
        let scores = trimmed.score(&sample(Some("cat "), "\ncat\n")).unwrap();
        assert_eq!(scores.values, [1.0]);
        assert_eq!(scores.statistics[0].name, "confusion[cat=>cat]");

        let mut raw = Classification::new(Config { trim: false }).unwrap();
        let scores = raw.score(&sample(Some("cat"), "cat\n")).unwrap();
        assert_eq!(scores.values, [0.0]);
        assert_eq!(scores.statistics[0].name, "confusion[cat=>cat\n]");
    }

    #[test]
    fn a_sample_without_label_is_an_error() {
        let mut plugin = Classification::new(Config::default()).unwrap();
        assert_eq!(plugin.score(&sample(None, "cat")).unwrap_err(), "the sample has no label");
    }

    #[test]
    fn an_empty_run_has_no_corpus_scores() {
        let plugin = Classification::new(Config::default()).unwrap();
        assert!(plugin.finalize(&Statistics::default()).is_err());
        let zero: Statistics = [(cell_name("a", "b"), 0.0)].into_iter().collect();
        assert!(plugin.finalize(&zero).is_err());
    }
}
