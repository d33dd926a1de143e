//! Test support for the internode client and the remote drive: a storage service served on
//! a loopback port, and a wrapper that makes it answer some methods otherwise (hang, as a
//! cut-off peer; refuse, as a peer of an older version).

use std::convert::Infallible;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

/// How an [`Intercept`] answers a call, by its method's path.
pub enum Intercepted {
    /// As the wrapped service does.
    Pass,
    /// Never.
    Hang,
    /// With this status, as tonic answers a method it does not know.
    Refuse(tonic::Code),
}

/// A service that answers each call as `rule` says of its path.
#[derive(Clone)]
pub struct Intercept<S> {
    /// The wrapped service.
    pub inner: S,
    /// What to do with a call, by its path.
    pub rule: fn(&str) -> Intercepted,
}

impl<S> Service<http::Request<Body>> for Intercept<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match (self.rule)(req.uri().path()) {
            Intercepted::Pass => Box::pin(self.inner.call(req)),
            Intercepted::Hang => Box::pin(std::future::pending()),
            Intercepted::Refuse(code) => {
                let answer = tonic::Status::new(code, "no such method").into_http();
                Box::pin(async move { Ok(answer) })
            }
        }
    }
}

impl<S: NamedService> NamedService for Intercept<S> {
    const NAME: &'static str = S::NAME;
}

/// Serves `service` on a free loopback port; returns its `host:port`.
pub async fn serve<S>(service: S) -> String
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let server = tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming(incoming);
    tokio::spawn(server);
    address
}
