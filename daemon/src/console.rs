//! The web console at `/console/` (README "Web console"): static pages embedded in the
//! binary (`assets`) and a small JSON API under `/console/api/` (`api`) over sessions kept
//! in memory (`session`). The console holds no object logic: the browser calls S3 itself
//! with URLs this module presigns for the session's key (`presign`), so S3 authorizes
//! every object and bucket action with that key's policies. What is not S3 (the cluster
//! page's state and figures, `api` and `traffic`; users and policies, `identities`) is
//! authorized by `Iam::authorize` with the action the admin API needs for it and calls the
//! same `ObjectLayer`/`Iam` functions.
//!
//! Invariants: every answer carries the security headers ([`secure`]): a CSP without
//! inline script, `X-Frame-Options: DENY`, `nosniff`, no referrer, and `no-store` on API
//! answers; errors become a JSON body `{"error","message"}` and a status in one place
//! ([`ConsoleError::status`]); request bodies are read up to [`MAX_BODY`] bytes.
//!
//! Tested by the unit tests of `session` and `presign`, and end to end by the e2e
//! `console` tests: the API's refusals without a browser (`console`,
//! `console_identities`), and one headless-Chromium walk (`console_browser`).

mod api;
mod assets;
mod identities;
pub mod presign;
pub mod session;
mod traffic;

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};

use crate::iam::{Denied, Iam};
use crate::object::ObjectLayer;
use session::{LoginLimiter, Sessions};

/// The path prefix the console owns (for unsigned requests: see [`owns`]).
pub const PREFIX: &str = "/console";

/// The most bytes of a request body the API reads.
pub const MAX_BODY: usize = 64 * 1024;

/// Whether `req` is the console's: an unsigned request of `/console` or `/console/…`. A
/// signed one (SigV4 header or presigned query) is an S3 request, as for the health paths,
/// so S3 clients still reach a bucket named `console`.
pub fn owns<B>(req: &http::Request<B>) -> bool {
    let path = req.uri().path();
    let signed = req.headers().contains_key(http::header::AUTHORIZATION)
        || req.uri().query().is_some_and(|q| {
            q.split('&')
                .any(|pair| pair.starts_with("X-Amz-Signature=") || pair.starts_with("Signature="))
        });
    (path == PREFIX || path.starts_with("/console/")) && !signed
}

/// The operation a console request counts as in the node's metrics: the endpoint's name
/// for `/console/api/<name>[/…]`, `page` for everything else the console serves.
pub fn operation(path: &str) -> &str {
    (path.strip_prefix("/console/api/"))
        .and_then(|endpoint| endpoint.split('/').next())
        .filter(|name| !name.is_empty())
        .unwrap_or("page")
}

