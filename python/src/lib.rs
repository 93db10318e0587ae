//! `assay._assay`: the native half of the Python package.
//!
//! Deliberately thin: records cross as JSON Lines bytes (pandas and the
//! `json` module make them fast, and the host reads them exactly as it reads
//! a file), results come back as the texts `assay run` and `assay guard`
//! write, and everything between is the binary's own code
//! ([`assay_cli::embed`]). The Python side (`assay/__init__.py`) turns those
//! into dicts and DataFrames. The GIL is released while plugins run, so
//! other Python threads go on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use assay_cli::embed::{self, ErrorKind, Selection};
use assay_data::output::SampleLine;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use serde_json::value::RawValue;

create_exception!(_assay, AssayError, PyException, "Any failure of Assay; the message is the command line's.");
create_exception!(_assay, ConfigError, AssayError, "assay.toml, an option or a plugin setting is wrong.");
create_exception!(_assay, DatasetError, AssayError, "A record cannot be read: its line and field are named.");
create_exception!(
    _assay,
    ResolveError,
    AssayError,
    "A plugin cannot be found, fetched, trusted or matched to its lock."
);
create_exception!(_assay, PluginLoadError, AssayError, "A plugin's component does not load.");
create_exception!(_assay, PluginError, AssayError, "A plugin failed on more samples than max_failure_rate allows.");

/// The exception for `error`, with the message the command line prints.
fn raised(error: anyhow::Error) -> PyErr {
    let message = assay_cli::exit::message(&error);
    match ErrorKind::of(&error) {
        ErrorKind::Config => ConfigError::new_err(message),
        ErrorKind::Dataset => DatasetError::new_err(message),
        ErrorKind::Resolve => ResolveError::new_err(message),
        ErrorKind::Load => PluginLoadError::new_err(message),
        ErrorKind::Plugin => PluginError::new_err(message),
        ErrorKind::Other => AssayError::new_err(message),
    }
}

fn selection(
    plugins: Vec<String>,
    config: Option<PathBuf>,
    jobs: Option<usize>,
    settings: Vec<String>,
    fields: Vec<(String, String)>,
) -> Selection {
    Selection { plugins, config, jobs, sets: settings, fields }
}

/// Scores JSON Lines `records` as `assay run` scores a file named `name`
/// holding them: `(summary.json's text, ids, scores, errors)`, the lines of
/// `samples.jsonl` as columns: each sample's id (as JSON gives it), each
/// `PLUGIN/METRIC`'s values (`None` where the plugin failed), and each
/// sample's errors as JSON text (`None` for none). Columns are made here
/// because parsing the lines in Python took longer than scoring them.
#[pyfunction]
#[pyo3(signature = (records, plugins, config=None, jobs=None, settings=Vec::new(), fields=Vec::new(), name="records.jsonl"))]
#[allow(clippy::too_many_arguments)]
fn evaluate<'py>(
    py: Python<'py>,
    records: &[u8],
    plugins: Vec<String>,
    config: Option<PathBuf>,
    jobs: Option<usize>,
    settings: Vec<String>,
    fields: Vec<(String, String)>,
    name: &str,
) -> PyResult<Scored<'py>> {
    let selection = selection(plugins, config, jobs, settings, fields);
    let records: Arc<[u8]> = records.into();
    let (summary, samples) = py
        .detach(|| -> anyhow::Result<_> {
            let (summary, samples) = embed::evaluate(&selection, Path::new(name), records)?;
            Ok((summary.to_json(), Columns::of(&samples)?))
        })
        .map_err(raised)?;
    let ids = PyList::empty(py);
    for id in &samples.ids {
        ids.append(json_value(py, id)?)?;
    }
    let scores = PyDict::new(py);
    for (key, values) in &samples.scores {
        scores.set_item(key, PyList::new(py, values)?)?;
    }
    Ok((summary, ids, scores, PyList::new(py, &samples.errors)?))
}

/// `evaluate`'s answer: the summary's text, then the ids, scores and
/// errors columns.
type Scored<'py> = (String, Bound<'py, PyList>, Bound<'py, PyDict>, Bound<'py, PyList>);

/// The lines of `samples.jsonl`, as columns.
struct Columns {
    ids: Vec<Box<RawValue>>,
    /// Per `PLUGIN/METRIC`, in the order the lines give them, one value per sample.
    scores: Vec<(String, Vec<Option<f64>>)>,
    errors: Vec<Option<String>>,
}

