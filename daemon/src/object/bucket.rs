//! Buckets (a volume on every drive of every set, plus a small record in the first set)
//! and the cluster report.

use prost::Message;

use super::validate::check_bucket_name;
use super::{ObjectError, ObjectLayer};
use crate::drive::WalkOptions;
use crate::drive::{BUCKETS_DIR, DriveError, META_VOLUME, MULTIPART_DIR};
use crate::erasure::meta::{decode_record, encode_record};
use crate::erasure::{ErasureError, ListPage, now_ns};

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    /// Name.
    pub name: String,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_ns: i64,
}

#[derive(Clone, PartialEq, Message)]
pub(super) struct BucketRecord {
    #[prost(int64, tag = "1")]
    created_ns: i64,
    /// The bucket's tags, in the `x-amz-tagging` form.
    #[prost(string, optional, tag = "2")]
    tagging: Option<String>,
    /// How the bucket keeps versions: 0 never versioned, 1 enabled, 2 suspended.
    #[prost(int32, tag = "3")]
    pub(super) versioning: i32,
    /// Object lock is enabled (set at creation only; versioning stays enabled).
    #[prost(bool, tag = "4")]
    pub(super) object_lock: bool,
    /// The default retention's mode of new versions (empty: none).
    #[prost(string, tag = "5")]
    pub(super) lock_mode: String,
    /// The default retention in days…
    #[prost(uint32, tag = "6")]
    pub(super) lock_days: u32,
    /// …or in years.
    #[prost(uint32, tag = "7")]
    pub(super) lock_years: u32,
    /// The lifecycle rules.
    #[prost(message, optional, tag = "8")]
    pub(super) lifecycle: Option<super::lifecycle::Lifecycle>,
}

/// State of a drive in the cluster report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveState {
    /// Answering.
    Online,
    /// Not answering.
    Offline,
    /// Answering but without a format (wiped or replaced).
    Unformatted,
}

/// One drive in the cluster report.
#[derive(Debug, Clone)]
pub struct DriveInfo {
    /// Endpoint.
    pub endpoint: String,
    /// State.
    pub state: DriveState,
    /// Capacity (zero when not online).
    pub total: u64,
    /// Used bytes.
    pub used: u64,
    /// Free bytes.
    pub free: u64,
    /// The error, when not online.
    pub error: String,
}

/// One set in the cluster report.
#[derive(Debug, Clone)]
pub struct SetInfo {
    /// Pool index.
    pub pool: usize,
    /// Set index.
    pub index: usize,
    /// k.
    pub data: usize,
    /// m.
    pub parity: usize,
    /// Drives in set order.
    pub drives: Vec<DriveInfo>,
}

/// The cluster report.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    /// Deployment id.
    pub deployment_id: String,
    /// Sets.
    pub sets: Vec<SetInfo>,
}

pub(super) fn record_path(bucket: &str) -> String {
    format!("{BUCKETS_DIR}/{bucket}")
}

impl ObjectLayer {
    /// Creates a bucket on every set.
    pub async fn make_bucket(&self, bucket: &str) -> Result<(), ObjectError> {
        check_bucket_name(bucket)?;
        if self.check_bucket(bucket).await.is_ok() {
            return Err(ObjectError::BucketExists {
                bucket: bucket.into(),
            });
        }
        for set in self.sets() {
            set.drives().make_volume(bucket).await?;
        }
        let record = encode_record(&BucketRecord {
            created_ns: now_ns(),
            ..Default::default()
        });
        (self.first_set().drives())
            .write_record(META_VOLUME, &record_path(bucket), record)
            .await?;
        Ok(())
    }

    /// Checks that the bucket exists (its volume is on at least k drives of the first set).
    pub(super) async fn check_bucket(&self, bucket: &str) -> Result<(), ObjectError> {
        check_bucket_name(bucket)?;
        Ok(self.first_set().drives().check_volume(bucket).await?)
    }

    /// The bucket's info; `BucketNotFound` when it does not exist.
    pub async fn head_bucket(&self, bucket: &str) -> Result<BucketInfo, ObjectError> {
        self.check_bucket(bucket).await?;
        let created_ns = match (self.first_set().drives())
            .read_record(META_VOLUME, &record_path(bucket))
            .await
        {
            Ok(data) => decode_record::<BucketRecord>(data).map_or(0, |r| r.created_ns),
            Err(_) => 0,
        };
        Ok(BucketInfo {
            name: bucket.to_string(),
            created_ns,
        })
    }

