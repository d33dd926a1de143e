//! The layer that authenticates every gRPC call (see `tessera_proto::auth`): it wraps a
//! service below the router, where the call's method path is known, and answers a call
//! whose signature does not hold for that method with `UNAUTHENTICATED` before the service
//! sees it.

use std::sync::Arc;

use futures::future::{Either, Ready, ready};
use tessera_proto::auth::{ACCESS_KEY, AuthFailure, Credentials, DATE, SIGNATURE, verify};
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::{Context, Poll, Service, http};
use tonic::server::NamedService;

/// Checks each call's signature against one set of credentials.
#[derive(Clone)]
pub struct Authenticator {
    creds: Arc<Credentials>,
}

impl Authenticator {
    /// An authenticator for `creds`.
    pub fn new(creds: Credentials) -> Self {
        Self {
            creds: Arc::new(creds),
        }
    }

    /// `service`, reachable only by calls signed for their method.
    pub fn guard<S>(&self, service: S) -> Authenticated<S> {
        Authenticated {
            inner: service,
            auth: self.clone(),
        }
    }

    fn check<B>(&self, req: &http::Request<B>) -> Result<(), AuthFailure> {
        let get = |key: &'static str| {
            req.headers()
                .get(key)
                .and_then(|v| v.to_str().ok())
                .ok_or(AuthFailure::Missing(key))
        };
        let path = req.uri().path();
        verify(
            &self.creds,
            get(ACCESS_KEY)?,
            get(DATE)?,
            path,
            get(SIGNATURE)?,
        )
    }
}

/// A service behind an [`Authenticator`].
#[derive(Clone)]
pub struct Authenticated<S> {
    inner: S,
    auth: Authenticator,
}

impl<S, B> Service<http::Request<B>> for Authenticated<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Self::Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match self.auth.check(&req) {
            Ok(()) => Either::Right(self.inner.call(req)),
            Err(failure) => {
                let refused = Status::unauthenticated(failure.to_string()).into_http();
                Either::Left(ready(Ok(refused)))
            }
        }
    }
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}
