//! `assay serve`: the guards of a config as an HTTP service (see the
//! `assay-serve` crate for what it promises).

use anyhow::{Context, Result, anyhow, bail};
use assay_data::FieldMap;
use assay_runtime::Kind;
use assay_serve::{ServeOptions as Options, TokenDigest};
use clap::Args;

use super::guard::GuardChoice;
use crate::config::{InputOptions, LogFormat, LogLevel, ServeOptions, SharedOptions};

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    choice: GuardChoice,
    #[command(flatten)]
    serve: ServeOptions,
    #[command(flatten)]
    shared: SharedOptions,
    #[command(flatten)]
    input: InputOptions,
}

pub fn serve(args: ServeArgs) -> Result<()> {
    let setup = args.choice.setup(args.shared)?;
    let config = &setup.config;
    let options = args.serve.over(config.serve.clone());
    start_log(options.log_format.unwrap_or(LogFormat::Text), options.log_level.unwrap_or(LogLevel::Info));
    let input = args.input.over(config.input.clone());
    let fields = input.field_map(FieldMap::feedback()).map_err(anyhow::Error::msg)?;
    let state_dir = options.state.ok_or_else(|| {
        anyhow!("name the folder for the feedback log with --state DIR (or [serve] state in the config)")
    })?;
    let tokens = options
        .tokens
        .iter()
        .map(|text| TokenDigest::parse(text).map_err(|e| anyhow!("[serve] tokens: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let bind = options.bind.unwrap_or_else(|| "127.0.0.1:7878".into());
    let listener = std::net::TcpListener::bind(&bind).with_context(|| format!("listening on {bind}"))?;
    let address = listener.local_addr()?;
    if tokens.is_empty() && !address.ip().is_loopback() {
        bail!(
            "{address} is reachable from other machines, and [serve] tokens is empty: give the SHA-256 of each \
             client's bearer token (printf %s TOKEN | sha256sum), or bind to 127.0.0.1"
        );
    }
    let tls = match (options.tls_certificate, options.tls_key) {
        (Some(certificate), Some(key)) => Some(assay_serve::TlsFiles { certificate, key }),
        (None, None) => None,
        _ => bail!("[serve] needs both tls_certificate and tls_key, or neither"),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let host = setup.host(setup.specs.len() + 1)?;
    let loaded = host.prepare_any(&setup.specs, &setup.schedule.determinism)?;
    let (guards, evaluators): (Vec<_>, Vec<_>) = loaded.into_iter().partition(|p| p.plugin.kind == Kind::Guard);
    let guards = super::guard::guards_of(&setup, guards);
    let options = Options {
        state_dir,
        tokens,
        max_body_bytes: options.max_body_bytes.unwrap_or(1 << 20),
        queue: options.queue.unwrap_or(1024),
        max_batch: options.max_batch.unwrap_or(4096),
        rate_limit: options.rate_limit,
        request_timeout: std::time::Duration::from_millis(options.request_timeout_ms.unwrap_or(30_000)),
        tls,
        fields,
        windows: assay_serve::Windows {
            records: options.recall_window.unwrap_or(1_000_000),
            events: options.recall_events.unwrap_or(100_000),
        },
        retention: assay_serve::Retention {
            segment_bytes: options.segment_bytes.unwrap_or(64 << 20).max(1),
            keep_segments: options.keep_segments,
        },
    };
    assay_serve::serve(&host, &guards, &evaluators, &setup.schedule, options, listener, |address, start| {
        let from = match start.snapshot {
            Some(seq) => format!(", from the snapshot at seq {seq}"),
            None => String::new(),
        };
        let (replayed, logged) = (start.replayed, start.logged);
        tracing::info!(
            target: "assay_serve",
            event = "listening",
            url = %format!("{scheme}://{address}"),
            replayed,
            logged,
            snapshot = start.snapshot,
            "listening on {scheme}://{address} ({replayed} logged records screened again{from}; {logged} logged in all)"
        );
    })?;
    tracing::info!(target: "assay_serve", event = "stopped", "stopped; every answered record is in the log");
    Ok(())
}

/// Writes the service's events (target `assay_serve`; the engine's own are
/// left out) to stderr, from `level` up: as `assay serve: MESSAGE` lines,
/// or as JSON objects with every field.
fn start_log(format: LogFormat, level: LogLevel) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let level = match level {
        LogLevel::Error => tracing::Level::ERROR,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Debug => tracing::Level::DEBUG,
    };
    let only_the_service = tracing_subscriber::filter::Targets::new().with_target("assay_serve", level);
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false);
    let layer = match format {
        LogFormat::Json => layer.json().flatten_event(true).with_current_span(false).boxed(),
        LogFormat::Text => layer.event_format(Plain).boxed(),
    };
    // A second subscriber (never, in one process) would be refused; logging then goes on as before.
    let _ = tracing_subscriber::registry().with(layer.with_filter(only_the_service)).try_init();
}

/// `assay serve: MESSAGE`, the message alone: the fields are in it already,
/// in words.
struct Plain;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Plain
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        writeln!(writer, "assay serve: {}", message.0)
    }
}
