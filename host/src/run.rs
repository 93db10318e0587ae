//! Running evaluators over an eval set: `assay run`.
//!
//! The input is cut into chunks of whole records. A reader thread hashes and
//! splits the file, `jobs` workers parse, score and format their chunks, and
//! the calling thread puts the results back in input order and writes them.
//! Each worker owns one instance per plugin, so plugin calls never wait on a
//! lock. Chunk and batch boundaries depend only on the input and the batch
//! size, never on the number of workers, and corpus statistics are summed in
//! input order, so every output is identical for every `-j`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cache::ComponentCache;
use crate::config::{BadRecordPolicy, config_json};
use crate::dataset::{BadRecord, Chunk, DatasetError, FieldMap, Format, Reader, eval_record};
use crate::plugin::{Instance, Kind, Level, LoadError, Plugin, Sample, Scores, Statistic, call_runtime};
use crate::report::{self, FuelSummary, MetricSummary, PluginSummary, Summary};
use crate::sandbox::{Determinism, EngineOptions, Failure, Grant, Limits, Sandbox, StoreState};

/// Plugin calls per chunk: chunks are the unit of work handed to a worker.
pub(crate) const BATCHES_PER_CHUNK: usize = 16;

/// Where a plugin's component comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Builtin(String),
    Path(PathBuf),
    /// A component pulled from a registry into the local store.
    Oci {
        /// The reference as written, `oci://HOST/NAMESPACE/NAME:TAG`.
        reference: String,
        /// The manifest digest it resolved to.
        manifest: String,
        /// The verified component in the store.
        path: PathBuf,
    },
}

impl Source {
    /// `builtin:NAME`, the path as given, or the registry reference with
    /// the manifest digest it resolved to.
    pub fn label(&self) -> String {
        match self {
            Source::Builtin(name) => format!("builtin:{name}"),
            Source::Path(path) => path.display().to_string(),
            Source::Oci { reference, .. } if reference.contains('@') => reference.clone(),
            Source::Oci { reference, manifest, .. } => format!("{reference}@{manifest}"),
        }
    }

    /// The component's bytes, read now.
    pub fn bytes(&self) -> Result<Cow<'static, [u8]>, LoadError> {
        match self {
            Source::Builtin(name) => crate::builtin::get(name).map(Cow::Borrowed).ok_or_else(|| LoadError::Invalid {
                source_name: self.label(),
                message: format!("no built-in plugin is named {name:?}; `assay plugins` lists them"),
            }),
            Source::Path(path) | Source::Oci { path, .. } => std::fs::read(path)
                .map(Cow::Owned)
                .map_err(|error| LoadError::Read { source_name: self.label(), error }),
        }
    }
}

/// A plugin instance to run: which component, under which name, how configured.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// The instance name; results are keyed `NAME/METRIC`. Empty means the
    /// name the plugin gives itself.
    pub name: String,
    pub source: Source,
    pub config: toml::Table,
    pub limits: Limits,
    /// Directories the plugin may read.
    pub grants: Vec<Grant>,
}

/// How a run goes, beyond what it runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    pub batch_size: usize,
    pub on_bad_record: BadRecordPolicy,
    pub determinism: Determinism,
    /// Draw a progress bar on stderr when it is a terminal.
    pub progress: bool,
    pub early_stop: Option<EarlyStop>,
}

/// When to give up on a plugin that fails on most samples rather than spend
/// the whole run on it: a plugin that times out on every sample would
/// otherwise cost its deadline times the size of the eval set.
///
/// The rate is checked after each chunk, in input order, so whether and
/// where a run stops depends only on the input, never on `-j`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStop {
    /// The largest fraction of the samples scored so far a plugin may fail.
    pub max_failure_rate: f64,
    /// Samples scored before the rate is checked, so that a few early
    /// failures do not stop a run.
    pub min_samples: u64,
}