/// Why a console request is refused. Each message is meant for a person.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No page or endpoint at that path.
    #[error("no such page")]
    NotFound,
    /// The endpoint does not take that method.
    #[error("method not allowed")]
    Method,
    /// No live session (never signed in, signed out or expired).
    #[error("sign in first (the session ended or never began)")]
    NoSession,
    /// The access key and secret do not match a usable key.
    #[error("wrong access key or secret key")]
    BadLogin,
    /// Too many failed logins from this address.
    #[error("too many failed sign-ins from this address: wait a minute")]
    RateLimited,
    /// A state-changing call without the session's CSRF token.
    #[error("missing or wrong CSRF token: reload the page")]
    Csrf,
    /// The session's key may not do this.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The session's key stopped resolving (removed, disabled, expired).
    #[error("the session's access key cannot be used: {0}")]
    Key(#[from] crate::iam::KeyRefusal),
    /// The request is malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request body is larger than [`MAX_BODY`].
    #[error("request body too large")]
    TooLarge,
    /// An identity change or read refused by the identity store.
    #[error(transparent)]
    Iam(#[from] crate::iam::IamError),
    /// A sign-in not sent as `application/json` (what a cross-site form could send).
    #[error("sign-in takes an application/json body")]
    ContentType,
}

impl ConsoleError {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::Method => StatusCode::METHOD_NOT_ALLOWED,
            // A key that no longer resolves ends the session's use as a missing one does.
            ConsoleError::NoSession | ConsoleError::BadLogin | ConsoleError::Key(_) => {
                StatusCode::UNAUTHORIZED
            }
            ConsoleError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::Csrf | ConsoleError::Denied(_) => StatusCode::FORBIDDEN,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ConsoleError::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ConsoleError::Iam(e) => iam_status(e),
        }
    }

    /// A short machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ConsoleError::NotFound => "NotFound",
            ConsoleError::Method => "MethodNotAllowed",
            ConsoleError::NoSession => "NoSession",
            ConsoleError::BadLogin => "BadLogin",
            ConsoleError::RateLimited => "RateLimited",
            ConsoleError::Csrf => "BadCsrfToken",
            ConsoleError::Denied(_) => "AccessDenied",
            ConsoleError::Key(_) => "KeyRefused",
            ConsoleError::BadRequest(_) => "BadRequest",
            ConsoleError::TooLarge => "TooLarge",
            ConsoleError::ContentType => "UnsupportedMediaType",
            ConsoleError::Iam(_) => "IdentityError",
        }
    }

    /// The JSON answer.
    fn response(&self) -> Response<Bytes> {
        let body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        let mut resp = json(&body);
        *resp.status_mut() = self.status();
        resp
    }
}

/// The status of an identity store refusal.
fn iam_status(e: &crate::iam::IamError) -> StatusCode {
    use crate::iam::IamError as E;
    match e {
        E::InvalidUserName { .. }
        | E::InvalidPolicyName { .. }
        | E::InvalidAccessKey { .. }
        | E::InvalidSecret
        | E::Policy(_)
        | E::Cors { .. } => StatusCode::BAD_REQUEST,
        E::NoSuchUser { .. } | E::NoSuchKey { .. } | E::NoSuchPolicy { .. } => {
            StatusCode::NOT_FOUND
        }
        // The request is sound but the state forbids it.
        E::UserExists { .. }
        | E::KeyExists { .. }
        | E::BuiltinPolicy { .. }
        | E::PolicyInUse { .. }
        | E::Root => StatusCode::CONFLICT,
        E::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        E::Seal { .. } | E::Corrupt(_) | E::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A JSON answer (not cached).
fn json(value: &serde_json::Value) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(value.to_string()));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The console's Content-Security-Policy: nothing but this origin, no inline script.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                       base-uri 'none'; frame-ancestors 'none'";

/// Adds the security headers every console answer carries.
fn secure(resp: &mut Response<Bytes>) {
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
}

/// The console of one node.
pub struct Console {
    iam: Arc<Iam>,
    layer: Arc<ObjectLayer>,
    region: String,
    metrics: Arc<crate::metrics::Metrics>,
    sessions: Sessions,
    limiter: LoginLimiter,
}

impl Console {
    /// The console over `layer` and `iam`, presigning for `region`, showing `metrics`.
    pub fn new(
        layer: Arc<ObjectLayer>,
        iam: Arc<Iam>,
        region: String,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        Self {
            iam,
            layer,
            region,
            metrics,
            sessions: Sessions::new(session::SESSION_TTL),
            limiter: LoginLimiter::default(),
        }
    }

    /// The answer to a console request (`env`: what the transport says of its client).
    pub async fn answer<B>(&self, req: http::Request<B>, env: crate::iam::Env) -> Response<Bytes>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = req.uri().path().to_owned();
        let result = match path.strip_prefix("/console/api/") {
            Some(endpoint) => {
                let endpoint = endpoint.to_owned();
                api::Call { console: self, env }
                    .answer(&endpoint, req)
                    .await
            }
            None => assets::answer(&path, req.method()),
        };
        let mut resp = result.unwrap_or_else(|e| {
            tracing::debug!(%path, error = %e, "console request refused");
            e.response()
        });
        secure(&mut resp);
        resp
    }
}
