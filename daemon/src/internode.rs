//! Node to node, the serving half: the services a node offers its peers, `StorageService`
//! over its local drives, `LockService` as one voter of the distributed locks and
//! `IdentityService` (a peer changed the identity record: reread it now). They are the front
//! ends for peers, beside `rpc` and `s3`: they call `drive`, `lock` and `iam`, and only
//! `server` mounts them. The calling half is `peer` (with `drive::remote` and
//! `lock::distributed` on top of it).
//!
//! Invariants: the services accept only calls signed with the cluster credentials
//! (`server` puts them behind `auth::internode`); a peer reaches nothing but this node's
//! drives (whose paths each drive checks itself) and its lease table (leases clamped, see
//! `locks`).

pub mod identity;
pub mod locks;
pub mod storage;
#[cfg(test)]
pub(crate) mod testing;
