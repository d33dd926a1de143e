//! Verification of every gRPC call (signing is `tessera_proto::client::Signed`, the rules
//! `tessera_proto::auth`): the one check below the object service (`rpc`) and the internode
//! services, which each put their services behind an [`Authenticator`].
//!
//! The layer wraps a service below the router, where the call's method path is known, reads
//! the call's first message (see `tessera_proto::first_message`), and answers a call whose
//! signature does not hold for that method and message with `UNAUTHENTICATED` before the
//! service sees it. An unknown access key or a stale date is refused before the body is read.
//! The internode services accept only the cluster key ([`internode`]), derived from the root
//! credentials. The object service ([`Authenticator::clients`]) accepts every key the
//! identity store resolves, and then authorizes the call there (`Iam::authorize`, with what
//! `policy::grpc_method` says the call needs, read from its first message): a refused call
//! gets `PERMISSION_DENIED` before the service sees it, an allowed one carries its
//! [`Caller`] in the request's extensions.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tessera_proto::auth::{
    ACCESS_KEY, AuthFailure, Credentials, DATE, SIGNATURE, cluster_credentials, precheck, verify,
};

use crate::iam::{Env, Iam, Identity};
use crate::policy::grpc_method;
use tessera_proto::chain;
use tessera_proto::client::MAX_MESSAGE_SIZE;
use tessera_proto::first_message::FirstMessage;
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::{Context, Poll, Service, http};
use tonic::server::NamedService;

/// Whose keys an authenticator accepts.
#[derive(Clone)]
enum Keys {
    /// One set of credentials (the cluster key); no authorization beyond the signature.
    Fixed(Arc<Credentials>),
    /// Every key of the identity store, each call authorized.
    Clients(Arc<Iam>),
}

/// Checks each call's signature, and for client calls its authorization.
#[derive(Clone)]
pub struct Authenticator {
    keys: Keys,
}

/// The verified caller of an object-service call, in the request's extensions.
#[derive(Debug, Clone)]
pub struct Caller(pub Identity);

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
    /// An authenticator for `creds` alone.
    pub fn new(creds: Credentials) -> Self {
        Self {
            keys: Keys::Fixed(Arc::new(creds)),
        }
    }

    /// The authenticator of the object service: the keys of `iam`, each call authorized.
    pub fn clients(iam: Arc<Iam>) -> Self {
        Self {
            keys: Keys::Clients(iam),
        }
    }

    /// `service`, reachable only by calls signed for their method and first message.
    pub fn guard<S>(&self, service: S) -> Authenticated<S> {
        Authenticated {
            inner: service,
            auth: self.clone(),
        }
    }

    /// What can be refused before the body is read: an unknown (removed, disabled,
    /// expired) access key, a stale date. Gives the key's credentials and identity.
    async fn precheck(&self, claims: &Claims<'_>) -> Result<(Credentials, Identity), Status> {
        let (creds, identity) = match &self.keys {
            Keys::Fixed(creds) => (creds.as_ref().clone(), Identity::Root),
            Keys::Clients(iam) => {
                let (secret, identity) = iam
                    .resolve(claims.access_key)
                    .await
                    .map_err(|refusal| Status::unauthenticated(refusal.to_string()))?;
                let creds = Credentials {
                    access_key: claims.access_key.to_owned(),
                    secret_key: secret,
                };
                (creds, identity)
            }
        };
        precheck(&creds, claims.access_key, claims.date).map_err(|f| refused(&f))?;
        Ok((creds, identity))
    }

    /// The whole check, once the first message is known: its signature, then (client
    /// calls) its authorization.
    async fn check(
        &self,
        claims: &Claims<'_>,
        creds: &Credentials,
        identity: &Identity,
        path: &str,
        first: &FirstMessage,
        env: &Env,
    ) -> Result<(), Status> {
        verify(
            creds,
            claims.access_key,
            claims.date,
            path,
            &first.digest,
            claims.signature,
        )
        .map_err(|f| refused(&f))?;
        let Keys::Clients(iam) = &self.keys else {
            return Ok(());
        };
        if matches!(identity, Identity::Root) {
            return Ok(());
        }
        let need = grpc_method(path, &first.message).ok_or_else(|| {
            Status::permission_denied(format!("access denied: {path} is for the root credentials"))
        })?;
        iam.authorize(Some(identity), &need, env)
            .await
            .map_err(|denied| Status::permission_denied(denied.to_string()))
    }
}

/// A service behind an [`Authenticator`].
#[derive(Clone)]
pub struct Authenticated<S> {
    inner: S,
    auth: Authenticator,
}

fn refused(failure: &AuthFailure) -> Status {
    Status::unauthenticated(failure.to_string())
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
            let (mut parts, mut body) = req.into_parts();
            let claims = match Claims::of(&parts.headers) {
                Ok(claims) => claims,
                Err(failure) => return Ok(refused(&failure).into_http()),
            };
            // A call without valid credentials and date is refused before its body is read.
            let (creds, identity) = match auth.precheck(&claims).await {
                Ok(found) => found,
                Err(status) => return Ok(status.into_http()),
            };
            let first = match FirstMessage::read(&mut body, MAX_MESSAGE_SIZE).await {
                Ok(first) => first,
                Err(status) => return Ok(status.into_http()),
            };
            let env = parts.extensions.get::<Env>().copied().unwrap_or_default();
            let path = parts.uri.path();
            if let Err(status) = auth
                .check(&claims, &creds, &identity, path, &first, &env)
                .await
            {
                return Ok(status.into_http());
            }
            parts.extensions.insert(Caller(identity));
            let body = chain::verified(first.replay(body), &creds.secret_key, claims.signature);
            inner.call(http::Request::from_parts(parts, body)).await
        })
    }
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}
