//! The `LockService` a node offers its peers: this node's vote, from its `LeaseTable`.
//! Leases asked for are clamped to [`MAX_LEASE`], so no request can pin a name for long.

use std::sync::Arc;
use std::time::Duration;

use tessera_proto::internode as pb;
use tessera_proto::internode::lock_service_server::LockService;
use tonic::{Request, Response, Status};

use crate::lock::LockMode;
use crate::lock::lease::LeaseTable;

/// Longest lease granted.
pub const MAX_LEASE: Duration = Duration::from_secs(60);
/// Most names one request may lock.
const MAX_RESOURCES: usize = 1000;

/// The service over this node's table.
pub struct LockRpc {
    table: Arc<LeaseTable>,
}

impl LockRpc {
    /// A service voting with `table`.
    pub fn new(table: Arc<LeaseTable>) -> Self {
        Self { table }
    }
}

fn lease(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms)).min(MAX_LEASE)
}

#[tonic::async_trait]
impl LockService for LockRpc {
    async fn lock(
        &self,
        req: Request<pb::LockRequest>,
    ) -> Result<Response<pb::LockResponse>, Status> {
        let r = req.into_inner();
        if r.uid.is_empty() || r.resources.is_empty() || r.resources.len() > MAX_RESOURCES {
            return Err(Status::invalid_argument(
                "a lock request needs a uid and 1 to 1000 resources",
            ));
        }
        let mode = match pb::LockMode::try_from(r.mode) {
            Ok(pb::LockMode::Read) => LockMode::Read,
            Ok(pb::LockMode::Write) => LockMode::Write,
            Err(_) => return Err(Status::invalid_argument("unknown lock mode")),
        };
        let granted = self
            .table
            .lock(&r.uid, &r.resources, mode, lease(r.lease_ms));
        Ok(Response::new(pb::LockResponse { granted }))
    }

    async fn refresh(
        &self,
        req: Request<pb::LockId>,
    ) -> Result<Response<pb::LockResponse>, Status> {
        let r = req.into_inner();
        let granted = self.table.refresh(&r.uid, lease(r.lease_ms));
        Ok(Response::new(pb::LockResponse { granted }))
    }

    async fn unlock(&self, req: Request<pb::LockId>) -> Result<Response<pb::Empty>, Status> {
        self.table.unlock(&req.into_inner().uid);
        Ok(Response::new(pb::Empty {}))
    }
}
