//! `facts`: rejects corrections that contradict a file of known facts.
//!
//! The facts file is JSON Lines, one fact per line, either
//! `{"question": "...", "answer": "...", "aliases": ["..."]}` or
//! `{"key": "...", "value": "...", "aliases": ["..."]}` (`aliases` optional);
//! blank lines are skipped. The guard reads it once, in `configure`, from a
//! directory the host grants read-only (see [`Config::path`]).
//!
//! Texts are compared after [`normalize`] (lowercase, no punctuation,
//! contractions spelled out) with number words as digits ("four" is "4").
//!
//! Decision rules, in order:
//!
//! 1. A record is about a fact when its prompt contains the fact's question
//!    or key as whole words (an equal prompt counts). When several facts
//!    match, the longest question or key wins.
//! 2. No fact, or no correction: accept. Comments are opinions and are not
//!    checked.
//! 3. The correction agrees, so accept, when it contains the answer or an
//!    alias as whole words, not right after "not", "never", "instead of" or
//!    "rather than"; or, for answers with numbers, all of the answer's
//!    numbers. Paraphrases that hold the right answer therefore pass.
//! 4. Otherwise the correction contradicts the fact, so reject, when it
//!    denies the answer ("not Canberra") or states another one. For an
//!    answer with numbers, another answer is any number the prompt does not
//!    hold ("5", "90 °C"; not the 12 and 4 of "12 divided by 4").
//!    For other answers, it is what the correction says after its last
//!    "is"/"are"/"was"/"were"/"be"/"equals"/`=` (or all of it, past fillers
//!    such as "actually"), when that runs to at most `max_claim_words`
//!    words: a correction is by definition the answer the user claims is
//!    right, so a short one that lacks the known answer is another answer.
//! 5. Anything else is accepted: a correction without numbers to a
//!    numeric fact, or a long one that neither holds nor denies the answer,
//!    such as advice about style.

use assay_guard_text::numbers::words_to_digits;
use assay_guard_text::{find_words, normalize};
use assay_sdk::guard::{Decision, Feedback, Guard, Scope};
use assay_sdk::{PluginInfo, Setting};

#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the facts file is inside the guest. Default
    /// `/data/facts.jsonl`: grant the folder holding it with, for example,
    /// `[plugins.facts] grants = ["./facts:/data"]`.
    path: String,
    /// The most words a correction's claim may have to count as stating an
    /// answer. Default `6`.
    max_claim_words: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { path: "/data/facts.jsonl".into(), max_claim_words: 6 }
    }
}

/// One line of the facts file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FactLine {
    question: Option<String>,
    answer: Option<String>,
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
}

struct Fact {
    /// The question or key as written, for reasons.
    subject: String,
    /// The answer or value as written, for reasons.
    answer: String,
    subject_words: Vec<String>,
    /// The answer, then each alias, as words.
    answers: Vec<Vec<String>>,
    /// The numbers in the answer; empty when it has none.
    numbers: Vec<f64>,
}

pub struct Facts {
    path: String,
    max_claim_words: usize,
    facts: Vec<Fact>,
    /// FNV-1a of the file, so that settings change when the facts do.
    digest: u64,
}

impl Guard for Facts {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("facts", "Rejects corrections that contradict a file of known facts")
    }

    /// Each decision reads the record alone, so runs may be sharded.
    fn scope() -> Scope {
        Scope::Record
    }

    fn new(config: Config) -> Result<Self, String> {
        if config.max_claim_words == 0 {
            return Err("`max_claim_words` must be at least 1".into());
        }
        let text = std::fs::read_to_string(&config.path).map_err(|e| {
            format!(
                "cannot read the facts file {}: {e}. The guard sees only folders the host grants it; \
                 grant the folder holding the file, for example `[plugins.facts] grants = [\"./facts:/data\"]` \
                 for the default path /data/facts.jsonl, or set `path`",
                config.path
            )
        })?;
        let facts = parse_facts(&text).map_err(|e| format!("{}: {e}", config.path))?;
        Ok(Facts { path: config.path, max_claim_words: config.max_claim_words, facts, digest: fnv1a(text.as_bytes()) })
    }

    fn settings(&self) -> Vec<Setting> {
        vec![
            Setting::new("path", &self.path),
            Setting::new("facts", self.facts.len()),
            Setting::new("facts_fnv1a", format!("{:016x}", self.digest)),
            Setting::new("max_claim_words", self.max_claim_words),
        ]
    }

    fn screen(&mut self, record: &Feedback) -> Result<Decision, String> {
        let Some(correction) = record.correction.as_deref() else { return Ok(Decision::accept()) };
        let prompt = words(&record.prompt);
        let Some(fact) = self.fact_for(&prompt) else { return Ok(Decision::accept()) };
        Ok(match self.contradicts(fact, &prompt, correction) {
            true => Decision::reject(format!(
                "contradicts the known fact \"{}\" (answer: \"{}\"): the correction says \"{}\"",
                fact.subject,
                fact.answer,
                correction.trim()
            )),
            false => Decision::accept(),
        })
    }
}

