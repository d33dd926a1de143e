//! The ObjectLayer: the one object core under the S3 front end and the gRPC service.
//! It validates names, routes each key to its set, merges listings across sets, and runs
//! the operations that span sets (buckets, copy, rename, prefix rename).
//!
//! Invariants: every bucket name and key is validated here before any drive sees it;
//! an object lives in exactly one set (`Placement` of its pool); two-key operations lock in
//! sorted order (in the set, or by copy-then-delete across sets).

mod body;
mod bucket;
mod error;
mod expiry;
mod heal;
mod lifecycle;
mod list;
mod lock;
mod multipart;
mod system;
mod update;
pub mod validate;
mod versioning;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use tokio::io::AsyncRead;

// The object vocabulary of the layer's API, defined where the erasure sets use it: the
// front ends name it through this module only.
pub use crate::erasure::retention::{LEGAL_HOLD, LOCK_MODE, LOCK_UNTIL, LockMode, Retention};
pub use crate::erasure::{
    CHECKSUM_TYPE, CompletePart, Deleted, ETagMatch, HealScan, LateHeaders, MetadataUpdate,
    NULL_VERSION, ObjectAttrs, RangeSpec, Versioning, WriteCondition,
};
use crate::erasure::{ErasureError, ErasureSet, ObjectMeta};
use crate::layout::Placement;
use crate::metrics::{Metrics, ObjectFigures};

pub use body::{ObjectBody, body_reader};
use body::{decoded_body, reader_stream};
pub use bucket::{BucketInfo, ClusterInfo, DriveInfo, DriveState, SetInfo};
pub use error::ObjectError;
pub use expiry::ExpiryConfig;
pub use lifecycle::{Clock, Lifecycle, LifecycleRule};
pub use list::{ListQuery, ListResult, PathLookup};
pub use lock::DefaultRetention;
pub use multipart::{PartInfo, UploadSummary};
use validate::{check_bucket_name, check_key};

/// Deletes of one DeleteObjects call running at once.
const DELETES_PARALLEL: usize = 16;
pub use versioning::{BucketState, VersionEntry, VersionList, VersionQuery};

/// An object as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mod_time_ns: i64,
    /// ETag, without quotes.
    pub etag: String,
    /// Content-Type.
    pub content_type: String,
    /// User metadata.
    pub user_metadata: BTreeMap<String, String>,
    /// Standard headers and checksums stored with the object.
    pub headers: BTreeMap<String, String>,
    /// Size of each part, in order (one entry for a single PUT).
    pub part_sizes: Vec<u64>,
    /// The S3 version id (`null` for objects written while the bucket was not versioned).
    pub version_id: String,
    /// This version is a delete marker.
    pub delete_marker: bool,
    /// Each part's verified checksums (by stored header name), in order.
    pub part_checksums: Vec<BTreeMap<String, String>>,
}

impl ObjectInfo {
    /// Number of parts (1 for a single PUT).
    pub fn parts(&self) -> u32 {
        self.part_sizes.len() as u32
    }

    /// The attributes a copy of this object keeps.
    pub fn attrs(&self) -> ObjectAttrs {
        ObjectAttrs {
            content_type: self.content_type.clone(),
            user_metadata: self.user_metadata.clone(),
            headers: self.headers.clone(),
            late: Default::default(),
            versioning: Default::default(),
        }
    }
}

impl ObjectInfo {
    pub(crate) fn from_meta(bucket: &str, key: &str, m: &ObjectMeta) -> Self {
        Self {
            bucket: bucket.to_string(),
            key: key.to_string(),
            size: m.size,
            mod_time_ns: m.mod_time_ns,
            etag: m.etag.clone(),
            content_type: m.content_type.clone(),
            user_metadata: m.user_metadata.clone(),
            headers: m.headers.clone(),
            part_sizes: m.parts.iter().map(|p| p.size).collect(),
            version_id: m.s3_version().to_string(),
            delete_marker: m.delete_marker,
            // Only a multipart object tells its parts (GetObjectAttributes).
            part_checksums: match m.parts.len() {
                0 | 1 => Vec::new(),
                _ => m.parts.iter().map(|p| p.checksums.clone()).collect(),
            },
        }
    }
}

/// A pool: sets made from one drive list, with their placement.
pub struct Pool {
    /// The sets, in index order.
    pub sets: Vec<Arc<ErasureSet>>,
    /// Key → set.
    pub placement: Placement,
}

/// The object core of a node.
pub struct ObjectLayer {
    deployment_id: String,
    pools: Vec<Pool>,
    /// Objects and bytes written and read.
    figures: ObjectFigures,
    /// Each bucket's state (versioning, object lock, lifecycle), as lately read.
    bucket_states: versioning::StateCache,
    /// Seconds in a lifecycle day (86,400; tests shorten it).
    lifecycle_day: i64,
}

/// An open object read: its info and its data, as a stream of chunks.
pub struct ObjectRead {
    /// The object.
    pub info: ObjectInfo,
    /// `[start, end)` of the object the stream carries.
    pub range: (u64, u64),
    /// The data.
    pub body: ObjectBody,
}

