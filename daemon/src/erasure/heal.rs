//! Healing of one set: bringing every drive back in line with the version its drives agree
//! on by quorum (see DESIGN.md, "Healing" and "Consistency").
//!
//! Owns: the [`Healer`] of a set, which heals one object ([`Healer::heal_object`]: the
//! drives' copies are checked by `verify` and rebuilt by `rebuild`) or every object under a
//! prefix ([`Healer::heal_prefix`], counted in a [`HealSummary`]); the worker that drains
//! the set's heal queue (`worker`; the queue itself is `crate::erasure::heal_queue`, which
//! reads and commits fill), and the scanner that finds damaged objects in the background
//! and queues them (`scanner`).
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
//! - a prefix heal takes the union of the drives' walks, not the quorum listing, so a
//!   leftover of a deleted object (held by fewer than k drives) is found and removed; a page
//!   is trusted only up to the shortest truncated drive page, as in `list`;
//! - memory: one block of data and its frames, plus one frame per verified drive, plus one
//!   page of names per drive in a prefix heal.
//!
//! Tested by `heal/tests.rs` (missing drives, corrupt shards, multipart, inline, deletes
//! while a drive was away, heal on read, the queue and offline drives).

mod journal;
mod rebuild;
mod scanner;
mod summary;
#[cfg(test)]
mod tests;
mod verify;
mod worker;

use std::collections::BTreeSet;
use std::sync::Arc;

use super::drives::SetDrives;
use super::error::ErasureError;
use super::heal_queue::{HealQueue, HealScan};
use super::meta::ObjectMeta;
use super::metas::MetaStore;
use super::names::{lock_name, meta_path};
use super::quorum::agreed;
use crate::drive::{DriveError, WalkOptions, WalkPage, join, object_dir};
use crate::lock::{LockMode, NamespaceLock};

pub use scanner::ScannerConfig;
pub use summary::HealSummary;
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

/// Names walked per drive and page by a heal of a prefix.
const PAGE: usize = 1000;

/// The healing of one set: its heal queue and the heals of objects and prefixes.
pub struct Healer {
    drives: Arc<SetDrives>,
    metas: MetaStore,
    locks: Arc<dyn NamespaceLock>,
    queue: Arc<HealQueue>,
}

impl Healer {
    pub(super) fn new(
        drives: Arc<SetDrives>,
        metas: MetaStore,
        locks: Arc<dyn NamespaceLock>,
        queue: Arc<HealQueue>,
    ) -> Self {
        Self {
            drives,
            metas,
            locks,
            queue,
        }
    }

    /// The set's drives.
    pub fn drives(&self) -> &SetDrives {
        &self.drives
    }

    /// The set's heal queue.
    pub(crate) fn queue(&self) -> &Arc<HealQueue> {
        &self.queue
    }

    /// Objects waiting in this set's heal queue.
    pub async fn queued_heals(&self) -> usize {
        self.queue.len().await
    }

    /// Heals `bucket/key` with a deep scan: see [`Healer::heal_object_with`].
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
        let lock = (self.locks)
            .lock(&[lock_name(bucket, key)], LockMode::Write)
            .await?;
        let (_, metas) = self.metas.read(bucket, key).await;
        lock.check()?;
        let offline: Vec<usize> = (0..metas.len())
            .filter(|&d| matches!(&metas[d], Err(e) if e.is_offline()))
            .collect();
        match self.metas.resolve(bucket, key, &metas) {
            Ok(resolved) => {
                let at = (bucket, key);
                // One version, or a journal of several (or a delete marker).
                let mut outcome = if resolved.meta.older.is_empty() && !resolved.meta.delete_marker
                {
                    rebuild::heal_version(&self.drives, at, &metas, &resolved, scan).await?
                } else {
                    journal::heal_journal(&self.drives, at, &metas, &resolved, scan).await?
                };
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

    /// Heals every object of `bucket` in this set whose key starts with `prefix`.
    /// `BucketNotFound` when at least k drives lack the bucket; `ReadQuorum` when fewer
    /// than k drives can walk it. A failed object is counted and the walk goes on.
    pub async fn heal_prefix(
        &self,
        bucket: &str,
        prefix: &str,
        scan: HealScan,
    ) -> Result<HealSummary, ErasureError> {
        let mut summary = HealSummary::default();
        let mut opts = WalkOptions {
            prefix: prefix.to_string(),
            start_after: String::new(),
            recursive: true,
            limit: PAGE,
            summaries: false,
        };
        loop {
            let pages = self.drives.walk(bucket, &opts, "heal walk").await?;
            let cutoff = WalkPage::cutoff(pages.iter().flatten());
            let names: BTreeSet<&str> = pages
                .iter()
                .flatten()
                .flat_map(|p| &p.entries)
                .map(|e| e.name.as_str())
                .filter(|n| cutoff.as_deref().is_none_or(|c| *n <= c))
                .collect();
            for name in names {
                let result = self.heal_object_with(bucket, name, scan).await;
                if let Err(e) = &result {
                    tracing::warn!(bucket, key = name, error = %e, "heal failed");
                }
                summary.count(name, &result);
            }
            match cutoff {
                Some(c) => opts.start_after = c,
                None => return Ok(summary),
            }
        }
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
        let best = agreed(
            metas.iter().flatten(),
            |(m, _)| m.version_id.as_str(),
            |_| (),
        );
        let best = best.map_or(0, |b| b.votes);
        if best + outcome.offline.len() >= self.drives.data_shards() {
            // The offline drives might hold this version: it may exist after all.
            return outcome;
        }
        let path = meta_path(key);
        let results = (self.drives)
            .each(|d, drive| {
                // Every version's data directory (a journal names several).
                let leftover: Option<Vec<String>> = match &metas[d] {
                    Ok((m, _)) => Some(m.versions().map(|v| v.data_dir.clone()).collect()),
                    Err(DriveError::Corrupt { .. }) => Some(Vec::new()),
                    Err(_) => None,
                };
                let path = path.clone();
                async move {
                    let Some(data_dirs) = leftover else {
                        return Ok(false);
                    };
                    for data_dir in data_dirs.iter().filter(|d| !d.is_empty()) {
                        let dir = join(&object_dir(key), data_dir);
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
