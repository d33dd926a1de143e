//! `ObjectError`: what the object core reports, and how the erasure layer's errors become
//! it (in one exhaustive match). The edges map it on: S3 codes in `s3/error.rs`, gRPC
//! status in `rpc/status.rs`.

use crate::erasure::ErasureError;

/// What the object core reports; mapped to S3 codes, gRPC status and errno at the edges.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The bucket does not exist.
    #[error("bucket {bucket}: no such bucket")]
    BucketNotFound {
        /// Bucket.
        bucket: String,
    },
    /// The bucket exists already.
    #[error("bucket {bucket}: already exists")]
    BucketExists {
        /// Bucket.
        bucket: String,
    },
    /// The bucket still holds objects.
    #[error("bucket {bucket}: not empty")]
    BucketNotEmpty {
        /// Bucket.
        bucket: String,
    },
    /// The bucket name breaks the naming rules.
    #[error("invalid bucket name {bucket:?}: {reason}")]
    InvalidBucketName {
        /// The name.
        bucket: String,
        /// The rule broken.
        reason: String,
    },
    /// The object does not exist.
    #[error("{bucket}/{key}: no such key")]
    ObjectNotFound {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The delete marker that is the object's latest version, when one is.
        delete_marker: Option<String>,
    },
    /// The object has no version with this id.
    #[error("{bucket}/{key}: no such version {version}")]
    VersionNotFound {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The version asked for.
        version: String,
    },
    /// The version asked for is a delete marker.
    #[error("{bucket}/{key}: version {version} is a delete marker")]
    VersionIsDeleteMarker {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The version asked for.
        version: String,
    },
    /// The bucket's state forbids the change (S3's InvalidBucketState).
    #[error("{0}")]
    InvalidBucketState(String),
    /// A request the bucket's configuration cannot take (S3's InvalidRequest).
    #[error("{0}")]
    InvalidRequest(String),
    /// The version is locked (retention or legal hold) against the change.
    #[error("version {version} is locked: {reason}")]
    ObjectLocked {
        /// The version.
        version: String,
        /// What holds it.
        reason: String,
    },
    /// The object holds as many versions as one object may.
    #[error("the object already holds {limit} versions; delete some first")]
    TooManyVersions {
        /// The bound.
        limit: usize,
    },
    /// The object in place does not meet a conditional write's condition.
    #[error("{bucket}/{key}: the object does not meet the write's condition")]
    PreconditionFailed {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// The key breaks the key rules.
    #[error("invalid key {key}: {reason}")]
    InvalidKey {
        /// The key (shortened, escaped).
        key: String,
        /// The rule broken.
        reason: String,
    },
    /// The key is longer than 1024 bytes.
    #[error("key of {len} bytes is longer than 1024 bytes")]
    KeyTooLong {
        /// Its length.
        len: usize,
    },
    /// A segment of the key is longer than 255 bytes.
    #[error("key segment {segment} is longer than 255 bytes")]
    NameTooLong {
        /// The segment (shortened, escaped).
        segment: String,
    },
    /// An argument is out of range or malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The byte range lies outside the object.
    #[error("range not satisfiable for an object of {size} bytes")]
    InvalidRange {
        /// Object size.
        size: u64,
    },
    /// The body's length differs from the declared one.
    #[error("declared {declared} bytes but received {received}")]
    IncompleteBody {
        /// Declared.
        declared: u64,
        /// Received.
        received: u64,
    },
    /// Reading the client's body failed.
    #[error("reading the request body: {0}")]
    Body(String),
    /// No such multipart upload.
    #[error("no such upload {upload_id}")]
    UploadNotFound {
        /// Upload id.
        upload_id: String,
    },
    /// A listed part is missing or its ETag differs.
    #[error("invalid part {number}: {reason}")]
    InvalidPart {
        /// Part number.
        number: u32,
        /// Why.
        reason: String,
    },
    /// Parts not in ascending order.
    #[error("parts must be listed in ascending order")]
    InvalidPartOrder,
    /// A non-last part is under 5 MiB.
    #[error("part {number} is {size} bytes; every part but the last must be at least 5 MiB")]
    EntityTooSmall {
        /// Part number.
        number: u32,
        /// Its size.
        size: u64,
    },
    /// Too few drives agree to read.
    #[error("read quorum lost: {0}")]
    ReadQuorum(String),
    /// Too few drives accepted a write.
    #[error("write quorum lost: {0}")]
    WriteQuorum(String),
    /// The drives that would take the write are full.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// The attributes stored with an object are too large.
    #[error("metadata of {size} bytes is larger than the {limit} bytes allowed")]
    MetadataTooLarge {
        /// Their size.
        size: usize,
        /// The limit broken.
        limit: usize,
    },
    /// A lock was not granted in time.
    #[error("busy: {0}")]
    Busy(String),
    /// Anything else (a drive or codec failure that no quorum explains).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ObjectError {
    /// For an error the node is at fault for (lost quorum, full drives, internal): the
    /// fixed sentence a client gets, as its details name drive paths that only the node's
    /// log may show. `None` for the client's own errors, whose message says what is wrong.
    pub fn server_fault(&self) -> Option<&'static str> {
        match self {
            ObjectError::ReadQuorum(_) => {
                Some("read quorum not reached: too few drives answered; try again later")
            }
            ObjectError::WriteQuorum(_) => {
                Some("write quorum not reached: too few drives accepted the write; try again later")
            }
            ObjectError::StorageFull(_) => {
                Some("storage full: the drives have no space left for this write")
            }
            ObjectError::Internal(_) => Some("internal error; the node's log has the details"),
            _ => None,
        }
    }
}

