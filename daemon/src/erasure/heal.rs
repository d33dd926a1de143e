//! Healing of one set: bringing every drive back in line with the version its drives agree
//! on by quorum (see DESIGN.md, "Healing" and "Consistency").
//!
//! Owns: [`ErasureSet::heal_object`] (one object), the heal queue (`queue`), the healer that
//! drains it (`worker`), the walk that heals a bucket or prefix (`scan`), and the scanner
//! that finds damaged objects in the background and queues them (`scanner`).
//!
//! Invariants:
//! - a heal runs under the object's write lock, so it never races a commit or another heal;
//! - only drives that answered are touched; offline drives are skipped and reported, so the
//!   caller retries later; an object held by too few drives for any version to reach read
//!   quorum is never "healed" into existence, and its leftovers are removed only when even
//!   the offline drives could not make up a read quorum;
//! - rebuilt shards are staged under the drive's `.tessera/tmp/` and moved into place with
//!   `rename_data`, like a PUT's; the bytes are those of the original encoding (every shard
//!   of a block is re-encoded from the block's data, and the code is deterministic);
//! - memory: one block of data and its frames, plus one frame per verified drive.
//!
//! Tested by `heal/tests.rs` (missing drives, corrupt shards, multipart, inline, deletes
//! while a drive was away, heal on read, the queue and offline drives).

pub(super) mod queue;
mod rebuild;
mod scan;
mod scanner;
#[cfg(test)]
mod tests;
mod verify;
mod worker;

use super::ErasureError;
use super::meta::ObjectMeta;
use super::set::{ErasureSet, Resolved, lock_name, meta_path};
use crate::drive::{DriveError, join, object_dir};
use crate::lock::LockMode;

pub(crate) use queue::HealHint;
pub use queue::{HEAL_QUEUE_CAPACITY, HealScan};
pub use scan::HealSummary;
pub use scanner::ScannerConfig;
pub use worker::{HealerConfig, HealerHandle};

/// What a heal of one object did. Drives are named by their index in the set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealOutcome {
    /// The object exists by quorum (false: it was deleted, and leftovers were removed).
    pub exists: bool,
    /// Drives brought in line: shards and metadata rewritten, or a leftover removed.
    pub repaired: Vec<usize>,
    /// Drives skipped because they are offline; heal again once they are back.
    pub offline: Vec<usize>,
    /// Drives whose repair failed, with the error.
    pub failed: Vec<(usize, String)>,
}

impl HealOutcome {
    /// Every drive now holds what the quorum says (nothing offline, nothing failed).
    pub fn is_complete(&self) -> bool {
        self.offline.is_empty() && self.failed.is_empty()
    }
}

impl ErasureSet {
    /// Heals `bucket/key` with a deep scan: see [`ErasureSet::heal_object_with`].
    pub async fn heal_object(&self, bucket: &str, key: &str) -> Result<HealOutcome, ErasureError> {
        self.heal_object_with(bucket, key, HealScan::Deep).await
    }

    /// Heals `bucket/key` under its write lock. When the object exists by quorum, every
    /// answering drive that lacks the agreed version, or whose shards are missing or
    /// corrupt (`scan` says how hard to look), gets its shard rebuilt from k good ones and
    /// its metadata rewritten (its bucket volume is created if missing). When the object
    /// does not exist by quorum, leftover copies are removed. `ReadQuorum` when neither
    /// can be decided (too many drives offline).
    pub async fn heal_object_with(
        &self,
        bucket: &str,
        key: &str,
        scan: HealScan,
    ) -> Result<HealOutcome, ErasureError> {
        let lock = self
            .locks
            .lock(&[lock_name(bucket, key)], LockMode::Write)
            .await?;
        let raw = self.read_raw_metas(bucket, key).await;
        let metas = Self::decode_metas(&raw, key);
        lock.check()?;
        let offline: Vec<usize> = (0..metas.len())
            .filter(|&d| matches!(&metas[d], Err(e) if e.is_offline()))
            .collect();
        match self.resolve(bucket, key, &metas) {
            Ok(resolved) => {
                let mut outcome = self
                    .heal_version(bucket, key, &metas, &resolved, scan)
                    .await?;
                outcome.offline.extend(offline);
                outcome.offline.sort_unstable();
                outcome.offline.dedup();
                Ok(outcome)
            }
            Err(ErasureError::ObjectNotFound { .. }) => {
                Ok(self.remove_leftovers(bucket, key, &metas, offline).await)
            }
            Err(e) => Err(e),
        }
    }

