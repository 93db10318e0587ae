//! Options, defined once for the command line and for `assay.toml`.
//!
//! Every option of `assay run` and `assay guard` belongs to a group, and
//! each group is one struct that clap reads from flags and serde reads from
//! one section of the config file, as wasmtime's `CommonOptions` does:
//!
//! | section     | group             | commands          |
//! |-------------|-------------------|-------------------|
//! | `[run]`     | [`SharedOptions`] | `run` and `guard` |
//! | `[run]`     | [`EvalOptions`]   | `run`             |
//! | `[run]`     | [`ShardOptions`]  | `run` and `guard` |
//! | `[guard]`   | [`GuardOptions`]  | `guard`           |
//! | `[dataset]` | [`InputOptions`]  | `run` and `guard` |
//! | `[ci]`      | [`CiOptions`]     | `run` and `guard` |
//!
//! A flag wins over the file; a list (`--field`) adds to it. Paths in the
//! file are relative to the file's folder, paths in flags to the current one.
//!
//! ```toml
//! [run]
//! jobs = 4                  # worker threads (default: all cores)
//! batch_size = 64           # samples per plugin call
//! on_bad_record = "fail"    # or "skip"
//! seed = 0                  # seed of the plugins' virtual randomness
//! max_failure_rate = 0.5    # stop once a plugin fails on over half the samples
//! min_samples = 100         # ... checked after this many (default: no early stop)
//! allow_duplicate_ids = false  # accept samples sharing an id (listed in summary.json)
//! keep_statistics = false   # each sample's statistics in samples.jsonl, for `assay compare`
//! block_bytes = 262144      # input blocks; a shard (--shard K/N) is whole blocks
//! checkpoint_seconds = 2    # how often a run records where `--resume` goes on from
//! out = "out/qa"            # where `assay run` writes (default: assay-out)
//!
//! [guard]
//! on_bad_record = "quarantine"  # or "fail"
//! out = "out/feedback"
//!
//! [dataset]
//! format = "jsonl"
//! fields = { output = "prediction" }   # feedback too: { user = "author" }
//!
//! [ci]
//! junit = "assay-junit.xml"
//! markdown = "assay-summary.md"
//!
//! [plugins.rouge]           # the instance name used in results
//! source = "rouge"          # a built-in name, a path to a .wasm component, or oci://...
//! config = { stemmer = true }
//! limits = { timeout_ms = 5000 }
//!
//! [plugins.facts]           # a feedback guard (`assay guard`)
//! grants = ["./facts:/data"]  # read-only: HOST_DIR (relative to this file):GUEST_PATH
//! on_failure = "accept"     # when the guard fails on a record; default "quarantine"
//!
//! [gates]                   # checked after the run; exit code 4 if one fails
//! "rouge/rougeL_f" = ">= 0.3"
//! "errors" = "== 0"
//!
//! [trust]                   # see assay_registry::trust
//! require_signatures = true
//! keys.nlp = { public_key = "keys/nlp.pub", repositories = ["registry.example.com/nlp"] }
//!
//! [models.grader]           # a language model plugins may be granted
//! provider = "openai"       # or "anthropic"; OpenAI-compatible servers use base_url
//! base_url = "https://api.openai.com/v1"
//! model = "gpt-4o-mini"
//! api_key_env = "OPENAI_API_KEY"   # read by the host only
//!
//! [registry]                # how long to wait for registries, in seconds
//! connect_timeout_secs = 3
//! read_timeout_secs = 5
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assay_data::output::FailurePolicy;
use assay_data::{DEFAULT_BLOCK_BYTES, FieldMap, Format, Shard};
use assay_models::{CacheMode, GenerationConfig, ModelConfig};
use assay_pipeline::{BadFeedbackPolicy, BadRecordPolicy};
use assay_registry::registry::RegistryOptions;
use assay_registry::trust::TrustPolicy;
use assay_runtime::{Compiler, Limits};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::gate::Gates;

/// A flag's value and the file's, combined: the flag wins.
trait Merge {
    fn merge(flag: Self, file: Self) -> Self;
}

impl<T> Merge for Option<T> {
    fn merge(flag: Self, file: Self) -> Self {
        flag.or(file)
    }
}

