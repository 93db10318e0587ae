//! The candidates file (`models.toml`): what a team knows of each model it
//! might adopt beyond its scores (licence, commercial use, size, context,
//! training data, how it can be adapted, price), and where its runs are.
//!
//! ```toml
//! [candidates.acme-13b]
//! license = "Apache-2.0"              # an SPDX id, or "proprietary"
//! commercial_use = "allowed"          # "allowed", "restricted" (say why in commercial_note), "forbidden"
//! parameters = 13e9
//! context_length = 8192
//! training_data = { text = "web and code to 2025", link = "https://example.com/card" }
//! adaptability = { kind = "open-weights", methods = ["lora", "full"] }
//! price = { input_per_million = 0.2, output_per_million = 0.6 }
//! runs = ["out/acme-13b"]             # one run folder per eval set, in the same order for every candidate
//! ```
//!
//! Anything not given stays unknown: a requirement on it excludes the
//! candidate and says it is unknown, rather than guessing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Whether a licence allows commercial use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommercialUse {
    Allowed,
    Restricted,
    Forbidden,
}

impl CommercialUse {
    pub fn name(self) -> &'static str {
        match self {
            CommercialUse::Allowed => "allowed",
            CommercialUse::Restricted => "restricted",
            CommercialUse::Forbidden => "forbidden",
        }
    }
}

/// How a model can be adapted to a team's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdaptKind {
    OpenWeights,
    FineTuneApi,
    None,
}

impl AdaptKind {
    pub fn name(self) -> &'static str {
        match self {
            AdaptKind::OpenWeights => "open-weights",
            AdaptKind::FineTuneApi => "fine-tune-api",
            AdaptKind::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adaptability {
    pub kind: AdaptKind,
    /// Such as "lora", "full", "dpo".
    #[serde(default)]
    pub methods: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingData {
    pub text: String,
    #[serde(default)]
    pub link: Option<String>,
}

/// Price per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// One candidate, as the file describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// The table's key (`[candidates.NAME]`).
    #[serde(default)]
    pub name: String,
    pub license: Option<String>,
    pub commercial_use: Option<CommercialUse>,
    pub commercial_note: Option<String>,
    pub parameters: Option<f64>,
    pub context_length: Option<f64>,
    pub training_data: Option<TrainingData>,
    pub adaptability: Option<Adaptability>,
    pub price: Option<Price>,
    /// Run folders, one per eval set, relative to the file.
    pub runs: Vec<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    candidates: indexmap_like::Ordered<Candidate>,
}

/// Why a candidates file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CandidatesError {
    #[error("{}: cannot read it", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// Reads `path`: the candidates in the file's order, their run folders
/// resolved against the file's folder.
pub fn read(path: &Path) -> Result<Vec<Candidate>, CandidatesError> {
    let text = std::fs::read_to_string(path).map_err(|source| CandidatesError::Read { path: path.into(), source })?;
    parse(&text, path.parent().unwrap_or(Path::new(".")))
        .map_err(|message| CandidatesError::Invalid { path: path.into(), message })
}

/// Parses a candidates file whose relative paths are relative to `base`.
pub fn parse(text: &str, base: &Path) -> Result<Vec<Candidate>, String> {
    let file: File = toml::from_str(text).map_err(|e| {
        // toml names the line and the field; say it the way other errors do.
        let place = e.span().map(|span| format!("line {}: ", text[..span.start].matches('\n').count() + 1));
        format!("{}{}", place.unwrap_or_default(), e.message())
    })?;
    let mut candidates = Vec::new();
    for (name, mut candidate) in file.candidates.0 {
        if !candidate.name.is_empty() {
            return Err(format!("candidate {name:?}: its name is its table's key; drop `name`"));
        }
        if candidate.runs.is_empty() {
            return Err(format!("candidate {name:?}: `runs` is empty; give the run folder of its outputs"));
        }
        if candidate.commercial_use == Some(CommercialUse::Restricted) && candidate.commercial_note.is_none() {
            return Err(format!(
                "candidate {name:?}: commercial_use = \"restricted\" needs a commercial_note saying how"
            ));
        }
        candidate.runs = candidate.runs.iter().map(|run| tidy(&base.join(run))).collect();
        candidate.name = name;
        candidates.push(candidate);
    }
    if candidates.is_empty() {
        return Err("no [candidates.NAME] table".into());
    }
    let sets = candidates[0].runs.len();
    if let Some(odd) = candidates.iter().find(|c| c.runs.len() != sets) {
        return Err(format!(
            "candidate {:?} has {} runs, {:?} {sets}; give every candidate one run per eval set, in the same order",
            odd.name,
            odd.runs.len(),
            candidates[0].name
        ));
    }
    Ok(candidates)
}

/// `path` with `.` and `dir/..` taken out, so that names read as folders.
fn tidy(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut tidy = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(tidy.components().next_back(), Some(Component::Normal(_))) => {
                tidy.pop();
            }
            other => tidy.push(other),
        }
    }
    tidy
}

