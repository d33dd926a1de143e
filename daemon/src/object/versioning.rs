//! S3 versioning at the object layer: each bucket's state (in its record, cached), deletes
//! that add markers or remove versions, and the listing of versions.
//!
//! Invariants: a bucket once versioned never reads as unversioned again (Suspended is the
//! way back); this node sees its own state changes at once and another node's within
//! [`STATE_TTL`] (S3 itself asks clients to wait after enabling versioning); a write asks
//! the cache, never the drives, while the state is fresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::bucket::BucketRecord;
use super::lifecycle::Lifecycle;
use super::list::{Item, ListQuery, MAX_KEYS};
use super::validate::check_bucket_name;
use super::{ObjectError, ObjectInfo, ObjectLayer};
use crate::erasure::retention::LockMode;
use crate::erasure::{Deleted, ErasureError, Versioning, check_version_id};

/// How long a bucket's versioning state is used before it is read again.
pub const STATE_TTL: Duration = Duration::from_secs(1);

/// What a request needs to know of its bucket: how it keeps versions, its object lock and
/// its lifecycle rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BucketState {
    /// Versioning.
    pub versioning: Versioning,
    /// Object lock is enabled.
    pub object_lock: bool,
    /// The retention new versions get when their write names none: mode and days.
    pub default_retention: Option<(LockMode, u32)>,
    /// The lifecycle rules, when there are any.
    pub lifecycle: Option<Arc<Lifecycle>>,
}

impl BucketState {
    fn of(record: &BucketRecord) -> Self {
        let days = record.lock_days + record.lock_years.saturating_mul(365);
        Self {
            versioning: from_record(record.versioning),
            object_lock: record.object_lock,
            default_retention: LockMode::parse(&record.lock_mode).map(|m| (m, days)),
            lifecycle: (record.lifecycle.clone())
                .filter(|l| !l.rules.is_empty())
                .map(Arc::new),
        }
    }
}

/// Each bucket's state and when it was read.
#[derive(Default)]
pub(super) struct StateCache(Mutex<HashMap<String, (BucketState, Instant)>>);

impl StateCache {
    fn get(&self, bucket: &str) -> Option<BucketState> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (state, read) = map.get(bucket)?;
        (read.elapsed() < STATE_TTL).then(|| state.clone())
    }

    pub(super) fn put(&self, bucket: &str, state: BucketState) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(bucket.to_string(), (state, Instant::now()));
    }
}

pub(super) fn to_record(state: Versioning) -> i32 {
    match state {
        Versioning::Unversioned => 0,
        Versioning::Enabled => 1,
        Versioning::Suspended => 2,
    }
}

fn from_record(value: i32) -> Versioning {
    match value {
        1 => Versioning::Enabled,
        2 => Versioning::Suspended,
        _ => Versioning::Unversioned,
    }
}

/// What a listing of versions asks for.
#[derive(Debug, Clone, Default)]
pub struct VersionQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Fold keys into common prefixes at this (empty: no folding).
    pub delimiter: String,
    /// Start with the versions of keys after this one…
    pub key_marker: String,
    /// …or, with this, with the versions of `key_marker` older than this one.
    pub version_marker: Option<String>,
    /// At most this many versions and prefixes.
    pub max_keys: usize,
}

/// One version in a listing.
#[derive(Debug, Clone)]
pub struct VersionEntry {
    /// The version (a delete marker has no data: size 0, no ETag).
    pub info: ObjectInfo,
    /// It is its key's current version.
    pub is_latest: bool,
}

/// A page of versions.
#[derive(Debug, Clone, Default)]
pub struct VersionList {
    /// Versions: keys in order, each key's versions newest first.
    pub versions: Vec<VersionEntry>,
    /// Common prefixes.
    pub prefixes: Vec<String>,
    /// More follow.
    pub truncated: bool,
    /// Where the next page starts: a key…
    pub next_key_marker: Option<String>,
    /// …and the last version returned of it.
    pub next_version_marker: Option<String>,
}

impl VersionList {
    /// Adds `meta`'s versions after `skip_through` (all when `None`), as many as fit in
    /// `max`; false when some did not fit.
    fn add(
        &mut self,
        bucket: &str,
        key: &str,
        meta: &crate::erasure::ObjectMeta,
        skip_through: Option<&str>,
        max: usize,
    ) -> bool {
        let mut versions = meta.versions().enumerate();
        if let Some(skip) = skip_through {
            // Past the marker version (all of them when the key no longer has it).
            if meta.find_version(skip).is_none() {
                return true;
            }
            for (_, v) in versions.by_ref() {
                if v.s3_version() == skip {
                    break;
                }
            }
        }
        for (i, v) in versions {
            if self.versions.len() + self.prefixes.len() >= max {
                self.truncated = true;
                return false;
            }
            self.versions.push(VersionEntry {
                info: ObjectInfo::from_meta(bucket, key, v),
                is_latest: i == 0,
            });
            self.next_key_marker = Some(key.to_string());
            self.next_version_marker = Some(v.s3_version().to_string());
        }
        true
    }
}

impl ObjectLayer {
    /// The bucket's versioning state (from the cache while fresh).
    pub async fn bucket_versioning(&self, bucket: &str) -> Result<Versioning, ObjectError> {
        Ok(self.bucket_state(bucket).await?.versioning)
    }