impl Columns {
    fn of(samples: &[u8]) -> anyhow::Result<Columns> {
        let mut columns = Columns { ids: Vec::new(), scores: Vec::new(), errors: Vec::new() };
        let mut place: HashMap<String, usize> = HashMap::new();
        for (n, text) in samples.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
            let line: SampleLine = serde_json::from_slice(text)?;
            for (key, value) in line.scores.0 {
                let k = *place.entry(key.to_string()).or_insert_with(|| {
                    columns.scores.push((key.to_string(), vec![None; n]));
                    columns.scores.len() - 1
                });
                columns.scores[k].1.push(Some(value));
            }
            // A plugin that failed on this sample left its columns short.
            for (_, values) in &mut columns.scores {
                values.resize(n + 1, None);
            }
            columns.ids.push(line.id.into_owned());
            columns.errors.push((!line.errors.is_empty()).then(|| serde_json::to_string(&line.errors)).transpose()?);
        }
        Ok(columns)
    }
}

/// A JSON scalar as Python has it: an id is text or a number.
fn json_value<'py>(py: Python<'py>, value: &RawValue) -> PyResult<Bound<'py, PyAny>> {
    let parsed: serde_json::Value = serde_json::from_str(value.get()).expect("samples.jsonl holds JSON");
    Ok(match parsed {
        serde_json::Value::String(text) => text.into_pyobject(py)?.into_any(),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(int) => int.into_pyobject(py)?.into_any(),
            None => number.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        serde_json::Value::Null => py.None().into_bound(py),
        other => other.to_string().into_pyobject(py)?.into_any(),
    })
}

/// Screens JSON Lines `records` as `assay guard` screens a file named
/// `name` holding them: `(summary.json's text, accepted, quarantined,
/// rejected, decisions.jsonl)`, the last four as the bytes of those files.
#[pyfunction]
#[pyo3(signature = (records, guards, config=None, jobs=None, settings=Vec::new(), fields=Vec::new(), name="feedback.jsonl"))]
#[allow(clippy::too_many_arguments)]
fn screen<'py>(
    py: Python<'py>,
    records: &[u8],
    guards: Vec<String>,
    config: Option<PathBuf>,
    jobs: Option<usize>,
    settings: Vec<String>,
    fields: Vec<(String, String)>,
    name: &str,
) -> PyResult<Screened<'py>> {
    let selection = selection(guards, config, jobs, settings, fields);
    let records: Arc<[u8]> = records.into();
    let (summary, screened) = py.detach(|| embed::screen(&selection, Path::new(name), records)).map_err(raised)?;
    let [accepted, quarantined, rejected] = &screened.routes;
    Ok((
        summary.to_json(),
        PyBytes::new(py, accepted),
        PyBytes::new(py, quarantined),
        PyBytes::new(py, rejected),
        PyBytes::new(py, &screened.decisions),
    ))
}

/// `screen`'s answer: the summary's text, then the bytes of the accepted,
/// quarantined and rejected records and of `decisions.jsonl`.
type Screened<'py> = (String, Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>);

/// What `assay inspect --json` prints of the plugin `source` names (a
/// built-in, a `.wasm` path, an `oci://` reference, or a plugin of `config`
/// resolved with its lock and trust policy).
#[pyfunction]
#[pyo3(signature = (source, config=None))]
fn inspect(py: Python<'_>, source: String, config: Option<PathBuf>) -> PyResult<String> {
    py.detach(|| {
        let (plugin, metadata) = embed::inspect(&source, config.as_deref())?;
        Ok(assay_cli::cli::inspect::inspection(&plugin, &metadata).to_string())
    })
    .map_err(raised)
}

#[pymodule]
fn _assay(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add("AssayError", py.get_type::<AssayError>())?;
    module.add("ConfigError", py.get_type::<ConfigError>())?;
    module.add("DatasetError", py.get_type::<DatasetError>())?;
    module.add("ResolveError", py.get_type::<ResolveError>())?;
    module.add("PluginLoadError", py.get_type::<PluginLoadError>())?;
    module.add("PluginError", py.get_type::<PluginError>())?;
    module.add_function(wrap_pyfunction!(evaluate, module)?)?;
    module.add_function(wrap_pyfunction!(screen, module)?)?;
    module.add_function(wrap_pyfunction!(inspect, module)?)?;
    Ok(())
}
