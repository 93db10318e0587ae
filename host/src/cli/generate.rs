//! `assay generate EVAL_SET --model NAME... -o DIR`: the candidates'
//! answers, before they can be compared. Each record's `messages` (chat
//! messages) or `input` (a plain prompt) goes to each candidate through
//! the `[models.NAME]` configuration the judges use (cache, replay,
//! concurrency, retries, budget), and each candidate gets its own eval set,
//! `DIR/NAME.jsonl`: the records with `output` filled in and the answer's
//! `latency_ms`, `input_tokens` and `output_tokens`. A record whose
//! generation fails is kept, with `output` null and its
//! `generation_error`; none is dropped. `DIR/generation.json` records how
//! each candidate was prompted (`[generate.NAME]` over the flags), so that
//! `assay compare` can refuse answers to different prompts.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Map, Value, json};

use assay_data::output::generation::{GeneratedSet, Generation};
use assay_data::output::{AtomicFile, write_json};
use assay_data::{Body, Format, Reader};
use assay_models::chat::{ChatRequest, Message, ResponseFormat, Role};
use assay_models::{Broker, GenerationConfig};

use crate::config::{ConfigFile, SharedOptions};

pub const GENERATION_FILE: &str = "generation.json";

/// Records sent at once; the models' own concurrency limits what is in flight.
const CHUNK: usize = 256;

#[derive(Args)]
pub struct GenerateArgs {
    /// The eval set (JSON Lines): each record's `messages` or `input` is the prompt.
    eval_set: PathBuf,
    /// A candidate: a `[models.NAME]` alias of the config. Repeatable.
    #[arg(long = "model", required = true, value_name = "NAME")]
    models: Vec<String>,
    /// Where to write NAME.jsonl per candidate and generation.json.
    #[arg(short, long, value_name = "DIR")]
    out: PathBuf,
    /// A configuration file (assay.toml) with the [models.NAME] tables.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A system message before every prompt (`[generate.NAME] system` overrides it).
    #[arg(long, value_name = "TEXT")]
    system: Option<String>,
    #[arg(long, value_name = "T")]
    temperature: Option<f64>,
    #[arg(long, value_name = "N")]
    max_tokens: Option<u32>,
    /// The sampling seed asked of providers that take one (`--seed` is the
    /// plugins' own).
    #[arg(long, value_name = "N")]
    sampling_seed: Option<u64>,
    #[command(flatten)]
    shared: SharedOptions,
}

pub fn generate(args: GenerateArgs) -> Result<()> {
    let config = ConfigFile::load_or_default(args.config.as_deref())?;
    let options = args.shared.clone().over(config.shared.clone());
    for name in &args.models {
        if !config.models.contains_key(name) {
            bail!("--model {name:?}: no [models.{name}] table in {}", config.display_name());
        }
    }
    let Some(broker) = super::setup::models(&config, &options)? else {
        bail!("{}: no [models.NAME] table; generation needs the candidates configured", config.display_name());
    };
    if args.eval_set.extension().is_some_and(|e| e != "jsonl" && e != "ndjson" && e != "json") {
        bail!("{}: generate reads JSON Lines eval sets (a record's messages are JSON)", args.eval_set.display());
    }
    let (records, sha256) = read_records(&args.eval_set)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let defaults = GenerationConfig {
        system: args.system.clone(),
        temperature: args.temperature,
        max_tokens: args.max_tokens,
        seed: args.sampling_seed,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut generation = Generation {
        assay_version: env!("CARGO_PKG_VERSION").into(),
        source: args.eval_set.display().to_string(),
        source_sha256: sha256,
        candidates: BTreeMap::new(),
    };
    for name in &args.models {
        let settings = config.generate.get(name).cloned().unwrap_or_default().over(&defaults);
        let set = generate_one(&runtime, &broker, name, &settings, &records, &args.out)?;
        eprintln!(
            "{name}: {} of {} records answered ({} from the cache), {} failed",
            set.generated, set.records, set.cached, set.failed
        );
        generation.candidates.insert(name.clone(), set);
    }
    for note in broker.take_notes() {
        eprintln!("note: {note}");
    }
    let path = args.out.join(GENERATION_FILE);
    write_json(&path, &generation).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Every record of a JSON Lines eval set as an object, and the file's sha256;
/// a line that is not a JSON object stops with its line.
fn read_records(path: &Path) -> Result<(Vec<Map<String, Value>>, String)> {
    let mut reader = Reader::open(path, Some(Format::Jsonl))?;
    let mut records = Vec::new();
    while let Some(chunk) = reader.next_chunk(4096)? {
        for record in chunk.records {
            let Body::Json(bytes) = &record.body else { unreachable!("read as JSON Lines") };
            match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Object(object)) => records.push(object),
                Ok(_) => bail!("{}:{}: not a JSON object", path.display(), record.line),
                Err(e) => bail!("{}:{}: invalid JSON at column {}: {e}", path.display(), record.line, e.column()),
            }
        }
    }
    let sha256 = reader.finish()?;
    Ok((records, sha256.to_string()))
}

