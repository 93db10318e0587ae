//! `judge_pairwise`: a language model compares each output with a second
//! answer to the same input (a field of the record, such as the current
//! model's answer), asked twice with the answers' positions swapped.
//!
//! Judges favour whichever answer comes first (or second) more often than
//! chance: position bias. Asking both ways round cancels it. A sample is a
//! win or a loss only when both orders agree; when they disagree, the
//! verdict followed the position, not the answers, and the sample counts as
//! a tie. Per sample: `preference` (1 win, 0.5 tie, 0 loss) and `consistent`
//! (1 when both orders agreed). Over the corpus, through statistics so that
//! shards merge: `win_rate`, `tie_rate`, `loss_rate` and
//! `position_consistency`.
//!
//! The default template asks for `{"reason": string, "winner": "A" | "B" |
//! "tie"}`, read strictly; templates may use `{rubric}`, `{input}`,
//! `{answer_a}`, `{answer_b}` and `{reference}`.

// The export macro only exists on wasm: `cargo test --workspace` also builds
// this crate natively, where the plugin is unit-tested.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use assay_judging::{Asking, Template, fill, read_answer};
use assay_sdk::Setting;
use assay_sdk::evaluator::{CorpusScore, Evaluator, Metric, Sample, Scores, Statistics};
use assay_sdk::model::{self, Request};
use serde::Deserialize;

const SYSTEM: &str = "You are an impartial judge. Compare the two answers to the question on the criteria; \
    the order in which they are shown must not matter. Reply with only a JSON object \
    {\"reason\": string, \"winner\": \"A\" | \"B\" | \"tie\"}.";

const TEMPLATE: &str =
    "Criteria: {rubric}\n\nQuestion:\n{input}\n\nAnswer A:\n{answer_a}\n\nAnswer B:\n{answer_b}\n{reference}";

const DEFAULT_RUBRIC: &str = "Which answer is more correct, helpful and clear?";

const ANSWER_SCHEMA: &str = r#"{"type":"object","properties":{"reason":{"type":"string"},"winner":{"enum":["A","B","tie"]}},"required":["reason","winner"],"additionalProperties":false}"#;
const ANSWER_SHAPE: &str = "{\"reason\": string, \"winner\": \"A\" | \"B\" | \"tie\"}";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The model alias, granted in `[plugins.NAME] models`.
    model: String,
    /// The record field holding the answer to compare `output` with.
    against: String,
    #[serde(default)]
    rubric: Option<String>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    template_file: Option<String>,
    #[serde(default)]
    temperature: f64,
    #[serde(default)]
    seed: u64,
    #[serde(default = "default_max_tokens")]
    max_tokens: u32,
}

fn default_max_tokens() -> u32 {
    512
}

/// The model's answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Verdict {
    #[allow(dead_code)]
    reason: String,
    winner: Winner,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
enum Winner {
    A,
    B,
    #[serde(rename = "tie")]
    Tie,
}

/// How `output` fared against the other answer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Win,
    Tie,
    Loss,
}

impl Outcome {
    /// `output`'s outcome when it was shown as answer A (`output_first`) or B.
    fn of(winner: Winner, output_first: bool) -> Outcome {
        match (winner, output_first) {
            (Winner::Tie, _) => Outcome::Tie,
            (Winner::A, true) | (Winner::B, false) => Outcome::Win,
            _ => Outcome::Loss,
        }
    }

    fn preference(self) -> f64 {
        match self {
            Outcome::Win => 1.0,
            Outcome::Tie => 0.5,
            Outcome::Loss => 0.0,
        }
    }

    fn statistic(self) -> &'static str {
        match self {
            Outcome::Win => "wins",
            Outcome::Tie => "ties",
            Outcome::Loss => "losses",
        }
    }
}

struct Pairwise {
    asking: Asking,
    against: String,
    rubric: String,
    template: Template,
}

