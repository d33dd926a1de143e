//! One listener, two protocols: requests with `content-type: application/grpc` go to the
//! tonic services (internode services by their package, the rest to the object API),
//! everything else to the S3 service. Until the object layer is ready (a cluster node
//! waiting for its peers), the client-facing services answer "unavailable" while the
//! internode ones already serve. HTTP/1.1 and HTTP/2 (prior knowledge,
//! as gRPC uses) are both served; every accepted socket gets TCP_NODELAY.
//!
//! Which connections are taken and how long a silent one stays is `admission`'s; health
//! checks (`health`) and Prometheus scrapes (`scrape`) are answered before either protocol.
//! Every other request is counted here, once, by API, operation and status class, with its
//! duration and body bytes (`metrics::Exchange`): gRPC names its operation in its path,
//! S3's is named by the access hook through the request's `OpSlot`.
//!
//! With an acceptor (a certs directory), a connection whose first byte opens no TLS
//! handshake is answered a short 400 and closed (`tls::refuse_plain`); without one, a TLS
//! handshake on the plain port is closed and logged (at most once a minute), since it is a
//! client or a peer that expects certificates this node lacks.
//!
//! Shutdown: stop accepting, let open requests finish for up to `grace`, then return.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::service::S3Service;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tonic::codegen::Service;

use crate::iam::{Env, Iam};
use crate::metrics::{Answered, Api, Class, Counted, Exchange, Metrics, OpSlot, grpc_class};

use super::admission::{
    ConnectionLimit, H2_PING_INTERVAL, H2_PING_TIMEOUT, HEADER_TIMEOUT, first_bytes,
};
use super::health::Check;
use super::scrape;
use super::tls;
use crate::object::ObjectLayer;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = UnsyncBoxBody<Bytes, BoxError>;
type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// HTTP/2 flow-control windows: large enough that one stream can fill a fast link.
const STREAM_WINDOW: u32 = 4 << 20;
const CONNECTION_WINDOW: u32 = 8 << 20;

/// The client-facing services, once the node is ready.
pub struct Front {
    /// The object layer (for health checks and scrapes).
    pub layer: Arc<ObjectLayer>,
    /// The identity store (for scrapes' tokens).
    pub iam: Arc<Iam>,
    /// The gRPC object API.
    pub grpc: tonic::service::Routes,
    /// S3.
    pub s3: S3Service,
}

/// Routes each request to gRPC or S3.
#[derive(Clone)]
pub struct Router {
    internode: Option<tonic::service::Routes>,
    front: Arc<OnceLock<Front>>,
    /// What policies may ask of the connection (its client's address), put in each of its
    /// requests' extensions.
    env: Env,
    /// The node's figures.
    metrics: Arc<Metrics>,
    /// Whether anyone may scrape the metrics (`--metrics-public`).
    metrics_public: bool,
}

impl Router {
    /// Routes to `internode` (cluster nodes only) and to `front` once it is set, counting
    /// requests in `metrics`, which anyone may scrape when `metrics_public`.
    pub fn new(
        internode: Option<tonic::service::Routes>,
        front: Arc<OnceLock<Front>>,
        metrics: Arc<Metrics>,
        metrics_public: bool,
    ) -> Self {
        Self {
            internode,
            front,
            env: Env::default(),
            metrics,
            metrics_public,
        }
    }

    /// Answers a scrape.
    fn scrape(&self, req: Request<Incoming>) -> BoxFuture {
        let (parts, _) = req.into_parts();
        let (front, metrics, public) = (
            self.front.clone(),
            self.metrics.clone(),
            self.metrics_public,
        );
        Box::pin(async move {
            let opened = front.get().map(|f| (&f.layer, &f.iam));
            let resp = scrape::answer(&parts, opened, &metrics, public).await;
            Ok(resp.map(|b| {
                http_body_util::Full::new(b)
                    .map_err(|never| match never {})
                    .boxed_unsync()
            }))
        })
    }

    /// The router of one connection from `peer`, over TLS when `secure`.
    fn for_peer(&self, peer: std::net::SocketAddr, secure: bool) -> Self {
        let mut router = self.clone();
        router.env.source_ip = Some(peer.ip());
        router.env.secure = secure;
        router
    }
}

/// The gRPC package of the internode services.
const INTERNODE_PREFIX: &str = "/tessera.internode.";

fn grpc_refusal(status: tonic::Status) -> BoxFuture {
    let resp = status.into_http::<Body>();
    Box::pin(async move { Ok(resp) })
}

fn s3_unavailable() -> BoxFuture {
    s3_refusal(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "the node is starting: waiting for its peers",
    )
}

/// An S3 error answered by the router itself, before s3s reads the request.
fn s3_refusal(status: http::StatusCode, code: &str, message: &str) -> BoxFuture {
    let message = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message></Error>"
    );
    let body = http_body_util::Full::new(Bytes::from(xml))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    Box::pin(async move { Ok(resp) })
}