impl EarlyStop {
    /// The first plugin over the rate, as the error that stops the run.
    fn check(&self, plugins: &[LoadedPlugin], totals: &Totals) -> Option<RunError> {
        if totals.samples < self.min_samples {
            return None;
        }
        plugins.iter().zip(&totals.failures).find_map(|(loaded, kinds)| {
            let failed: u64 = kinds.values().sum();
            (failed as f64 > self.max_failure_rate * totals.samples as f64).then(|| RunError::TooManyFailures {
                name: loaded.spec.name.clone(),
                failed,
                samples: totals.samples,
                kinds: kinds.iter().map(|(kind, n)| format!("{n} {kind}")).collect::<Vec<_>>().join(", "),
                max_failure_rate: self.max_failure_rate,
            })
        })
    }
}

/// Why a run stopped before producing results.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{path}:{line}: {message}")]
    BadRecord { path: PathBuf, line: u64, message: String },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("plugin {name:?}: {message}")]
    Plugin { name: String, message: String },
    #[error(
        "plugin {name:?} failed on {failed} of the first {samples} samples ({kinds}), over [run] max_failure_rate = \
         {max_failure_rate}; the run stopped early and wrote no results"
    )]
    TooManyFailures { name: String, failed: u64, samples: u64, kinds: String, max_failure_rate: f64 },
    #[error("{path}: {error}")]
    Output { path: PathBuf, error: std::io::Error },
    #[error("{0}")]
    Engine(String),
}

/// Turns an I/O error on `path` into a [`RunError::Output`].
pub(crate) fn output_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + use<> {
    let path = path.to_path_buf();
    move |error| RunError::Output { path, error }
}

/// A plugin, loaded, checked and configured once.
pub struct LoadedPlugin {
    pub spec: PluginSpec,
    pub plugin: Plugin,
    pub config_json: String,
    /// Effective settings the plugin reported, for signatures.
    pub settings: Vec<(String, String)>,
}

impl LoadedPlugin {
    /// `name|v:VERSION|sha256:DIGEST|key:value|...`, in the style of
    /// sacreBLEU's signatures: equal signatures mean comparable numbers.
    pub fn signature(&self) -> String {
        self.signature_with(&[])
    }

    /// The signature with settings that come from the data rather than the
    /// plugin, such as `nrefs`, put first as sacreBLEU does.
    pub fn signature_with(&self, data: &[(&str, &str)]) -> String {
        let mut signature = format!("{}|v:{}|sha256:{}", self.plugin.info.name, self.plugin.info.version, &self.plugin.sha256[..12]);
        let settings = self.settings.iter().map(|(key, value)| (key.as_str(), value.as_str()));
        for (key, value) in data.iter().copied().chain(settings) {
            signature.push_str(&format!("|{key}:{value}"));
        }
        signature
    }

    pub(crate) fn summary(&self, fuel: FuelSummary) -> PluginSummary {
        PluginSummary {
            name: self.spec.name.clone(),
            plugin: self.plugin.info.name.clone(),
            version: self.plugin.info.version.clone(),
            description: self.plugin.info.description.clone(),
            kind: self.plugin.kind,
            source: self.spec.source.label(),
            sha256: self.plugin.sha256.clone(),
            contract: self.plugin.contract(),
            config: serde_json::from_str(&self.config_json).expect("config JSON is valid"),
            settings: self.settings.iter().cloned().collect(),
            signature: self.signature(),
            limits: self.spec.limits,
            grants: self.spec.grants.clone(),
            fuel,
        }
    }
}

/// The engine, linker and cache shared by every plugin of a run.
pub struct Host {
    pub sandbox: Sandbox,
    linker: wasmtime::component::Linker<StoreState>,
    cache: ComponentCache,
}

impl Host {
    /// A host sized for `plugins` plugins run by `jobs` workers.
    pub fn new(specs: &[PluginSpec], jobs: usize, cache: ComponentCache) -> Result<Host, RunError> {
        let max_memory_mib = specs.iter().map(|s| s.limits.memory_mib).max().unwrap_or(Limits::default().memory_mib);
        // Each worker holds one instance per plugin; loading, finalizing and
        // replacing trapped instances need a few more.
        let max_instances = ((jobs + 2) * specs.len().max(1) * 2) as u32;
        let engine_error = |e: wasmtime::Error| RunError::Engine(format!("cannot start the WebAssembly engine: {e:#}"));
        let sandbox = Sandbox::new(EngineOptions { max_instances, max_memory_mib }).map_err(engine_error)?;
        let linker = sandbox.linker().map_err(engine_error)?;
        Ok(Host { sandbox, linker, cache })
    }

