//! Verification of every gRPC call (signing is `tessera_proto::client::Signed`, the rules
//! `tessera_proto::auth`): the one check below the object service (`rpc`) and the internode
//! services, which each put their services behind an [`Authenticator`].
//!
//! The layer wraps a service below the router, where the call's method path is known, reads
//! the call's first message (see `tessera_proto::first_message`), and answers a call whose
//! signature does not hold for that method and message with `UNAUTHENTICATED` before the
//! service sees it. An unknown access key or a stale date is refused before the body is read.
//! The internode services accept only the cluster key ([`internode`]), derived from the root
//! credentials.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tessera_proto::auth::{
    ACCESS_KEY, AuthFailure, Credentials, DATE, SIGNATURE, cluster_credentials, precheck, verify,
};
use tessera_proto::client::MAX_MESSAGE_SIZE;
use tessera_proto::first_message::FirstMessage;
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::{Context, Poll, Service, http};
use tonic::server::NamedService;

/// Checks each call's signature against one set of credentials.
#[derive(Clone)]
pub struct Authenticator {
    creds: Arc<Credentials>,
}

/// The authenticator of the internode services: only the cluster key is accepted.
pub fn internode(root: &Credentials) -> Authenticator {
    Authenticator::new(cluster_credentials(root))
}

/// A call's signature entries.
struct Claims<'a> {
    access_key: &'a str,
    date: &'a str,
    signature: &'a str,
}

impl<'a> Claims<'a> {
    fn of(headers: &'a http::HeaderMap) -> Result<Self, AuthFailure> {
        let get = |key: &'static str| {
            headers
                .get(key)
                .and_then(|v| v.to_str().ok())
                .ok_or(AuthFailure::Missing(key))
        };
        Ok(Self {
            access_key: get(ACCESS_KEY)?,
            date: get(DATE)?,
            signature: get(SIGNATURE)?,
        })
    }
}

impl Authenticator {
    /// An authenticator for `creds`.
    pub fn new(creds: Credentials) -> Self {
        Self {
            creds: Arc::new(creds),
        }
    }

    /// `service`, reachable only by calls signed for their method and first message.
    pub fn guard<S>(&self, service: S) -> Authenticated<S> {
        Authenticated {
            inner: service,
            auth: self.clone(),
        }
    }

    /// What can be refused before the body is read: an unknown access key, a stale date.
    fn precheck(&self, claims: &Claims<'_>) -> Result<(), AuthFailure> {
        precheck(&self.creds, claims.access_key, claims.date)
    }

    /// The whole check, once the first message's digest is known.
    fn check(&self, claims: &Claims<'_>, path: &str, message: &str) -> Result<(), AuthFailure> {
        verify(
            &self.creds,
            claims.access_key,
            claims.date,
            path,
            message,
            claims.signature,
        )
    }
}

/// A service behind an [`Authenticator`].
#[derive(Clone)]
pub struct Authenticated<S> {
    inner: S,
    auth: Authenticator,
}

fn refused(failure: &AuthFailure) -> http::Response<Body> {
    Status::unauthenticated(failure.to_string()).into_http()
}

impl<S> Service<http::Request<Body>> for Authenticated<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let auth = self.auth.clone();
        // The service made ready is the one to call; a clone takes its place.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let (parts, mut body) = req.into_parts();
            let claims = match Claims::of(&parts.headers) {
                Ok(claims) => claims,
                Err(failure) => return Ok(refused(&failure)),
            };
            // A call without valid credentials and date is refused before its body is read.
            if let Err(failure) = auth.precheck(&claims) {
                return Ok(refused(&failure));
            }
            let first = match FirstMessage::read(&mut body, MAX_MESSAGE_SIZE).await {
                Ok(first) => first,
                Err(status) => return Ok(status.into_http()),
            };
            if let Err(failure) = auth.check(&claims, parts.uri.path(), &first.digest) {
                return Ok(refused(&failure));
            }
            inner
                .call(http::Request::from_parts(parts, first.replay(body)))
                .await
        })
    }
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}
