//! `Commits`: how a new object version goes into place. Under the object's write lock, the
//! write's condition is checked against the version in place, then each drive's metadata
//! (and data directory) goes into place, and the outcome is settled by write quorum: a
//! commit that missed it is undone on the drives it reached, one that reached it but not
//! every drive queues the object for healing.
//!
//! Invariants: nothing is written before the lock is held and the condition holds; the
//! old version's data is removed only after the new version reached write quorum; an undo
//! runs only while the lock still holds.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::condition::WriteCondition;
use super::drives::SetDrives;
use super::error::ErasureError;
use super::heal_queue::{HealQueue, HealScan};
use super::meta::ObjectMeta;
use super::metas::{MetaStore, RawMetas};
use super::names::{lock_name, meta_path, tmp_path};
use super::quorum::{Answer, Tally, Verdict};
use crate::drive::{
    Drive, DriveError, META_VOLUME, OBJECT_META_FILE, Target, join, object_dir, trash_path,
};
use crate::lock::{LockGuard, LockMode, NamespaceLock};

/// The commits of one set's writes.
#[derive(Clone)]
pub(super) struct Commits {
    pub(super) drives: Arc<SetDrives>,
    pub(super) metas: MetaStore,
    pub(super) locks: Arc<dyn NamespaceLock>,
    pub(super) heals: Arc<HealQueue>,
    /// Testing only: the set's `SetConfig::commit_pause`.
    pub(super) pause: Option<Duration>,
}

impl Commits {
    /// Takes the lock of `bucket/key` in `mode`.
    pub(super) async fn lock(
        &self,
        bucket: &str,
        key: &str,
        mode: LockMode,
    ) -> Result<LockGuard, ErasureError> {
        Ok(self.locks.lock(&[lock_name(bucket, key)], mode).await?)
    }

    /// Takes the object's write lock for a commit and reads the metadata in place; fails
    /// when `cond` does not hold against it, or when the lock was lost meanwhile.
    async fn lock_for_commit(
        &self,
        bucket: &str,
        key: &str,
        cond: &WriteCondition,
    ) -> Result<(LockGuard, RawMetas), ErasureError> {
        let lock = self.lock(bucket, key, LockMode::Write).await?;
        let old = self.metas.read_raw(bucket, key).await;
        self.check_condition(bucket, key, &old, cond)?;
        if let Some(pause) = self.pause {
            tokio::time::sleep(pause).await;
        }
        lock.check()?;
        Ok((lock, old))
    }

