//! Health checks for load balancers and orchestrators, at `/health/{live,ready,cluster}`
//! and at MinIO's `/minio/health/...` paths, so manifests written for MinIO work unchanged.
//!
//! - live: 200 while the process serves;
//! - ready: 200 once the object layer is open and every set keeps its write quorum through
//!   this node, else 503;
//! - cluster: 200 when every set of every pool keeps its write quorum; with
//!   `?maintenance=true`, 503 when taking this node down would cost some set its quorum.
//!
//! Invariants: an answer is computed from state the node keeps (each drive's online flag,
//! which peers' probes keep fresh), never from drive I/O, so a busy node answers at once;
//! checks need no credentials and answer only a short status line. Only unsigned `GET` and
//! `HEAD` requests are checks: a signed request to the same path is an S3 request.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::object::ObjectLayer;

/// Which health check a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The process serves.
    Live,
    /// This node can serve reads and writes.
    Ready,
    /// Every set keeps its write quorum; with `maintenance`, also without this node.
    Cluster {
        /// Answer as if this node's drives were gone.
        maintenance: bool,
    },
}

impl Check {
    /// The check `req` asks for, if it is one.
    pub fn of<B>(req: &http::Request<B>) -> Option<Check> {
        if !matches!(*req.method(), Method::GET | Method::HEAD) || is_signed(req) {
            return None;
        }
        let uri = req.uri();
        let path = uri.path();
        let name =
            (path.strip_prefix("/minio/health/")).or_else(|| path.strip_prefix("/health/"))?;
        match name {
            "live" => Some(Check::Live),
            "ready" => Some(Check::Ready),
            "cluster" => {
                let maintenance = (uri.query().unwrap_or_default().split('&'))
                    .any(|pair| pair.eq_ignore_ascii_case("maintenance=true"));
                Some(Check::Cluster { maintenance })
            }
            _ => None,
        }
    }

    /// The answer: a status and a short line. `layer` is `None` until the node is ready.
    pub fn answer(self, layer: Option<&Arc<ObjectLayer>>) -> (StatusCode, Bytes) {
        let ok = match (self, layer) {
            (Check::Live, _) => true,
            (_, None) => false,
            (Check::Ready, Some(layer)) => layer.writable(false),
            (Check::Cluster { maintenance }, Some(layer)) => layer.writable(maintenance),
        };
        if ok {
            (StatusCode::OK, Bytes::from_static(b"ok\n"))
        } else {
            let line: &'static [u8] = match (self, layer) {
                (_, None) => b"starting\n",
                (Check::Cluster { maintenance: true }, _) => {
                    b"taking this node down would cost a set its write quorum\n"
                }
                _ => b"a set lacks its write quorum\n",
            };
            (StatusCode::SERVICE_UNAVAILABLE, Bytes::from_static(line))
        }
    }
}

/// Whether the request carries a signature (header or query): then it is an S3 request.
fn is_signed<B>(req: &http::Request<B>) -> bool {
    req.headers().contains_key(http::header::AUTHORIZATION)
        || req.uri().query().is_some_and(|q| {
            q.split('&')
                .any(|pair| pair.starts_with("X-Amz-Signature=") || pair.starts_with("Signature="))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, uri: &str, signed: bool) -> Option<Check> {
        let mut req = http::Request::builder().method(method).uri(uri);
        if signed {
            req = req.header("authorization", "AWS4-HMAC-SHA256 Credential=x");
        }
        Check::of(&req.body(()).unwrap())
    }

    #[test]
    fn checks_are_unsigned_gets_of_the_health_paths() {
        let get = |uri| check(Method::GET, uri, false);
        assert_eq!(get("/health/live"), Some(Check::Live));
        assert_eq!(get("/minio/health/ready"), Some(Check::Ready));
        let cluster = |maintenance| Some(Check::Cluster { maintenance });
        assert_eq!(get("/health/cluster"), cluster(false));
        assert_eq!(get("/minio/health/cluster?maintenance=true"), cluster(true));
        assert_eq!(
            check(Method::HEAD, "/health/live", false),
            Some(Check::Live)
        );
        for uri in [
            "/health/other",
            "/health",
            "/healthy/live",
            "/b/health/live",
        ] {
            assert_eq!(get(uri), None, "{uri}");
        }
        assert_eq!(check(Method::PUT, "/health/live", false), None);
        assert_eq!(check(Method::GET, "/health/live", true), None);
        assert_eq!(get("/health/live?X-Amz-Signature=ab"), None);
    }

    #[test]
    fn a_node_not_yet_open_is_live_but_not_ready() {
        assert_eq!(Check::Live.answer(None).0, StatusCode::OK);
        assert_eq!(Check::Ready.answer(None).0, StatusCode::SERVICE_UNAVAILABLE);
        let cluster = Check::Cluster { maintenance: false };
        assert_eq!(cluster.answer(None).0, StatusCode::SERVICE_UNAVAILABLE);
    }
}
