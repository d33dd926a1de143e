//! Node to node: the services a node offers its peers (`StorageService` over its local
//! drives, `LockService` as one voter of the distributed locks), the connection to a peer
//! with its online/offline state, and the one mapping of drive errors to gRPC statuses and
//! back.
//!
//! Invariants: every internode call is signed with the cluster credentials (derived from
//! the root credentials) and refused otherwise; every call a node makes to a peer has a
//! deadline, and a peer that misses one is offline (its calls fail fast) until a probe
//! with backoff reaches it again.

pub mod locks;
pub mod peer;
pub mod status;
pub mod storage;