    /// Loads one component and checks it is of the `expected` kind.
    pub fn load(&self, source: &Source, limits: &Limits, expected: Option<Kind>) -> Result<Plugin, LoadError> {
        let bytes = source.bytes()?;
        let plugin = Plugin::load(&self.sandbox, &self.linker, &self.cache, &source.label(), &bytes, limits)?;
        if let Some(kind) = expected {
            plugin.expect_kind(kind)?;
        }
        Ok(plugin)
    }

    /// Loads and configures every plugin of a run, failing on the first
    /// that cannot be used.
    pub fn prepare(&self, specs: &[PluginSpec], kind: Kind, determinism: &Determinism) -> Result<Vec<LoadedPlugin>, RunError> {
        let runtime = call_runtime();
        let mut loaded: Vec<LoadedPlugin> = Vec::new();
        for spec in specs {
            let plugin = self.load(&spec.source, &spec.limits, Some(kind))?;
            let mut spec = spec.clone();
            if spec.name.is_empty() {
                spec.name = plugin.info.name.clone();
            }
            if spec.name.contains('/') || spec.name.contains(char::is_whitespace) {
                return Err(RunError::Plugin { name: spec.name, message: "an instance name must not contain `/` or spaces".into() });
            }
            if loaded.iter().any(|l| l.spec.name == spec.name) {
                return Err(RunError::Plugin {
                    name: spec.name,
                    message: "two plugins of this run have this name; give one another name in the config ([plugins.OTHER] source = ...)".into(),
                });
            }
            let config_json = config_json(&spec.config);
            let (_, settings) = runtime
                .block_on(Instance::configured(&plugin, &self.sandbox, &spec.limits, determinism, &spec.grants, &config_json))
                .map_err(|failure| RunError::Plugin { name: spec.name.clone(), message: failure.to_string() })?;
            loaded.push(LoadedPlugin { spec, plugin, config_json, settings });
        }
        Ok(loaded)
    }
}

