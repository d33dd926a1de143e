//! One listener, two protocols: requests with `content-type: application/grpc` go to the
//! tonic services (internode services by their package, the rest to the object API),
//! everything else to the S3 service. Until the object layer is ready (a cluster node
//! waiting for its peers), the client-facing services answer "unavailable" while the
//! internode ones already serve. HTTP/1.1 and HTTP/2 (prior knowledge,
//! as gRPC uses) are both served; every accepted socket gets TCP_NODELAY.
//!
//! Every S3 answer, the router's own refusals included, is stamped with a request id
//! (`s3::RequestIds`); a CORS preflight (`OPTIONS`) is answered from the bucket's rules
//! before s3s, and answers to browsers get the CORS headers their rule allows (`s3::Cors`).
//!
//! Which connections are taken and how long a silent one stays is `admission`'s; health
//! checks (`health`) and Prometheus scrapes (`scrape`) are answered before either protocol,
//! and the web console's paths (unsigned requests of `/console`, `/console/…`, see
//! `crate::console::owns`) before S3; a signed request of those paths is S3's.
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

use crate::console::{self, Console};
use crate::iam::{Env, Iam};
use crate::metrics::{Answered, Api, Class, Counted, Exchange, Metrics, OpSlot, grpc_class};
use crate::s3::{Cors, RequestIds, error_response};

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
    /// CORS preflights and headers of S3 answers.
    pub cors: Cors,
    /// The web console, unless `--console off`.
    pub console: Option<Arc<Console>>,
}

/// Routes each request to gRPC or S3.
#[derive(Clone)]
pub struct Router {
    internode: Option<tonic::service::Routes>,
    front: Arc<OnceLock<Front>>,
    /// What policies may ask of the connection (its client's address), put in each of its
    /// requests' extensions.
    env: Env,
    /// The ids every S3 answer carries.
    ids: Arc<RequestIds>,
    /// The node's figures.
    metrics: Arc<Metrics>,
    /// Whether anyone may scrape the metrics (`--metrics-public`).
    metrics_public: bool,
    /// Whether this listener serves the web console (not the node's port when the console
    /// has an address of its own).
    console_here: bool,
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
            ids: Arc::new(RequestIds::new()),
            metrics,
            metrics_public,
            console_here: true,
        }
    }

    /// The same routes without the web console (it has a listener of its own).
    pub fn without_console(mut self) -> Self {
        self.console_here = false;
        self
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

/// An S3 answer, stamped with request id `id`, as the router sends it.
fn s3_answer(ids: &RequestIds, id: &str, mut resp: Response<s3s::Body>) -> Response<Body> {
    ids.stamp(&mut resp, id);
    resp.map(|b| b.map_err(BoxError::from).boxed_unsync())
}

fn ready(resp: Response<Body>) -> BoxFuture {
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

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        if req.method() != http::Method::HEAD {
            return self.route(req);
        }
        // A HEAD's answer has no body. hyper leaves it out on HTTP/1.1, but sends it on
        // HTTP/2, where clients take it for a protocol error (Go's, so rclone's).
        let answer = self.route(req);
        Box::pin(async move {
            let resp = answer.await?;
            Ok(resp.map(|_| {
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed_unsync()
            }))
        })
    }
}

impl Router {
    /// The answer to `req`: a health check's, the gRPC services' or the S3 front end's.
    fn route(&self, mut req: Request<Incoming>) -> BoxFuture {
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
            let (ids, id) = (self.ids.clone(), self.ids.next());
            let Some(front) = self.front.get() else {
                let resp = error_response(
                    http::StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    "the node is starting: waiting for its peers",
                );
                return ready(s3_answer(&ids, &id, resp));
            };
            let console_here = self.console_here;
            let console = front.console.clone();
            if let Some(console) = console.filter(|_| console_here && console::owns(&req)) {
                let env = self.env;
                let requests = self.metrics.requests.clone();
                let op = console::operation(req.uri().path());
                let mut exchange = Exchange::known(requests.clone(), Api::Console, op, started);
                let req = req.map(|body| Counted::new(body, requests, Api::Console));
                return Box::pin(async move {
                    let resp = console.answer(req, env).await;
                    exchange.set_class(Class::of_http(resp.status().as_u16()));
                    Ok(resp.map(|b| {
                        let body = http_body_util::Full::new(b).map_err(|never| match never {});
                        Answered::new(body, exchange).boxed_unsync()
                    }))
                });
            }
            let (s3, cors) = (front.s3.clone(), front.cors.clone());
            let (mut parts, body) = req.into_parts();
            if parts.method == http::Method::OPTIONS {
                return Box::pin(async move {
                    let resp = cors.preflight(&parts).await;
                    Ok(s3_answer(&ids, &id, resp))
                });
            }
            let origin = cors.origin(&parts);
            if let Err(refusal) = crate::s3::admit(&mut parts) {
                let (path, code) = (parts.uri.path(), refusal.code);
                tracing::debug!(path, code, %id, message = %refusal.message, "S3 request refused");
                let resp = error_response(refusal.status, refusal.code, &refusal.message);
                return ready(s3_answer(&ids, &id, resp));
            }
            let requests = self.metrics.requests.clone();
            let slot = OpSlot::new(requests.clone());
            parts.extensions.insert(slot.clone());
            let mut exchange = Exchange::named_later(requests.clone(), Api::S3, slot, started);
            let body = s3s::Body::http_body(Counted::new(body, requests, Api::S3));
            let req = Request::from_parts(parts, body);
            let (method, path) = (req.method().clone(), req.uri().path().to_string());
            Box::pin(async move {
                let mut resp = match s3.call(req).await {
                    Ok(resp) => {
                        // The path only: a query may hold a presigned URL's signature.
                        let status = resp.status();
                        if status.is_client_error() {
                            tracing::debug!(%method, %path, %status, %id, "S3 request refused");
                        }
                        resp
                    }
                    Err(e) => {
                        tracing::error!(error = ?e, %id, "S3 request failed without a response");
                        error_response(
                            http::StatusCode::INTERNAL_SERVER_ERROR,
                            "InternalError",
                            "We encountered an internal error. Please try again.",
                        )
                    }
                };
                if let Some(origin) = origin {
                    cors.decorate(&origin, &mut resp).await;
                }
                exchange.set_class(Class::of_http(resp.status().as_u16()));
                ids.stamp(&mut resp, &id);
                Ok(resp.map(|b| Answered::new(b.map_err(BoxError::from), exchange).boxed_unsync()))
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