impl ObjectLayer {
    /// An object layer over `pools` (at least one, each with at least one set).
    pub fn new(deployment_id: String, pools: Vec<Pool>) -> Self {
        Self {
            deployment_id,
            pools,
            figures: ObjectFigures::default(),
            bucket_states: Default::default(),
            lifecycle_day: 86_400,
        }
    }

    /// The layer, with lifecycle days of `day` (testing: shorter than real days).
    pub fn with_lifecycle_day(mut self, day: std::time::Duration) -> Self {
        self.lifecycle_day = day.as_secs().max(1) as i64;
        self
    }

    /// Seconds in a lifecycle day.
    fn lifecycle_day(&self) -> i64 {
        self.lifecycle_day
    }

    /// The layer, counting objects and bytes written and read in `metrics`.
    pub fn reporting_to(mut self, metrics: &Metrics) -> Self {
        self.figures = metrics.objects.clone();
        self
    }

    /// The deployment id.
    pub fn deployment_id(&self) -> &str {
        &self.deployment_id
    }

    /// Every set of every pool.
    pub fn sets(&self) -> impl Iterator<Item = &Arc<ErasureSet>> {
        self.pools.iter().flat_map(|p| p.sets.iter())
    }

    fn first_set(&self) -> &Arc<ErasureSet> {
        &self.pools[0].sets[0]
    }

    /// The set that holds (or will hold) `bucket/key`: with several pools, the pool that
    /// has the object already, else the first.
    async fn set_of(&self, bucket: &str, key: &str) -> &Arc<ErasureSet> {
        if self.pools.len() > 1 {
            for pool in &self.pools {
                let set = &pool.sets[pool.placement.set_of(bucket, key)];
                if set.reads().head_versions(bucket, key).await.is_ok() {
                    return set;
                }
            }
        }
        let pool = &self.pools[0];
        &pool.sets[pool.placement.set_of(bucket, key)]
    }

    /// Turns "no such object" into "no such bucket" when the bucket is what is missing.
    async fn explain(&self, bucket: &str, e: ErasureError) -> ObjectError {
        if matches!(e, ErasureError::ObjectNotFound { .. })
            && self.check_bucket(bucket).await.is_err()
        {
            return ObjectError::BucketNotFound {
                bucket: bucket.to_string(),
            };
        }
        e.into()
    }

    fn check(bucket: &str, key: &str) -> Result<(), ObjectError> {
        check_bucket_name(bucket)?;
        check_key(key)
    }

