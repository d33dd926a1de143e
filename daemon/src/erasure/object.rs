//! Object operations of one set: put (inline or streamed to shard files), get (a range),
//! head, delete and rename within the set.
//!
//! Writes stream into `.tessera/tmp/<id>/` without a lock and take the object's write lock
//! only to commit; reads hold the read lock while they resolve metadata and open shards.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use tokio::io::AsyncRead;

use super::condition::WriteCondition;
use super::decode::ObjectReader;
use super::encode::{ShardWriters, encode_stream, read_block};
use super::heal::HealScan;
use super::meta::{ErasureInfo, ObjectMeta, PartMeta};
use super::set::{ErasureSet, lock_name, meta_path, tmp_path};
use super::{BLOCK_SIZE, CHECKSUM_ALGORITHM, ErasureError, INLINE_LIMIT, now_ns};
use crate::drive::{DriveError, META_VOLUME, RESERVED_PREFIX, Target, join, object_dir};
use crate::lock::{LockGuard, LockMode};

/// What a writer sets on a new object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectAttrs {
    /// Content-Type.
    pub content_type: String,
    /// User metadata.
    pub user_metadata: BTreeMap<String, String>,
    /// Standard headers and checksums (see [`ObjectMeta::headers`]).
    pub headers: BTreeMap<String, String>,
}

/// The bytes a read asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RangeSpec {
    /// The whole object.
    #[default]
    Full,
    /// `[start, end)`; `end` past the object is clamped.
    Bounded(u64, u64),
    /// From `start` to the end.
    From(u64),
    /// The last n bytes.
    Suffix(u64),
}

impl RangeSpec {
    /// `[start, end)` within an object of `size` bytes, or `None` when unsatisfiable.
    pub fn resolve(self, size: u64) -> Option<(u64, u64)> {
        match self {
            RangeSpec::Full => Some((0, size)),
            RangeSpec::Bounded(s, e) if s < size && s < e => Some((s, e.min(size))),
            RangeSpec::From(s) if s < size => Some((s, size)),
            RangeSpec::Suffix(n) if n > 0 && size > 0 => Some((size - n.min(size), size)),
            _ => None,
        }
    }
}

/// A new data directory name (reserved: keys cannot name it).
pub(super) fn new_data_dir() -> String {
    format!("{RESERVED_PREFIX}.{}", uuid::Uuid::new_v4().as_simple())
}

/// Hex MD5 ETag of a multipart object: MD5 of the parts' MD5s, then `-N`.
pub fn multipart_etag(part_etags: &[String]) -> String {
    let mut h = Md5::new();
    for e in part_etags {
        if let Ok(raw) = hex::decode(e) {
            h.update(raw);
        }
    }
    format!("{}-{}", hex::encode(h.finalize()), part_etags.len())
}

impl ErasureSet {
    /// Metadata of a new object version; `shard_index` is set per drive.
    pub(super) fn new_meta(
        &self,
        bucket: &str,
        key: &str,
        attrs: &ObjectAttrs,
        parts: Vec<PartMeta>,
        etag: String,
        data_dir: String,
    ) -> ObjectMeta {
        ObjectMeta {
            version_id: uuid::Uuid::new_v4().to_string(),
            size: parts.iter().map(|p| p.size).sum(),
            mod_time_ns: now_ns(),
            etag,
            content_type: attrs.content_type.clone(),
            user_metadata: attrs.user_metadata.clone(),
            headers: attrs.headers.clone(),
            erasure: Some(ErasureInfo {
                data: self.data_shards() as u32,
                parity: self.parity_shards() as u32,
                block_size: BLOCK_SIZE as u32,
                shard_index: 0,
                distribution: self.placement.distribution(bucket, key, self.drives.len()),
                checksum: CHECKSUM_ALGORITHM.into(),
            }),
            parts,
            data_dir,
        }
    }