assay_sdk::export_guard!(Facts);

fn parse_facts(text: &str) -> Result<Vec<Fact>, String> {
    let mut facts = Vec::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = |e: String| format!("line {}: {e}", number + 1);
        let line: FactLine = serde_json::from_str(line).map_err(|e| at(e.to_string()))?;
        let (subject, answer) = match line {
            FactLine { question: Some(q), answer: Some(a), key: None, value: None, .. } => (q, a),
            FactLine { key: Some(k), value: Some(v), question: None, answer: None, .. } => (k, v),
            _ => return Err(at("a fact has either `question` and `answer`, or `key` and `value`".into())),
        };
        let subject_words = words(&subject);
        let answers: Vec<Vec<String>> =
            std::iter::once(&answer).chain(&line.aliases).map(|a| words(a)).filter(|w| !w.is_empty()).collect();
        if subject_words.is_empty() || answers.is_empty() {
            return Err(at("the question or key and the answer must each hold a word".into()));
        }
        let numbers = numbers_in(&answers[0]);
        facts.push(Fact { subject, answer, subject_words, answers, numbers });
    }
    Ok(facts)
}

/// Normalized words with numbers as digits.
fn words(text: &str) -> Vec<String> {
    words_to_digits(&normalize(text)).split_whitespace().map(String::from).collect()
}

fn numbers_in(words: &[String]) -> Vec<f64> {
    words.iter().filter_map(|w| w.parse::<f64>().ok()).collect()
}

/// Words that, right before an answer, deny it.
const NEGATIONS: &[&[&str]] = &[&["not"], &["never"], &["instead", "of"], &["rather", "than"]];

/// Words that introduce what a correction claims ("the capital is X").
const COPULAS: &[&str] = &["is", "are", "was", "were", "be", "equals", "="];

/// Words that carry no claim at the start of one ("actually, it is X").
const FILLERS: &[&str] =
    &["it", "that", "the", "answer", "actually", "obviously", "definitely", "clearly", "really", "correct"];

impl Facts {
    /// The fact a prompt (as [`words`]) asks about: the one with the longest
    /// question or key in it, the first of those on a tie.
    fn fact_for(&self, prompt: &[String]) -> Option<&Fact> {
        let prompt = as_strs(prompt);
        self.facts
            .iter()
            .filter(|f| find_words(&prompt, &as_strs(&f.subject_words)).next().is_some())
            .min_by_key(|f| std::cmp::Reverse(f.subject_words.len()))
    }

    fn contradicts(&self, fact: &Fact, prompt: &[String], correction: &str) -> bool {
        let owned = words(correction);
        let said: Vec<&str> = owned.iter().map(String::as_str).collect();
        if said.is_empty() {
            return false;
        }
        let negated_at =
            |start: usize| NEGATIONS.iter().any(|n| start >= n.len() && said[start - n.len()..start] == **n);
        let mut denied = false;
        for answer in &fact.answers {
            for start in find_words(&said, &as_strs(answer)) {
                if negated_at(start) {
                    denied = true;
                } else {
                    return false;
                }
            }
        }
        if !fact.numbers.is_empty() {
            let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
            let said_numbers: Vec<(usize, f64)> =
                said.iter().enumerate().filter_map(|(i, w)| Some((i, w.parse::<f64>().ok()?))).collect();
            let holds = |n: f64| said_numbers.iter().any(|&(i, m)| same(m, n) && !negated_at(i));
            if fact.numbers.iter().all(|&n| holds(n)) {
                return false;
            }
            // Numbers restated from the prompt ("12 divided by 4") are no
            // answer; each prompt number excuses one occurrence, so the
            // second 4 of "12 / 4 = 4" is one.
            let mut asked = numbers_in(prompt);
            let new_number = said_numbers.iter().any(|&(_, m)| match asked.iter().position(|&a| same(m, a)) {
                Some(k) => {
                    asked.swap_remove(k);
                    false
                }
                None => true,
            });
            return denied || new_number;
        }
        if denied {
            return true;
        }
        let claim_start = said.iter().rposition(|w| COPULAS.contains(w)).map_or(0, |i| i + 1);
        let claim_words = said[claim_start..].iter().skip_while(|w| FILLERS.contains(w)).count();
        claim_words > 0 && claim_words <= self.max_claim_words
    }
}

