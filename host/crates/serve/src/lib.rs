//! `assay serve`: the feedback guards as an HTTP service beside a live
//! product.
//!
//! A backend posts each feedback event (`POST /v1/feedback`, one record or
//! an array, the fields `assay guard` reads) and gets every record's
//! decision and every guard's reason. Guards see records in arrival order,
//! one instance each, exactly as `assay guard` sees a file's lines, so the
//! decisions on the same records in the same order are the same online and
//! offline. Concurrent requests are screened together ([`intake`]), so
//! throughput under load approaches the offline rate.
//!
//! Nothing acknowledged is lost: each record is appended to a write-ahead
//! log ([`journal`]) and synced before its request is answered, and a
//! restarted service screens the log again to rebuild its guards' state,
//! from its newest [`snapshot`] on when it has one, so the log before that
//! may be deleted.
//! A guard's recalls ([`recalls`]) are applied to the records they reach
//! and published as numbered events (`GET /v1/recalls?after=N`), so a
//! consumer can pull back what it already took.
//!
//! It logs through `tracing` (target `assay_serve`): every request at
//! `debug` with its route, status and time, refused ones at `info` or
//! `warn` with the reason, snapshots and what could not be used; the
//! binary decides how the events are written.
//!
//! What it must not depend on: the command line (the binary parses flags
//! and the config and hands over loaded guards).

pub mod http;
mod intake;
pub mod journal;
mod metrics;
pub mod recalls;
mod scoring;
pub mod snapshot;
pub mod tls;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use assay_data::FieldMap;
use assay_pipeline::{BadRecordPolicy, EvaluateOptions, Guard, Schedule};
use assay_runtime::{Host, LoadedPlugin};

pub use http::TokenDigest;
pub use intake::{Retention, Start, Windows};
pub use journal::JournalError;
pub use snapshot::SnapshotError;
pub use tls::{TlsError, TlsFiles};

/// How the service runs, beyond its guards.
pub struct ServeOptions {
    /// Where the log and the decisions live.
    pub state_dir: PathBuf,
    /// Bearer tokens' digests; none means every request is let in (the
    /// binary allows that on loopback only).
    pub tokens: Vec<TokenDigest>,
    /// The largest request body, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Requests waiting for the intake, at most (503 with `Retry-After` above).
    pub queue: usize,
    /// Records screened together, at most.
    pub max_batch: usize,
    /// Requests per second each token may make (bursts as large); 429 with
    /// `Retry-After` above it. `None`: no limit.
    pub rate_limit: Option<u32>,
    /// How long reading and answering a feedback request may take (408).
    pub request_timeout: std::time::Duration,
    /// Serve HTTPS with this certificate and key; plain HTTP without.
    pub tls: Option<TlsFiles>,
    /// How feedback fields are named.
    pub fields: FieldMap,
    /// How much of the past is kept in memory for recalls.
    pub windows: Windows,
    /// How the log is cut into segments and how many are kept.
    pub retention: Retention,
}

/// Why the service stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{path}: {error}")]
    State {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("serving HTTP: {0}")]
    Http(#[source] std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(
        "[serve] keep_segments asks to delete old parts of the log, but guard {guard:?} keeps state across records \
         and cannot save it (it does not export guard-state, contract 0.1.4), so a restart needs the whole log: \
         remove keep_segments to keep every segment, or rebuild the guard against contract 0.1.4"
    )]
    Unsaved { guard: String },
}

/// Screens the log in `options.state_dir` again, then serves on `listener`
/// until SIGTERM or Ctrl-C, after which it answers what it took, syncs and
/// returns. `listening` is told the address once requests are taken, and
/// how the service started (records logged, screened again, the snapshot).
pub fn serve(
    host: &Host,
    guards: &[Guard],
    evaluators: &[LoadedPlugin],
    schedule: &Schedule,
    options: ServeOptions,
    listener: std::net::TcpListener,
    listening: impl FnOnce(std::net::SocketAddr, Start),
) -> Result<(), ServeError> {
    let feed = Arc::new(recalls::Feed::new(options.windows.events));
    let metrics = Arc::new(metrics::Metrics::new());
    let dir = &options.state_dir;
    let (intake, start) = intake::Intake::open(
        dir,
        host,
        guards,
        schedule,
        &options.fields,
        options.windows,
        options.retention,
        feed.clone(),
        metrics.clone(),
    )?;
    let malformed_path = dir.join("malformed.jsonl");
    let malformed = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&malformed_path)
        .map_err(|error| ServeError::State { path: malformed_path, error })?;
    let (queue, requests) = tokio::sync::mpsc::channel(options.queue.max(1));
    let (scoring, samples) = tokio::sync::mpsc::channel(options.queue.max(1));
    // As `assay run` scores a file; a sample that cannot be read fails its request.
    let evaluate_options = EvaluateOptions {
        schedule: *schedule,
        on_bad_record: BadRecordPolicy::Fail,
        early_stop: None,
        allow_duplicate_ids: true,
        keep_statistics: false,
        block_bytes: assay_data::DEFAULT_BLOCK_BYTES,
        resume: false,
        checkpoint_every: std::time::Duration::from_secs(2),
    };
    let app = Arc::new(http::App {
        queue,
        scoring: (!evaluators.is_empty()).then_some(scoring),
        fields: options.fields.clone(),
        tokens: options.tokens.clone(),
        limiters: http::limiters(options.tokens.len(), options.rate_limit),
        feed,
        metrics,
        malformed: Mutex::new(malformed),
    });
    let router = http::router(app, options.max_body_bytes, options.request_timeout);
    let acceptor = options.tls.as_ref().map(tls::acceptor).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(ServeError::Http)?;
    std::thread::scope(|scope| {
        let intake = scope.spawn(move || intake.run(requests, options.max_batch.max(1)));
        let evaluate_options = &evaluate_options;
        scope.spawn(move || scoring::run(host, evaluators, evaluate_options, samples));
        let served = runtime.block_on(async move {
            listener.set_nonblocking(true).map_err(ServeError::Http)?;
            let listener = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Http)?;
            listening(listener.local_addr().map_err(ServeError::Http)?, start);
            match acceptor {
                Some(acceptor) => {
                    let listener = tls::TlsListener::new(listener, acceptor).map_err(ServeError::Http)?;
                    axum::serve(listener, router).with_graceful_shutdown(stopped()).await
                }
                None => axum::serve(listener, router).with_graceful_shutdown(stopped()).await,
            }
            .map_err(ServeError::Http)
        });
        // The router, and with it the queue's last sender, is gone: the
        // intake answers what it took and returns.
        let taken = intake.join().expect("the intake thread panicked");
        served.and(taken)
    })
}

/// Resolves on SIGTERM or Ctrl-C.
async fn stopped() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