fn is_grpc(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

impl hyper::service::Service<Request<Incoming>> for Router {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        if let Some(check) = Check::of(&req) {
            let (status, line) = check.answer(self.front.get().map(|f| &f.layer));
            let body = http_body_util::Full::new(line)
                .map_err(|never| match never {})
                .boxed_unsync();
            let mut resp = Response::new(body);
            *resp.status_mut() = status;
            return Box::pin(async move { Ok(resp) });
        }
        if scrape::is_scrape(&req) {
            return self.scrape(req);
        }
        let started = Instant::now();
        req.extensions_mut().insert(self.env);
        if is_grpc(&req) {
            let mut grpc = if req.uri().path().starts_with(INTERNODE_PREFIX) {
                match &self.internode {
                    Some(routes) => routes.clone(),
                    None => {
                        return grpc_refusal(tonic::Status::unimplemented(
                            "this node is not part of a cluster",
                        ));
                    }
                }
            } else {
                match self.front.get() {
                    Some(front) => front.grpc.clone(),
                    None => {
                        return grpc_refusal(tonic::Status::unavailable(
                            "the node is starting: waiting for its peers",
                        ));
                    }
                }
            };
            let path = req.uri().path();
            let api = if path.starts_with(INTERNODE_PREFIX) {
                Api::Internode
            } else {
                Api::Grpc
            };
            let op = path.rsplit('/').next().unwrap_or_default();
            let requests = self.metrics.requests.clone();
            let mut exchange = Exchange::known(requests.clone(), api, op, started);
            let req = req.map(|body| Counted::new(body, requests, api));
            Box::pin(async move {
                let resp = match grpc.call(req).await {
                    Ok(resp) => resp,
                    Err(never) => match never {},
                };
                // A call refused at once carries its status in the headers; otherwise
                // the trailers set it.
                if let Some(class) = grpc_class(resp.headers()) {
                    exchange.set_class(class);
                }
                Ok(resp.map(|b| Answered::new(b.map_err(BoxError::from), exchange).boxed_unsync()))
            })
        } else {
            let Some(front) = self.front.get() else {
                return s3_unavailable();
            };
            let s3 = front.s3.clone();
            let (mut parts, body) = req.into_parts();
            if let Err(refusal) = crate::s3::admit(&mut parts) {
                let (path, code) = (parts.uri.path(), refusal.code);
                tracing::debug!(path, code, message = %refusal.message, "S3 request refused");
                return s3_refusal(refusal.status, refusal.code, &refusal.message);
            }
            let requests = self.metrics.requests.clone();
            let slot = OpSlot::new(requests.clone());
            parts.extensions.insert(slot.clone());
            let mut exchange = Exchange::named_later(requests.clone(), Api::S3, slot, started);
            let body = s3s::Body::http_body(Counted::new(body, requests, Api::S3));
            let req = Request::from_parts(parts, body);
            let (method, path) = (req.method().clone(), req.uri().path().to_string());
            Box::pin(async move {
                match s3.call(req).await {
                    Ok(resp) => {
                        // The path only: a query may hold a presigned URL's signature.
                        let status = resp.status();
                        if status.is_client_error() {
                            tracing::debug!(%method, %path, %status, "S3 request refused");
                        }
                        exchange.set_class(Class::of_http(status.as_u16()));
                        Ok(resp.map(|b| {
                            Answered::new(b.map_err(BoxError::from), exchange).boxed_unsync()
                        }))
                    }
                    Err(e) => {
                        tracing::error!(error = ?e, "S3 request failed without a response");
                        let body = http_body_util::Full::new(Bytes::from_static(b"internal error"))
                            .map_err(|never| match never {})
                            .boxed_unsync();
                        let mut resp = Response::new(body);
                        *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                        Ok(resp)
                    }
                }
            })
        }
    }
}

/// How often a TLS handshake on the plain port is logged at most.
const MISMATCH_LOG_EVERY: Duration = Duration::from_secs(60);

/// Serves one connection (plain or TLS) until it closes or the graceful shutdown ends it.
async fn serve_io<I>(
    builder: &Builder<TokioExecutor>,
    io: I,
    router: Router,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = builder.serve_connection(TokioIo::new(io), router);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Logs, at most once every [`MISMATCH_LOG_EVERY`], a TLS handshake on the plain port;
/// `last` holds the second (Unix time) of the last such line.
fn log_tls_on_plain(last: &AtomicU64, peer: std::net::SocketAddr) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let before = last.load(Ordering::Relaxed);
    let due = before == 0 || now >= before + MISMATCH_LOG_EVERY.as_secs();
    if due
        && last
            .compare_exchange(before, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            %peer,
            "a TLS handshake on this plain-HTTP port: closed. A client or a peer uses https:// \
             but this node has no certificates (--certs-dir)"
        );
    }
}

/// Serves gRPC and S3 on `listener` until `shutdown` resolves, with at most `limit`
/// connections open, over TLS when `acceptor` is given.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limit: ConnectionLimit,
    acceptor: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_TIMEOUT)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(tessera_proto::client::MAX_FRAME_SIZE);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let mismatch_logged = Arc::new(AtomicU64::new(0));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = limit.admit() => permit,
            () = &mut shutdown => break,
        };
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = socket.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let (builder, router) = (builder.clone(), router.for_peer(peer, acceptor.is_some()));
        let (acceptor, mismatch_logged) = (acceptor.clone(), mismatch_logged.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            if !first_bytes(&socket, HEADER_TIMEOUT).await {
                tracing::debug!("connection closed: no request within {HEADER_TIMEOUT:?}");
                return;
            }
            match (acceptor, tls::starts_tls(&socket).await) {
                (Some(acceptor), true) => {
                    // The handshake gets the time a request's headers get.
                    match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(socket)).await {
                        Ok(Ok(stream)) => serve_io(&builder, stream, router, watcher).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                (Some(_), false) => {
                    tracing::debug!(%peer, "plain HTTP on the TLS port: refused");
                    tls::refuse_plain(socket).await;
                }
                (None, true) => log_tls_on_plain(&mismatch_logged, peer),
                (None, false) => serve_io(&builder, socket, router, watcher).await,
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!("requests still open {grace:?} after the shutdown signal; stopping");
        }
    }
}