impl Merge for bool {
    fn merge(flag: Self, file: Self) -> Self {
        flag || file
    }
}

impl<T> Merge for Vec<T> {
    /// The file's entries, then the flags': a later entry for the same key wins.
    fn merge(flag: Self, mut file: Self) -> Self {
        file.extend(flag);
        file
    }
}

/// Defines an option group: one struct that is both clap arguments and a
/// section of `assay.toml`, with the list of its keys and a merge of the
/// two sources. A field is an `Option`, a `bool` or a `Vec`, so that "not
/// given" can be told from a value.
macro_rules! option_group {
    ($(#[$attr:meta])* pub struct $name:ident { $($(#[$field_attr:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$attr])*
        #[derive(clap::Args, Deserialize, Default, Debug, Clone)]
        #[serde(default)]
        pub struct $name {
            $($(#[$field_attr])* pub $field: $ty,)*
        }

        impl $name {
            /// The keys of its section in `assay.toml`.
            pub const KEYS: &[&str] = &[$(stringify!($field)),*];

            /// These options (from flags) over `file`'s.
            pub fn over(self, file: Self) -> Self {
                $name { $($field: Merge::merge(self.$field, file.$field),)* }
            }
        }
    };
}

/// How `assay serve` writes its log (`[serve] log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `assay serve: MESSAGE`, a line per event.
    Text,
    /// One JSON object per line: time, level, message and the event's fields.
    Json,
}

/// The least severe events `assay serve` logs (`[serve] log_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// A value parser for an enum that serde names: the listed names, each read
/// back through serde, so flags and the config file spell values alike.
pub fn choice<T: DeserializeOwned + Clone + Send + Sync + 'static>(
    names: &'static [&'static str],
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(names).map(|name| {
        let deserializer = serde::de::value::StrDeserializer::<serde::de::value::Error>::new(&name);
        T::deserialize(deserializer).expect("every listed name is a variant")
    })
}

/// `--compiler` for the commands that load a plugin outside a run
/// (`assay test`, `assay inspect`), which `assay dev` runs with what the
/// run it also starts uses, so the two share one compiled entry.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct CompilerFlag {
    /// What compiles the plugin: cranelift (the default) or winch (compiles
    /// faster, runs slower; what `assay dev` uses).
    #[arg(long, value_parser = choice::<Compiler>(&["cranelift", "winch"]))]
    pub compiler: Option<Compiler>,
}

option_group! {
    /// Options of every command that runs plugins over records (`[run]`).
    pub struct SharedOptions {
        /// Worker threads. Default: all cores. Results are identical for every value.
        #[arg(short, long, value_name = "N")]
        pub jobs: Option<usize>,
        /// Records per plugin call. Default: 64.
        #[arg(long, value_name = "N")]
        pub batch_size: Option<usize>,
        /// Seed of the plugins' virtual randomness. Default: 0.
        #[arg(long, value_name = "N")]
        pub seed: Option<u64>,
        /// Give plugins the host's real clocks; the run is then not reproducible.
        #[arg(long)]
        pub real_clock: bool,
        /// Where compiled components are kept. Default: $ASSAY_CACHE_DIR, else
        /// $XDG_CACHE_HOME/assay, else ~/.cache/assay.
        #[arg(long, value_name = "DIR")]
        pub cache_dir: Option<PathBuf>,
        /// Compile every plugin afresh instead of using the compiled-component cache.
        #[arg(long)]
        pub no_cache: bool,
        /// What compiles plugins to machine code: cranelift (optimizing, the
        /// default) or winch (Wasmtime's baseline compiler: compiles a large
        /// plugin several times faster and runs it slower; `assay dev` uses
        /// it). Scores and decisions are the same with either; fuel, which
        /// the compiled code counts, is a few percent lower with winch.
        #[arg(long, value_parser = choice::<Compiler>(&["cranelift", "winch"]))]
        pub compiler: Option<Compiler>,
        /// Refuse to run any plugin whose bytes assay.lock does not pin, naming
        /// the plugin and both digests; re-check registry tags the lock pins.
        #[arg(long)]
        pub locked: bool,
        /// Use no network: registry plugins must be in the local store.
        #[arg(long)]
        pub offline: bool,
        /// Print nothing but errors.
        #[arg(short, long)]
        pub quiet: bool,
        /// Print what plugins print (stdout and stderr: Python's `print`,
        /// `console.log`, Rust's `eprintln!`) as each call ends, each line
        /// after its plugin's name; the progress bar is then off.
        #[arg(short, long, conflicts_with = "quiet")]
        pub verbose: bool,
        /// Stop sending model requests after this many (cache hits are free).
        #[arg(long, value_name = "N")]
        pub max_model_requests: Option<u64>,
        /// Stop sending model requests once this many tokens were used.
        #[arg(long, value_name = "N")]
        pub max_model_tokens: Option<u64>,
        /// Stop sending model requests once their cost (from each model's
        /// `price`) reaches this.
        #[arg(long, value_name = "AMOUNT")]
        pub max_cost: Option<f64>,
        /// What the model cache may do: read and keep answers (rw), only read
        /// them (ro), or neither (off). Default: rw.
        #[arg(long, value_parser = choice::<CacheMode>(&["rw", "ro", "off"]))]
        pub model_cache: Option<CacheMode>,
        /// Use no network for models: every answer must be in the model cache.
        #[arg(long)]
        pub replay: bool,
    }
}