impl From<ErasureError> for ObjectError {
    fn from(e: ErasureError) -> Self {
        match e {
            ErasureError::ObjectNotFound {
                bucket,
                key,
                delete_marker,
            } => ObjectError::ObjectNotFound {
                bucket,
                key,
                delete_marker,
            },
            ErasureError::VersionNotFound {
                bucket,
                key,
                version,
            } => ObjectError::VersionNotFound {
                bucket,
                key,
                version,
            },
            ErasureError::VersionIsDeleteMarker {
                bucket,
                key,
                version,
            } => ObjectError::VersionIsDeleteMarker {
                bucket,
                key,
                version,
            },
            ErasureError::InvalidVersion { id } => {
                ObjectError::InvalidArgument(format!("invalid version id {id:?}"))
            }
            ErasureError::TooManyVersions { limit } => ObjectError::TooManyVersions { limit },
            ErasureError::ObjectLocked { version, reason } => {
                ObjectError::ObjectLocked { version, reason }
            }
            ErasureError::PreconditionFailed { bucket, key } => {
                ObjectError::PreconditionFailed { bucket, key }
            }
            ErasureError::BucketNotFound { bucket } => ObjectError::BucketNotFound { bucket },
            ErasureError::BucketExists { bucket } => ObjectError::BucketExists { bucket },
            e @ ErasureError::ReadQuorum { .. } => ObjectError::ReadQuorum(e.to_string()),
            // Too few shards for a block is a lost read quorum, discovered late.
            e @ ErasureError::TooFewShards { .. } => ObjectError::ReadQuorum(e.to_string()),
            e @ ErasureError::WriteQuorum { .. } => ObjectError::WriteQuorum(e.to_string()),
            e @ ErasureError::StorageFull { .. } => ObjectError::StorageFull(e.to_string()),
            ErasureError::InvalidRange { size } => ObjectError::InvalidRange { size },
            e @ ErasureError::Geometry { .. } => ObjectError::Internal(e.to_string()),
            ErasureError::Body(e) => ObjectError::Body(e.to_string()),
            ErasureError::SizeMismatch { declared, received } => {
                ObjectError::IncompleteBody { declared, received }
            }
            ErasureError::UploadNotFound { upload_id } => ObjectError::UploadNotFound { upload_id },
            ErasureError::InvalidPart { number, reason } => {
                ObjectError::InvalidPart { number, reason }
            }
            ErasureError::InvalidPartOrder => ObjectError::InvalidPartOrder,
            ErasureError::EntityTooSmall { number, size } => {
                ObjectError::EntityTooSmall { number, size }
            }
            ErasureError::MetadataTooLarge { size, limit } => {
                ObjectError::MetadataTooLarge { size, limit }
            }
            // A lock the cluster cannot grant at all: the write cannot reach its quorum.
            e @ ErasureError::Lock(crate::lock::LockError::Quorum { .. }) => {
                ObjectError::WriteQuorum(e.to_string())
            }
            // The lease of a held lock ran out (this node was cut off or paused): nothing
            // was committed, and the cluster may be partitioned.
            e @ ErasureError::Lock(crate::lock::LockError::Lost { .. }) => {
                ObjectError::WriteQuorum(e.to_string())
            }
            e @ ErasureError::Lock(_) => ObjectError::Busy(e.to_string()),
            e @ ErasureError::Drive(_) => ObjectError::Internal(e.to_string()),
        }
    }
}
