//! Namespace locks: read/write locks on object names, behind the [`NamespaceLock`] trait so
//! the distributed implementation (`distributed`: a majority of nodes, leased, each node's
//! vote in `lease`) replaces the local one in a cluster.
//!
//! Invariants: several names are always locked in sorted order (and deduplicated), so two
//! operations on two keys cannot deadlock; a lock entry lives only while someone holds or
//! waits for it, so the table's size is bounded by the requests in flight.

pub mod distributed;
pub mod lease;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use dashmap::DashMap;

use crate::metrics::LockFigures;
use crate::sync::RwLock;

/// Read (shared) or write (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Shared with other readers.
    Read,
    /// Exclusive.
    Write,
}

/// Why a lock was not granted.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Not granted within the timeout.
    #[error("lock on {resource} not granted within {timeout:?}")]
    Timeout {
        /// The name waited for.
        resource: String,
        /// How long.
        timeout: Duration,
    },
    /// Too few nodes answered to grant it (the cluster lost its majority).
    #[error("lock on {resource}: only {answered} node(s) answered, {needed} needed")]
    Quorum {
        /// The names asked for.
        resource: String,
        /// Nodes that answered.
        answered: usize,
        /// Votes needed.
        needed: usize,
    },
    /// A held lock's lease ran out before it could be refreshed: another requester may
    /// hold it now.
    #[error("lock on {resource} lost (its lease could not be refreshed in time)")]
    Lost {
        /// The names held.
        resource: String,
    },
}

/// Held locks; released on drop.
pub struct LockGuard {
    _held: Vec<Box<dyn Send + Sync>>,
    /// For leased (distributed) locks: until when the grant is known to hold.
    lease: Option<Arc<LeaseValidity>>,
}

impl LockGuard {
    /// Fails with [`LockError::Lost`] once the lock may no longer be held: a distributed
    /// grant whose lease ran out before its holder could refresh it (the holder was cut off
    /// or paused). Writers check this right before each commit step, so a writer that lost
    /// its lock does not commit over another one's. Local locks are never lost.
    pub fn check(&self) -> Result<(), LockError> {
        match &self.lease {
            Some(lease) if !lease.is_valid() => Err(LockError::Lost {
                resource: lease.resource.clone(),
            }),
            _ => Ok(()),
        }
    }
}

/// Until when a leased grant holds, as its holder knows it: the time a ballot or refresh
/// was sent plus the lease, less a margin for clock drift; revoked when a refresh fails.
pub struct LeaseValidity {
    resource: String,
    base: Instant,
    /// Milliseconds after `base`; 0 when revoked.
    until_ms: AtomicU64,
}

impl LeaseValidity {
    /// The drift margin, as a fraction of the lease.
    const MARGIN_DIVISOR: u32 = 5;

    /// A grant asked for at `asked` and leased for `lease`.
    pub fn new(resource: String, asked: Instant, lease: Duration) -> Self {
        let v = Self {
            resource,
            base: asked,
            until_ms: AtomicU64::new(0),
        };
        v.extend(asked, lease);
        v
    }

    /// A refresh sent at `asked` was granted by a majority.
    pub fn extend(&self, asked: Instant, lease: Duration) {
        let until =
            asked.saturating_duration_since(self.base) + lease - lease / Self::MARGIN_DIVISOR;
        self.until_ms
            .fetch_max(until.as_millis() as u64, Ordering::Release);
    }

    /// A refresh failed: the grant may be gone.
    pub fn revoke(&self) {
        self.until_ms.store(0, Ordering::Release);
    }

    /// The names the grant is for.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// True while the grant surely holds.
    pub fn is_valid(&self) -> bool {
        let now = self.base.elapsed().as_millis() as u64;
        now < self.until_ms.load(Ordering::Acquire)
    }
}

/// Grants read/write locks on names.
#[async_trait]
pub trait NamespaceLock: Send + Sync + 'static {
    /// Locks every name of `resources` (any order given; locked sorted).
    async fn lock(&self, resources: &[String], mode: LockMode) -> Result<LockGuard, LockError>;
}

