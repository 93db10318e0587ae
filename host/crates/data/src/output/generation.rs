//! `generation.json`: how `assay generate` produced each candidate's eval
//! set: which model, prompted how, from which eval set, with what came of
//! it. `assay compare` reads it to refuse comparing answers to different
//! prompts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One candidate's generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratedSet {
    /// `provider/model`.
    pub model: String,
    /// The eval set written, in this folder.
    pub file: String,
    /// The prompt settings: system message, temperature, max tokens, seed.
    pub system: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub seed: Option<u64>,
    pub records: u64,
    /// Records with an output.
    pub generated: u64,
    /// Records kept with their error instead.
    pub failed: u64,
    /// Answers taken from the model cache.
    pub cached: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// `generation.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub assay_version: String,
    /// The eval set the prompts came from, and its sha256.
    pub source: String,
    pub source_sha256: String,
    /// By candidate name.
    pub candidates: BTreeMap<String, GeneratedSet>,
}

impl GeneratedSet {
    /// What makes two candidates' answers comparable: the same prompt settings.
    pub fn prompt(&self) -> (Option<&str>, Option<f64>, Option<u32>, Option<u64>) {
        (self.system.as_deref(), self.temperature, self.max_tokens, self.seed)
    }
}
