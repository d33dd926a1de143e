//! `ErasureSet`: one erasure set, composed of parts that each own one concern and share
//! the set's drives:
//! - [`SetDrives`]: the drives, the geometry, calls to every drive, volumes and records;
//! - `MetaStore` (crate-internal): reading, writing and resolving metadata by quorum;
//! - [`Reads`]: the read path; [`Writes`]: the write path and its commits;
//! - [`Uploads`]: multipart uploads; [`Healer`]: the heal queue and heals;
//! - listing ([`ErasureSet::list_page`]).
//!
//! Invariant: every part of one set sees the same drives, the same namespace locks and the
//! same heal queue.

use std::sync::Arc;
use std::time::Duration;

use super::commit::Commits;
use super::drives::SetDrives;
use super::error::ErasureError;
use super::heal::Healer;
use super::heal_queue::{HEAL_QUEUE_CAPACITY, HealQueue};
use super::list::{ListPage, list_page};
use super::metas::MetaStore;
use super::multipart::Uploads;
use super::read::Reads;
use super::write::Writes;
use crate::drive::{Drive, WalkOptions};
use crate::layout::Placement;
use crate::lock::NamespaceLock;
use crate::metrics::Metrics;

/// How to build a set.
pub struct SetConfig {
    /// Pool index.
    pub pool: usize,
    /// Set index in the pool.
    pub index: usize,
    /// The drives, in set order.
    pub drives: Vec<Arc<dyn Drive>>,
    /// Parity shards per block.
    pub parity: usize,
    /// Object placement (for shard distribution).
    pub placement: Placement,
    /// Namespace locks shared by every set of the node.
    pub locks: Arc<dyn NamespaceLock>,
    /// Testing only: how long a PUT waits between taking its commit lock and committing,
    /// so a test can pause or cut off a node that holds a lock.
    pub commit_pause: Option<Duration>,
    /// Where the drives' faults are counted (`None`: nowhere).
    pub metrics: Option<Arc<Metrics>>,
}

/// One erasure set.
pub struct ErasureSet {
    drives: Arc<SetDrives>,
    reads: Reads,
    writes: Writes,
    uploads: Uploads,
    healer: Arc<Healer>,
}

impl ErasureSet {
    /// Builds a set.
    pub fn new(config: SetConfig) -> Result<Self, ErasureError> {
        let position = (config.pool, config.index);
        let mut drives = SetDrives::new(position, config.drives, config.parity, config.placement)?;
        if let Some(metrics) = &config.metrics {
            drives.report_to(metrics);
        }
        let drives = Arc::new(drives);
        let metas = MetaStore::new(drives.clone());
        let heals = Arc::new(HealQueue::new(HEAL_QUEUE_CAPACITY));
        let commits = Commits {
            drives: drives.clone(),
            metas: metas.clone(),
            locks: config.locks.clone(),
            heals: heals.clone(),
            pause: config.commit_pause,
        };
        Ok(Self {
            reads: Reads::new(
                drives.clone(),
                metas.clone(),
                config.locks.clone(),
                heals.clone(),
            ),
            writes: Writes::new(commits.clone()),
            uploads: Uploads::new(commits),
            healer: Arc::new(Healer::new(drives.clone(), metas, config.locks, heals)),
            drives,
        })
    }

    /// The set's drives and geometry.
    pub fn drives(&self) -> &SetDrives {
        &self.drives
    }

    /// The read path.
    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    /// The write path.
    pub fn writes(&self) -> &Writes {
        &self.writes
    }

    /// Multipart uploads.
    pub fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// Healing.
    pub fn healer(&self) -> &Arc<Healer> {
        &self.healer
    }

    /// A listing page of `bucket`: every drive walks, and entries at least k drives agree
    /// on are kept, up to the point every drive's page covers.
    pub async fn list_page(
        &self,
        bucket: &str,
        opts: &WalkOptions,
    ) -> Result<ListPage, ErasureError> {
        list_page(&self.drives, bucket, opts).await
    }
}