/// Runs `plugins` over the eval set at `input` and writes `samples.jsonl` and
/// `summary.json` into `out_dir`.
pub fn evaluate(
    host: &Host,
    plugins: &[LoadedPlugin],
    input: &Path,
    format: Option<Format>,
    fields: &FieldMap,
    options: &Options,
    out_dir: &Path,
) -> Result<Summary, RunError> {
    let started_at = jiff::Timestamp::now();
    std::fs::create_dir_all(out_dir).map_err(output_error(out_dir))?;
    let mut reader = Reader::open(input, format)?;
    let format = reader.format();

    let slots = MetricSlots::new(plugins);
    let mut samples_file = report::AtomicFile::create(&out_dir.join("samples.jsonl")).map_err(output_error(out_dir))?;
    let mut totals = Totals::new(plugins.len(), slots.keys.len());
    let progress = report::progress_bar(options.progress, input);
    let mut failure: Option<RunError> = None;

    let chunk_records = options.batch_size * BATCHES_PER_CHUNK;
    let pipeline = ordered_pipeline(
        &mut reader,
        chunk_records,
        options.jobs,
        || Worker { runtime: call_runtime(), instances: plugins.iter().map(|_| None).collect() },
        |worker, chunk| worker.process(chunk, host, plugins, &slots, fields, options),
        |result: ChunkResult| {
            progress.inc(result.bytes);
            if options.on_bad_record == BadRecordPolicy::Fail
                && let Some(bad) = result.bad.first()
            {
                failure = Some(RunError::BadRecord { path: input.into(), line: bad.line, message: bad.message.clone() });
                return false;
            }
            if let Err(error) = samples_file.write_all(&result.lines) {
                failure = Some(RunError::Output { path: out_dir.join("samples.jsonl"), error });
                return false;
            }
            totals.add(result);
            if let Some(error) = options.early_stop.and_then(|stop| stop.check(plugins, &totals)) {
                failure = Some(error);
                return false;
            }
            true
        },
    );
    progress.finish_and_clear();
    pipeline?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    let eval_sha256 = reader.finish()?;

    let runtime = call_runtime();
    let mut corpus = BTreeMap::new();
    let mut corpus_errors = BTreeMap::new();
    for (index, loaded) in plugins.iter().enumerate() {
        if !loaded.plugin.metrics.iter().any(|m| m.level == Level::Corpus) {
            continue;
        }
        match runtime.block_on(finalize(host, loaded, &totals.statistics[index], &options.determinism)) {
            Ok(values) => {
                for (name, value) in values {
                    corpus.insert(format!("{}/{}", loaded.spec.name, name), value);
                }
            }
            Err(failure) => {
                corpus_errors.insert(loaded.spec.name.clone(), report::ErrorEntry::from(&failure));
            }
        }
    }

    samples_file.commit().map_err(output_error(&out_dir.join("samples.jsonl")))?;
    // The host cannot tell which plugins read references, and more
    // references raise reference-based scores: every signature says how many.
    let nrefs = totals.references.setting();
    let signatures: Vec<String> = plugins.iter().map(|p| p.signature_with(&[("nrefs", &nrefs)])).collect();
    let mut metrics = BTreeMap::new();
    let mut details = BTreeMap::new();
    for (slot, key) in slots.keys.iter().enumerate() {
        let signature = signatures[slots.owner(slot)].clone();
        let summary = MetricSummary::of_samples(&slots.metric_info(plugins, slot), signature, &mut totals.values[slot]);
        metrics.insert(key.clone(), summary.mean);
        details.insert(key.clone(), summary);
    }
    for (key, value) in &corpus {
        let (plugin_name, metric) = key.split_once('/').expect("corpus keys are plugin/metric");
        let owner = plugins.iter().position(|p| p.spec.name == plugin_name).expect("a run plugin");
        let info = plugins[owner].plugin.metrics.iter().find(|m| m.matches(metric)).expect("finalize output was validated");
        metrics.insert(key.clone(), Some(*value));
        details.insert(key.clone(), MetricSummary::corpus(info, signatures[owner].clone(), *value));
    }

    let summary = Summary {
        assay_version: env!("CARGO_PKG_VERSION").into(),
        kind: "evaluation".into(),
        metrics,
        details,
        counts: report::Counts {
            records: totals.samples + totals.bad.len() as u64,
            samples: totals.samples,
            errors: totals.samples_with_errors,
            skipped: totals.bad.len() as u64,
        },
        errors: plugins
            .iter()
            .zip(&totals.failures)
            .filter(|(_, kinds)| !kinds.is_empty())
            .map(|(p, kinds)| (p.spec.name.clone(), kinds.clone()))
            .collect(),
        corpus_errors,
        skipped: totals.bad,
        plugins: plugins
            .iter()
            .zip(&totals.fuel)
            .zip(signatures)
            .map(|((p, fuel), signature)| PluginSummary { signature, ..p.summary(fuel.summary()) })
            .collect(),
        input: report::InputSummary { path: input.display().to_string(), sha256: eval_sha256, format },
        run: report::RunInfo {
            started_at: started_at.to_string(),
            finished_at: jiff::Timestamp::now().to_string(),
            jobs: options.jobs,
            batch_size: options.batch_size,
            seed: options.determinism.seed,
            reproducible: !options.determinism.real_clock,
        },
    };
    report::write_json(&out_dir.join("summary.json"), &summary).map_err(output_error(&out_dir.join("summary.json")))?;
    Ok(summary)
}

