//! What runs beside requests: the healer (objects healed, heals failed), the scanner
//! (objects scanned, the duration of the last full round), namespace locks (waits and
//! timeouts) and internode calls (calls, errors and latency per peer).
//!
//! Invariant: every handle here is resolved when its owner is built (a healer, a lock
//! table, a peer), so reporting is an atomic add or one histogram observation.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The healer's and the scanner's figures, shared by every set's workers.
#[derive(Debug, Clone, Default)]
pub struct HealFigures {
    healed: Counter,
    failed: Counter,
    scanned: Counter,
    last_cycle: Gauge<f64, AtomicU64>,
}

impl HealFigures {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let f = Self::default();
        registry.register(
            "heal_objects_healed",
            "Objects the healer repaired",
            f.healed.clone(),
        );
        registry.register(
            "heal_failures",
            "Heals that failed (each attempt)",
            f.failed.clone(),
        );
        registry.register(
            "scanner_objects_scanned",
            "Objects the background scanner checked",
            f.scanned.clone(),
        );
        registry.register_with_unit(
            "scanner_last_cycle_duration",
            "Duration of the scanner's last full round over every bucket (of the last set \
             to finish one)",
            Unit::Seconds,
            f.last_cycle.clone(),
        );
        f
    }

    /// The healer repaired an object.
    pub fn healed(&self) {
        self.healed.inc();
    }

    /// A heal attempt failed.
    pub fn failed(&self) {
        self.failed.inc();
    }

    /// The scanner checked `objects` more objects.
    pub fn scanned(&self, objects: u64) {
        self.scanned.inc_by(objects);
    }

    /// The scanner finished a full round in `took`.
    pub fn cycle(&self, took: Duration) {
        self.last_cycle.set(took.as_secs_f64());
    }

    /// Objects healed and heal attempts failed so far, objects scanned, and the seconds of
    /// the last full scanner round (0 before the first).
    pub fn totals(&self) -> (u64, u64, u64, f64) {
        let (healed, failed) = (self.healed.get(), self.failed.get());
        (healed, failed, self.scanned.get(), self.last_cycle.get())
    }
}

/// Namespace lock figures.
#[derive(Debug, Clone, Default)]
pub struct LockFigures {
    waits: Counter,
    timeouts: Counter,
}

impl LockFigures {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let f = Self::default();
        registry.register(
            "lock_waits",
            "Lock requests that had to wait for another holder",
            f.waits.clone(),
        );
        registry.register(
            "lock_timeouts",
            "Lock requests that gave up (the operation failed as busy)",
            f.timeouts.clone(),
        );
        f
    }

    /// A lock request waited.
    pub fn waited(&self) {
        self.waits.inc();
    }

    /// A lock request timed out.
    pub fn timed_out(&self) {
        self.timeouts.inc();
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabels {
    peer: String,
}

/// The call figures of one peer.
#[derive(Debug, Clone)]
pub struct PeerFigures {
    calls: Counter,
    errors: Counter,
    latency: Histogram,
}

impl Default for PeerFigures {
    /// Figures reported nowhere (tests, tools).
    fn default() -> Self {
        Self {
            calls: Counter::default(),
            errors: Counter::default(),
            latency: latency_histogram(),
        }
    }
}

impl PeerFigures {
    /// One call to the peer that took `took`; `failed` when it got no answer (the peer
    /// failed, not the operation).
    pub fn call(&self, took: Duration, failed: bool) {
        self.calls.inc();
        if failed {
            self.errors.inc();
        }
        self.latency.observe(took.as_secs_f64());
    }
}

fn latency_histogram() -> Histogram {
    // 100 µs … ~13 s, doubling.
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

type Latencies = Family<PeerLabels, Histogram, fn() -> Histogram>;

/// Every peer's figures.
#[derive(Debug)]
pub(super) struct PeerFamily {
    calls: Family<PeerLabels, Counter>,
    errors: Family<PeerLabels, Counter>,
    latency: Latencies,
}

impl PeerFamily {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let f = Self {
            calls: Family::default(),
            errors: Family::default(),
            latency: Latencies::new_with_constructor(latency_histogram),
        };
        registry.register("internode_calls", "Calls to peer nodes", f.calls.clone());
        registry.register(
            "internode_errors",
            "Calls to peer nodes that got no answer (refused, timed out, cut off)",
            f.errors.clone(),
        );
        registry.register_with_unit(
            "internode_call_duration",
            "Time calls to peer nodes took",
            Unit::Seconds,
            f.latency.clone(),
        );
        f
    }

    pub(super) fn of(&self, peer: &str) -> PeerFigures {
        let labels = PeerLabels {
            peer: peer.to_owned(),
        };
        PeerFigures {
            calls: self.calls.get_or_create_owned(&labels),
            errors: self.errors.get_or_create_owned(&labels),
            latency: self.latency.get_or_create_owned(&labels),
        }
    }
}
