//! The mount's own figures for Prometheus, served at `--metrics-address` (`GET /metrics`,
//! the classic text format of `prometheus-client`): FUSE requests by operation, errors by
//! errno, bytes read and written through the mount, uploads in flight, and the bytes of
//! staging files on disk.
//!
//! Invariants: the adapter counts each kernel request once, when it is answered (an atomic
//! add on handles of a bounded label set: operation names are the adapter's, errno names
//! libc's); staging bytes are summed at scrape time from the cache directory (one
//! directory listing), never kept; the listener serves only this one path, without
//! credentials, so it should listen on loopback (the default the README shows).
//!
//! Tested end to end by `tests/e2e/fuse_metrics.rs`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::{Registry, Unit};

use crate::fs::error::Errno;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrnoLabels {
    op: &'static str,
    errno: &'static str,
}

/// The mount's figures.
#[derive(Debug)]
pub struct MountMetrics {
    registry: Registry,
    requests: Family<OpLabels, Counter>,
    errors: Family<ErrnoLabels, Counter>,
    read: Counter,
    written: Counter,
    uploads: Gauge,
}

impl MountMetrics {
    /// Figures at zero; staging bytes are summed from `staging_dir` at each scrape.
    pub fn new(staging_dir: PathBuf) -> Self {
        let mut root = Registry::default();
        let r = root.sub_registry_with_prefix("tessera_mount");
        let m = Self {
            registry: Registry::default(),
            requests: Family::default(),
            errors: Family::default(),
            read: Counter::default(),
            written: Counter::default(),
            uploads: Gauge::default(),
        };
        let help = "FUSE requests answered, by operation";
        r.register("fuse_requests", help, m.requests.clone());
        let help = "FUSE requests answered with an error, by operation and errno";
        r.register("fuse_errors", help, m.errors.clone());
        let help = "Bytes read through the mount";
        r.register_with_unit("read", help, Unit::Bytes, m.read.clone());
        let help = "Bytes written through the mount";
        r.register_with_unit("written", help, Unit::Bytes, m.written.clone());
        let help = "Uploads (PutObject calls) running";
        r.register("uploads_in_flight", help, m.uploads.clone());
        r.register_collector(Box::new(Staging(staging_dir)));
        Self {
            registry: root,
            ..m
        }
    }

    /// One request of `op` answered; `error` when it failed.
    pub fn answered(&self, op: &'static str, error: Option<Errno>) {
        self.requests.get_or_create(&OpLabels { op }).inc();
        if let Some(e) = error {
            let labels = ErrnoLabels {
                op,
                errno: errno_name(e),
            };
            self.errors.get_or_create(&labels).inc();
        }
    }

    /// `n` bytes read.
    pub fn read(&self, n: usize) {
        self.read.inc_by(n as u64);
    }

    /// `n` bytes written.
    pub fn wrote(&self, n: usize) {
        self.written.inc_by(n as u64);
    }

    /// The gauge of uploads in flight (for the object API client).
    pub fn uploads(&self) -> Gauge {
        self.uploads.clone()
    }

    /// The classic Prometheus text of every figure.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            out.push_str(&format!("# encoding failed: {e}\n"));
        }
        out
    }
}

/// libc's name of an errno (the ones the mount answers), else `other`.
fn errno_name(e: Errno) -> &'static str {
    const NAMES: [(Errno, &str); 15] = [
        (Errno::EPERM, "EPERM"),
        (Errno::ENOENT, "ENOENT"),
        (Errno::EIO, "EIO"),
        (Errno::EBADF, "EBADF"),
        (Errno::EACCES, "EACCES"),
        (Errno::EBUSY, "EBUSY"),
        (Errno::EEXIST, "EEXIST"),
        (Errno::EXDEV, "EXDEV"),
        (Errno::ENOTDIR, "ENOTDIR"),
        (Errno::EISDIR, "EISDIR"),
        (Errno::EINVAL, "EINVAL"),
        (Errno::ENOSPC, "ENOSPC"),
        (Errno::EROFS, "EROFS"),
        (Errno::ENAMETOOLONG, "ENAMETOOLONG"),
        (Errno::ENOTEMPTY, "ENOTEMPTY"),
    ];
    let more = [
        (libc::ENODATA, "ENODATA"),
        (libc::ERANGE, "ERANGE"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::EMLINK, "EMLINK"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    ];
    (NAMES.iter().find(|(n, _)| *n == e).map(|(_, name)| *name))
        .or_else(|| (more.iter().find(|(c, _)| *c == e.code())).map(|(_, name)| *name))
        .unwrap_or("other")
}

/// Bytes of staging files, summed at scrape time.
#[derive(Debug)]
struct Staging(PathBuf);

impl Collector for Staging {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let bytes: u64 = std::fs::read_dir(&self.0)
            .map(|entries| {
                (entries.flatten())
                    .filter_map(|e| e.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        let gauge = ConstGauge::new(i64::try_from(bytes).unwrap_or(i64::MAX));
        let metric = encoder.encode_descriptor(
            "staging",
            "Bytes of staging files on disk (files being edited, not yet uploaded)",
            Some(&Unit::Bytes),
            gauge.metric_type(),
        )?;
        gauge.encode(metric)
    }
}

/// Serves `metrics` at `GET /metrics` on `listener` until the runtime stops.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<MountMetrics>) {
    loop {
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(e) => {
                tracing::debug!("metrics listener: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(answer(&req, &metrics)) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service);
            if let Err(e) = conn.await {
                tracing::debug!("metrics connection: {e}");
            }
        });
    }
}

fn answer<B>(req: &Request<B>, metrics: &MountMetrics) -> Response<Full<Bytes>> {
    let (status, body, content_type) = if req.uri().path() == "/metrics" {
        let text = metrics.encode();
        (
            StatusCode::OK,
            text,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )
    } else {
        let text = "not found: the mount's metrics are at /metrics\n".to_owned();
        (StatusCode::NOT_FOUND, text, "text/plain; charset=utf-8")
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    resp
}

/// Binds `address` for [`serve`].
pub async fn bind(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address).await
}