option_group! {
    /// Options of `assay run` (`[run]`).
    pub struct EvalOptions {
        /// Where to write samples.jsonl and summary.json. Default: assay-out.
        #[arg(short, long, value_name = "DIR")]
        pub out: Option<PathBuf>,
        /// What to do with a record that cannot be read. Default: fail.
        #[arg(long, value_parser = choice::<BadRecordPolicy>(&["fail", "skip"]))]
        pub on_bad_record: Option<BadRecordPolicy>,
        /// Stop the run once a plugin fails on more than this fraction of the
        /// samples scored so far. Default: never; every sample is tried.
        #[arg(long, value_name = "RATE")]
        pub max_failure_rate: Option<f64>,
        /// Samples scored before --max-failure-rate is checked. Default: 100.
        #[arg(long, value_name = "N")]
        pub min_samples: Option<u64>,
        /// Accept samples that share an id, listed in summary.json. Default:
        /// a second sample with an id stops the run (runs are joined by id).
        #[arg(long)]
        pub allow_duplicate_ids: bool,
        /// Keep each sample's plugin statistics in samples.jsonl, so that
        /// `assay compare` can test corpus metrics (BLEU, chrF, F1) for
        /// significance. Default: only their sums, in the corpus metrics.
        #[arg(long)]
        pub keep_statistics: bool,
        /// Go on from where a killed run into the same --out stopped (its
        /// last checkpoint), instead of starting afresh. The results are
        /// those of a run never killed.
        #[arg(long)]
        pub resume: bool,
        /// Make what a run wrote safe, and record a checkpoint, at most this
        /// often (when a block of the input is done). Default: 2.
        #[arg(long, value_name = "SECONDS")]
        pub checkpoint_seconds: Option<f64>,
    }
}

option_group! {
    /// How a run is split over a cluster (`[run]`), for `assay run` and
    /// `assay guard` alike.
    pub struct ShardOptions {
        /// Process one shard of the input: K/N, K from 0 to N-1. `--shard`
        /// alone takes it from the scheduler: a Slurm array task
        /// (SLURM_ARRAY_TASK_ID, _MIN, _STEP, _COUNT) or a pod of a
        /// Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with --shards).
        /// --out gets the shard's outputs and shard.json, which `assay merge`
        /// puts together with the other shards'.
        #[arg(long, value_name = "K/N", num_args = 0..=1, default_missing_value = "auto")]
        pub shard: Option<String>,
        /// How many shards the run has, when the scheduler does not say
        /// (Kubernetes: the Job's completions). Default: $ASSAY_SHARDS.
        #[arg(long, value_name = "N")]
        pub shards: Option<u64>,
        /// Input bytes per block: work is never split inside a block, and a
        /// shard is whole blocks. Shards of one run must share it. Default: 262144.
        #[arg(long, value_name = "BYTES")]
        pub block_bytes: Option<u64>,
    }
}

