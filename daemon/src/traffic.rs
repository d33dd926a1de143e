//! The node's internode traffic: bytes its `StorageService` moves for peers, counted by the
//! internode services and reported by the object service (`ClusterInfo`), so both import
//! it from here, below them. Plain relaxed counters: a figure for benchmarks, never a
//! decision.

use std::sync::atomic::AtomicU64;

/// Bytes moved through this node's StorageService.
#[derive(Debug, Default)]
pub struct Traffic {
    /// File and metadata bytes peers wrote to this node's drives.
    pub received: AtomicU64,
    /// File bytes peers read from this node's drives.
    pub sent: AtomicU64,
}