/// Corpus-level metrics of one plugin, from its summed statistics.
pub async fn finalize(host: &Host, loaded: &LoadedPlugin, statistics: &BTreeMap<String, f64>, determinism: &Determinism) -> Result<Vec<(String, f64)>, Failure> {
    let (mut instance, _) = Instance::configured(&loaded.plugin, &host.sandbox, &loaded.spec.limits, determinism, &loaded.spec.grants, &loaded.config_json).await?;
    let statistics: Vec<Statistic> = statistics.iter().map(|(name, value)| Statistic { name: name.clone(), value: *value }).collect();
    let values = instance.finalize(&statistics).await?.map_err(Failure::PluginError)?;
    let mut seen = std::collections::BTreeSet::new();
    for (name, value) in &values {
        let declared = loaded.plugin.metrics.iter().any(|m| m.level == Level::Corpus && m.matches(name));
        if !declared {
            return Err(Failure::InvalidOutput(format!("`finalize` returned {name:?}, which is not a declared corpus metric")));
        }
        if !value.is_finite() {
            return Err(Failure::InvalidOutput(format!("`finalize` returned {value} for {name:?}")));
        }
        if !seen.insert(name.as_str()) {
            return Err(Failure::InvalidOutput(format!("`finalize` returned {name:?} twice")));
        }
    }
    Ok(values)
}

/// The flat list of `plugin/metric` sample-level keys of a run, and which
/// plugin each belongs to.
struct MetricSlots {
    keys: Vec<String>,
    /// JSON text of each key, ready to write.
    keys_json: Vec<String>,
    /// First slot of each plugin.
    first: Vec<usize>,
}

impl MetricSlots {
    fn new(plugins: &[LoadedPlugin]) -> Self {
        let mut keys = Vec::new();
        let mut first = Vec::new();
        for loaded in plugins {
            first.push(keys.len());
            keys.extend(loaded.plugin.sample_metrics().map(|m| format!("{}/{}", loaded.spec.name, m.name)));
        }
        let keys_json = keys.iter().map(|k| serde_json::to_string(k).expect("a string serializes")).collect();
        MetricSlots { keys, keys_json, first }
    }

    fn owner(&self, slot: usize) -> usize {
        self.first.iter().rposition(|&f| f <= slot).expect("slot 0 belongs to the first plugin")
    }

    fn metric_info(&self, plugins: &[LoadedPlugin], slot: usize) -> crate::plugin::MetricInfo {
        let owner = self.owner(slot);
        plugins[owner].plugin.sample_metrics().nth(slot - self.first[owner]).expect("a sample metric").clone()
    }
}

/// What a worker returns for a chunk.
struct ChunkResult {
    bytes: u64,
    /// The chunk's lines of `samples.jsonl`.
    lines: Vec<u8>,
    bad: Vec<BadRecord>,
    samples: u64,
    samples_with_errors: u64,
    /// Values per metric slot, in input order.
    values: Vec<Vec<f64>>,
    /// Statistics summed over the chunk, per plugin.
    statistics: Vec<BTreeMap<String, f64>>,
    /// Failures per plugin, by kind.
    failures: Vec<BTreeMap<String, u64>>,
    fuel: Vec<FuelTally>,
    references: ReferenceCounts,
}

/// Everything summed over the chunks, in input order.
struct Totals {
    samples: u64,
    samples_with_errors: u64,
    references: ReferenceCounts,
    bad: Vec<BadRecord>,
    values: Vec<Vec<f64>>,
    statistics: Vec<BTreeMap<String, f64>>,
    failures: Vec<BTreeMap<String, u64>>,
    fuel: Vec<FuelTally>,
}

impl Totals {
    fn new(plugins: usize, slots: usize) -> Self {
        Totals {
            samples: 0,
            samples_with_errors: 0,
            references: ReferenceCounts::default(),
            bad: Vec::new(),
            values: vec![Vec::new(); slots],
            statistics: vec![BTreeMap::new(); plugins],
            failures: vec![BTreeMap::new(); plugins],
            fuel: vec![FuelTally::default(); plugins],
        }
    }

