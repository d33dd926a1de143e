//! Prometheus scrapes: `GET /metrics`, and MinIO's `/minio/v2/metrics/cluster` and
//! `/minio/v2/metrics/node` for dashboards written for MinIO, answered with the node's
//! [`Metrics`] after the drive and set gauges are refreshed from the state the node keeps.
//!
//! Who may scrape is decided where every request is: `Iam::authorize` with
//! `admin:Prometheus`, for the caller a bearer token names (`metrics::token`: the key must
//! resolve, so a removed or disabled key's token stops working). With `--metrics-public`
//! anyone may. A refusal is a 401 (no token) or 403 with one short line, never echoing
//! the token.
//!
//! Invariants: only unsigned or bearer-authorized `GET`/`HEAD` requests of those paths are
//! scrapes (a SigV4-signed request of the same path is an S3 request); a scrape reads each
//! of this node's drives' capacity (one statvfs each) and no remote drive: peers' drives
//! are reported by their online state only.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::iam::{Env, Iam};
use crate::metrics::token::{self, TokenError};
use crate::metrics::{DriveSample, DriveState, Metrics, SetSample};
use crate::object::ObjectLayer;
use crate::policy::{Action, Check, Need};

/// The paths a scrape may ask for.
const PATHS: [&str; 3] = [
    "/metrics",
    "/minio/v2/metrics/cluster",
    "/minio/v2/metrics/node",
];

/// Whether `req` is a scrape (see the module doc).
pub fn is_scrape<B>(req: &http::Request<B>) -> bool {
    if !matches!(*req.method(), Method::GET | Method::HEAD) || !PATHS.contains(&req.uri().path()) {
        return false;
    }
    let presigned = req.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.starts_with("X-Amz-Signature=") || pair.starts_with("Signature="))
    });
    !presigned
        && match req.headers().get(http::header::AUTHORIZATION) {
            None => true,
            Some(value) => bearer(value).is_some(),
        }
}

/// The token of a `Bearer` authorization value.
fn bearer(value: &http::HeaderValue) -> Option<&str> {
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Why a scrape is refused.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeRefusal {
    /// No token, and the metrics are not public.
    #[error(
        "metrics need a bearer token (`tessera admin prometheus token`) or a node started \
         with --metrics-public"
    )]
    NoToken,
    /// The token does not hold.
    #[error("{0}")]
    Token(#[from] TokenError),
    /// The token's key does not resolve.
    #[error("the token's access key cannot be used: {0}")]
    Key(#[from] crate::iam::KeyRefusal),
    /// The key may not read the metrics.
    #[error("access denied: the token's key lacks admin:Prometheus")]
    Denied,
}

impl ScrapeRefusal {
    fn status(&self) -> StatusCode {
        match self {
            ScrapeRefusal::NoToken => StatusCode::UNAUTHORIZED,
            ScrapeRefusal::Token(_) | ScrapeRefusal::Key(_) | ScrapeRefusal::Denied => {
                StatusCode::FORBIDDEN
            }
        }
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Checks that the scrape `parts` may read the metrics.
async fn authorize(
    iam: &Iam,
    parts: &http::request::Parts,
    public: bool,
) -> Result<(), ScrapeRefusal> {
    if public {
        return Ok(());
    }
    let token = (parts.headers.get(http::header::AUTHORIZATION))
        .and_then(bearer)
        .ok_or(ScrapeRefusal::NoToken)?;
    let claim = token::parse(token)?;
    let (secret, identity) = iam.resolve(&claim.access_key).await?;
    claim.verify(&secret, now_secs())?;
    let need = Need {
        checks: vec![Check {
            action: Action::Prometheus,
            bucket: None,
            key: None,
        }],
        listing: Default::default(),
    };
    let env = parts.extensions.get::<Env>().copied().unwrap_or_default();
    (iam.authorize(Some(&identity), &need, &env).await).map_err(|_| ScrapeRefusal::Denied)
}

/// Refreshes the gauges from `layer`'s state (see the module doc).
async fn sample(layer: &ObjectLayer, metrics: &Metrics) {
    let mut sets = Vec::new();
    for set in layer.sets() {
        let drives = set.drives();
        let mut samples = Vec::with_capacity(drives.len());
        for d in drives.all() {
            let (state, usage) = if !d.is_online() {
                (DriveState::Offline, None)
            } else if d.is_remote() {
                (DriveState::Online, None)
            } else {
                match d.disk_info().await {
                    Ok(i) => (DriveState::Online, Some((i.total, i.used, i.free))),
                    Err(_) => (DriveState::Offline, None),
                }
            };
            samples.push(DriveSample {
                endpoint: d.endpoint().to_owned(),
                state,
                usage,
            });
        }
        let (pool, index) = drives.position();
        sets.push(SetSample {
            pool,
            set: index,
            drives: samples,
            write_quorum: drives.write_quorum(),
        });
    }
    metrics.gauges.observe(&sets, metrics);
    metrics.gauges.heal_queue(layer.queued_heals().await);
}

/// The answer to a scrape: the metrics, or a refusal. `layer` and `iam` are `None` while
/// the node starts (then only public metrics are served, without drive gauges).
pub async fn answer(
    parts: &http::request::Parts,
    opened: Option<(&Arc<ObjectLayer>, &Arc<Iam>)>,
    metrics: &Metrics,
    public: bool,
) -> http::Response<Bytes> {
    let authorized = match opened {
        Some((_, iam)) => authorize(iam, parts, public).await,
        None if public => Ok(()),
        None => Err(ScrapeRefusal::NoToken),
    };
    if let Err(refusal) = authorized {
        tracing::debug!(%refusal, "scrape refused");
        let mut resp = http::Response::new(Bytes::from(format!("{refusal}\n")));
        *resp.status_mut() = refusal.status();
        return resp;
    }
    if let Some((layer, _)) = opened {
        sample(layer, metrics).await;
    }
    let openmetrics = (parts.headers.get(http::header::ACCEPT))
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let (text, content_type) = metrics.encode(openmetrics);
    let mut resp = http::Response::new(Bytes::from(text));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, uri: &str, auth: Option<&str>) -> http::Request<()> {
        let mut b = http::Request::builder().method(method).uri(uri);
        if let Some(auth) = auth {
            b = b.header("authorization", auth);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn scrapes_are_unsigned_or_bearer_gets_of_the_metrics_paths() {
        assert!(is_scrape(&req(Method::GET, "/metrics", None)));
        assert!(is_scrape(&req(Method::GET, "/metrics", Some("Bearer x"))));
        assert!(is_scrape(&req(
            Method::GET,
            "/minio/v2/metrics/cluster",
            None
        )));
        assert!(is_scrape(&req(
            Method::HEAD,
            "/minio/v2/metrics/node",
            None
        )));
        let sigv4 = "AWS4-HMAC-SHA256 Credential=a/20250101/us-east-1/s3/aws4_request";
        assert!(!is_scrape(&req(Method::GET, "/metrics", Some(sigv4))));
        assert!(!is_scrape(&req(
            Method::GET,
            "/metrics?X-Amz-Signature=1",
            None
        )));
        assert!(!is_scrape(&req(Method::PUT, "/metrics", None)));
        assert!(!is_scrape(&req(Method::GET, "/metrics/key", None)));
    }
}
