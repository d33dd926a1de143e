//! The commit of a new object version: under the object's write lock, the write's
//! condition is checked against the version in place, then each drive's metadata (and
//! data directory) goes into place, and the outcome is settled by write quorum.
//!
//! Invariants: nothing is written before the lock is held and the condition holds; the
//! old version's data is removed only after the new version reached write quorum.

use bytes::Bytes;

use super::ErasureError;
use super::condition::WriteCondition;
use super::meta::ObjectMeta;
use super::set::lock_name;
use super::set::{ErasureSet, meta_path, tmp_path};
use crate::drive::{DriveError, META_VOLUME, OBJECT_META_FILE, Target, join, object_dir};
use crate::lock::{LockGuard, LockMode};

impl ErasureSet {
    /// Takes the object's write lock for a commit and reads the metadata in place; fails
    /// when `cond` does not hold against it, or when the lock was lost meanwhile.
    async fn lock_for_commit(
        &self,
        bucket: &str,
        key: &str,
        cond: &WriteCondition,
    ) -> Result<(LockGuard, Vec<Result<Bytes, DriveError>>), ErasureError> {
        let lock = self
            .locks
            .lock(&[lock_name(bucket, key)], LockMode::Write)
            .await?;
        let old = self.read_raw_metas(bucket, key).await;
        self.check_condition(bucket, key, &old, cond)?;
        // The testing pause of [`super::SetConfig::commit_pause`].
        if let Some(pause) = self.commit_pause {
            tokio::time::sleep(pause).await;
        }
        lock.check()?;
        Ok((lock, old))
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
        let files = (0..self.drives.len())
            .map(|d| {
                let m = Self::meta_for_drive(&meta, d);
                let shard = m.erasure.as_ref().map_or(d, |e| e.shard_index as usize);
                Ok((m.to_file(&frames[shard]), Self::target_over(&old[d])))
            })
            .collect();
        let results = self.write_metas(bucket, &path, files).await;
        self.settle_commit(&lock, bucket, key, &results, &old, None)
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
        let files = (0..self.drives.len())
            .map(|d| {
                if !staged[d] {
                    return Err(DriveError::Offline {
                        reason: "shard not staged".into(),
                    });
                }
                Ok((Self::meta_for_drive(meta, d).to_file(&[]), Target::Fresh))
            })
            .collect();
        let written = self.write_metas(META_VOLUME, &tmp_meta, files).await;
        let data_dir = (!meta.data_dir.is_empty()).then_some(meta.data_dir.as_str());
        let (lock, old) = self.lock_for_commit(bucket, key, cond).await?;
        let results = self
            .each(|d, drive| {
                let ready = written[d].is_ok();
                let tmp = tmp.clone();
                async move {
                    if !ready {
                        return Err(DriveError::Offline {
                            reason: "metadata not staged".into(),
                        });
                    }
                    drive
                        .rename_data(META_VOLUME, &tmp, data_dir, bucket, &object_dir(key))
                        .await
                }
            })
            .await;
        self.settle_commit(&lock, bucket, key, &results, &old, data_dir)
            .await?;
        self.remove_old_data(bucket, key, &old, data_dir).await;
        Ok(meta.clone())
    }
}