    fn add(&mut self, chunk: ChunkResult) {
        self.samples += chunk.samples;
        self.samples_with_errors += chunk.samples_with_errors;
        self.references.merge(chunk.references);
        self.bad.extend(chunk.bad);
        for (total, values) in self.values.iter_mut().zip(chunk.values) {
            total.extend(values);
        }
        for (total, statistics) in self.statistics.iter_mut().zip(chunk.statistics) {
            for (name, value) in statistics {
                *total.entry(name).or_insert(0.0) += value;
            }
        }
        for (total, failures) in self.failures.iter_mut().zip(chunk.failures) {
            for (kind, count) in failures {
                *total.entry(kind).or_insert(0) += count;
            }
        }
        for (total, fuel) in self.fuel.iter_mut().zip(chunk.fuel) {
            total.merge(&fuel);
        }
    }
}

/// The fewest and most references of a run's samples.
#[derive(Debug, Default, Clone, Copy)]
struct ReferenceCounts(Option<(usize, usize)>);

impl ReferenceCounts {
    fn merge(&mut self, other: ReferenceCounts) {
        self.0 = match (self.0, other.0) {
            (Some((low, high)), Some((other_low, other_high))) => Some((low.min(other_low), high.max(other_high))),
            (one, other) => one.or(other),
        };
    }

    /// sacreBLEU's `nrefs`: the number every sample has, or `var`.
    fn setting(&self) -> String {
        match self.0 {
            Some((low, high)) if low != high => "var".into(),
            Some((n, _)) => n.to_string(),
            None => "0".into(),
        }
    }
}

impl FromIterator<usize> for ReferenceCounts {
    fn from_iter<I: IntoIterator<Item = usize>>(counts: I) -> Self {
        let mut all = ReferenceCounts::default();
        for n in counts {
            all.merge(ReferenceCounts(Some((n, n))));
        }
        all
    }
}

/// Fuel a plugin used: a cost figure that does not depend on machine load.
#[derive(Debug, Default, Clone)]
pub(crate) struct FuelTally {
    total: u64,
    samples: u64,
    /// The largest per-sample average of any one call.
    max_per_sample: u64,
}

impl FuelTally {
    pub(crate) fn record(&mut self, fuel: u64, samples: usize) {
        self.total += fuel;
        self.samples += samples as u64;
        self.max_per_sample = self.max_per_sample.max(fuel / samples.max(1) as u64);
    }

    pub(crate) fn merge(&mut self, other: &FuelTally) {
        self.total += other.total;
        self.samples += other.samples;
        self.max_per_sample = self.max_per_sample.max(other.max_per_sample);
    }

    pub(crate) fn summary(&self) -> FuelSummary {
        FuelSummary {
            total: self.total,
            mean_per_sample: if self.samples == 0 { 0.0 } else { self.total as f64 / self.samples as f64 },
            max_per_sample: self.max_per_sample,
        }
    }
}

/// A worker thread's own plugin instances.
struct Worker {
    runtime: tokio::runtime::Runtime,
    instances: Vec<Option<Instance>>,
}