fn as_strs(words: &[String]) -> Vec<&str> {
    words.iter().map(String::as_str).collect()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_sdk::guard::Verdict;

    const FACTS: &str = r#"{"question": "What is the capital of Australia?", "answer": "Canberra"}
{"question": "What is 2+2?", "answer": "4", "aliases": ["four"]}

{"key": "boiling point of water at sea level", "value": "100 degrees Celsius", "aliases": ["212 degrees Fahrenheit"]}
{"key": "capital of France", "value": "Paris"}
{"key": "area of the capital of France", "value": "105 square kilometres"}
{"question": "When did the Apollo 11 crew land on the Moon?", "answer": "July 20, 1969"}
"#;

    /// Writes `text` to a file of its own (tests run in parallel) and loads it.
    fn guard_with(text: &str, max_claim_words: usize) -> Facts {
        static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("assay-facts-{}-{n}.jsonl", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let guard = Facts::new(Config { path: path.to_string_lossy().into(), max_claim_words });
        std::fs::remove_file(&path).unwrap();
        guard.unwrap()
    }

    fn guard() -> Facts {
        guard_with(FACTS, 6)
    }

    fn decide(g: &mut Facts, prompt: &str, correction: Option<&str>) -> Decision {
        let record = Feedback {
            id: "1".into(),
            user: "u1".into(),
            timestamp: None,
            prompt: prompt.into(),
            output: "whatever".into(),
            rating: None,
            correction: correction.map(Into::into),
            comment: Some("Sydney is the capital, not Canberra".into()),
            metadata: "{}".into(),
        };
        g.screen(&record).unwrap()
    }

    fn verdict(g: &mut Facts, prompt: &str, correction: &str) -> Verdict {
        decide(g, prompt, Some(correction)).verdict
    }

    const AUSTRALIA: &str = "What's the capital of Australia?";

    #[test]
    fn rejects_contradictions_and_names_the_fact() {
        let mut g = guard();
        let d = decide(&mut g, AUSTRALIA, Some("Sydney"));
        assert_eq!(d.verdict, Verdict::Reject);
        assert_eq!(
            d.reason,
            "contradicts the known fact \"What is the capital of Australia?\" (answer: \"Canberra\"): the correction says \"Sydney\""
        );
        for wrong in [
            "The capital of Australia is Sydney.",
            "It's Sydney, not Canberra",
            "Actually it is definitely Melbourne",
            "Not Canberra.",
            "no, the capital is sydney, everyone knows that",
        ] {
            assert_eq!(verdict(&mut g, AUSTRALIA, wrong), Verdict::Reject, "{wrong}");
        }
        assert_eq!(verdict(&mut g, "what is 2 + 2", "5"), Verdict::Reject);
        assert_eq!(verdict(&mut g, "What is 2+2?", "It is five, not four"), Verdict::Reject);
        assert_eq!(verdict(&mut g, "What is the boiling point of water at sea level?", "90 °C"), Verdict::Reject);
    }

    #[test]
    fn accepts_paraphrases_that_hold_the_answer() {
        let mut g = guard();
        for right in [
            "Canberra",
            "It's Canberra, not Sydney!",
            "Not Sydney: Canberra.",
            "The capital is Canberra, which many people confuse with Sydney or Melbourne",
            "CANBERRA (ACT)",
        ] {
            assert_eq!(verdict(&mut g, AUSTRALIA, right), Verdict::Accept, "{right}");
        }
        assert_eq!(verdict(&mut g, "What is 2+2?", "four"), Verdict::Accept);
        assert_eq!(verdict(&mut g, "What is 2+2?", "The answer is 4.0"), Verdict::Accept);
        assert_eq!(verdict(&mut g, "What is 2+2?", "Show the working, please"), Verdict::Accept);
        assert_eq!(verdict(&mut g, "What is 2+2?", "2 plus 2, written out"), Verdict::Accept);
        assert_eq!(verdict(&mut g, "What is 2+2?", "2+2=5"), Verdict::Reject);
        assert_eq!(verdict(&mut g, "What is 2+2?", "2+2=2"), Verdict::Reject);
        let boiling = "What's the boiling point of water at sea level in Fahrenheit?";
        assert_eq!(verdict(&mut g, boiling, "212 degrees Fahrenheit"), Verdict::Accept);
        assert_eq!(verdict(&mut g, boiling, "100°C"), Verdict::Accept);
        let apollo = "When did the Apollo 11 crew land on the Moon?";
        assert_eq!(verdict(&mut g, apollo, "On 20 July 1969."), Verdict::Accept);
        assert_eq!(verdict(&mut g, apollo, "July 21, 1969"), Verdict::Reject);
    }

    #[test]
    fn long_advice_is_not_an_answer() {
        let mut g = guard();
        let advice = "Please mention that it was chosen as a compromise between the two largest cities";
        assert_eq!(verdict(&mut g, AUSTRALIA, advice), Verdict::Accept);
        let mut strict = guard_with(FACTS, 20);
        assert_eq!(verdict(&mut strict, AUSTRALIA, advice), Verdict::Reject);
    }

    #[test]
    fn only_corrections_to_known_prompts_are_checked() {
        let mut g = guard();
        assert_eq!(decide(&mut g, AUSTRALIA, None).verdict, Verdict::Accept);
        assert_eq!(verdict(&mut g, "What is the capital of Austria?", "Sydney"), Verdict::Accept);
        assert_eq!(verdict(&mut g, "Write a poem about Canberra", "Sydney"), Verdict::Accept);
        assert_eq!(verdict(&mut g, "Name the capital of France, briefly.", "Lyon"), Verdict::Reject);
        // The longest matching key wins: "capital of France" is also in this prompt.
        let area = "What is the area of the capital of France?";
        assert_eq!(verdict(&mut g, area, "105 square kilometres"), Verdict::Accept);
        assert_eq!(verdict(&mut g, area, "about 87 km²"), Verdict::Reject);
    }

    #[test]
    fn configure_explains_a_missing_grant() {
        let err = Facts::new(Config { path: "/no/such/dir/facts.jsonl".into(), max_claim_words: 6 }).err().unwrap();
        assert!(err.contains("/no/such/dir/facts.jsonl"), "{err}");
        assert!(err.contains("grants = [\"./facts:/data\"]"), "{err}");
    }

    #[test]
    fn configure_rejects_malformed_facts() {
        let path = std::env::temp_dir().join(format!("assay-facts-bad-{}.jsonl", std::process::id()));
        for (text, expected) in [
            ("{\"question\": \"q\"}\n", "line 1: a fact has either"),
            ("\n{\"key\": \"k\", \"value\": \"v\", \"source\": \"x\"}\n", "line 2: unknown field `source`"),
            ("{\"key\": \"k\", \"value\": \"v\"}\nnot json\n", "line 2:"),
            ("{\"key\": \"?!\", \"value\": \"v\"}\n", "line 1: the question or key"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Facts::new(Config { path: path.to_string_lossy().into(), max_claim_words: 6 }).err().unwrap();
            assert!(err.contains(expected), "{err}");
        }
        std::fs::remove_file(&path).unwrap();
        let zero = Facts::new(Config { max_claim_words: 0, ..Config::default() }).err().unwrap();
        assert!(zero.contains("max_claim_words"), "{zero}");
    }

    #[test]
    fn settings_identify_the_facts() {
        let settings = guard().settings();
        let get = |k: &str| settings.iter().find(|s| s.key == k).unwrap().value.clone();
        assert_eq!(get("facts"), "6");
        assert_eq!(get("max_claim_words"), "6");
        assert_ne!(get("facts_fnv1a"), format!("{:016x}", fnv1a(b"")));
    }

    #[test]
    fn the_example_facts_file_loads() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/feedback/facts/facts.jsonl"))
                .unwrap();
        let facts = parse_facts(&text).unwrap();
        assert!(facts.len() >= 15, "{}", facts.len());
    }
}