    /// Checks `cond` against the version the metadata files `old` (read under the write
    /// lock) agree on. Drives that cannot tell whether the object exists fail the write
    /// with the read error, not with a guess.
    fn check_condition(
        &self,
        bucket: &str,
        key: &str,
        old: &[Result<Bytes, DriveError>],
        cond: &WriteCondition,
    ) -> Result<(), ErasureError> {
        if cond.is_none() {
            return Ok(());
        }
        let metas = MetaStore::decode(old, key);
        let current = match self.metas.resolve(bucket, key, &metas) {
            Ok(resolved) => Some(resolved.meta.etag),
            Err(ErasureError::ObjectNotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        cond.check(bucket, key, current.as_deref())
    }

    /// Writes each drive's metadata (with its inline frame) straight over the object's
    /// metadata file, under the write lock, if `cond` holds.
    pub(super) async fn commit_inline(
        &self,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
        frames: &[Bytes],
        cond: &WriteCondition,
    ) -> Result<ObjectMeta, ErasureError> {
        let path = meta_path(key);
        let (lock, old) = self.lock_for_commit(bucket, key, cond).await?;
        let files: Vec<_> = (0..self.drives.len())
            .map(|d| {
                let m = SetDrives::meta_for_drive(&meta, d);
                let shard = m.erasure.as_ref().map_or(d, |e| e.shard_index as usize);
                Some((m.to_file(&frames[shard]), MetaStore::target_over(&old[d])))
            })
            .collect();
        let results = self.metas.write(bucket, &path, &files).await;
        self.settle(&lock, bucket, key, &results, &old, None)
            .await?;
        self.remove_old_data(bucket, key, &old, None).await;
        Ok(meta)
    }

    /// Writes each staged drive's metadata into `tmp/<id>/`, then under the write lock, if
    /// `cond` holds, moves data and metadata into place on every staged drive.
    pub(super) async fn commit_staged(
        &self,
        bucket: &str,
        key: &str,
        tmp_id: &str,
        meta: &ObjectMeta,
        staged: &[bool],
        cond: &WriteCondition,
    ) -> Result<ObjectMeta, ErasureError> {
        let tmp = tmp_path(tmp_id);
        let tmp_meta = join(&tmp, OBJECT_META_FILE);
        // A new staging path (`Fresh`); `rename_data` flushes again after the move.
        let files: Vec<_> = (0..self.drives.len())
            .map(|d| {
                let file = SetDrives::meta_for_drive(meta, d).to_file(&[]);
                staged[d].then_some((file, Target::Fresh))
            })
            .collect();
        let written = self.metas.write(META_VOLUME, &tmp_meta, &files).await;
        let data_dir = (!meta.data_dir.is_empty()).then_some(meta.data_dir.as_str());
        let (lock, old) = self.lock_for_commit(bucket, key, cond).await?;
        let (tmp, dst) = (&tmp, &object_dir(key));
        let results = self
            .drives
            .each_of(
                |d| written[d].done(),
                |_, drive| drive.rename_data(META_VOLUME, tmp, data_dir, bucket, dst),
            )
            .await;
        self.settle(&lock, bucket, key, &results, &old, data_dir)
            .await?;
        self.remove_old_data(bucket, key, &old, data_dir).await;
        Ok(meta.clone())
    }

    /// Checks the outcome of a commit step on every drive; on a missed quorum, undoes it
    /// on the drives where it succeeded (restoring their old metadata) and fails. A commit
    /// that reached its quorum but not every drive queues the object for healing.
    pub(super) async fn settle<A: Answer>(
        &self,
        lock: &LockGuard,
        bucket: &str,
        key: &str,
        results: &[A],
        old: &[Result<Bytes, DriveError>],
        new_data_dir: Option<&str>,
    ) -> Result<(), ErasureError> {
        let need = self.drives.write_quorum();
        let tally = Tally::of(results);
        if tally.done >= need {
            if tally.done < results.len() {
                self.heals.push(bucket, key, HealScan::Normal).await;
            }
            return Ok(());
        }
        let ok = tally.done;
        tracing::warn!(
            bucket,
            key,
            ok,
            need,
            "commit missed its write quorum; undoing"
        );
        let path = meta_path(key);
        // Undo only while the lock still holds: once it is lost, another writer may have
        // committed over these drives, and restoring the old files would undo its write.
        // The partial version then stays below quorum, where reads ignore it and heal
        // removes it.
        let undo = lock.check().is_ok();
        let undos = (self.drives.all().iter().zip(results).zip(old)).map(|((d, r), old)| {
            let path = path.clone();
            async move {
                if !r.done() || !undo {
                    return;
                }
                let _ = match old {
                    Ok(file) => {
                        d.write_all(bucket, &path, file.clone(), Target::Replace)
                            .await
                    }
                    Err(_) => d.delete(bucket, &path, false).await,
                };
                if let Some(dd) = new_data_dir {
                    let _ = d.delete(bucket, &join(&object_dir(key), dd), true).await;
                }
            }
        });
        futures::future::join_all(undos).await;
        if tally.verdict(need) == Verdict::VolumeNotFound
            || tally.volume_not_found >= self.drives.data_shards()
        {
            return Err(ErasureError::BucketNotFound {
                bucket: bucket.into(),
            });
        }
        Err(tally.write_lost(format!("{bucket}/{key}"), ok, need))
    }

    /// Removes the data directories that old metadata files point to, unless they are
    /// the one just committed.
    pub(super) async fn remove_old_data(
        &self,
        bucket: &str,
        key: &str,
        old: &[Result<Bytes, DriveError>],
        keep: Option<&str>,
    ) {
        let removals = (self.drives.all().iter().zip(old)).map(|(d, old)| async move {
            let Ok(file) = old else { return };
            let Ok((m, _)) = ObjectMeta::from_file(file.clone()) else {
                return;
            };
            if Some(m.data_dir.as_str()) != keep {
                discard_data(d, bucket, key, &m).await;
            }
        });
        futures::future::join_all(removals).await;
    }
}

/// Removes an old version's data directory from `drive`, best effort. A multipart
/// version's goes to the drive's trash, where a GET that began before the change still
/// finds the parts it has not reached (a single-part GET holds its files open).
pub(super) async fn discard_data(
    drive: &Arc<dyn Drive>,
    bucket: &str,
    key: &str,
    old: &ObjectMeta,
) {
    if old.data_dir.is_empty() {
        return;
    }
    let dir = join(&object_dir(key), &old.data_dir);
    if old.parts.len() > 1 {
        let trashed = trash_path(&old.data_dir);
        if drive
            .rename(bucket, &dir, META_VOLUME, &trashed)
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = drive.delete(bucket, &dir, true).await;
}
