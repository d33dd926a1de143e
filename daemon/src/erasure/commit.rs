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
use super::versions::{Journal, Versioning};
use crate::drive::{
    Drive, DriveError, META_VOLUME, OBJECT_META_FILE, Target, join, object_dir, trash_path,
};
use crate::lock::{LockGuard, LockMode, NamespaceLock};

/// Per drive, the journal file a versioned commit writes and the versions it drops.
pub(super) struct Stacked {
    pub(super) files: Vec<Option<(Bytes, Target)>>,
    pub(super) gone: Vec<Vec<ObjectMeta>>,
}

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
            Ok(resolved) if resolved.meta.delete_marker => None,
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
        versioning: Versioning,
    ) -> Result<ObjectMeta, ErasureError> {
        let path = meta_path(key);
        let (lock, old) = self.lock_for_commit(bucket, key, cond).await?;
        if versioning != Versioning::Unversioned {
            let stacked = self.stack(bucket, key, &old, &meta, Some(frames), |_| true)?;
            let results = self.metas.write(bucket, &path, &stacked.files).await;
            self.settle(&lock, bucket, key, &results, &old, None)
                .await?;
            self.discard_versions(bucket, key, &stacked.gone).await;
            return Ok(meta);
        }
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
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn commit_staged(
        &self,
        bucket: &str,
        key: &str,
        tmp_id: &str,
        meta: &ObjectMeta,
        staged: &[bool],
        cond: &WriteCondition,
        versioning: Versioning,
    ) -> Result<ObjectMeta, ErasureError> {
        let tmp = tmp_path(tmp_id);
        let tmp_meta = join(&tmp, OBJECT_META_FILE);
        if versioning != Versioning::Unversioned {
            return self
                .commit_staged_version(bucket, key, &tmp, meta, staged, cond)
                .await;
        }
        // A new staging path (`Fresh`); `rename_data` flushes again after the move.
        let files: Vec<_> = (0..self.drives.len())
            .map(|d| {
                let file = SetDrives::meta_for_drive(meta, d).to_file(&[]);
                staged[d].then_some((file, Target::Fresh))
            })
            .collect();
        let written = self.metas.write(META_VOLUME, &tmp_meta, &files).await;
        let (lock, old) = self.lock_for_commit(bucket, key, cond).await?;
        self.install(&lock, (bucket, key), &tmp, meta, &written, &old)
            .await?;
        let data_dir = (!meta.data_dir.is_empty()).then_some(meta.data_dir.as_str());
        self.remove_old_data(bucket, key, &old, data_dir).await;
        Ok(meta.clone())
    }

    /// [`Self::commit_staged`] on a versioned bucket: each drive's new file is its own
    /// journal with `meta` on top, so it is made under the lock, from the files in place.
    async fn commit_staged_version(
        &self,
        bucket: &str,
        key: &str,
        tmp: &str,
        meta: &ObjectMeta,
        staged: &[bool],
        cond: &WriteCondition,
    ) -> Result<ObjectMeta, ErasureError> {
        let (lock, old) = self.lock_for_commit(bucket, key, cond).await?;
        let stacked = self.stack(bucket, key, &old, meta, None, |d| staged[d])?;
        let fresh: Vec<_> = (stacked.files.iter())
            .map(|f| f.as_ref().map(|(file, _)| (file.clone(), Target::Fresh)))
            .collect();
        let tmp_meta = join(tmp, OBJECT_META_FILE);
        let written = self.metas.write(META_VOLUME, &tmp_meta, &fresh).await;
        lock.check()?;
        self.install(&lock, (bucket, key), tmp, meta, &written, &old)
            .await?;
        self.discard_versions(bucket, key, &stacked.gone).await;
        Ok(meta.clone())
    }

    /// Moves the staged `tmp` (its metadata file, on the drives `written` says hold it,
    /// and `meta`'s data directory) over the object on each drive, and settles the outcome
    /// under `lock` against the files in `old`.
    async fn install(
        &self,
        lock: &LockGuard,
        (bucket, key): (&str, &str),
        tmp: &str,
        meta: &ObjectMeta,
        written: &[Option<Result<(), DriveError>>],
        old: &RawMetas,
    ) -> Result<(), ErasureError> {
        let data_dir = (!meta.data_dir.is_empty()).then_some(meta.data_dir.as_str());
        let dst = &object_dir(key);
        let results = self
            .drives
            .each_of(
                |d| written[d].done(),
                |_, drive| drive.rename_data(META_VOLUME, tmp, data_dir, bucket, dst),
            )
            .await;
        self.settle(lock, bucket, key, &results, old, data_dir)
            .await
    }

    /// Per drive, its journal (from its own file in `old`, read under the write lock) with
    /// `top` on top, its frame from `frames` by shard. Drives whose file is not the agreed
    /// journal get no file (the heal rebuilds them), nor do those `include` leaves out.
    pub(super) fn stack(
        &self,
        bucket: &str,
        key: &str,
        old: &[Result<Bytes, DriveError>],
        top: &ObjectMeta,
        frames: Option<&[Bytes]>,
        include: impl Fn(usize) -> bool,
    ) -> Result<Stacked, ErasureError> {
        let metas = MetaStore::decode(old, key);
        let agrees = match self.metas.resolve(bucket, key, &metas) {
            Ok(resolved) => Some(resolved.agrees),
            Err(ErasureError::ObjectNotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let n = self.drives.len();
        let mut stacked = Stacked {
            files: vec![None; n],
            gone: vec![Vec::new(); n],
        };
        for (d, m) in metas.iter().enumerate() {
            if !include(d) {
                continue;
            }
            let mut journal = match (&agrees, m) {
                (Some(agrees), Ok((m, inline))) if agrees[d] => Journal::of(m, inline),
                (Some(_), _) => continue,
                // No object: whatever a drive holds below quorum goes.
                (None, Ok((m, _))) => {
                    stacked.gone[d] = m.versions().cloned().collect();
                    Journal::default()
                }
                (None, Err(_)) => Journal::default(),
            };
            let new = SetDrives::meta_for_drive(top, d);
            let shard = new.erasure.as_ref().map_or(d, |e| e.shard_index as usize);
            let frame = frames.map_or_else(Bytes::new, |f| f[shard].clone());
            stacked.gone[d].extend(journal.push(new, frame)?);
            stacked.files[d] = (journal.into_file(&top.version_id))
                .map(|file| (file, MetaStore::target_over(&old[d])));
        }
        Ok(stacked)
    }

    /// Removes the data of the versions a committed journal dropped, per drive.
    pub(super) async fn discard_versions(&self, bucket: &str, key: &str, gone: &[Vec<ObjectMeta>]) {
        let removals = (self.drives.all().iter().zip(gone)).map(|(d, gone)| async move {
            for v in gone {
                discard_data(d, bucket, key, v).await;
            }
        });
        futures::future::join_all(removals).await;
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