impl Worker {
    fn process(&mut self, chunk: Chunk, host: &Host, plugins: &[LoadedPlugin], slots: &MetricSlots, fields: &FieldMap, options: &Options) -> ChunkResult {
        let mut bad = Vec::new();
        let mut samples: Vec<Sample> = Vec::with_capacity(chunk.records.len());
        let mut ids = Vec::with_capacity(chunk.records.len());
        for record in &chunk.records {
            match eval_record(record, fields) {
                Ok(r) => {
                    samples.push(r.sample);
                    ids.push(r.id_json);
                }
                Err(b) => bad.push(b),
            }
        }
        let mut result = ChunkResult {
            bytes: chunk.bytes,
            lines: Vec::with_capacity(samples.len() * 64),
            bad,
            samples: samples.len() as u64,
            samples_with_errors: 0,
            values: vec![Vec::with_capacity(samples.len()); slots.keys.len()],
            statistics: vec![BTreeMap::new(); plugins.len()],
            failures: vec![BTreeMap::new(); plugins.len()],
            fuel: vec![FuelTally::default(); plugins.len()],
            references: samples.iter().map(|s| s.references.len()).collect(),
        };
        if !result.bad.is_empty() && options.on_bad_record == BadRecordPolicy::Fail {
            return result;
        }

        // outcomes[plugin][sample]
        let mut outcomes: Vec<Vec<Result<Scores, Failure>>> = Vec::with_capacity(plugins.len());
        for (p, loaded) in plugins.iter().enumerate() {
            let mut per_sample = Vec::with_capacity(samples.len());
            for (b, batch) in samples.chunks(options.batch_size).enumerate() {
                let call_seed = chunk.index * BATCHES_PER_CHUNK as u64 + b as u64;
                let batch_outcome = self.score_batch(p, loaded, host, batch, call_seed, options, &mut result.fuel[p]);
                match batch_outcome {
                    Ok(results) => per_sample.extend(results),
                    Err(failure) => per_sample.extend(batch.iter().map(|_| Err(failure.clone()))),
                }
            }
            outcomes.push(per_sample);
        }

        for (i, id_json) in ids.iter().enumerate() {
            let lines = &mut result.lines;
            lines.extend_from_slice(b"{\"id\":");
            lines.extend_from_slice(id_json.as_bytes());
            lines.extend_from_slice(b",\"scores\":{");
            let mut first = true;
            for (p, outcome) in outcomes.iter().enumerate() {
                let Ok(scores) = &outcome[i] else { continue };
                for (k, value) in scores.values.iter().enumerate() {
                    let slot = slots.first[p] + k;
                    if !first {
                        lines.push(b',');
                    }
                    first = false;
                    lines.extend_from_slice(slots.keys_json[slot].as_bytes());
                    lines.push(b':');
                    serde_json::to_writer(&mut *lines, value).expect("writing to a Vec");
                    result.values[slot].push(*value);
                }
                let statistics = &mut result.statistics[p];
                for statistic in &scores.statistics {
                    match statistics.get_mut(statistic.name.as_str()) {
                        Some(total) => *total += statistic.value,
                        None => {
                            statistics.insert(statistic.name.clone(), statistic.value);
                        }
                    }
                }
            }
            lines.extend_from_slice(b"},\"errors\":{");
            let mut first = true;
            for (p, outcome) in outcomes.iter().enumerate() {
                let Err(failure) = &outcome[i] else { continue };
                if !first {
                    lines.push(b',');
                }
                first = false;
                serde_json::to_writer(&mut *lines, &plugins[p].spec.name).expect("writing to a Vec");
                lines.push(b':');
                serde_json::to_writer(&mut *lines, &report::ErrorEntry::from(failure)).expect("writing to a Vec");
                *result.failures[p].entry(failure.kind().to_string()).or_insert(0) += 1;
            }
            if !first {
                result.samples_with_errors += 1;
            }
            lines.extend_from_slice(b"}}\n");
        }
        result
    }

    /// One plugin call, with a fresh instance when the last one broke.
    #[allow(clippy::too_many_arguments)]
    fn score_batch(
        &mut self,
        p: usize,
        loaded: &LoadedPlugin,
        host: &Host,
        batch: &[Sample],
        call_seed: u64,
        options: &Options,
        fuel: &mut FuelTally,
    ) -> Result<Vec<Result<Scores, Failure>>, Failure> {
        let runtime = &self.runtime;
        let slot = &mut self.instances[p];
        let limits = &loaded.spec.limits;
        if slot.is_none() {
            let (instance, _) =
                runtime.block_on(Instance::configured(&loaded.plugin, &host.sandbox, limits, &options.determinism, &loaded.spec.grants, &loaded.config_json))?;
            *slot = Some(instance);
        }
        let instance = slot.as_mut().expect("just created");
        let budget = instance.call_fuel(batch.len());
        let outcome = runtime.block_on(instance.score(batch, call_seed));
        fuel.record(instance.fuel_used(budget), batch.len());
        let results = match outcome {
            Ok(results) => results,
            Err(failure) => {
                if failure.poisons_instance() {
                    *slot = None;
                }
                return Err(failure);
            }
        };
        validate_scores(results, batch.len(), loaded.plugin.sample_metrics().count(), limits)
    }
}

