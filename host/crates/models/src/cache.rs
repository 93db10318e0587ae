//! Judgments kept as an asset: every answer a model gave, under the sha256
//! of the exact request that produced it.
//!
//! The key covers everything that changes an answer: the provider, the
//! endpoint's host, the provider's model name, every message and every
//! parameter; not the alias (two aliases of one model share answers) and
//! never the key. A rerun of the same eval set finds every answer here and
//! makes no request; `--replay` makes a miss an error instead of a request;
//! [`ResponseCache::export`] and [`ResponseCache::import`] move a run's
//! judgments to another machine as one JSON Lines file, checked entry by
//! entry on the way in.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::chat::{ChatRequest, ChatResponse, Message, ResponseFormat};
use crate::config::{ModelConfig, ProviderKind};

/// What a run may do with the cache: `--model-cache rw|ro|off`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheMode {
    /// Read answers, and keep new ones.
    #[default]
    Rw,
    /// Read answers, keep nothing new.
    Ro,
    /// Neither.
    Off,
}

/// The request as the key sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyedRequest {
    pub provider: ProviderKind,
    pub endpoint: String,
    pub model: String,
    pub messages: Vec<Message>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub seed: Option<u64>,
    pub response_format: ResponseFormat,
    pub top_logprobs: Option<u8>,
}

impl KeyedRequest {
    pub fn new(config: &ModelConfig, request: &ChatRequest) -> KeyedRequest {
        KeyedRequest {
            provider: config.provider,
            endpoint: endpoint_host(&config.base_url).to_string(),
            model: config.model.clone(),
            messages: request.messages.clone(),
            temperature: request.temperature,
            max_tokens: request.max_tokens,
            seed: request.seed,
            response_format: request.response_format.clone(),
            top_logprobs: request.top_logprobs,
        }
    }

    /// The sha256, in hex, of the request's canonical JSON (fields in
    /// declaration order, no spaces).
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).expect("requests serialize");
        sha2::Sha256::digest(&json).iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// `HOST[:PORT]` of a base URL.
fn endpoint_host(base_url: &str) -> &str {
    let rest = base_url.split_once("://").map_or(base_url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// One kept answer, as stored and as exported.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    request: KeyedRequest,
    response: ChatResponse,
}

/// Why the cache could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: cannot read or write the model cache")]
    Io {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{path}: line {line}: {message}")]
    Bad { path: PathBuf, line: usize, message: String },
}

/// The cache in one folder: `sha256/HEX.json` entries.
#[derive(Debug, Clone)]
pub struct ResponseCache {
    dir: PathBuf,
}

impl ResponseCache {
    pub fn new(dir: impl Into<PathBuf>) -> ResponseCache {
        ResponseCache { dir: dir.into() }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join("sha256").join(format!("{key}.json"))
    }

    /// The kept answer to `request`, if any. An entry whose request is not
    /// this one (a damaged or planted file) is ignored.
    pub fn get(&self, request: &KeyedRequest) -> Option<ChatResponse> {
        let bytes = std::fs::read(self.path(&request.key())).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        (entry.request == *request).then_some(ChatResponse { cached: true, ..entry.response })
    }

    /// Keeps an answer, atomically.
    pub fn put(&self, request: &KeyedRequest, response: &ChatResponse) -> Result<(), CacheError> {
        let path = self.path(&request.key());
        let entry = Entry { request: request.clone(), response: response.clone() };
        write_atomically(&path, &serde_json::to_vec(&entry).expect("entries serialize"))
    }

    /// Every kept answer, one JSON object per line, in key order.
    pub fn export(&self, out: &Path) -> Result<usize, CacheError> {
        fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
            move |error| CacheError::Io { path: path.to_path_buf(), error }
        }
        let dir = self.dir.join("sha256");
        let mut names: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(&dir)(e)),
        };
        names.retain(|p| p.extension().is_some_and(|e| e == "json"));
        names.sort();
        let mut text = Vec::new();
        for path in &names {
            let bytes = std::fs::read(path).map_err(io(path))?;
            let entry: Entry = serde_json::from_slice(&bytes).map_err(|e| CacheError::Bad {
                path: path.clone(),
                line: 1,
                message: e.to_string(),
            })?;
            serde_json::to_writer(&mut text, &entry).expect("entries serialize");
            text.push(b'\n');
        }
        write_atomically(out, &text)?;
        Ok(names.len())
    }

    /// Keeps every answer of an exported file; returns how many. Each entry
    /// is stored under the key of its own request, so a file cannot plant
    /// an answer under another request.
    pub fn import(&self, file: &Path) -> Result<usize, CacheError> {
        let io = |error| CacheError::Io { path: file.to_path_buf(), error };
        let reader = std::io::BufReader::new(std::fs::File::open(file).map_err(io)?);
        let mut count = 0;
        for (index, line) in reader.lines().enumerate() {
            let line = line.map_err(io)?;
            if line.trim().is_empty() {
                continue;
            }
            let entry: Entry = serde_json::from_str(&line).map_err(|e| CacheError::Bad {
                path: file.to_path_buf(),
                line: index + 1,
                message: format!("not a model cache entry: {e}"),
            })?;
            self.put(&entry.request, &entry.response)?;
            count += 1;
        }
        Ok(count)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let io = |error| CacheError::Io { path: path.to_path_buf(), error };
    let dir = path.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut file = assay_data::output::temporary_file_in(dir).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