/// The chat messages of a record: its `messages`, or its `input` as the
/// user's message, after the system message; why not, when it has neither.
fn prompt(record: &Map<String, Value>, system: Option<&str>) -> Result<Vec<Message>, String> {
    let mut messages: Vec<Message> =
        system.map(|content| Message { role: Role::System, content: content.to_string() }).into_iter().collect();
    match (record.get("messages"), record.get("input")) {
        (Some(Value::Array(list)), _) => {
            for (i, message) in list.iter().enumerate() {
                let role = match message.get("role").and_then(Value::as_str) {
                    Some("system") => Role::System,
                    Some("user") => Role::User,
                    Some("assistant") => Role::Assistant,
                    other => {
                        return Err(format!("messages[{i}].role: expected system, user or assistant, found {other:?}"));
                    }
                };
                let Some(content) = message.get("content").and_then(Value::as_str) else {
                    return Err(format!("messages[{i}].content: expected text"));
                };
                messages.push(Message { role, content: content.to_string() });
            }
        }
        (Some(_), _) => return Err("messages: expected a list of {role, content}".into()),
        (None, Some(Value::String(input))) => messages.push(Message { role: Role::User, content: input.clone() }),
        (None, _) => return Err("the record has no `messages` or `input` text to prompt with".into()),
    }
    Ok(messages)
}

fn generate_one(
    runtime: &tokio::runtime::Runtime,
    broker: &Arc<Broker>,
    name: &str,
    settings: &GenerationConfig,
    records: &[Map<String, Value>],
    out: &Path,
) -> Result<GeneratedSet> {
    let identity = broker.identity(name).unwrap_or_else(|| name.to_string());
    let file = format!("{name}.jsonl");
    let path = out.join(&file);
    let mut writer = AtomicFile::create(&path).with_context(|| format!("writing {}", path.display()))?;
    let mut set = GeneratedSet {
        model: identity,
        file,
        system: settings.system.clone(),
        temperature: settings.temperature,
        max_tokens: settings.max_tokens,
        seed: settings.seed,
        records: records.len() as u64,
        generated: 0,
        failed: 0,
        cached: 0,
        input_tokens: 0,
        output_tokens: 0,
    };
    let grants = [name.to_string()];
    for chunk in records.chunks(CHUNK) {
        let prompts: Vec<Result<Vec<Message>, String>> =
            chunk.iter().map(|r| prompt(r, settings.system.as_deref())).collect();
        let requests: Vec<ChatRequest> = prompts
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .map(|messages| ChatRequest {
                model: name.to_string(),
                messages: messages.clone(),
                temperature: settings.temperature,
                max_tokens: settings.max_tokens,
                seed: settings.seed,
                response_format: ResponseFormat::Text,
                top_logprobs: None,
            })
            .collect();
        let mut answers = runtime.block_on(broker.complete(&grants, requests)).into_iter();
        for (record, prompt) in chunk.iter().zip(prompts) {
            let mut record = record.clone();
            for field in ["output", "latency_ms", "input_tokens", "output_tokens", "generation_error"] {
                record.remove(field);
            }
            let answer = prompt.map(|_| answers.next().expect("one answer per request"));
            match answer {
                Ok(Ok(response)) => {
                    set.generated += 1;
                    set.cached += u64::from(response.cached);
                    set.input_tokens += response.usage.input_tokens;
                    set.output_tokens += response.usage.output_tokens;
                    record.insert("output".into(), response.text.into());
                    if let Some(latency) = response.latency_ms {
                        record.insert("latency_ms".into(), json!((latency * 10.0).round() / 10.0));
                    }
                    record.insert("input_tokens".into(), response.usage.input_tokens.into());
                    record.insert("output_tokens".into(), response.usage.output_tokens.into());
                }
                Ok(Err(error)) => {
                    set.failed += 1;
                    record.insert("output".into(), Value::Null);
                    record
                        .insert("generation_error".into(), json!({"kind": error.kind(), "message": error.to_string()}));
                }
                Err(message) => {
                    set.failed += 1;
                    record.insert("output".into(), Value::Null);
                    record.insert("generation_error".into(), json!({"kind": "bad-prompt", "message": message}));
                }
            }
            serde_json::to_writer(&mut writer, &record)?;
            writer.write_all(b"\n")?;
        }
    }
    writer.commit().with_context(|| format!("writing {}", path.display()))?;
    Ok(set)
}