    /// The bucket's record (a default one when it has none: made before records existed).
    pub(super) async fn bucket_record(&self, bucket: &str) -> Result<BucketRecord, ObjectError> {
        self.check_bucket(bucket).await?;
        match (self.first_set().drives())
            .read_record(META_VOLUME, &record_path(bucket))
            .await
        {
            Ok(data) => Ok(decode_record::<BucketRecord>(data).unwrap_or_default()),
            Err(ErasureError::Drive(DriveError::NotFound { .. })) => Ok(BucketRecord::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// The bucket's tags (in the `x-amz-tagging` form), if it has any.
    pub async fn bucket_tags(&self, bucket: &str) -> Result<Option<String>, ObjectError> {
        Ok(self.bucket_record(bucket).await?.tagging)
    }

    /// Sets (or with `None` removes) the bucket's tags. The last of two concurrent changes
    /// wins.
    pub async fn set_bucket_tags(
        &self,
        bucket: &str,
        tagging: Option<String>,
    ) -> Result<(), ObjectError> {
        let mut record = self.bucket_record(bucket).await?;
        record.tagging = tagging;
        self.write_bucket_record(bucket, &record).await
    }

    /// Writes the bucket's record.
    pub(super) async fn write_bucket_record(
        &self,
        bucket: &str,
        record: &BucketRecord,
    ) -> Result<(), ObjectError> {
        (self.first_set().drives())
            .write_record(META_VOLUME, &record_path(bucket), encode_record(record))
            .await?;
        Ok(())
    }

    /// Every bucket, sorted by name.
    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>, ObjectError> {
        let drives = self.first_set().drives();
        let mut out = Vec::new();
        for name in drives.volumes().await {
            if check_bucket_name(&name).is_err() {
                continue;
            }
            let created_ns = match drives.read_record(META_VOLUME, &record_path(&name)).await {
                Ok(data) => decode_record::<BucketRecord>(data).map_or(0, |r| r.created_ns),
                Err(_) => 0,
            };
            out.push(BucketInfo { name, created_ns });
        }
        Ok(out)
    }

    /// Deletes an empty bucket (its in-progress uploads go with it).
    pub async fn delete_bucket(&self, bucket: &str) -> Result<(), ObjectError> {
        self.check_bucket(bucket).await?;
        let probe = WalkOptions {
            recursive: true,
            limit: 1,
            ..Default::default()
        };
        for set in self.sets() {
            let page: ListPage = set.list_page(bucket, &probe).await?;
            if !page.entries.is_empty() || page.cutoff.is_some() {
                return Err(ObjectError::BucketNotEmpty {
                    bucket: bucket.into(),
                });
            }
        }
        for set in self.sets() {
            set.drives().delete_volume(bucket).await?;
            let uploads = format!("{MULTIPART_DIR}/{bucket}");
            let _ = (set.drives())
                .each(|_, d| d.delete(META_VOLUME, &uploads, true))
                .await;
        }
        let path = record_path(bucket);
        let _ = (self.first_set().drives())
            .each(|_, d| d.delete(META_VOLUME, &path, false))
            .await;
        Ok(())
    }

    /// Whether every set keeps its write quorum by the drives' online state (no drive
    /// I/O); with `without_this_node`, as if this node's drives were gone.
    pub fn writable(&self, without_this_node: bool) -> bool {
        self.sets()
            .all(|set| set.drives().writable(without_this_node))
    }

    /// Sets, drives, their state and capacity.
    pub async fn cluster_info(&self) -> ClusterInfo {
        let mut sets = Vec::new();
        for set in self.sets() {
            let infos = set.drives().each(|_, d| d.disk_info()).await;
            let drives = (set.drives().all().iter())
                .zip(infos)
                .map(|(d, info)| match info {
                    Ok(i) => DriveInfo {
                        endpoint: d.endpoint().to_string(),
                        state: DriveState::Online,
                        total: i.total,
                        used: i.used,
                        free: i.free,
                        error: String::new(),
                    },
                    Err(e) => DriveInfo {
                        endpoint: d.endpoint().to_string(),
                        state: if matches!(e, DriveError::Unformatted) {
                            DriveState::Unformatted
                        } else {
                            DriveState::Offline
                        },
                        total: 0,
                        used: 0,
                        free: 0,
                        error: e.to_string(),
                    },
                })
                .collect();
            let (pool, index) = set.drives().position();
            sets.push(SetInfo {
                pool,
                index,
                data: set.drives().data_shards(),
                parity: set.drives().parity_shards(),
                drives,
            });
        }
        ClusterInfo {
            deployment_id: self.deployment_id().to_string(),
            sets,
        }
    }
}