impl Pairwise {
    /// The other answer, from the record's field `against`.
    fn other(&self, sample: &Sample) -> Result<String, String> {
        let fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&sample.metadata).map_err(|e| format!("the record's fields are not JSON: {e}"))?;
        match fields.get(&self.against) {
            Some(serde_json::Value::String(text)) => Ok(text.clone()),
            Some(_) => Err(format!("the field {:?} is not text", self.against)),
            None => Err(format!("the record has no field {:?} to compare the output with", self.against)),
        }
    }

    /// The request with `a` shown first and `b` second.
    fn request(&self, sample: &Sample, a: &str, b: &str) -> Request {
        let reference = match sample.references.first() {
            Some(reference) => format!("\nReference answer:\n{reference}\n"),
            None => String::new(),
        };
        let slots = [
            ("{rubric}", self.rubric.as_str()),
            ("{input}", sample.input.as_str()),
            ("{answer_a}", a),
            ("{answer_b}", b),
            ("{reference}", reference.as_str()),
        ];
        let system = fill(&self.template.system, &slots);
        self.asking.request(&system, &fill(&self.template.user, &slots), ANSWER_SCHEMA)
    }

    /// The sample's scores from the verdicts with `output` first, then second.
    fn combine(first: Winner, second: Winner) -> Scores {
        let (one, two) = (Outcome::of(first, true), Outcome::of(second, false));
        let consistent = one == two;
        let outcome = if consistent { one } else { Outcome::Tie };
        let scores = Scores::new(vec![outcome.preference(), f64::from(u8::from(consistent))])
            .stat("pairs", 1.0)
            .stat(outcome.statistic(), 1.0);
        if consistent { scores.stat("consistent", 1.0) } else { scores }
    }
}

impl Evaluator for Pairwise {
    type Config = Config;

    fn describe() -> assay_sdk::PluginInfo {
        assay_sdk::plugin_info!(
            "judge_pairwise",
            "a language model compares each output with a second answer, both ways round"
        )
    }

    fn metrics() -> Vec<Metric> {
        vec![
            Metric::sample(
                "preference",
                "1 when the output won in both orders, 0 when it lost in both, else 0.5",
                true,
            ),
            Metric::sample("consistent", "1 when the judge gave the same verdict in both orders", true),
            Metric::corpus("win_rate", "share of samples the output won in both orders", true),
            Metric::corpus("tie_rate", "share of samples judged a tie, or judged differently in the two orders", false),
            Metric::corpus("loss_rate", "share of samples the output lost in both orders", false),
            Metric::corpus("position_consistency", "share of samples with the same verdict in both orders", true),
        ]
    }

    fn new(config: Config) -> Result<Self, String> {
        let template =
            Template::read(SYSTEM, TEMPLATE, config.template, config.template_file, &["{answer_a}", "{answer_b}"])?;
        let asking = Asking {
            model: config.model,
            temperature: config.temperature,
            seed: config.seed,
            max_tokens: config.max_tokens,
            top_logprobs: None,
        };
        let rubric = config.rubric.unwrap_or_else(|| DEFAULT_RUBRIC.to_string());
        Ok(Pairwise { asking, against: config.against, rubric, template })
    }

    fn settings(&self) -> Vec<Setting> {
        let mut settings = self.asking.settings(&self.template);
        settings.insert(1, Setting { key: "against".into(), value: self.against.clone() });
        settings
    }

    fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
        self.score_batch(std::slice::from_ref(sample)).pop().expect("one result per sample")
    }

    /// Both orders of every sample of the batch in one request list.
    fn score_batch(&mut self, batch: &[Sample]) -> Vec<Result<Scores, String>> {
        let others: Vec<Result<String, String>> = batch.iter().map(|s| self.other(s)).collect();
        let mut requests = Vec::new();
        for (sample, other) in batch.iter().zip(&others) {
            if let Ok(other) = other {
                requests.push(self.request(sample, &sample.output, other));
                requests.push(self.request(sample, other, &sample.output));
            }
        }
        let mut answers = model::complete(&requests).into_iter().map(|answer| {
            let response = answer.map_err(|e| e.to_string())?;
            read_answer::<Verdict>(&response.text, ANSWER_SHAPE).map(|v| v.winner)
        });
        others
            .into_iter()
            .map(|other| {
                other?;
                let (first, second) = (answers.next(), answers.next());
                let first = first.ok_or("the host returned too few answers")?;
                let second = second.ok_or("the host returned too few answers")?;
                Ok(Pairwise::combine(first?, second?))
            })
            .collect()
    }

    fn finalize(&self, statistics: &Statistics) -> Result<Vec<CorpusScore>, String> {
        let pairs = statistics.get("pairs");
        if pairs == 0.0 {
            return Ok(Vec::new());
        }
        let share = |name: &str| statistics.get(name) / pairs;
        Ok(vec![
            CorpusScore::new("win_rate", share("wins")),
            CorpusScore::new("tie_rate", share("ties")),
            CorpusScore::new("loss_rate", share("losses")),
            CorpusScore::new("position_consistency", share("consistent")),
        ])
    }
}

#[cfg(target_arch = "wasm32")]
assay_sdk::export_evaluator!(Pairwise);

#[cfg(test)]
mod tests {
    use super::*;

    fn pairwise() -> Pairwise {
        Pairwise::new(serde_json::from_value(serde_json::json!({"model": "grader", "against": "baseline"})).unwrap())
            .unwrap()
    }

    #[test]
    fn a_verdict_counts_only_when_both_orders_agree() {
        let values = |a, b| Pairwise::combine(a, b).values;
        // The output shown first wins, then shown second wins: a win.
        assert_eq!(values(Winner::A, Winner::B), [1.0, 1.0]);
        assert_eq!(values(Winner::B, Winner::A), [0.0, 1.0]);
        assert_eq!(values(Winner::Tie, Winner::Tie), [0.5, 1.0]);
        // "A" both times: the judge chose a position, not an answer.
        assert_eq!(values(Winner::A, Winner::A), [0.5, 0.0]);
        let statistics = Pairwise::combine(Winner::A, Winner::A).statistics;
        assert!(statistics.iter().any(|s| s.name == "ties") && !statistics.iter().any(|s| s.name == "consistent"));
    }

    #[test]
    fn the_two_requests_swap_the_answers() {
        let judge = pairwise();
        let mut sample = Sample::new("Ankara", ["Ankara"]);
        sample.input = "Türkiye'nin başkenti?".into();
        let (one, two) = (judge.request(&sample, "Ankara", "İstanbul"), judge.request(&sample, "İstanbul", "Ankara"));
        let user = |r: &Request| r.messages[1].content.clone();
        assert!(user(&one).contains("Answer A:\nAnkara\n\nAnswer B:\nİstanbul"), "{}", user(&one));
        assert!(user(&two).contains("Answer A:\nİstanbul\n\nAnswer B:\nAnkara"), "{}", user(&two));
    }

    #[test]
    fn the_other_answer_comes_from_the_named_field() {
        let judge = pairwise();
        let mut sample = Sample::new("x", Vec::<String>::new());
        sample.metadata = r#"{"baseline": "y"}"#.into();
        assert_eq!(judge.other(&sample).unwrap(), "y");
        sample.metadata = "{}".into();
        assert!(judge.other(&sample).unwrap_err().contains("no field \"baseline\""));
        assert!(read_answer::<Verdict>(r#"{"reason": "", "winner": "C"}"#, ANSWER_SHAPE).is_err());
    }

    #[test]
    fn rates_come_from_summed_statistics() {
        let statistics: Statistics =
            [("pairs", 4.0), ("wins", 2.0), ("ties", 1.0), ("losses", 1.0), ("consistent", 3.0)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        let scores = pairwise().finalize(&statistics).unwrap();
        let value = |name: &str| scores.iter().find(|s| s.name == name).unwrap().value;
        assert_eq!((value("win_rate"), value("tie_rate"), value("position_consistency")), (0.5, 0.25, 0.75));
    }
}
