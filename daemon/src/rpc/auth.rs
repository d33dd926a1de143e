//! The interceptor that authenticates every gRPC call (see `tessera_proto::auth`).

use tessera_proto::auth::{ACCESS_KEY, AuthFailure, Credentials, DATE, SIGNATURE, verify};
use tonic::{Request, Status};

/// Checks each request's signature against the root credentials.
#[derive(Clone)]
pub struct Authenticator {
    creds: Credentials,
}

impl Authenticator {
    /// An authenticator for `creds`.
    pub fn new(creds: Credentials) -> Self {
        Self { creds }
    }

    /// The interceptor body.
    #[allow(clippy::result_large_err)]
    pub fn check(&self, req: Request<()>) -> Result<Request<()>, Status> {
        let get = |key: &'static str| {
            req.metadata()
                .get(key)
                .and_then(|v| v.to_str().ok())
                .ok_or(AuthFailure::Missing(key))
        };
        let result = (|| verify(&self.creds, get(ACCESS_KEY)?, get(DATE)?, get(SIGNATURE)?))();
        match result {
            Ok(()) => Ok(req),
            Err(failure) => Err(Status::unauthenticated(failure.to_string())),
        }
    }
}
