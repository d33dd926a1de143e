//! Requests at the node's port, by API (`s3`, `grpc` for the object and admin services,
//! `internode` for what peers ask, `console` for the web console's pages and endpoints),
//! operation and status class: a counter per class, a duration histogram per operation,
//! and the bytes received and sent per API.
//!
//! Invariants: an operation's handles are created once, on its first request, and found
//! again with one read-locked map lookup; at most [`MAX_OPS`] operation names are kept per
//! API (S3's names come from s3s's fixed set, gRPC's from the method path and the
//! console's from the endpoint's path, both of which a client chooses), later ones count
//! as `other`, so no client can grow the label set without bound.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::sync::BlockingRwLock;

/// Operation names kept per API; more count as `other`.
pub const MAX_OPS: usize = 128;

/// Which front door a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// S3 over HTTP.
    S3,
    /// The gRPC object and admin services.
    Grpc,
    /// The internode services (peers' calls).
    Internode,
    /// The web console: its pages and its JSON endpoints.
    Console,
}

impl Api {
    const ALL: [Api; 4] = [Api::S3, Api::Grpc, Api::Internode, Api::Console];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            Api::S3 => "s3",
            Api::Grpc => "grpc",
            Api::Internode => "internode",
            Api::Console => "console",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A response's status class; gRPC codes map to the HTTP class of the same meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx, gRPC OK.
    Success,
    /// 3xx (S3 only: 304 Not Modified).
    Redirect,
    /// 4xx, gRPC codes that blame the request (not found, denied, invalid…).
    ClientError,
    /// 5xx, gRPC codes that blame the server (internal, unavailable, deadline…).
    ServerError,
}

impl Class {
    const ALL: [Class; 4] = [
        Class::Success,
        Class::Redirect,
        Class::ClientError,
        Class::ServerError,
    ];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            Class::Success => "2xx",
            Class::Redirect => "3xx",
            Class::ClientError => "4xx",
            Class::ServerError => "5xx",
        }
    }

    /// The class of an HTTP status.
    pub fn of_http(status: u16) -> Class {
        match status {
            300..=399 => Class::Redirect,
            400..=499 => Class::ClientError,
            500.. => Class::ServerError,
            _ => Class::Success,
        }
    }

    /// The class of a gRPC status code (`grpc-status`).
    pub fn of_grpc(code: i32) -> Class {
        match code {
            0 => Class::Success,
            // Cancelled (by the client), InvalidArgument, NotFound, AlreadyExists,
            // PermissionDenied, FailedPrecondition, Aborted (a lost race the client
            // retries), OutOfRange, Unimplemented, Unauthenticated.
            1 | 3 | 5 | 6 | 7 | 9 | 10 | 11 | 12 | 16 => Class::ClientError,
            // Unknown, DeadlineExceeded, ResourceExhausted, Internal, Unavailable,
            // DataLoss, and anything unknown.
            _ => Class::ServerError,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    api: &'static str,
    op: Arc<str>,
    class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    api: &'static str,
    op: Arc<str>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    api: &'static str,
}

/// The handles of one operation of one API.
#[derive(Debug)]
pub struct OpFigures {
    by_class: [Counter; 4],
    duration: Histogram,
}

impl OpFigures {
    /// Counts one request answered with `class` after `elapsed`.
    pub fn record(&self, class: Class, elapsed: Duration) {
        self.by_class[class.index()].inc();
        self.duration.observe(elapsed.as_secs_f64());
    }
}

/// Where the S3 access hook names the operation s3s resolved for a request, so that the
/// front door, which saw only the HTTP request, can count it by name.
#[derive(Debug, Clone)]
pub struct OpSlot {
    requests: Arc<Requests>,
    op: Arc<OnceLock<Arc<OpFigures>>>,
}

impl OpSlot {
    /// An empty slot of an S3 request.
    pub fn new(requests: Arc<Requests>) -> Self {
        Self {
            requests,
            op: Arc::default(),
        }
    }

    /// Names the request's S3 operation (the first name stays).
    pub fn set(&self, op: &str) {
        if self.op.get().is_none() {
            let _ = self.op.set(self.requests.op(Api::S3, op));
        }
    }

    /// The operation's handles, if named.
    pub(super) fn get(&self) -> Option<&Arc<OpFigures>> {
        self.op.get()
    }
}

type Durations = Family<OpLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // 100 µs … ~105 s, doubling.
    Histogram::new(exponential_buckets(0.0001, 2.0, 21))
}

/// Requests by API, operation and class (see the module doc).
#[derive(Debug)]
pub struct Requests {
    total: Family<RequestLabels, Counter>,
    duration: Durations,
    received: [Counter; 4],
    sent: [Counter; 4],
    ops: [BlockingRwLock<HashMap<Arc<str>, Arc<OpFigures>>>; 4],
}

impl Requests {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let total = Family::<RequestLabels, Counter>::default();
        let duration = Durations::new_with_constructor(duration_histogram);
        let received = Family::<ApiLabels, Counter>::default();
        let sent = Family::<ApiLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by API, operation and status class",
            total.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Time from a request's arrival to the end of its response, by API and operation",
            Unit::Seconds,
            duration.clone(),
        );
        registry.register_with_unit(
            "received",
            "Request body bytes received, by API",
            Unit::Bytes,
            received.clone(),
        );
        registry.register_with_unit(
            "sent",
            "Response body bytes sent, by API",
            Unit::Bytes,
            sent.clone(),
        );
        let per_api = |family: &Family<ApiLabels, Counter>| {
            Api::ALL.map(|api| family.get_or_create_owned(&ApiLabels { api: api.name() }))
        };
        Self {
            received: per_api(&received),
            sent: per_api(&sent),
            total,
            duration,
            ops: Default::default(),
        }
    }

    /// The handles of operation `op` of `api`.
    pub fn op(&self, api: Api, op: &str) -> Arc<OpFigures> {
        let table = &self.ops[api.index()];
        if let Some(found) = read(table).get(op) {
            return found.clone();
        }
        let mut ops = match table.write() {
            Ok(ops) => ops,
            Err(poisoned) => poisoned.into_inner(),
        };
        let name: &str = if ops.len() >= MAX_OPS && !ops.contains_key(op) {
            "other"
        } else {
            op
        };
        if let Some(found) = ops.get(name) {
            return found.clone();
        }
        let name: Arc<str> = Arc::from(name);
        let figures = Arc::new(OpFigures {
            by_class: Class::ALL.map(|class| {
                self.total.get_or_create_owned(&RequestLabels {
                    api: api.name(),
                    op: name.clone(),
                    class: class.name(),
                })
            }),
            duration: self.duration.get_or_create_owned(&OpLabels {
                api: api.name(),
                op: name.clone(),
            }),
        });
        ops.insert(name, figures.clone());
        figures
    }

    /// Counts request body bytes of `api`.
    pub fn received(&self, api: Api, bytes: u64) {
        self.received[api.index()].inc_by(bytes);
    }

    /// Counts response body bytes of `api`.
    pub fn sent(&self, api: Api, bytes: u64) {
        self.sent[api.index()].inc_by(bytes);
    }
}

fn read<T>(lock: &BlockingRwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    match lock.read() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