    /// What writes need to know of the bucket (from the cache while fresh).
    pub async fn bucket_state(&self, bucket: &str) -> Result<BucketState, ObjectError> {
        if let Some(state) = self.bucket_states.get(bucket) {
            return Ok(state);
        }
        let state = BucketState::of(&self.bucket_record(bucket).await?);
        self.bucket_states.put(bucket, state.clone());
        Ok(state)
    }

    /// Changes the bucket's record with `change` and refreshes this node's cache.
    pub(super) async fn change_bucket_record(
        &self,
        bucket: &str,
        change: impl FnOnce(&mut BucketRecord) -> Result<(), ObjectError>,
    ) -> Result<(), ObjectError> {
        let mut record = self.bucket_record(bucket).await?;
        change(&mut record)?;
        self.write_bucket_record(bucket, &record).await?;
        self.bucket_states.put(bucket, BucketState::of(&record));
        Ok(())
    }

    /// Enables or suspends versioning (never back to unversioned; a bucket with object
    /// lock stays enabled).
    pub async fn set_bucket_versioning(
        &self,
        bucket: &str,
        state: Versioning,
    ) -> Result<(), ObjectError> {
        if state == Versioning::Unversioned {
            return Err(ObjectError::InvalidArgument(
                "versioning can be Enabled or Suspended, not turned off".into(),
            ));
        }
        self.change_bucket_record(bucket, |record| {
            if record.object_lock && state != Versioning::Enabled {
                return Err(ObjectError::InvalidBucketState(
                    "versioning cannot be suspended on a bucket with object lock".into(),
                ));
            }
            record.versioning = to_record(state);
            Ok(())
        })
        .await
    }

    /// Deletes `version` of an object, or without one, the object: on a versioned bucket
    /// by putting a delete marker on top. An unversioned bucket knows only `null`.
    pub async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Deleted, ObjectError> {
        self.delete_locked_version(bucket, key, version, false)
            .await
    }

    /// [`Self::delete_version`], with `bypass`: the caller asks to bypass GOVERNANCE
    /// retention and may.
    pub async fn delete_locked_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        bypass: bool,
    ) -> Result<Deleted, ObjectError> {
        Self::check(bucket, key)?;
        if let Some(v) = version {
            check_version_id(v)?;
        }
        let versioning = self.bucket_versioning(bucket).await?;
        let set = self.set_of(bucket, key).await;
        let deleted = match (versioning, version) {
            (Versioning::Unversioned, Some(v)) if v != crate::erasure::NULL_VERSION => {
                return Ok(Deleted {
                    version_id: v.to_string(),
                    delete_marker: false,
                });
            }
            (Versioning::Unversioned, _) => {
                set.writes()
                    .delete_object(bucket, key)
                    .await
                    .map(|()| Deleted {
                        version_id: crate::erasure::NULL_VERSION.to_string(),
                        delete_marker: false,
                    })
            }
            (versioning, version) => {
                (set.writes())
                    .delete_version(bucket, key, versioning, (version, bypass))
                    .await
            }
        };
        match deleted {
            Ok(d) => Ok(d),
            Err(e) => Err(self.explain(bucket, e).await),
        }
    }

    /// One page of the versions of `bucket`'s objects, delete markers included.
    pub async fn list_object_versions(
        &self,
        bucket: &str,
        q: &VersionQuery,
    ) -> Result<VersionList, ObjectError> {
        check_bucket_name(bucket)?;
        let max = q.max_keys.min(MAX_KEYS);
        let mut out = VersionList::default();
        if max == 0 {
            return Ok(out);
        }
        let marker = q
            .version_marker
            .as_deref()
            .filter(|_| !q.key_marker.is_empty());
        if let Some(marker) = marker {
            let set = self.set_of(bucket, &q.key_marker).await;
            match set.reads().head_versions(bucket, &q.key_marker).await {
                Ok(meta) => {
                    if !out.add(bucket, &q.key_marker, &meta, Some(marker), max) {
                        return Ok(out);
                    }
                }
                Err(ErasureError::ObjectNotFound { .. }) => {}
                Err(e) => return Err(self.explain(bucket, e).await),
            }
        }
        let mut start_after = q.key_marker.clone();
        loop {
            // Full already (by the marker key's versions): one key more says whether the
            // listing is truncated.
            let want = max - out.versions.len() - out.prefixes.len();
            let query = ListQuery {
                prefix: q.prefix.clone(),
                delimiter: q.delimiter.clone(),
                start_after: start_after.clone(),
                max_keys: want.max(1),
                ..Default::default()
            };
            let (items, more) = self.list_items(bucket, &query, true).await?;
            for item in items {
                if out.versions.len() + out.prefixes.len() >= max {
                    out.truncated = true;
                    return Ok(out);
                }
                match item {
                    Item::Prefix(p) => {
                        out.next_key_marker = Some(p.clone());
                        out.next_version_marker = None;
                        out.prefixes.push(p);
                    }
                    Item::Object(key, meta) => {
                        if !out.add(bucket, &key, &meta, None, max) {
                            return Ok(out);
                        }
                    }
                }
                start_after = out.next_key_marker.clone().unwrap_or_default();
            }
            if !more {
                out.next_key_marker = None;
                out.next_version_marker = None;
                return Ok(out);
            }
            if out.versions.len() + out.prefixes.len() >= max {
                out.truncated = true;
                return Ok(out);
            }
        }
    }
}