    /// Reads and resolves the metadata of `bucket/key` for a read (call under its read
    /// lock); when an answering drive lacks the agreed version, queues a heal.
    pub(super) async fn resolve_for_read(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Resolved, ErasureError> {
        let raw = self.read_raw_metas(bucket, key).await;
        let metas = Self::decode_metas(&raw, key);
        let resolved = self.resolve(bucket, key, &metas)?;
        let disagreeing = metas
            .iter()
            .zip(&resolved.agrees)
            .any(|(m, &agrees)| !agrees && !matches!(m, Err(e) if e.is_offline()));
        if disagreeing {
            self.queue_heal(bucket, key, HealScan::Normal).await;
        }
        Ok(resolved)
    }

    /// Queues `bucket/key` for the healer (non-blocking beyond the queue's lock).
    pub(super) async fn queue_heal(&self, bucket: &str, key: &str, scan: HealScan) {
        if self.heal_queue.push(bucket, key, scan).await {
            tracing::debug!(bucket, key, ?scan, "heal queued");
        }
    }

    /// A hint that queues a deep heal of `bucket/key` when a read loses a shard.
    pub(super) fn heal_hint(&self, bucket: &str, key: &str) -> HealHint {
        HealHint::new(self.heal_queue.clone(), bucket, key)
    }

    /// Every drive of the set reports itself online.
    pub fn drives_online(&self) -> bool {
        self.drives.iter().all(|d| d.is_online())
    }

    /// Objects waiting in this set's heal queue.
    pub async fn queued_heals(&self) -> usize {
        self.heal_queue.len().await
    }

    /// Removes the copies of an object that does not exist by quorum (deleted while these
    /// drives were away), unless the offline drives could still make up a read quorum.
    async fn remove_leftovers(
        &self,
        bucket: &str,
        key: &str,
        metas: &[Result<(ObjectMeta, bytes::Bytes), DriveError>],
        offline: Vec<usize>,
    ) -> HealOutcome {
        let mut outcome = HealOutcome {
            exists: false,
            offline,
            ..Default::default()
        };
        let mut best = std::collections::HashMap::<&str, usize>::new();
        for (m, _) in metas.iter().flatten() {
            *best.entry(m.version_id.as_str()).or_default() += 1;
        }
        let best = best.into_values().max().unwrap_or(0);
        if best + outcome.offline.len() >= self.data_shards() {
            // The offline drives might hold this version: it may exist after all.
            return outcome;
        }
        let path = meta_path(key);
        let results = self
            .each(|d, drive| {
                let leftover = match &metas[d] {
                    Ok((m, _)) => Some(m.data_dir.clone()),
                    Err(DriveError::Corrupt { .. }) => Some(String::new()),
                    Err(_) => None,
                };
                let path = path.clone();
                async move {
                    let Some(data_dir) = leftover else {
                        return Ok(false);
                    };
                    if !data_dir.is_empty() {
                        let dir = join(&object_dir(key), &data_dir);
                        ignore_missing(drive.delete(bucket, &dir, true).await)?;
                    }
                    ignore_missing(drive.delete(bucket, &path, false).await)?;
                    Ok(true)
                }
            })
            .await;
        for (d, r) in results.into_iter().enumerate() {
            match r {
                Ok(true) => outcome.repaired.push(d),
                Ok(false) => {}
                Err(e) if e.is_offline() => outcome.offline.push(d),
                Err(e) => outcome.failed.push((d, e.to_string())),
            }
        }
        if !outcome.repaired.is_empty() {
            tracing::info!(bucket, key, drives = ?outcome.repaired, "removed leftovers of a deleted object");
        }
        outcome
    }
}

/// `Ok` for a delete of something already gone.
fn ignore_missing(r: Result<(), DriveError>) -> Result<(), DriveError> {
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}
