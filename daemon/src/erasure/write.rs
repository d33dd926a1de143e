//! `Writes`: the write path of one set's objects: put (inline, or streamed to shard files
//! and committed), delete, rename within the set, and metadata-only updates.
//!
//! Invariants:
//! - a put streams into `.tessera/tmp/<id>/` without a lock and takes the object's write
//!   lock only to commit ([`Commits`]); its staging is removed whatever the outcome;
//! - a delete, rename or update runs under the write lock of every key it touches, and one
//!   that reaches fewer than write-quorum drives is undone (rename, update) or reported;
//! - an update keeps size, ETag, modification time and each drive's own file but for the
//!   user metadata, under a new version id (a drive that missed it disagrees and is healed).

use std::sync::Arc;

use md5::{Digest, Md5};
use tokio::io::AsyncRead;

use super::commit::{Commits, discard_data};
use super::condition::WriteCondition;
use super::drives::SetDrives;
use super::encode::read_block;
use super::error::ErasureError;
use super::heal_queue::HealScan;
use super::limits::{BLOCK_SIZE, INLINE_LIMIT};
use super::meta::{ObjectMeta, PartMeta, now_ns};
use super::metas::MetaStore;
use super::names::{lock_name, meta_path, new_data_dir, tmp_path};
use super::quorum::{Answer, Tally, require_writes};
use super::retention::check_removable;
use super::types::{MetadataUpdate, ObjectAttrs};
use super::versions::{Journal, Versioning, check_version_id};
use crate::drive::{Target, join, object_dir};
use crate::lock::{LockGuard, LockMode};

/// The writes of one set.
pub struct Writes {
    drives: Arc<SetDrives>,
    metas: MetaStore,
    commits: Commits,
}

impl Writes {
    pub(super) fn new(commits: Commits) -> Self {
        Self {
            drives: commits.drives.clone(),
            metas: commits.metas.clone(),
            commits,
        }
    }