/// Checks a plugin's answer for a batch against the contract.
fn validate_scores(results: Vec<Result<Scores, String>>, batch: usize, metrics: usize, limits: &Limits) -> Result<Vec<Result<Scores, Failure>>, Failure> {
    if results.len() != batch {
        return Err(Failure::InvalidOutput(format!("returned {} results for a batch of {batch}", results.len())));
    }
    let text_bytes: usize = results
        .iter()
        .map(|r| match r {
            Ok(scores) => scores.statistics.iter().map(|s| s.name.len()).sum(),
            Err(message) => message.len(),
        })
        .sum();
    check_output_bytes(text_bytes, limits)?;
    Ok(results
        .into_iter()
        .map(|result| {
            let scores = result.map_err(Failure::PluginError)?;
            if scores.values.len() != metrics {
                return Err(Failure::InvalidOutput(format!("returned {} values, but declares {metrics} sample metrics", scores.values.len())));
            }
            if let Some(bad) = scores.values.iter().find(|v| !v.is_finite()) {
                return Err(Failure::InvalidOutput(format!("returned the value {bad}; scores must be finite")));
            }
            if let Some(bad) = scores.statistics.iter().find(|s| !s.value.is_finite()) {
                return Err(Failure::InvalidOutput(format!("returned {} for statistic {:?}; statistics must be finite", bad.value, bad.name)));
            }
            Ok(scores)
        })
        .collect())
}

/// Fails a batch whose answers hold more text than the plugin may return.
pub(crate) fn check_output_bytes(text_bytes: usize, limits: &Limits) -> Result<(), Failure> {
    if text_bytes as u64 > limits.max_output_bytes {
        return Err(Failure::InvalidOutput(format!(
            "returned {text_bytes} bytes of text for one batch, over the {} byte limit (limits.max_output_bytes)",
            limits.max_output_bytes
        )));
    }
    Ok(())
}

/// Feeds chunks of `reader` to `jobs` workers and hands their results to
/// `collect` in input order. `collect` returns false to stop early.
pub(crate) fn ordered_pipeline<W, R: Send>(
    reader: &mut Reader,
    chunk_records: usize,
    jobs: usize,
    init: impl Fn() -> W + Sync,
    work: impl Fn(&mut W, Chunk) -> R + Sync,
    mut collect: impl FnMut(R) -> bool,
) -> Result<(), DatasetError> {
    let stop = AtomicBool::new(false);
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Chunk>(jobs * 2);
    let (result_tx, result_rx) = crossbeam_channel::bounded::<(u64, R)>(jobs * 2);
    std::thread::scope(|scope| {
        let reading = scope.spawn(|| {
            let chunk_tx = chunk_tx;
            while !stop.load(Ordering::Relaxed) {
                match reader.next_chunk(chunk_records)? {
                    Some(chunk) => {
                        if chunk_tx.send(chunk).is_err() {
                            break;
                        }
                    }
                    None => break,
                }
            }
            Ok(())
        });
        for _ in 0..jobs {
            let chunk_rx = chunk_rx.clone();
            let result_tx = result_tx.clone();
            let (init, work, stop) = (&init, &work, &stop);
            scope.spawn(move || {
                let mut state = init();
                for chunk in chunk_rx {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let index = chunk.index;
                    if result_tx.send((index, work(&mut state, chunk))).is_err() {
                        break;
                    }
                }
            });
        }
        drop((chunk_rx, result_tx));

        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        'collect: for (index, result) in &result_rx {
            pending.insert(index, result);
            while let Some(result) = pending.remove(&next) {
                next += 1;
                if !collect(result) {
                    stop.store(true, Ordering::Relaxed);
                    break 'collect;
                }
            }
        }
        // Dropping the receiver unblocks workers still sending.
        drop(result_rx);
        reading.join().expect("the reader thread panicked")
    })
}
