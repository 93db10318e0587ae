//! `POST /v1/evaluate`: the configured evaluators, on a thread of their own.
//!
//! Each request is scored as `assay run` scores one chunk of a file
//! ([`assay_pipeline::Scorer`]), so a sample gets the scores `assay run`
//! gives it. Evaluators keep no state across samples, so nothing of this is
//! logged: a request lost to a crash is simply asked again.

use assay_data::{Body, FieldMap, RawRecord};
use assay_pipeline::{EvaluateOptions, Scorer};
use assay_runtime::{Host, LoadedPlugin};

/// A request's samples (each a JSON object's text) and where its answer
/// goes: each sample's line of `samples.jsonl`, or why the request cannot be
/// scored (a sample that cannot be read, named by its place).
pub(crate) struct Request {
    pub(crate) samples: Vec<Vec<u8>>,
    pub(crate) reply: tokio::sync::oneshot::Sender<Result<Vec<String>, String>>,
}

/// Scores requests until the channel closes.
pub(crate) fn run(
    host: &Host,
    evaluators: &[LoadedPlugin],
    options: &EvaluateOptions,
    mut requests: tokio::sync::mpsc::Receiver<Request>,
) {
    let fields = FieldMap::samples();
    let mut scorer = Scorer::new(host, evaluators, &fields, options);
    while let Some(Request { samples, reply }) = requests.blocking_recv() {
        let several = samples.len() > 1;
        let records = samples
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| RawRecord { line: i as u64 + 1, body: Body::Json(bytes) })
            .collect();
        let answer = match scorer.score(records) {
            Ok(lines) => Ok(String::from_utf8(lines).expect("JSON is UTF-8").lines().map(str::to_string).collect()),
            Err(bad) => {
                let first = &bad[0];
                Err(if several { format!("record {}: {}", first.line, first.message) } else { first.message.clone() })
            }
        };
        let _ = reply.send(answer);
    }
}