/// The values a requirement or a weight can name, of one candidate: its
/// description's, its speed and cost figures, and its metrics.
pub fn criteria(candidate: &Candidate, figures: &BTreeMap<String, f64>) -> BTreeMap<String, Value> {
    let mut values = BTreeMap::new();
    let mut text = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            values.insert(name.to_string(), Value::Text(value.to_string()));
        }
    };
    text("license", candidate.license.as_deref());
    text("commercial_use", candidate.commercial_use.map(CommercialUse::name));
    text("adaptability", candidate.adaptability.as_ref().map(|a| a.kind.name()));
    let mut number = |name: &str, value: Option<f64>| {
        if let Some(value) = value {
            values.insert(name.to_string(), Value::Number(value));
        }
    };
    number("parameters", candidate.parameters);
    number("context_length", candidate.context_length);
    for (name, value) in figures {
        values.insert(name.clone(), Value::Number(*value));
    }
    values
}

/// A criterion's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// Tables in the file's order (the first candidate is the baseline).
mod indexmap_like {
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

    pub struct Ordered<T>(pub Vec<(String, T)>);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Entries<T>(std::marker::PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for Entries<T> {
                type Value = Ordered<T>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a table of candidates")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<T>, A::Error> {
                    let mut entries = Vec::new();
                    while let Some(entry) = map.next_entry()? {
                        entries.push(entry);
                    }
                    Ok(Ordered(entries))
                }
            }
            deserializer.deserialize_map(Entries(std::marker::PhantomData))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[candidates.small]
license = "Apache-2.0"
commercial_use = "allowed"
parameters = 7e9
adaptability = { kind = "open-weights", methods = ["lora"] }
price = { input_per_million = 0.1, output_per_million = 0.2 }
runs = ["out/small"]

[candidates.big]
license = "proprietary"
commercial_use = "restricted"
commercial_note = "not for competing services"
runs = ["out/big"]
"#;

    #[test]
    fn candidates_are_read_in_order_with_runs_beside_the_file() {
        let candidates = parse(FILE, Path::new("/teams/nlp")).unwrap();
        assert_eq!(candidates.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["small", "big"]);
        assert_eq!(candidates[0].runs, [PathBuf::from("/teams/nlp/out/small")]);
        assert_eq!(tidy(Path::new("examples/choose/../../out/x")), PathBuf::from("out/x"));
        assert_eq!(tidy(Path::new("../a/./b")), PathBuf::from("../a/b"));
        assert_eq!(candidates[1].parameters, None, "not given is unknown");
        let values = criteria(&candidates[0], &BTreeMap::from([("p95_latency_ms".to_string(), 420.0)]));
        assert_eq!(values["commercial_use"], Value::Text("allowed".into()));
        assert_eq!(values["p95_latency_ms"], Value::Number(420.0));
        assert!(!criteria(&candidates[1], &BTreeMap::new()).contains_key("parameters"));
    }

    #[test]
    fn mistakes_name_the_line_and_field() {
        let error = parse("[candidates.x]\nruns = [\"a\"]\nlicence = \"MIT\"\n", Path::new(".")).unwrap_err();
        assert!(error.contains("line 3") && error.contains("licence"), "{error}");
        let error = parse("[candidates.x]\ncommercial_use = \"maybe\"\nruns = [\"a\"]\n", Path::new(".")).unwrap_err();
        assert!(error.contains("line 2") && error.contains("maybe"), "{error}");
        let error =
            parse("[candidates.x]\ncommercial_use = \"restricted\"\nruns = [\"a\"]\n", Path::new(".")).unwrap_err();
        assert!(error.contains("commercial_note"), "{error}");
        let error = parse("[candidates.x]\nruns = [\"a\"]\n[candidates.y]\nruns = [\"a\", \"b\"]\n", Path::new("."))
            .unwrap_err();
        assert!(error.contains("one run per eval set"), "{error}");
    }
}