option_group! {
    /// Options of `assay guard` (`[guard]`).
    pub struct GuardOptions {
        /// The folder for accepted/quarantined/rejected records, decisions.jsonl
        /// and summary.json. It is replaced as a whole.
        #[arg(short, long, value_name = "DIR")]
        pub out: Option<PathBuf>,
        /// What to do with a record that cannot be read. Default: quarantine.
        #[arg(long, value_parser = choice::<BadFeedbackPolicy>(&["quarantine", "fail"]))]
        pub on_bad_record: Option<BadFeedbackPolicy>,
    }
}

option_group! {
    /// Options of `assay serve` (`[serve]`).
    pub struct ServeOptions {
        /// The address to listen on. Default: 127.0.0.1:7878 (loopback only;
        /// another address needs [serve] tokens).
        #[arg(long, value_name = "ADDR")]
        pub bind: Option<String>,
        /// The folder for the write-ahead log, its snapshots, decisions.jsonl,
        /// recalls.jsonl and malformed.jsonl. A restarted service screens
        /// what it logged after its newest snapshot again.
        #[arg(long, value_name = "DIR")]
        pub state: Option<PathBuf>,
        /// The largest request body in bytes. Default: 1048576.
        #[arg(long, value_name = "BYTES")]
        pub max_body_bytes: Option<usize>,
        /// Requests that may wait to be screened; more are answered 503 with
        /// Retry-After. Default: 1024.
        #[arg(long, value_name = "N")]
        pub queue: Option<usize>,
        /// Records screened together, at most. Default: 4096.
        #[arg(long, value_name = "N")]
        pub max_batch: Option<usize>,
        /// Requests per second each token may make (bursts as large; without
        /// tokens, all clients together); more are answered 429 with
        /// Retry-After. Default: no limit.
        #[arg(long, value_name = "N")]
        pub rate_limit: Option<u32>,
        /// Milliseconds a client may take to send a feedback request and get
        /// its answer; a slower one is answered 408. Default: 30000.
        #[arg(long, value_name = "MS")]
        pub request_timeout_ms: Option<u64>,
        /// Serve HTTPS: the certificate chain (PEM); needs --tls-key.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        pub tls_certificate: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, value_name = "FILE", requires = "tls_certificate")]
        pub tls_key: Option<PathBuf>,
        /// The latest records a guard's recall can reach online (older ones
        /// are let go, so memory stays flat). Default: 1000000.
        #[arg(long, value_name = "N")]
        pub recall_window: Option<usize>,
        /// The latest recall events GET /v1/recalls answers from (all are in
        /// recalls.jsonl). Default: 100000.
        #[arg(long, value_name = "N")]
        pub recall_events: Option<usize>,
        /// Begin a new segment of the write-ahead log, and take a snapshot of
        /// the guards' states, once the last segment holds this many bytes.
        /// Default: 67108864 (64 MiB).
        #[arg(long, value_name = "BYTES")]
        pub segment_bytes: Option<u64>,
        /// Of the log's segments the newest snapshot covers (a restart no
        /// longer reads them), how many to keep; older ones are deleted.
        /// Default: keep every segment.
        #[arg(long, value_name = "N")]
        pub keep_segments: Option<usize>,
        /// How the service's log on stderr is written: `text` (a line per
        /// event) or `json` (a JSON object per line, with each event's
        /// fields). Default: text.
        #[arg(long, value_parser = choice::<LogFormat>(&["text", "json"]))]
        pub log_format: Option<LogFormat>,
        /// The least severe events logged: `error`, `warn`, `info` (the
        /// start, snapshots, refused requests) or `debug` (every request).
        /// Default: info.
        #[arg(long, value_parser = choice::<LogLevel>(&["error", "warn", "info", "debug"]))]
        pub log_level: Option<LogLevel>,
        /// Bearer tokens' SHA-256 digests (`sha256:HEX`), from the config
        /// only: a token on a command line would be in the process list.
        #[arg(skip)]
        pub tokens: Vec<String>,
    }
}

option_group! {
    /// How the input is read (`[dataset]`).
    pub struct InputOptions {
        /// Input format, when the file name does not tell.
        #[arg(long, value_parser = choice::<Format>(&["jsonl", "csv", "tsv"]))]
        pub format: Option<Format>,
        /// Read a canonical field from another field name, such as output=prediction.
        #[arg(long = "field", value_name = "FIELD=NAME", value_parser = field_pair)]
        #[serde(deserialize_with = "field_pairs")]
        pub fields: Vec<(String, String)>,
    }
}

