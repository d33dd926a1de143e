//! `Reads`: the read path of one set's objects. A read holds the object's read lock while
//! it resolves the metadata by quorum and opens the shards it starts from; the bytes then
//! stream from an [`ObjectReader`], which never returns bytes that failed a checksum.
//!
//! Invariant: a read that finds an answering drive without the agreed version, or loses a
//! shard, queues the object for healing and still answers from the others.

use std::sync::Arc;

use super::decode::{Faults, ObjectReader};
use super::drives::SetDrives;
use super::error::ErasureError;
use super::heal_queue::{HealHint, HealQueue, HealScan};
use super::meta::ObjectMeta;
use super::metas::{MetaStore, Resolved};
use super::names::lock_name;
use super::types::RangeSpec;
use crate::lock::{LockMode, NamespaceLock};

/// The reads of one set.
pub struct Reads {
    drives: Arc<SetDrives>,
    metas: MetaStore,
    locks: Arc<dyn NamespaceLock>,
    heals: Arc<HealQueue>,
}

impl Reads {
    pub(super) fn new(
        drives: Arc<SetDrives>,
        metas: MetaStore,
        locks: Arc<dyn NamespaceLock>,
        heals: Arc<HealQueue>,
    ) -> Self {
        Self {
            drives,
            metas,
            locks,
            heals,
        }
    }

    /// A reader of `range` of the object, its shards opened under the read lock.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: RangeSpec,
        version: Option<&str>,
    ) -> Result<ObjectReader, ErasureError> {
        let _lock = (self.locks)
            .lock(&[lock_name(bucket, key)], LockMode::Read)
            .await?;
        let resolved = self.resolve(bucket, key, version).await?;
        let size = resolved.meta.size;
        let (start, end) = range
            .resolve(size)
            .ok_or(ErasureError::InvalidRange { size })?;
        let sources = self.metas.sources(bucket, key, &resolved);
        let codec = self.drives.codec().clone();
        let counters = self.drives.counters().clone();
        let faults = Faults::new(counters, resolved.holders);
        let mut reader = ObjectReader::new(codec, resolved.meta, sources, start, end);
        reader.heal_on_loss(HealHint::new(self.heals.clone(), bucket, key));
        reader.report_faults(faults);
        reader.open().await?;
        Ok(reader)
    }

    /// The object's metadata (of `version`, when given), without its older versions.
    pub async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<ObjectMeta, ErasureError> {
        let _lock = (self.locks)
            .lock(&[lock_name(bucket, key)], LockMode::Read)
            .await?;
        let mut meta = self.resolve(bucket, key, version).await?.meta;
        meta.older = Vec::new();
        Ok(meta)
    }

    /// The object's metadata file as agreed: its current version and the older ones, delete
    /// markers included.
    pub async fn head_versions(&self, bucket: &str, key: &str) -> Result<ObjectMeta, ErasureError> {
        let _lock = (self.locks)
            .lock(&[lock_name(bucket, key)], LockMode::Read)
            .await?;
        self.metas.head(bucket, key).await
    }

    /// Reads and resolves the metadata of `bucket/key`'s `version` (call under its read
    /// lock); when an answering drive lacks the agreed version, queues a heal.
    async fn resolve(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Resolved, ErasureError> {
        // The current version needs none of the older ones decoded, and its user metadata
        // and headers from one drive only.
        let raw = self.metas.read_raw(bucket, key).await;
        let (metas, resolved) = match version {
            None => self.metas.resolve_current((bucket, key), &raw),
            Some(_) => {
                let metas = MetaStore::decode(&raw, key);
                let resolved = self.metas.resolve(bucket, key, &metas);
                (metas, resolved)
            }
        };
        let resolved = resolved?;
        let disagreeing = (metas.iter().zip(&resolved.agrees))
            .any(|(m, &agrees)| !agrees && !matches!(m, Err(e) if e.is_offline()));
        if disagreeing {
            self.heals.push(bucket, key, HealScan::Normal).await;
        }
        self.metas.select((bucket, key), resolved, &metas, version)
    }
}