    /// Stores an object read from `body`, if `cond` holds at the commit.
    pub async fn put_object<R: AsyncRead + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        attrs: &ObjectAttrs,
        body: &mut R,
        declared: Option<u64>,
        cond: &WriteCondition,
    ) -> Result<ObjectMeta, ErasureError> {
        let first = read_block(body, BLOCK_SIZE).await?;
        if first.len() < BLOCK_SIZE && first.len() <= INLINE_LIMIT {
            check_size(declared, first.len() as u64)?;
            let etag = hex::encode(Md5::digest(&first));
            let part = PartMeta {
                number: 1,
                size: first.len() as u64,
                etag: etag.clone(),
                ..Default::default()
            };
            let meta =
                (self.drives).new_meta((bucket, key), attrs, vec![part], etag, String::new());
            let frames = self.drives.codec().encode_block(&first)?;
            return (self.commits)
                .commit_inline(bucket, key, meta, &frames, cond, attrs.versioning)
                .await;
        }

        let tmp_id = uuid::Uuid::new_v4().to_string();
        let data_dir = new_data_dir();
        let shard_path = join(&join(&tmp_path(&tmp_id), &data_dir), "part.1");
        let what = format!("{bucket}/{key}");
        let result = async {
            let dist = self.drives.distribution(bucket, key);
            let encoded = (self.drives)
                .stage(&dist, &shard_path, (first, body), &what)
                .await?;
            check_size(declared, encoded.size)?;
            let etag = hex::encode(encoded.md5);
            let part = PartMeta {
                number: 1,
                size: encoded.size,
                etag: etag.clone(),
                ..Default::default()
            };
            let meta =
                (self.drives).new_meta((bucket, key), attrs, vec![part], etag, data_dir.clone());
            let shard_of = SetDrives::shard_of_drive(&dist);
            let staged: Vec<bool> = shard_of.iter().map(|&s| encoded.durable[s]).collect();
            (self.commits)
                .commit_staged(bucket, key, &tmp_id, &meta, &staged, cond, attrs.versioning)
                .await
        }
        .await;
        self.drives.remove_tmp(&tmp_id).await;
        result
    }

    /// Deletes the object; `ObjectNotFound` when it does not exist.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), ErasureError> {
        let lock = self.commits.lock(bucket, key, LockMode::Write).await?;
        self.delete_unlocked(&lock, bucket, key, None).await
    }

    /// Deletes under a held lock; with `only_version`, only if that version is current.
    async fn delete_unlocked(
        &self,
        lock: &LockGuard,
        bucket: &str,
        key: &str,
        only_version: Option<&str>,
    ) -> Result<(), ErasureError> {
        let (raw, metas) = self.metas.read(bucket, key).await;
        let resolved = match self.metas.resolve(bucket, key, &metas) {
            Ok(resolved) => resolved,
            Err(e) => {
                if matches!(e, ErasureError::ObjectNotFound { .. }) {
                    self.metas.remove_torn(bucket, key, &raw).await;
                }
                return Err(e);
            }
        };
        if only_version.is_some_and(|v| v != resolved.meta.version_id) {
            return Ok(());
        }
        lock.check()?;
        let path = &meta_path(key);
        let results = self
            .drives
            .each(|d, drive| {
                let old = metas[d].as_ref().ok().map(|(m, _)| m);
                async move {
                    let r = drive.delete(bucket, path, false).await;
                    if let Some(old) = old {
                        discard_data(drive, bucket, key, old).await;
                    }
                    match r {
                        Err(e) if e.is_not_found() => Ok(()),
                        other => other,
                    }
                }
            })
            .await;
        require_writes(&results, self.drives.write_quorum(), || {
            format!("delete {bucket}/{key}")
        })?;
        if results.iter().any(Result::is_err) {
            // Drives that missed the delete still hold a copy: the heal removes it.
            (self.commits.heals)
                .push(bucket, key, HealScan::Normal)
                .await;
        }
        Ok(())
    }

    /// Deletes `key` only if its current version is the one described (ETag and mtime);
    /// on a versioned bucket, by putting a delete marker on top.
    pub async fn delete_if_unchanged(
        &self,
        bucket: &str,
        key: &str,
        (etag, mod_time_ns): (&str, i64),
        versioning: Versioning,
    ) -> Result<(), ErasureError> {
        let lock = self.commits.lock(bucket, key, LockMode::Write).await?;
        match self.metas.head(bucket, key).await {
            Ok(m) if m.etag == etag && m.mod_time_ns == mod_time_ns => {
                if versioning != Versioning::Unversioned {
                    return self
                        .mark_deleted(&lock, bucket, key, versioning)
                        .await
                        .map(drop);
                }
                self.delete_unlocked(&lock, bucket, key, Some(&m.version_id))
                    .await
            }
            Ok(_) | Err(ErasureError::ObjectNotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes on a versioned bucket: without `version`, puts a delete marker on top (a
    /// `null` one when suspended, replacing the `null` version); with it, removes that
    /// version (a marker included), the object with its last one. A version the object does
    /// not have is no error (S3 answers such deletes with success).
    pub async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        versioning: Versioning,
        (version, bypass): (Option<&str>, bool),
    ) -> Result<Deleted, ErasureError> {
        if let Some(v) = version {
            check_version_id(v)?;
        }
        let lock = self.commits.lock(bucket, key, LockMode::Write).await?;
        let Some(version) = version else {
            return self.mark_deleted(&lock, bucket, key, versioning).await;
        };
        let (raw, metas) = self.metas.read(bucket, key).await;
        let resolved = match self.metas.resolve(bucket, key, &metas) {
            Ok(resolved) => resolved,
            Err(ErasureError::ObjectNotFound { .. }) => return Ok(Deleted::nothing(version)),
            Err(e) => return Err(e),
        };
        let Some(index) = resolved.meta.find_version(version) else {
            return Ok(Deleted::nothing(version));
        };
        let removed = resolved
            .meta
            .versions()
            .nth(index)
            .unwrap_or(&resolved.meta);
        check_removable(removed, bypass)?;
        let delete_marker = removed.delete_marker;
        let deleted = Deleted {
            version_id: version.to_string(),
            delete_marker,
        };
        if resolved.meta.older.is_empty() {
            self.delete_unlocked(&lock, bucket, key, None).await?;
            return Ok(deleted);
        }
        let file_id = uuid::Uuid::new_v4().to_string();
        let mut gone = vec![Vec::new(); self.drives.len()];
        let files: Vec<_> = (metas.iter().zip(&resolved.agrees).zip(&mut gone))
            .map(|((m, &agrees), gone)| match m {
                Ok((m, inline)) if agrees => {
                    let mut journal = Journal::of(m, inline);
                    gone.extend(journal.remove(version));
                    journal.into_file(&file_id).map(|f| (f, Target::Replace))
                }
                _ => None,
            })
            .collect();
        lock.check()?;
        let results = self.metas.write(bucket, &meta_path(key), &files).await;
        (self.commits)
            .settle(&lock, bucket, key, &results, &raw, None)
            .await?;
        self.commits.discard_versions(bucket, key, &gone).await;
        Ok(deleted)
    }

    /// Changes version `version` of `key` (its current one when `None`) with `edit`, in
    /// place on every drive that holds the agreed journal: its data stays, the file gets a
    /// new internal id. `edit` runs first on the agreed version, whose refusal is the
    /// answer. Returns the version as edited.
    pub async fn edit_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        edit: impl Fn(&mut ObjectMeta) -> Result<(), ErasureError>,
    ) -> Result<ObjectMeta, ErasureError> {
        if let Some(v) = version {
            check_version_id(v)?;
        }
        let lock = self.commits.lock(bucket, key, LockMode::Write).await?;
        let (raw, metas) = self.metas.read(bucket, key).await;
        let resolved = self.metas.resolve(bucket, key, &metas)?;
        let agrees = resolved.agrees.clone();
        let id = version.unwrap_or(resolved.meta.s3_version()).to_string();
        let mut edited = self
            .metas
            .select((bucket, key), resolved, &metas, Some(&id))?
            .meta;
        edit(&mut edited)?;
        let file_id = uuid::Uuid::new_v4().to_string();
        let mut files = Vec::with_capacity(metas.len());
        for (m, agrees) in metas.iter().zip(agrees) {
            files.push(match m {
                Ok((m, inline)) if agrees => {
                    let mut journal = Journal::of(m, inline);
                    journal.edit(&id, &edit)?;
                    journal.into_file(&file_id).map(|f| (f, Target::Replace))
                }
                _ => None,
            });
        }
        lock.check()?;
        let results = self.metas.write(bucket, &meta_path(key), &files).await;
        (self.commits)
            .settle(&lock, bucket, key, &results, &raw, None)
            .await?;
        Ok(edited)
    }

    /// Puts a delete marker on top of `key`'s versions (under its held write lock).
    async fn mark_deleted(
        &self,
        lock: &LockGuard,
        bucket: &str,
        key: &str,
        versioning: Versioning,
    ) -> Result<Deleted, ErasureError> {
        let marker = ObjectMeta {
            version_id: uuid::Uuid::new_v4().to_string(),
            mod_time_ns: now_ns(),
            s3_version_id: versioning.new_version_id(),
            delete_marker: true,
            ..Default::default()
        };
        let old = self.metas.read_raw(bucket, key).await;
        let stacked = self
            .commits
            .stack(bucket, key, &old, &marker, None, |_| true)?;
        lock.check()?;
        let results = self
            .metas
            .write(bucket, &meta_path(key), &stacked.files)
            .await;
        (self.commits)
            .settle(lock, bucket, key, &results, &old, None)
            .await?;
        self.commits
            .discard_versions(bucket, key, &stacked.gone)
            .await;
        Ok(Deleted {
            version_id: marker.s3_version().to_string(),
            delete_marker: true,
        })
    }

    /// Renames `src` to `dst` within this set (both keys must map here), replacing `dst`
    /// atomically: per drive, the data directory and metadata move under both write locks.
    pub async fn rename_object(
        &self,
        bucket: &str,
        src: &str,
        dst: &str,
    ) -> Result<ObjectMeta, ErasureError> {
        let names = [lock_name(bucket, src), lock_name(bucket, dst)];
        let lock = self.commits.locks.lock(&names, LockMode::Write).await?;
        let (_, metas) = self.metas.read(bucket, src).await;
        let resolved = self.metas.resolve(bucket, src, &metas)?;
        let old_dst = self.metas.read_raw(bucket, dst).await;
        let data_dir = (!resolved.meta.is_inline()).then_some(resolved.meta.data_dir.as_str());
        lock.check()?;
        let (src_dir, dst_dir) = (&object_dir(src), &object_dir(dst));
        // Only drives holding the source version move it.
        let results = (self.drives)
            .each_of(
                |d| resolved.agrees[d],
                |_, drive| drive.rename_data(bucket, src_dir, data_dir, bucket, dst_dir),
            )
            .await;
        let tally = Tally::of(&results);
        let need = self.drives.write_quorum();
        if tally.done < need {
            // Move the data back, then restore the target's old metadata (only while the
            // locks hold, as a commit's undo).
            let undo = lock.check().is_ok();
            let moved = (self.drives.all().iter().zip(&results)).zip(&old_dst);
            for ((drive, _), old) in moved.filter(|((_, r), _)| undo && r.done()) {
                let _ = drive
                    .rename_data(bucket, dst_dir, data_dir, bucket, src_dir)
                    .await;
                if let Ok(file) = old {
                    let _ = drive
                        .write_all(bucket, &meta_path(dst), file.clone(), Target::Replace)
                        .await;
                }
            }
            let what = format!("rename {bucket}/{src} to {dst}");
            return Err(tally.write_lost(what, tally.done, need));
        }
        (self.commits)
            .remove_old_data(bucket, dst, &old_dst, data_dir)
            .await;
        // Drives that held a stale source keep it no more.
        for (d, drive) in self.drives.all().iter().enumerate() {
            if !resolved.agrees[d] && metas[d].is_ok() {
                let _ = drive.delete(bucket, &meta_path(src), false).await;
            }
        }
        if tally.done < results.len() {
            // Drives the move missed lack the target and may still hold the source.
            for key in [src, dst] {
                (self.commits.heals)
                    .push(bucket, key, HealScan::Normal)
                    .await;
            }
        }
        Ok(resolved.meta)
    }

    /// Sets and removes user-metadata entries of `bucket/key` in place: the data is not
    /// rewritten and size, ETag and modification time are kept. Returns the new metadata;
    /// `ObjectNotFound` when there is no such object.
    pub async fn update_metadata(
        &self,
        bucket: &str,
        key: &str,
        update: &MetadataUpdate,
        max_user_metadata: usize,
    ) -> Result<ObjectMeta, ErasureError> {
        let lock = self.commits.lock(bucket, key, LockMode::Write).await?;
        let (raw, metas) = self.metas.read(bucket, key).await;
        let resolved = self.metas.resolve(bucket, key, &metas)?;
        let size = update.size_after(&resolved.meta.user_metadata);
        if size > max_user_metadata {
            return Err(ErasureError::MetadataTooLarge {
                size,
                limit: max_user_metadata,
            });
        }
        let version_id = uuid::Uuid::new_v4().to_string();
        let path = meta_path(key);
        lock.check()?;
        // Each agreeing drive keeps its own file but for the user metadata.
        let files: Vec<_> = (metas.iter().zip(&resolved.agrees))
            .map(|(m, &agrees)| match m {
                Ok((m, frame)) if agrees => Some((
                    update.updated(m, &version_id).to_file(frame),
                    Target::Replace,
                )),
                _ => None,
            })
            .collect();
        let results = self.metas.write(bucket, &path, &files).await;
        // Below write quorum, the old files go back where the new ones were written.
        (self.commits)
            .settle(&lock, bucket, key, &results, &raw, None)
            .await?;
        Ok(update.updated(&resolved.meta, &version_id))
    }
}

/// What a delete on a versioned bucket did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The S3 id of the marker it made, or of the version it removed.
    pub version_id: String,
    /// That version is a delete marker.
    pub delete_marker: bool,
}

impl Deleted {
    fn nothing(version: &str) -> Self {
        Self {
            version_id: version.to_string(),
            delete_marker: false,
        }
    }
}

fn check_size(declared: Option<u64>, received: u64) -> Result<(), ErasureError> {
    match declared {
        Some(declared) if declared != received => {
            Err(ErasureError::SizeMismatch { declared, received })
        }
        _ => Ok(()),
    }
}