option_group! {
    /// What a run tells CI (`[ci]`).
    pub struct CiOptions {
        /// Write a JUnit XML file with one test case per gate.
        #[arg(long, value_name = "FILE")]
        pub junit: Option<PathBuf>,
        /// Also put one failed test case per failing sample in the JUnit file
        /// (for a guard run: per record not accepted).
        #[arg(long, requires = "junit")]
        pub junit_samples: bool,
        /// Write a Markdown summary (metrics, gates, counts) for a pull request or job summary.
        #[arg(long, value_name = "FILE")]
        pub markdown: Option<PathBuf>,
        /// What to print on stdout: the table, or the summary and gate results as JSON.
        // Not `--format`: that flag already names the eval set's format.
        #[arg(long, value_parser = choice::<OutputFormat>(&["table", "json"]))]
        pub output_format: Option<OutputFormat>,
    }
}

/// What a run prints on stdout.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
}

fn field_pair(text: &str) -> Result<(String, String), String> {
    let (canonical, source) = text.split_once('=').ok_or_else(|| format!("{text:?}: expected FIELD=NAME"))?;
    Ok((canonical.to_string(), source.to_string()))
}

fn field_pairs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    Ok(IndexMap::<String, String>::deserialize(d)?.into_iter().collect())
}

impl InputOptions {
    /// The field map of one kind of record, with every mapping applied.
    pub fn field_map(&self, mut map: FieldMap) -> Result<FieldMap, String> {
        for (canonical, source) in &self.fields {
            map.set(canonical, source).map_err(|e| format!("field {canonical}={source}: {e}"))?;
        }
        Ok(map)
    }
}

/// One plugin instance of a config.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginEntry {
    /// A built-in plugin's name, a path to a component, or an `oci://`
    /// reference; defaults to the instance name.
    pub source: Option<String>,
    /// The plugin's own configuration, passed to it as JSON.
    pub config: toml::Table,
    pub limits: Limits,
    /// Directories the plugin may read, as `HOST_DIR:GUEST_PATH`.
    pub grants: Vec<String>,
    /// Model aliases (`[models.ALIAS]`) the plugin may ask.
    pub models: Vec<String>,
    /// Guards only: what a record gets when the guard fails on it.
    pub on_failure: Option<FailurePolicy>,
}

/// The sections as written, before they are read into option groups.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Sections {
    run: toml::Table,
    guard: toml::Table,
    serve: toml::Table,
    dataset: toml::Table,
    ci: toml::Table,
    plugins: IndexMap<String, PluginEntry>,
    gates: Gates,
    trust: TrustPolicy,
    registry: RegistryOptions,
    models: BTreeMap<String, ModelConfig>,
    generate: BTreeMap<String, GenerationConfig>,
}

