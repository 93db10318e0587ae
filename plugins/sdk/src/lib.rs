//! The Rust guest SDK for Assay plugins.
//!
//! A plugin is a `cdylib` crate built for `wasm32-wasip2`. It implements one
//! trait and calls one macro; the SDK turns that into the component exports
//! that `wit/assay.wit` defines, so plugin authors never touch generated
//! bindings.
//!
//! ```ignore
//! use assay_sdk::evaluator::{Evaluator, Metric, Sample, Scores};
//! use assay_sdk::{NoConfig, PluginInfo};
//!
//! struct Length;
//!
//! impl Evaluator for Length {
//!     type Config = NoConfig;
//!     fn describe() -> PluginInfo { assay_sdk::plugin_info!("length", "Output length in characters") }
//!     fn metrics() -> Vec<Metric> { vec![Metric::sample("chars", "characters in the output", false)] }
//!     fn new(_: NoConfig) -> Result<Self, String> { Ok(Length) }
//!     fn score(&mut self, sample: &Sample) -> Result<Scores, String> {
//!         Ok(Scores::new(vec![sample.output.chars().count() as f64]))
//!     }
//! }
//!
//! assay_sdk::export_evaluator!(Length);
//! ```

pub mod evaluator;
pub mod guard;
pub mod model;
pub mod text;

pub use evaluator::bindings::assay::plugin::types::{PluginInfo, Setting};
#[doc(hidden)]
pub use serde_json;

/// The configuration of a plugin that takes none: it accepts only `{}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// Parse the JSON configuration the host passes to `configure`.
///
/// Plugins declare their configuration as a serde type, typically with
/// `#[serde(default, deny_unknown_fields)]`, so a typo in a key is an error
/// that names the key instead of a silently ignored setting. A value of the
/// wrong type names its key too (`at \`strict\`: invalid type: string
/// "yes", expected a boolean`): the author wrote TOML or `--set`, never the
/// JSON the host made of it, so a line and column of that JSON would point
/// nowhere and are left out.
fn parse_config<C: serde::de::DeserializeOwned>(text: &str) -> Result<C, String> {
    let mut json = serde_json::Deserializer::from_str(text);
    let config = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let message = without_position(e.inner());
        let mut path = e.path().to_string();
        // An unknown key's path ends with the key, which the message names.
        if let Some(key) = message.strip_prefix("unknown field `").and_then(|m| m.split('`').next()) {
            path = match path.strip_suffix(key).map(|p| p.trim_end_matches('.')) {
                Some("") => ".".to_string(),
                Some(parent) => parent.to_string(),
                None => path,
            };
        }
        match path.as_str() {
            "." => format!("invalid configuration: {message}"),
            path => format!("invalid configuration: at `{path}`: {message}"),
        }
    })?;
    json.end().map_err(|e| format!("invalid configuration: {}", without_position(&e)))?;
    Ok(config)
}

/// serde_json's message without its ` at line L column C`.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    message.strip_suffix(&position).unwrap_or(&message).to_string()
}

/// Where an exported plugin keeps its configured instance between calls.
#[doc(hidden)]
pub type State<T> = std::thread::LocalKey<std::cell::RefCell<Option<T>>>;

/// `configure` for either kind of plugin: parse, construct, keep the
/// instance for later calls, and report its effective settings.
fn configure<T, C: serde::de::DeserializeOwned>(
    state: &'static State<T>,
    config: &str,
    new: impl FnOnce(C) -> Result<T, String>,
    settings: impl FnOnce(&T) -> Vec<Setting>,
) -> Result<Vec<Setting>, String> {
    let plugin = new(parse_config(config)?)?;
    let effective = settings(&plugin);
    state.with(|cell| *cell.borrow_mut() = Some(plugin));
    Ok(effective)
}

impl Setting {
    /// A setting for the signature, such as `Setting::new("tok", "13a")`.
    pub fn new(key: impl Into<String>, value: impl ToString) -> Self {
        Setting { key: key.into(), value: value.to_string() }
    }
}

/// Builds a [`PluginInfo`] whose version is the plugin crate's own version.
#[macro_export]
macro_rules! plugin_info {
    ($name:expr, $description:expr) => {
        $crate::PluginInfo {
            name: ::std::string::String::from($name),
            version: ::std::string::String::from(env!("CARGO_PKG_VERSION")),
            description: ::std::string::String::from($description),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::parse_config;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Config {
        strict: bool,
        #[serde(default)]
        weights: Vec<f64>,
    }

    #[test]
    fn a_wrong_type_names_its_key_and_the_value_written() {
        let error = parse_config::<Config>(r#"{"strict": "yes"}"#).unwrap_err();
        assert_eq!(error, r#"invalid configuration: at `strict`: invalid type: string "yes", expected a boolean"#);
        let error = parse_config::<Config>(r#"{"strict": true, "weights": [1, "x"]}"#).unwrap_err();
        assert!(error.starts_with("invalid configuration: at `weights[1]`: invalid type: string \"x\""), "{error}");
    }

    #[test]
    fn an_unknown_or_missing_key_is_named() {
        let error = parse_config::<Config>(r#"{"strict": true, "strcit": 1}"#).unwrap_err();
        assert_eq!(error, "invalid configuration: unknown field `strcit`, expected `strict` or `weights`");
        let error = parse_config::<Config>("{}").unwrap_err();
        assert_eq!(error, "invalid configuration: missing field `strict`");
        assert!(
            parse_config::<Config>(r#"{"strict": false} x"#)
                .unwrap_err()
                .starts_with("invalid configuration: trailing")
        );
    }
}