    /// Stores an object streamed from `body` (`size`, when known, is checked), if `cond`
    /// holds when it commits.
    pub async fn put_object<R: AsyncRead + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        attrs: &ObjectAttrs,
        body: &mut R,
        size: Option<u64>,
        cond: &WriteCondition,
    ) -> Result<ObjectInfo, ObjectError> {
        Self::check(bucket, key)?;
        validate::check_attrs(attrs)?;
        self.check_bucket(bucket).await?;
        let state = self.bucket_state(bucket).await?;
        let attrs = &*lock::prepare(attrs, &state)?;
        let set = self.set_of(bucket, key).await;
        let meta = (set.writes())
            .put_object(bucket, key, attrs, body, size, cond)
            .await?;
        self.figures.wrote(meta.size);
        Ok(ObjectInfo::from_meta(bucket, key, &meta))
    }

    /// Checks a conditional write against the object as it is now, before its body is
    /// read, so that a write bound to fail is refused without its upload. Only the check
    /// the commit makes again, under the object's write lock, makes the condition hold.
    pub async fn precheck_write(
        &self,
        bucket: &str,
        key: &str,
        cond: &WriteCondition,
    ) -> Result<(), ObjectError> {
        if cond.is_none() {
            return Ok(());
        }
        let current = match self.head_object(bucket, key).await {
            Ok(info) => Some(info.etag),
            Err(ObjectError::ObjectNotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(cond.check(bucket, key, current.as_deref())?)
    }

    /// Opens a read of `range` of an object.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: RangeSpec,
    ) -> Result<ObjectRead, ObjectError> {
        self.get_version(bucket, key, range, None).await
    }

    /// Opens a read of `range` of an object's `version` (its current one when `None`).
    pub async fn get_version(
        &self,
        bucket: &str,
        key: &str,
        range: RangeSpec,
        version: Option<&str>,
    ) -> Result<ObjectRead, ObjectError> {
        Self::check(bucket, key)?;
        let set = self.set_of(bucket, key).await;
        let reader = match set.reads().get_object(bucket, key, range, version).await {
            Ok(r) => r,
            Err(e) => return Err(self.explain(bucket, e).await),
        };
        let info = ObjectInfo::from_meta(bucket, key, reader.meta());
        let range = reader.remaining();
        self.figures.opened_read();
        let body = match reader.meta().is_inline() {
            true => decoded_body(reader, &self.figures).await?,
            false => reader_stream(reader, self.figures.clone()),
        };
        Ok(ObjectRead { info, range, body })
    }

    /// An object's info.
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, ObjectError> {
        self.head_version(bucket, key, None).await
    }

    /// The info of an object's `version` (its current one when `None`).
    pub async fn head_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<ObjectInfo, ObjectError> {
        match self.head_unexplained(bucket, key, version).await? {
            Ok(info) => Ok(info),
            Err(e) => Err(self.explain(bucket, e).await),
        }
    }

    /// An object's info; its absence is not told apart from the bucket's (no bucket check).
    async fn head_unexplained(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Result<ObjectInfo, ErasureError>, ObjectError> {
        Self::check(bucket, key)?;
        let set = self.set_of(bucket, key).await;
        let head = set.reads().head_object(bucket, key, version).await;
        Ok(head.map(|meta| ObjectInfo::from_meta(bucket, key, &meta)))
    }

    /// Deletes an object; `ObjectNotFound` when there is none (S3 callers ignore it). On a
    /// versioned bucket this puts a delete marker on top.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), ObjectError> {
        self.delete_version(bucket, key, None).await.map(drop)
    }

    /// Deletes several objects (or the versions named), [`DELETES_PARALLEL`] at a time;
    /// one result per key, in order.
    pub async fn delete_objects(
        &self,
        bucket: &str,
        keys: &[(String, Option<String>)],
        bypass: bool,
    ) -> Result<Vec<Result<Deleted, ObjectError>>, ObjectError> {
        check_bucket_name(bucket)?;
        self.check_bucket(bucket).await?;
        // Owned keys: a closure over borrowed ones makes the future not Send-general.
        let deletes = keys.iter().cloned().map(|(key, version)| async move {
            (self.delete_locked_version(bucket, &key, version.as_deref(), bypass)).await
        });
        Ok(futures::stream::iter(deletes)
            .buffered(DELETES_PARALLEL)
            .collect()
            .await)
    }

    /// Copies an object; `attrs` replaces the source's attributes when given.
    pub async fn copy_object(
        &self,
        src_bucket: &str,
        src_key: &str,
        dst_bucket: &str,
        dst_key: &str,
        attrs: Option<&ObjectAttrs>,
    ) -> Result<ObjectInfo, ObjectError> {
        self.copy_version((src_bucket, src_key, None), dst_bucket, dst_key, attrs)
            .await
    }

    /// Copies an object's `version` (its current one when `None`); `attrs` replaces the
    /// source's attributes when given.
    pub async fn copy_version(
        &self,
        (src_bucket, src_key, version): (&str, &str, Option<&str>),
        dst_bucket: &str,
        dst_key: &str,
        attrs: Option<&ObjectAttrs>,
    ) -> Result<ObjectInfo, ObjectError> {
        Self::check(src_bucket, src_key)?;
        Self::check(dst_bucket, dst_key)?;
        let read = self
            .get_version(src_bucket, src_key, RangeSpec::Full, version)
            .await?;
        let attrs = attrs.cloned().unwrap_or_else(|| read.info.attrs());
        let size = read.info.size;
        let mut body = body_reader(read.body);
        let cond = &WriteCondition::NONE;
        self.put_object(dst_bucket, dst_key, &attrs, &mut body, Some(size), cond)
            .await
    }

    /// Renames `src` to `dst` in a bucket, replacing `dst` atomically. Within one set this
    /// moves the data on every drive under both keys' write locks; across sets it copies,
    /// then deletes the source if it is still the version copied.
    pub async fn rename_object(
        &self,
        bucket: &str,
        src: &str,
        dst: &str,
    ) -> Result<ObjectInfo, ObjectError> {
        Self::check(bucket, src)?;
        check_key(dst)?;
        if src == dst {
            return self.head_object(bucket, src).await;
        }
        let src_set = self.set_of(bucket, src).await;
        let dst_set = self.set_of(bucket, dst).await;
        // On a versioned bucket a rename is a new version of `dst` and a delete marker on
        // `src` (moving the files would move every version).
        let versioning = self.bucket_versioning(bucket).await?;
        if Arc::ptr_eq(src_set, dst_set) && versioning == Versioning::Unversioned {
            return match src_set.writes().rename_object(bucket, src, dst).await {
                Ok(meta) => Ok(ObjectInfo::from_meta(bucket, dst, &meta)),
                Err(e) => Err(self.explain(bucket, e).await),
            };
        }
        let read = self.get_object(bucket, src, RangeSpec::Full).await?;
        let copied = read.info.clone();
        let attrs = copied.attrs();
        let mut body = body_reader(read.body);
        let info = self
            .put_object(
                bucket,
                dst,
                &attrs,
                &mut body,
                Some(copied.size),
                &WriteCondition::NONE,
            )
            .await?;
        (src_set.writes())
            .delete_if_unchanged(bucket, src, (&copied.etag, copied.mod_time_ns), versioning)
            .await?;
        Ok(info)
    }
}
