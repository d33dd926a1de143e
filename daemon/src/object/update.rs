//! Operations that change names or metadata without rewriting data, for the FUSE client:
//! user-metadata updates (chmod, chown, utimens) and prefix renames (directory rename).
//!
//! Invariants: a metadata update is atomic per object and keeps its data, size, ETag and
//! modification time; a prefix rename moves one key at a time with [`ObjectLayer::rename_object`]
//! (each key atomically, the whole not) and never holds more than one listing page.
//!
//! Tested end to end by the tests crate (`e2e/fuse_ops.rs`).

use super::list::{ListQuery, MAX_KEYS};
use super::validate::{MAX_USER_METADATA, check_bucket_name, check_key, check_user_metadata};
use super::{ObjectError, ObjectInfo, ObjectLayer};
use crate::erasure::MetadataUpdate;

/// Checks a directory prefix for a prefix rename: a valid key ending in `/`.
fn check_dir_prefix(what: &str, prefix: &str) -> Result<(), ObjectError> {
    if !prefix.ends_with('/') {
        return Err(ObjectError::InvalidArgument(format!(
            "{what} {prefix:?} must be non-empty and end with '/'"
        )));
    }
    check_key(prefix)
}

impl ObjectLayer {
    /// Sets and removes user-metadata entries of an object without rewriting its data; the
    /// size, ETag and modification time are kept. Works on every object, directory markers
    /// (`dir/`) included. A name may not be both set and removed.
    pub async fn update_object_metadata(
        &self,
        bucket: &str,
        key: &str,
        update: &MetadataUpdate,
    ) -> Result<ObjectInfo, ObjectError> {
        Self::check(bucket, key)?;
        if let Some(name) = update.remove.iter().find(|n| update.set.contains_key(*n)) {
            return Err(ObjectError::InvalidArgument(format!(
                "metadata entry {name:?} is both set and removed"
            )));
        }
        check_user_metadata(&update.set)?;
        let set = self.set_of(bucket, key).await;
        // The result must stay within bounds too: checked under the object's lock.
        match (set.writes())
            .update_metadata(bucket, key, update, MAX_USER_METADATA)
            .await
        {
            Ok(meta) => Ok(ObjectInfo::from_meta(bucket, key, &meta)),
            Err(e) => Err(self.explain(bucket, e).await),
        }
    }

    /// Applies `update`'s stored headers (only those: S3's tagging of a version) to an
    /// object's `version` in place; the version keeps its data, ETag and time.
    pub async fn update_version_headers(
        &self,
        (bucket, key, version): (&str, &str, &str),
        update: &MetadataUpdate,
    ) -> Result<ObjectInfo, ObjectError> {
        Self::check(bucket, key)?;
        let set = self.set_of(bucket, key).await;
        let edit = |m: &mut crate::erasure::ObjectMeta| {
            for (name, value) in &update.headers {
                match value {
                    Some(v) => m.headers.insert(name.clone(), v.clone()),
                    None => m.headers.remove(name),
                };
            }
            Ok(())
        };
        match set
            .writes()
            .edit_version(bucket, key, Some(version), edit)
            .await
        {
            Ok(meta) => Ok(ObjectInfo::from_meta(bucket, key, &meta)),
            Err(e) => Err(self.explain(bucket, e).await),
        }
    }

    /// Renames every key under `src_prefix` to the same key under `dst_prefix` and returns
    /// how many were moved. Both prefixes end with `/` and neither may contain the other.
    ///
    /// Not atomic as a whole: each key moves atomically (as [`Self::rename_object`]), one
    /// after the other, listed a page at a time. An error stops the rename and is returned;
    /// keys already moved stay moved. A key that vanishes before its turn is skipped. The
    /// directory marker `src_prefix` itself, when it exists, moves last, so the source
    /// directory persists until everything under it has moved.
    pub async fn rename_prefix(
        &self,
        bucket: &str,
        src_prefix: &str,
        dst_prefix: &str,
    ) -> Result<u64, ObjectError> {
        check_bucket_name(bucket)?;
        check_dir_prefix("source prefix", src_prefix)?;
        check_dir_prefix("destination prefix", dst_prefix)?;
        if src_prefix.starts_with(dst_prefix) || dst_prefix.starts_with(src_prefix) {
            return Err(ObjectError::InvalidArgument(format!(
                "prefixes {src_prefix:?} and {dst_prefix:?} overlap"
            )));
        }
        let mut renamed = 0;
        let mut query = ListQuery {
            prefix: src_prefix.to_string(),
            max_keys: MAX_KEYS,
            ..Default::default()
        };
        loop {
            let page = self.list_objects(bucket, &query).await?;
            for object in &page.objects {
                if object.key != src_prefix {
                    let dst = format!("{dst_prefix}{}", &object.key[src_prefix.len()..]);
                    renamed += self.rename_if_present(bucket, &object.key, &dst).await?;
                }
            }
            match page.objects.last() {
                Some(last) if page.truncated => query.start_after = last.key.clone(),
                _ => break,
            }
        }
        renamed += self
            .rename_if_present(bucket, src_prefix, dst_prefix)
            .await?;
        Ok(renamed)
    }

    /// Renames one key; 1 when it moved, 0 when it does not exist (any more).
    async fn rename_if_present(
        &self,
        bucket: &str,
        src: &str,
        dst: &str,
    ) -> Result<u64, ObjectError> {
        match self.rename_object(bucket, src, dst).await {
            Ok(_) => Ok(1),
            Err(ObjectError::ObjectNotFound { .. }) => Ok(0),
            Err(e) => Err(e),
        }
    }
}
