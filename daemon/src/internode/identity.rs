//! `IdentityService`: a peer that changed the identity record tells this node, which
//! rereads it at once (the periodic reload stays the backstop for a lost message). The
//! store is set once the node has opened its drives; a notice before that is ignored (the
//! store loads the record when it opens).

use std::sync::{Arc, OnceLock};

use tessera_proto::internode::identity_service_server::IdentityService;
use tessera_proto::internode::{Empty, IdentityChanged};
use tonic::{Request, Response, Status};

use crate::iam::Iam;

/// The service over this node's identity store (once it is open).
pub struct IdentityRpc {
    iam: Arc<OnceLock<Arc<Iam>>>,
}

impl IdentityRpc {
    /// The service over the store `iam` will hold.
    pub fn new(iam: Arc<OnceLock<Arc<Iam>>>) -> Self {
        Self { iam }
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityRpc {
    async fn changed(&self, r: Request<IdentityChanged>) -> Result<Response<Empty>, Status> {
        if let Some(iam) = self.iam.get()
            && let Err(e) = iam.reload().await
        {
            let generation = r.into_inner().generation;
            tracing::debug!(generation, error = %e, "identity reload on notice failed");
        }
        Ok(Response::new(Empty {}))
    }
}