    /// The metadata as drive `d` stores it.
    pub(super) fn meta_for_drive(meta: &ObjectMeta, d: usize) -> ObjectMeta {
        let mut m = meta.clone();
        if let Some(e) = m.erasure.as_mut() {
            e.shard_index = Self::shard_of_drive(&e.distribution)[d] as u32;
        }
        m
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
            };
            let meta = self.new_meta(bucket, key, attrs, vec![part], etag, String::new());
            let frames = self.codec.encode_block(&first)?;
            return self.commit_inline(bucket, key, meta, &frames, cond).await;
        }

        let tmp_id = uuid::Uuid::new_v4().to_string();
        let data_dir = new_data_dir();
        let shard_path = join(&join(&tmp_path(&tmp_id), &data_dir), "part.1");
        let what = format!("{bucket}/{key}");
        let result = async {
            let dist = self.placement.distribution(bucket, key, self.drives.len());
            let mut writers = self.open_writers(&dist, &shard_path).await;
            let encoded = encode_stream(
                &self.codec,
                BLOCK_SIZE,
                first,
                body,
                &mut writers,
                self.write_quorum(),
                &what,
            )
            .await?;
            check_size(declared, encoded.size)?;
            let etag = hex::encode(encoded.md5);
            let part = PartMeta {
                number: 1,
                size: encoded.size,
                etag: etag.clone(),
            };
            let meta = self.new_meta(bucket, key, attrs, vec![part], etag, data_dir.clone());
            let staged: Vec<bool> = (0..self.drives.len())
                .map(|d| encoded.durable[Self::shard_of_drive(&dist)[d]])
                .collect();
            self.commit_staged(bucket, key, &tmp_id, &meta, &staged, cond)
                .await
        }
        .await;
        self.remove_tmp(&tmp_id).await;
        result
    }

    /// Opens one shard writer per shard index at `path` in the meta volume.
    pub(super) async fn open_writers(&self, dist: &[u32], path: &str) -> ShardWriters {
        futures::future::join_all(dist.iter().map(|&d| async move {
            match self.drives[d as usize].create_file(META_VOLUME, path).await {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(drive = self.drives[d as usize].endpoint(), error = %e, "cannot stage shard");
                    None
                }
            }
        }))
        .await
    }

    /// A reader of `range` of the object, its shards opened under the read lock.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: RangeSpec,
    ) -> Result<ObjectReader, ErasureError> {
        let _lock = self
            .locks
            .lock(&[lock_name(bucket, key)], LockMode::Read)
            .await?;
        let resolved = self.resolve_for_read(bucket, key).await?;
        let size = resolved.meta.size;
        let (start, end) = range
            .resolve(size)
            .ok_or(ErasureError::InvalidRange { size })?;
        let sources = self.sources(bucket, key, &resolved);
        let mut reader = ObjectReader::new(self.codec.clone(), resolved.meta, sources, start, end);
        reader.heal_on_loss(self.heal_hint(bucket, key));
        reader.open().await?;
        Ok(reader)
    }

    /// The object's metadata.
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectMeta, ErasureError> {
        let _lock = self
            .locks
            .lock(&[lock_name(bucket, key)], LockMode::Read)
            .await?;
        Ok(self.resolve_for_read(bucket, key).await?.meta)
    }

    pub(super) async fn head_unlocked(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<ObjectMeta, ErasureError> {
        let raw = self.read_raw_metas(bucket, key).await;
        let metas = Self::decode_metas(&raw, key);
        Ok(self.resolve(bucket, key, &metas)?.meta)
    }

    /// Deletes the object; `ObjectNotFound` when it does not exist.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), ErasureError> {
        let lock = self
            .locks
            .lock(&[lock_name(bucket, key)], LockMode::Write)
            .await?;
        self.delete_unlocked(&lock, bucket, key, None).await
    }

    /// Deletes under a held lock; with `only_version`, only if that version is current.
    pub(super) async fn delete_unlocked(
        &self,
        lock: &LockGuard,
        bucket: &str,
        key: &str,
        only_version: Option<&str>,
    ) -> Result<(), ErasureError> {
        let raw = self.read_raw_metas(bucket, key).await;
        let metas = Self::decode_metas(&raw, key);
        let resolved = match self.resolve(bucket, key, &metas) {
            Ok(resolved) => resolved,
            Err(e) => {
                if matches!(e, ErasureError::ObjectNotFound { .. }) {
                    self.remove_torn(bucket, key, &raw).await;
                }
                return Err(e);
            }
        };
        if only_version.is_some_and(|v| v != resolved.meta.version_id) {
            return Ok(());
        }
        lock.check()?;
        let path = meta_path(key);
        let results = self
            .each(|d, drive| {
                let old = metas[d].as_ref().ok().map(|(m, _)| m);
                let path = path.clone();
                async move {
                    let r = drive.delete(bucket, &path, false).await;
                    if let Some(old) = old {
                        Self::discard_data(drive, bucket, key, old).await;
                    }
                    match r {
                        Err(e) if e.is_not_found() => Ok(()),
                        other => other,
                    }
                }
            })
            .await;
        super::quorum::require_writes(&results, self.write_quorum(), || {
            format!("delete {bucket}/{key}")
        })?;
        if results.iter().any(Result::is_err) {
            // Drives that missed the delete still hold a copy: the heal removes it.
            self.queue_heal(bucket, key, HealScan::Normal).await;
        }
        Ok(())
    }

    /// Deletes `key` only if its current version is the one described (ETag and mtime).
    pub async fn delete_if_unchanged(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
        mod_time_ns: i64,
    ) -> Result<(), ErasureError> {
        let lock = self
            .locks
            .lock(&[lock_name(bucket, key)], LockMode::Write)
            .await?;
        match self.head_unlocked(bucket, key).await {
            Ok(m) if m.etag == etag && m.mod_time_ns == mod_time_ns => {
                self.delete_unlocked(&lock, bucket, key, Some(&m.version_id))
                    .await
            }
            Ok(_) | Err(ErasureError::ObjectNotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Renames `src` to `dst` within this set (both keys must map here), replacing `dst`
    /// atomically: per drive, the data directory and metadata move under both write locks.
    pub async fn rename_object(
        &self,
        bucket: &str,
        src: &str,
        dst: &str,
    ) -> Result<ObjectMeta, ErasureError> {
        let lock = self
            .locks
            .lock(
                &[lock_name(bucket, src), lock_name(bucket, dst)],
                LockMode::Write,
            )
            .await?;
        let raw = self.read_raw_metas(bucket, src).await;
        let metas = Self::decode_metas(&raw, src);
        let resolved = self.resolve(bucket, src, &metas)?;
        let old_dst = self.read_raw_metas(bucket, dst).await;
        let data_dir = (!resolved.meta.is_inline()).then_some(resolved.meta.data_dir.as_str());
        lock.check()?;
        let results = self
            .each(|d, drive| {
                let agrees = resolved.agrees[d];
                async move {
                    if !agrees {
                        return Err(DriveError::Offline {
                            reason: "drive lacks the source version".into(),
                        });
                    }
                    drive
                        .rename_data(bucket, &object_dir(src), data_dir, bucket, &object_dir(dst))
                        .await
                }
            })
            .await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        if ok < self.write_quorum() && lock.check().is_ok() {
            // Move the data back, then restore the target's old metadata.
            for ((drive, r), old) in self.drives.iter().zip(&results).zip(&old_dst) {
                if r.is_ok() {
                    let _ = drive
                        .rename_data(bucket, &object_dir(dst), data_dir, bucket, &object_dir(src))
                        .await;
                    if let Ok(file) = old {
                        let _ = drive
                            .write_all(bucket, &meta_path(dst), file.clone(), Target::Replace)
                            .await;
                    }
                }
            }
            return Err(super::quorum::write_lost(
                format!("rename {bucket}/{src} to {dst}"),
                ok,
                self.write_quorum(),
                results.iter().filter_map(|r| r.as_ref().err()),
            ));
        }
        self.remove_old_data(bucket, dst, &old_dst, data_dir).await;
        // Drives that held a stale source keep it no more.
        for (d, drive) in self.drives.iter().enumerate() {
            if !resolved.agrees[d] && metas[d].is_ok() {
                let _ = drive.delete(bucket, &meta_path(src), false).await;
            }
        }
        if results.iter().any(Result::is_err) {
            // Drives the move missed lack the target and may still hold the source.
            self.queue_heal(bucket, src, HealScan::Normal).await;
            self.queue_heal(bucket, dst, HealScan::Normal).await;
        }
        Ok(resolved.meta)
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
