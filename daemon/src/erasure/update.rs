//! Metadata-only updates of one set's objects: user-metadata entries are set or removed on
//! every drive that holds the current version, without touching the object's data.
//!
//! Invariants: the update runs under the key's write lock and rewrites each drive's own
//! `tessera.meta` atomically (`Drive::write_all`), keeping everything else of that drive's
//! file (shard index, inline frame, data directory); size, ETag and modification time are
//! kept. The result is a new version id (drives agree on a version when their ids are equal,
//! so a drive that missed the update disagrees and is healed); an update reaching fewer than
//! write-quorum drives is undone on the drives it reached.
//!
//! Tested end to end by the tests crate (`e2e/fuse_ops.rs`).

use std::collections::BTreeMap;

use super::ErasureError;
use super::meta::ObjectMeta;
use super::set::lock_name;
use super::set::{ErasureSet, meta_path};
use crate::drive::{DriveError, Target};
use crate::lock::LockMode;

/// Changes to an object's user metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataUpdate {
    /// Entries to add or overwrite.
    pub set: BTreeMap<String, String>,
    /// Names of entries to remove (absent ones are ignored).
    pub remove: Vec<String>,
}

impl MetadataUpdate {
    /// Applies the update: removals, then additions.
    pub fn apply(&self, user_metadata: &mut BTreeMap<String, String>) {
        for name in &self.remove {
            user_metadata.remove(name);
        }
        user_metadata.extend(self.set.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    /// Bytes of user metadata (names and values) after applying the update to `current`.
    pub fn size_after(&self, current: &BTreeMap<String, String>) -> usize {
        let mut m = current.clone();
        self.apply(&mut m);
        m.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// The metadata of the version this update makes from `meta`.
    fn updated(&self, meta: &ObjectMeta, version_id: &str) -> ObjectMeta {
        let mut m = meta.clone();
        self.apply(&mut m.user_metadata);
        m.version_id = version_id.to_string();
        m
    }
}

impl ErasureSet {
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
        let lock = self
            .locks
            .lock(&[lock_name(bucket, key)], LockMode::Write)
            .await?;
        let raw = self.read_raw_metas(bucket, key).await;
        let metas = Self::decode_metas(&raw, key);
        let resolved = self.resolve(bucket, key, &metas)?;
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
        let results = self
            .each(|d, drive| {
                // Each agreeing drive keeps its own file but for the user metadata.
                let file = match &metas[d] {
                    Ok((m, frame)) if resolved.agrees[d] => {
                        Ok(update.updated(m, &version_id).to_file(frame))
                    }
                    _ => Err(DriveError::Offline {
                        reason: "drive lacks the current version".into(),
                    }),
                };
                let path = path.clone();
                async move { drive.write_all(bucket, &path, file?, Target::Replace).await }
            })
            .await;
        // Below write quorum, the old files go back where the new ones were written.
        self.settle_commit(&lock, bucket, key, &results, &raw, None)
            .await?;
        Ok(update.updated(&resolved.meta, &version_id))
    }
}