/// A parsed configuration file.
#[derive(Debug, Default)]
pub struct ConfigFile {
    /// Where it was read from, when it was.
    pub path: Option<PathBuf>,
    pub shared: SharedOptions,
    pub eval: EvalOptions,
    pub shard: ShardOptions,
    pub guard: GuardOptions,
    pub serve: ServeOptions,
    pub input: InputOptions,
    pub ci: CiOptions,
    /// Plugin instances by name, in the order written.
    pub plugins: IndexMap<String, PluginEntry>,
    /// CI gates: a metric or count name and its condition, such as `">= 0.5"`.
    pub gates: Gates,
    /// Whose signatures registry plugins need.
    pub trust: TrustPolicy,
    /// How long to wait for registries.
    pub registry: RegistryOptions,
    /// Language models plugins may be granted, by alias.
    pub models: BTreeMap<String, ModelConfig>,
    /// How `assay generate` prompts each model, by alias (`[generate.NAME]`).
    pub generate: BTreeMap<String, GenerationConfig>,
    /// Folder the file is in: relative paths in it are relative to this.
    pub base_dir: PathBuf,
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {error}")]
    Read {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.into(), error })?;
        let parse = |message: String| ConfigError::Parse { path: path.into(), message };
        let sections: Sections = toml::from_str(&text).map_err(|e| parse(describe_toml_error(&text, &e)))?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let in_base = |p: Option<PathBuf>| p.map(|p| base_dir.join(p));
        let run_keys = [SharedOptions::KEYS, EvalOptions::KEYS, ShardOptions::KEYS];
        let mut shared: SharedOptions = read_section(&text, "run", &sections.run, &run_keys).map_err(parse)?;
        let mut eval: EvalOptions = read_section(&text, "run", &sections.run, &run_keys).map_err(parse)?;
        let shard: ShardOptions = read_section(&text, "run", &sections.run, &run_keys).map_err(parse)?;
        let mut guard: GuardOptions =
            read_section(&text, "guard", &sections.guard, &[GuardOptions::KEYS]).map_err(parse)?;
        let mut serve: ServeOptions =
            read_section(&text, "serve", &sections.serve, &[ServeOptions::KEYS]).map_err(parse)?;
        let input: InputOptions =
            read_section(&text, "dataset", &sections.dataset, &[InputOptions::KEYS]).map_err(parse)?;
        let mut ci: CiOptions = read_section(&text, "ci", &sections.ci, &[CiOptions::KEYS]).map_err(parse)?;
        shared.cache_dir = in_base(shared.cache_dir);
        eval.out = in_base(eval.out);
        guard.out = in_base(guard.out);
        serve.state = in_base(serve.state);
        serve.tls_certificate = in_base(serve.tls_certificate);
        serve.tls_key = in_base(serve.tls_key);
        ci.junit = in_base(ci.junit);
        ci.markdown = in_base(ci.markdown);
        Ok(ConfigFile {
            path: Some(path.to_path_buf()),
            shared,
            eval,
            shard,
            guard,
            serve,
            input,
            ci,
            plugins: sections.plugins,
            gates: sections.gates,
            trust: sections.trust,
            registry: sections.registry,
            models: sections.models,
            generate: sections.generate,
            base_dir,
        })
    }

    /// The file, or no configuration at all.
    pub fn load_or_default(path: Option<&Path>) -> Result<ConfigFile, ConfigError> {
        path.map_or_else(|| Ok(ConfigFile::default()), ConfigFile::load)
    }

    /// How the file is named in messages.
    pub fn display_name(&self) -> String {
        self.path.as_deref().map_or_else(|| "config".to_string(), |p| p.display().to_string())
    }
}

/// Reads section `[name]` into an option group, refusing a key that no
/// group of the section (`keys`) has, with its line.
fn read_section<T: DeserializeOwned>(
    text: &str,
    name: &str,
    table: &toml::Table,
    keys: &[&[&str]],
) -> Result<T, String> {
    if let Some(unknown) = table.keys().find(|key| !keys.iter().any(|group| group.contains(&key.as_str()))) {
        let known: Vec<&str> = keys.iter().flat_map(|group| group.iter().copied()).collect();
        let at = line_of_key(text, name, unknown).map(|line| format!("{line}: ")).unwrap_or_default();
        return Err(format!("{at}unknown key `{unknown}` in [{name}]; the keys are {}", known.join(", ")));
    }
    T::deserialize(toml::Value::Table(table.clone())).map_err(|e| format!("[{name}]: {}", e.message()))
}

/// The line on which `key` is set in section `[section]`, for messages.
fn line_of_key(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut in_section = false;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line.trim_start_matches('[').trim_end_matches(']').trim() == section;
        } else if in_section && line.split('=').next().is_some_and(|k| k.trim().trim_matches('"') == key) {
            return Some(index + 1);
        }
    }
    None
}

/// `LINE:COLUMN: message` for a TOML error, so the file position reads as
/// `assay.toml: LINE:COLUMN: ...` once the path is in front.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message();
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("{line}:{column}: {message}")
        }
        None => message.to_string(),
    }
}

/// Applies `KEY=VALUE` to a plugin configuration. The value is read as a
/// TOML value when it is one (`true`, `3`, `"x"`, `[1, 2]`) and as a string
/// otherwise; `KEY` may be dotted to reach into tables.
pub fn set_value(config: &mut toml::Table, key: &str, value: &str) -> Result<(), String> {
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().filter(|k| !k.is_empty()).ok_or_else(|| format!("empty key in {key:?}"))?;
    let mut table = config;
    for part in parts {
        let entry = table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry.as_table_mut().ok_or_else(|| format!("{key:?}: {part:?} is not a table"))?;
    }
    table.insert(last.to_string(), parsed);
    Ok(())
}

