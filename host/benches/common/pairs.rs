//! Output/reference pairs shaped like real ones, for the benches of the
//! text-overlap metrics.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use serde_json::Value;

/// Writes `pairs` eval records and returns the number of output words.
///
/// Outputs are walks through the word bigrams of the conformance vectors'
/// texts (news, summaries, translations); references are the outputs
/// paraphrased by chance: words replaced by another successor of the word
/// before, dropped or inserted, so overlap varies as between a system and a
/// human. Deterministic: same pairs on every run.
pub fn generate(root: &Path, path: &Path, pairs: usize) -> usize {
    let language = Language::from_vectors(root);
    let mut rng = Rng(0x5eed);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut words = 0;
    for i in 0..pairs {
        let length = 20 + rng.below(41);
        let output = language.walk(&mut rng, length);
        let reference = language.paraphrase(&mut rng, &output);
        words += output.len();
        let record = serde_json::json!({"id": i, "output": output.join(" "), "reference": [reference.join(" ")]});
        writeln!(out, "{record}").unwrap();
    }
    out.flush().unwrap();
    words
}

struct Language {
    words: Vec<String>,
    successors: Vec<Vec<usize>>,
    starts: Vec<usize>,
}

impl Language {
    fn from_vectors(root: &Path) -> Language {
        let mut language = Language { words: Vec::new(), successors: Vec::new(), starts: Vec::new() };
        let mut index: HashMap<String, usize> = HashMap::new();
        for file in ["rouge", "bleu", "chrf"] {
            let text = std::fs::read_to_string(root.join(format!("tests/conformance/{file}.jsonl"))).unwrap();
            for line in text.lines() {
                let case: Value = serde_json::from_str(line).unwrap();
                for sample in case["samples"].as_array().unwrap() {
                    let texts = std::iter::once(&sample["output"]).chain(sample["references"].as_array().unwrap());
                    for text in texts.filter_map(Value::as_str).filter(|t| t.is_ascii()) {
                        let mut previous: Option<usize> = None;
                        for word in text.split_whitespace() {
                            let id = *index.entry(word.to_string()).or_insert_with(|| {
                                language.words.push(word.to_string());
                                language.successors.push(Vec::new());
                                language.words.len() - 1
                            });
                            match previous {
                                Some(p) => language.successors[p].push(id),
                                None => language.starts.push(id),
                            }
                            previous = Some(id);
                        }
                    }
                }
            }
        }
        language
    }

    fn next_word(&self, rng: &mut Rng, after: Option<usize>) -> usize {
        match after.map(|w| &self.successors[w]) {
            Some(next) if !next.is_empty() && !rng.chance(0.05) => next[rng.below(next.len())],
            _ => self.starts[rng.below(self.starts.len())],
        }
    }

    fn walk(&self, rng: &mut Rng, length: usize) -> Vec<&str> {
        let mut previous = None;
        (0..length)
            .map(|_| {
                let word = self.next_word(rng, previous);
                previous = Some(word);
                self.words[word].as_str()
            })
            .collect()
    }

    fn paraphrase<'a>(&'a self, rng: &mut Rng, output: &[&'a str]) -> Vec<&'a str> {
        let mut reference = Vec::with_capacity(output.len() + 4);
        let mut previous: Option<usize> = None;
        for word in output {
            if rng.chance(0.06) {
                continue;
            }
            let id = if rng.chance(0.15) {
                self.next_word(rng, previous)
            } else {
                self.words.iter().position(|w| w == word).unwrap()
            };
            reference.push(self.words[id].as_str());
            previous = Some(id);
            if rng.chance(0.06) {
                let inserted = self.next_word(rng, previous);
                reference.push(self.words[inserted].as_str());
                previous = Some(inserted);
            }
        }
        reference
    }
}

/// splitmix64: a few lines instead of a dependency, and the same numbers everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}
