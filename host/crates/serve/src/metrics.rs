//! `GET /metrics`: what an operator watches, in the Prometheus text format.
//!
//! Requests and their latency per route and status, the records' routes,
//! each guard's verdicts and recalls by outcome, snapshots taken and
//! failed, the queue's depth and the log's size. Counters start at zero when the process starts; records the
//! service screened again from its log at start are not counted, so the
//! counters say what this process was asked.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Decision {
    decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Verdict {
    guard: String,
    verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Recall {
    guard: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Snapshot {
    outcome: String,
}

/// Latency buckets from 0.25 ms to about 4 s, doubling.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<Request, Counter>,
    seconds: Family<Route, Histogram, fn() -> Histogram>,
    records: Family<Decision, Counter>,
    verdicts: Family<Verdict, Counter>,
    recalls: Family<Recall, Counter>,
    snapshots: Family<Snapshot, Counter>,
    pub(crate) queue_depth: Gauge,
    pub(crate) log_bytes: Gauge,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("assay_serve");
        let requests = Family::<Request, Counter>::default();
        registry.register("requests", "HTTP requests answered, by route and status", requests.clone());
        let seconds = Family::<Route, Histogram, fn() -> Histogram>::new_with_constructor(latency);
        registry.register("request_seconds", "Time to answer a request, by route", seconds.clone());
        let records = Family::<Decision, Counter>::default();
        registry.register("records", "Feedback records screened, by the route they took", records.clone());
        let verdicts = Family::<Verdict, Counter>::default();
        registry.register(
            "verdicts",
            "Each guard's decisions, by verdict (after its failure policy)",
            verdicts.clone(),
        );
        let recalls = Family::<Recall, Counter>::default();
        registry.register("recalls", "Each guard's recalls, by outcome", recalls.clone());
        let queue_depth = Gauge::default();
        registry.register("queue_depth", "Requests waiting for the intake", queue_depth.clone());
        let log_bytes = Gauge::default();
        registry.register("log_bytes", "Size of the write-ahead log's segments kept", log_bytes.clone());
        let snapshots = Family::<Snapshot, Counter>::default();
        registry.register("snapshots", "Snapshots of the guards' states, taken or failed", snapshots.clone());
        Metrics { registry, requests, seconds, records, verdicts, recalls, snapshots, queue_depth, log_bytes }
    }

    pub(crate) fn request(&self, route: &str, status: u16, seconds: f64) {
        self.requests.get_or_create(&Request { route: route.into(), status }).inc();
        self.seconds.get_or_create(&Route { route: route.into() }).observe(seconds);
    }

    pub(crate) fn record(&self, decision: &str) {
        self.records.get_or_create(&Decision { decision: decision.into() }).inc();
    }

    pub(crate) fn verdict(&self, guard: &str, verdict: &str) {
        self.verdicts.get_or_create(&Verdict { guard: guard.into(), verdict: verdict.into() }).inc();
    }

    pub(crate) fn recall(&self, guard: &str, outcome: &str) {
        self.recalls.get_or_create(&Recall { guard: guard.into(), outcome: outcome.into() }).inc();
    }

    pub(crate) fn snapshot(&self, outcome: &str) {
        self.snapshots.get_or_create(&Snapshot { outcome: outcome.into() }).inc();
    }

    /// The text Prometheus scrapes.
    pub(crate) fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String");
        text
    }
}