/// In-process locks.
#[derive(Debug)]
pub struct LocalLocks {
    table: Arc<DashMap<String, Arc<RwLock<()>>>>,
    timeout: Duration,
    figures: LockFigures,
}

impl LocalLocks {
    /// A lock table whose waits give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            table: Arc::new(DashMap::new()),
            timeout,
            figures: LockFigures::default(),
        }
    }

    /// The table, counting waits and timeouts in `figures`.
    pub fn reporting_to(mut self, figures: &LockFigures) -> Self {
        self.figures = figures.clone();
        self
    }

    /// Names currently in the table (for tests).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when no lock is held or awaited.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// Removes a table entry when its last user goes.
struct Entry {
    table: Arc<DashMap<String, Arc<RwLock<()>>>>,
    name: String,
    lock: Option<Arc<RwLock<()>>>,
    guard: Option<Box<dyn Send + Sync>>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.guard.take();
        self.lock.take();
        // Only the table's own reference left: nobody holds or waits.
        self.table
            .remove_if(&self.name, |_, lock| Arc::strong_count(lock) == 1);
    }
}

#[async_trait]
impl NamespaceLock for LocalLocks {
    async fn lock(&self, resources: &[String], mode: LockMode) -> Result<LockGuard, LockError> {
        let mut names: Vec<&String> = resources.iter().collect();
        names.sort();
        names.dedup();
        let mut held: Vec<Box<dyn Send + Sync>> = Vec::with_capacity(names.len());
        for name in names {
            let lock = self.table.entry(name.clone()).or_default().clone();
            let mut entry = Entry {
                table: self.table.clone(),
                name: name.clone(),
                lock: Some(lock.clone()),
                guard: None,
            };
            let timeout = || {
                self.figures.timed_out();
                LockError::Timeout {
                    resource: name.clone(),
                    timeout: self.timeout,
                }
            };
            let at_once: Option<Box<dyn Send + Sync>> = match mode {
                LockMode::Read => lock.clone().try_read_owned().ok().map(|g| Box::new(g) as _),
                LockMode::Write => lock
                    .clone()
                    .try_write_owned()
                    .ok()
                    .map(|g| Box::new(g) as _),
            };
            let acquired: Box<dyn Send + Sync> = match (at_once, mode) {
                (Some(guard), _) => guard,
                (None, LockMode::Read) => {
                    self.figures.waited();
                    let wait = tokio::time::timeout(self.timeout, lock.read_owned());
                    Box::new(wait.await.map_err(|_| timeout())?)
                }
                (None, LockMode::Write) => {
                    self.figures.waited();
                    let wait = tokio::time::timeout(self.timeout, lock.write_owned());
                    Box::new(wait.await.map_err(|_| timeout())?)
                }
            };
            entry.guard = Some(acquired);
            held.push(Box::new(entry));
        }
        Ok(LockGuard {
            _held: held,
            lease: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn writers_exclude_and_table_empties() {
        let locks = Arc::new(LocalLocks::new(Duration::from_secs(5)));
        let g = locks.lock(&names(&["b/k"]), LockMode::Write).await.unwrap();
        // A second writer times out while the first holds the lock.
        let err = locks.lock(&names(&["b/k"]), LockMode::Read).await;
        assert!(matches!(err, Err(LockError::Timeout { .. })));
        drop(g);
        let r1 = locks.lock(&names(&["b/k"]), LockMode::Read).await.unwrap();
        let r2 = locks.lock(&names(&["b/k"]), LockMode::Read).await.unwrap();
        drop((r1, r2));
        assert!(locks.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn two_key_locks_in_opposite_order_do_not_deadlock() {
        let locks = Arc::new(LocalLocks::new(Duration::from_secs(60)));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let locks = locks.clone();
            tasks.push(tokio::spawn(async move {
                let keys = if i % 2 == 0 {
                    names(&["a", "b"])
                } else {
                    names(&["b", "a"])
                };
                let _g = locks.lock(&keys, LockMode::Write).await.unwrap();
                tokio::task::yield_now().await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(locks.is_empty());
    }
}
