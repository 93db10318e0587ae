//! Evaluator plugins: score samples, optionally through summed statistics.

use std::collections::BTreeMap;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "evaluator-plugin",
        pub_export_macro: true,
        export_macro_name: "__export_evaluator_bindings",
        default_bindings_module: "assay_sdk::evaluator::bindings",
    });
}

pub use bindings::exports::assay::plugin::evaluator::{CorpusScore, Level, Metric, Sample, Scores, Statistic};

use crate::{PluginInfo, Setting};

/// An evaluator: implement this and call [`export_evaluator!`](crate::export_evaluator).
pub trait Evaluator: Sized + 'static {
    /// The configuration, deserialized from the JSON the host passes.
    type Config: serde::de::DeserializeOwned;

    /// Who this plugin is; see [`plugin_info!`](crate::plugin_info).
    fn describe() -> PluginInfo;

    /// The metrics this plugin reports. `score` returns one value per
    /// `Level::Sample` metric, in this order.
    fn metrics() -> Vec<Metric>;

    /// Build a configured evaluator, or say what is wrong with the configuration.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// The settings that change the numbers, for the result signature.
    fn settings(&self) -> Vec<Setting> {
        Vec::new()
    }

    /// Score one sample.
    fn score(&mut self, sample: &Sample) -> Result<Scores, String>;

    /// Score a batch, one result per sample in order. By default, each
    /// sample alone; a plugin that asks a model overrides it to send the
    /// whole batch at once, which the host runs concurrently.
    fn score_batch(&mut self, batch: &[Sample]) -> Vec<Result<Scores, String>> {
        batch.iter().map(|sample| self.score(sample)).collect()
    }

    /// Corpus-level metrics from the statistics summed over the whole run.
    fn finalize(&self, _statistics: &Statistics) -> Result<Vec<CorpusScore>, String> {
        Ok(Vec::new())
    }
}

impl Metric {
    /// A metric with one value per sample.
    pub fn sample(name: &str, description: &str, higher_is_better: bool) -> Self {
        Metric { name: name.into(), description: description.into(), higher_is_better, level: Level::Sample }
    }

    /// A metric computed once per run by `finalize`.
    pub fn corpus(name: &str, description: &str, higher_is_better: bool) -> Self {
        Metric { level: Level::Corpus, ..Metric::sample(name, description, higher_is_better) }
    }
}

impl Sample {
    /// A sample with an output and references and nothing else, as plugin
    /// unit tests need them.
    pub fn new<R: Into<String>>(output: impl Into<String>, references: impl IntoIterator<Item = R>) -> Self {
        Sample {
            id: String::new(),
            input: String::new(),
            output: output.into(),
            references: references.into_iter().map(Into::into).collect(),
            label: None,
            metadata: "{}".into(),
        }
    }

    /// The same sample with a gold label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
}

impl Scores {
    /// Per-sample values, one per sample-level metric, with no statistics.
    pub fn new(values: Vec<f64>) -> Self {
        Scores { values, statistics: Vec::new() }
    }

    /// Adds a statistic for the host to sum.
    pub fn stat(mut self, name: impl Into<String>, value: f64) -> Self {
        self.statistics.push(Statistic { name: name.into(), value });
        self
    }
}

impl CorpusScore {
    pub fn new(name: impl Into<String>, value: f64) -> Self {
        CorpusScore { name: name.into(), value }
    }
}

/// The statistics of a whole run, summed by the host.
#[derive(Debug, Default, Clone)]
pub struct Statistics(BTreeMap<String, f64>);

impl Statistics {
    /// The sum of a statistic; 0 when no sample reported it.
    pub fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(0.0)
    }

    /// Every statistic, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

impl FromIterator<(String, f64)> for Statistics {
    fn from_iter<I: IntoIterator<Item = (String, f64)>>(iter: I) -> Self {
        let mut map = BTreeMap::new();
        for (name, value) in iter {
            *map.entry(name).or_insert(0.0) += value;
        }
        Statistics(map)
    }
}

#[doc(hidden)]
pub use crate::State;

#[doc(hidden)]
pub fn configure<T: Evaluator>(state: &'static State<T>, config: String) -> Result<Vec<Setting>, String> {
    crate::configure(state, &config, T::new, T::settings)
}

#[doc(hidden)]
pub fn score<T: Evaluator>(state: &'static State<T>, batch: Vec<Sample>) -> Vec<Result<Scores, String>> {
    state.with(|cell| match cell.borrow_mut().as_mut() {
        Some(plugin) => plugin.score_batch(&batch),
        None => batch.iter().map(|_| Err(NOT_CONFIGURED.to_string())).collect(),
    })
}

#[doc(hidden)]
pub fn finalize<T: Evaluator>(
    state: &'static State<T>,
    statistics: Vec<Statistic>,
) -> Result<Vec<CorpusScore>, String> {
    let statistics = statistics.into_iter().map(|s| (s.name, s.value)).collect();
    state.with(|cell| match cell.borrow().as_ref() {
        Some(plugin) => plugin.finalize(&statistics),
        None => Err(NOT_CONFIGURED.to_string()),
    })
}

const NOT_CONFIGURED: &str = "the host called the plugin before `configure`";

/// Exports a type implementing [`Evaluator`] as the component's evaluator.
#[macro_export]
macro_rules! export_evaluator {
    ($ty:ty) => {
        const _: () = {
            use $crate::evaluator::bindings::exports::assay::plugin::evaluator as wit;
            ::std::thread_local! {
                static STATE: ::std::cell::RefCell<::std::option::Option<$ty>> =
                    const { ::std::cell::RefCell::new(None) };
            }
            struct Export;
            impl wit::Guest for Export {
                fn describe() -> $crate::PluginInfo {
                    <$ty as $crate::evaluator::Evaluator>::describe()
                }
                fn metrics() -> ::std::vec::Vec<wit::Metric> {
                    <$ty as $crate::evaluator::Evaluator>::metrics()
                }
                fn configure(
                    config: ::std::string::String,
                ) -> ::std::result::Result<::std::vec::Vec<$crate::Setting>, ::std::string::String> {
                    $crate::evaluator::configure(&STATE, config)
                }
                fn score(
                    batch: ::std::vec::Vec<wit::Sample>,
                ) -> ::std::vec::Vec<::std::result::Result<wit::Scores, ::std::string::String>> {
                    $crate::evaluator::score(&STATE, batch)
                }
                fn finalize(
                    statistics: ::std::vec::Vec<wit::Statistic>,
                ) -> ::std::result::Result<::std::vec::Vec<wit::CorpusScore>, ::std::string::String> {
                    $crate::evaluator::finalize(&STATE, statistics)
                }
            }
            // Native builds (unit tests of a plugin's logic) must not carry
            // the component export symbols: their names do not link there.
            #[cfg(target_arch = "wasm32")]
    $crate::evaluator::bindings::__export_evaluator_bindings!(Export with_types_in $crate::evaluator::bindings);
        };
    };
}