/// A plugin configuration as the JSON text plugins receive.
pub fn config_json(config: &toml::Table) -> String {
    serde_json::to_string(config).expect("TOML values serialize to JSON")
}

impl ShardOptions {
    /// The shard this process runs, when the run is sharded: `--shard K/N`,
    /// or the scheduler's for `--shard` alone, read from the environment.
    pub fn shard(&self) -> anyhow::Result<Option<Shard>> {
        self.shard.as_deref().map(|text| shard_of(text, self.shards, &|name| std::env::var(name).ok())).transpose()
    }

    /// Input bytes per block; `config` names the file in the message for 0.
    pub fn block_bytes(&self, config: &ConfigFile) -> anyhow::Result<u64> {
        match self.block_bytes.unwrap_or(DEFAULT_BLOCK_BYTES) {
            0 => anyhow::bail!("block_bytes must be at least 1 (--block-bytes, or [run] in {})", config.display_name()),
            bytes => Ok(bytes),
        }
    }
}

/// The shard `text` names: `K/N`, or `auto` for the scheduler's, read from
/// the environment through `env`. Kubernetes gives a pod its index but not
/// the count, so that comes from `shards` or `ASSAY_SHARDS`.
fn shard_of(text: &str, shards: Option<u64>, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Shard> {
    use anyhow::{Context, bail};
    if text != "auto" {
        return text.parse().map_err(anyhow::Error::msg);
    }
    let number = |name: &str| -> anyhow::Result<Option<u64>> {
        env(name)
            .map(|value| value.trim().parse::<u64>().with_context(|| format!("${name} is {value:?}, not a number")))
            .transpose()
    };
    let (index, count) = if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        let count = match number("SLURM_ARRAY_TASK_COUNT")? {
            Some(count) => count,
            None => match number("SLURM_ARRAY_TASK_MAX")? {
                Some(max) => max.saturating_sub(min) / step + 1,
                None => bail!("--shard: Slurm gives SLURM_ARRAY_TASK_ID but neither SLURM_ARRAY_TASK_COUNT nor _MAX"),
            },
        };
        if let Some(shards) = shards.filter(|&n| n != count) {
            bail!("--shards {shards}, but the Slurm array has {count} tasks");
        }
        ((id.checked_sub(min).context("SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")?) / step, count)
    } else if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let count = match shards {
            Some(count) => count,
            None => number("ASSAY_SHARDS")?.context(
                "--shard: Kubernetes gives the pod's JOB_COMPLETION_INDEX but not the number of shards: pass \
                 --shards N or set ASSAY_SHARDS (the Job's completions)",
            )?,
        };
        (index, count)
    } else {
        bail!(
            "--shard without K/N takes the shard from the scheduler, but this is neither a Slurm array task \
             (SLURM_ARRAY_TASK_ID) nor a pod of a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)"
        );
    };
    format!("{index}/{count}").parse().map_err(|e: String| anyhow::anyhow!("--shard from the scheduler: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ConfigFile, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assay.toml");
        std::fs::write(&path, text).unwrap();
        ConfigFile::load(&path).map_err(|e| e.to_string())
    }

    #[test]
    fn set_value_types_values_and_reaches_into_tables() {
        let mut table = toml::Table::new();
        set_value(&mut table, "stemmer", "true").unwrap();
        set_value(&mut table, "n", "4").unwrap();
        set_value(&mut table, "tok", "13a").unwrap();
        set_value(&mut table, "schema.type", "\"object\"").unwrap();
        assert_eq!(config_json(&table), r#"{"stemmer":true,"n":4,"tok":"13a","schema":{"type":"object"}}"#);
        assert!(set_value(&mut table, "stemmer.x", "1").is_err());
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let message = load("[run]\njobs = 2\nbatch_sise = 3\n").unwrap_err();
        assert!(message.contains("assay.toml: 3: unknown key `batch_sise` in [run]"), "{message}");
        let message = load("[runn]\njobs = 2\n").unwrap_err();
        assert!(message.contains("assay.toml: 1:2: unknown field `runn`"), "{message}");
        let message = load("[run]\njobs = \"two\"\n").unwrap_err();
        assert!(message.contains("[run]: invalid type: string \"two\""), "{message}");
    }

    #[test]
    fn plugins_keep_their_order_and_limits_default_per_field() {
        let config = load("[plugins.z]\nlimits = { timeout_ms = 5 }\n[plugins.a]\nsource = \"x.wasm\"\n").unwrap();
        assert_eq!(config.plugins.keys().collect::<Vec<_>>(), vec!["z", "a"]);
        assert_eq!(config.plugins["z"].limits.timeout_ms, 5);
        assert_eq!(config.plugins["z"].limits.memory_mib, Limits::default().memory_mib);
    }

    #[test]
    fn every_section_reads_into_its_group_and_flags_win() {
        let config = load(
            "[run]\njobs = 3\nseed = 7\nreal_clock = true\non_bad_record = \"skip\"\nout = \"o\"\n\
             [guard]\non_bad_record = \"fail\"\n[dataset]\nformat = \"csv\"\nfields = { output = \"prediction\", user = \"author\" }\n\
             [ci]\njunit = \"j.xml\"\noutput_format = \"json\"\n",
        )
        .unwrap();
        assert_eq!((config.shared.jobs, config.shared.seed, config.shared.real_clock), (Some(3), Some(7), true));
        assert_eq!(config.eval.on_bad_record, Some(BadRecordPolicy::Skip));
        assert_eq!(config.eval.out, Some(config.base_dir.join("o")), "paths in the file are relative to it");
        assert_eq!(config.guard.on_bad_record, Some(BadFeedbackPolicy::Fail));
        assert_eq!(config.input.format, Some(Format::Csv));
        assert_eq!(config.ci.output_format, Some(OutputFormat::Json));
        let flags = SharedOptions { jobs: Some(1), ..Default::default() }.over(config.shared.clone());
        assert_eq!((flags.jobs, flags.seed, flags.real_clock), (Some(1), Some(7), true));
        let input =
            InputOptions { fields: vec![("output".into(), "answer".into())], ..Default::default() }.over(config.input);
        let samples = input.field_map(FieldMap::samples()).unwrap_err();
        assert!(samples.contains("field user=author: unknown field \"user\""), "{samples}");
        let feedback = input.field_map(FieldMap::feedback()).unwrap();
        assert_eq!(feedback.name(assay_data::Field::Output), "answer", "the flag wins");
        assert_eq!(feedback.name(assay_data::Field::User), "author");
    }

    fn from(vars: &[(&str, &str)], shards: Option<u64>) -> anyhow::Result<Shard> {
        let vars: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        shard_of("auto", shards, &|name| vars.get(name).cloned())
    }

    #[test]
    fn shards_come_from_the_flag_or_the_scheduler() {
        assert_eq!(shard_of("1/3", None, &|_| None).unwrap(), Shard { index: 1, count: 3 });
        let slurm = [("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_MIN", "0"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        assert_eq!(from(&slurm, None).unwrap(), Shard { index: 2, count: 4 });
        // --array=1-7:2 runs tasks 1, 3, 5, 7.
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ];
        assert_eq!(from(&stepped, None).unwrap(), Shard { index: 2, count: 4 });
        assert!(from(&slurm, Some(5)).unwrap_err().to_string().contains("the Slurm array has 4 tasks"));
        let pod = [("JOB_COMPLETION_INDEX", "3")];
        assert_eq!(from(&pod, Some(8)).unwrap(), Shard { index: 3, count: 8 });
        assert_eq!(
            from(&[("JOB_COMPLETION_INDEX", "3"), ("ASSAY_SHARDS", "4")], None).unwrap(),
            Shard { index: 3, count: 4 }
        );
        assert!(from(&pod, None).unwrap_err().to_string().contains("--shards N or set ASSAY_SHARDS"));
        assert!(from(&pod, Some(3)).unwrap_err().to_string().contains("K from 0 to N-1"));
        assert!(from(&[], None).unwrap_err().to_string().contains("neither a Slurm array task"));
    }
}
