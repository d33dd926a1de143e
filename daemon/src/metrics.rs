//! The node's figures for Prometheus: one [`Metrics`] per node owns the registry and every
//! metric in it; the layers report into it through small calls on handles created once
//! (`requests` for the front door, `storage` for objects, drives and sets, `background`
//! for healing, the scanner, internode calls and locks, `process` for `/proc/self`), and
//! the server encodes it at `GET /metrics` (`prometheus-client`'s text encoders). The
//! internode byte counts of `traffic` are read at scrape time.
//! Bearer tokens for scrapes are made and checked in `token`.
//!
//! Invariants: this module imports nothing of the node but the leaves `sync` and
//! `traffic` (every layer may call into it); the hot path touches only atomics and handles
//! resolved once (a request resolves its operation's handles with one read-locked map
//! lookup; a histogram observation takes prometheus-client's own short lock); every label
//! has bounded values (API, operation names capped per API, status class, drive endpoint,
//! peer address); figures that are state rather than events (drive state and usage, heal
//! queue depth, process RSS) are set at scrape time from state the node already keeps;
//! nothing here logs a token or a secret.
//!
//! Tested by the unit tests of each part and end to end by `tests/e2e/metrics.rs`.

mod background;
mod body;
mod process;
mod requests;
mod storage;
pub mod token;

use std::sync::Arc;

use prometheus_client::registry::Registry;

use crate::traffic::Traffic;

pub use background::{HealFigures, LockFigures, PeerFigures};
pub use body::{Answered, Counted, Exchange, grpc_class};
pub use requests::{Api, Class, OpSlot, Requests};
pub use storage::{
    DriveCounters, DriveSample, DriveState, ObjectFigures, SetSample, StorageGauges,
};

/// Every figure of one node, and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests by API, operation and status class; their durations and bytes.
    pub requests: Arc<Requests>,
    /// Objects and bytes written and read.
    pub objects: ObjectFigures,
    /// Per-drive event counters (I/O errors, checksum mismatches).
    drives: storage::DriveCounterFamily,
    /// Drive and set state, set at scrape time.
    pub gauges: StorageGauges,
    /// The healer and the scanner.
    pub heal: HealFigures,
    /// Namespace locks.
    pub locks: LockFigures,
    /// Internode calls per peer.
    peers: background::PeerFamily,
    /// Bytes peers move through this node's StorageService (counted by `internode`).
    pub traffic: Arc<Traffic>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A node's figures, all at zero, registered under the `tessera_` prefix.
    pub fn new() -> Self {
        let traffic = Arc::new(Traffic::default());
        let mut root = Registry::default();
        let registry = root.sub_registry_with_prefix("tessera");
        let requests = Arc::new(Requests::register(registry));
        let objects = ObjectFigures::register(registry);
        let drives = storage::DriveCounterFamily::register(registry);
        let gauges = StorageGauges::register(registry);
        let heal = HealFigures::register(registry);
        let locks = LockFigures::register(registry);
        let peers = background::PeerFamily::register(registry);
        registry.register_collector(Box::new(process::Process));
        registry.register_collector(Box::new(process::TrafficCollector(traffic.clone())));
        Self {
            registry: root,
            requests,
            objects,
            drives,
            gauges,
            heal,
            locks,
            peers,
            traffic,
        }
    }

    /// The event counters of the drive at `endpoint` (resolve once, keep the handle).
    pub fn drive(&self, endpoint: &str) -> DriveCounters {
        self.drives.of(endpoint)
    }

    /// The call figures of the peer at `address` (resolve once, keep the handle).
    pub fn peer(&self, address: &str) -> PeerFigures {
        self.peers.of(address)
    }

    /// Every figure as text: OpenMetrics (ending with `# EOF`) when `openmetrics`, else
    /// Prometheus's classic text format (0.0.4). Gives the text and its content type.
    pub fn encode(&self, openmetrics: bool) -> (String, &'static str) {
        use prometheus_client::encoding::{prometheus_text, text};
        let mut out = String::with_capacity(32 * 1024);
        // Writing into a String cannot fail; an encoder error would be a bug of ours
        // (an invalid name), which the unit tests catch.
        let (written, content_type) = if openmetrics {
            (text::encode(&mut out, &self.registry), OPENMETRICS)
        } else {
            let written = prometheus_text::encode(&mut out, &self.registry);
            (written, prometheus_text::CONTENT_TYPE)
        };
        if let Err(e) = written {
            out.push_str(&format!("# encoding failed: {e}\n"));
        }
        (out, content_type)
    }
}

/// The content type of the OpenMetrics text.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The sum of the samples of a parsed scrape named `name` whose labels include `labels`
/// (what `tessera admin top` and the console's charts read back).
pub fn sum(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    use prometheus_parse::Value;
    (s.samples.iter())
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[cfg(test)]
mod tests;
