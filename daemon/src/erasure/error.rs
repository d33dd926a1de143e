//! `ErasureError`: what an erasure set reports. The object layer maps it to its own errors
//! in one place (`crate::object::error`).

use crate::drive::DriveError;
use crate::lock::LockError;

/// What an erasure set reports.
#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    /// The object does not exist.
    #[error("{bucket}/{key}: no such object")]
    ObjectNotFound {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The delete marker that is the object's latest version, when one is.
        delete_marker: Option<String>,
    },
    /// The object has no version with this id.
    #[error("{bucket}/{key}: no version {version}")]
    VersionNotFound {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The version asked for.
        version: String,
    },
    /// The version asked for is a delete marker (it has no data to read).
    #[error("{bucket}/{key}: version {version} is a delete marker")]
    VersionIsDeleteMarker {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The version asked for.
        version: String,
    },
    /// The version is locked (retention or legal hold) against the change.
    #[error("version {version} is locked: {reason}")]
    ObjectLocked {
        /// The version.
        version: String,
        /// What holds it.
        reason: String,
    },
    /// A version id that is neither `null` nor one this store makes.
    #[error("invalid version id {id:?}")]
    InvalidVersion {
        /// The id given.
        id: String,
    },
    /// The object holds as many versions as one object may.
    #[error("the object already holds {limit} versions")]
    TooManyVersions {
        /// The bound.
        limit: usize,
    },
    /// The bucket does not exist.
    #[error("{bucket}: no such bucket")]
    BucketNotFound {
        /// Bucket.
        bucket: String,
    },
    /// The bucket exists already.
    #[error("{bucket}: bucket exists")]
    BucketExists {
        /// Bucket.
        bucket: String,
    },
    /// Fewer than k drives agree on what is stored.
    #[error("{what}: read quorum not reached ({detail})")]
    ReadQuorum {
        /// What was read.
        what: String,
        /// The drives' answers, summarised.
        detail: String,
    },
    /// Fewer than write-quorum drives accepted a write.
    #[error("{what}: write quorum not reached: {ok} of {need} drives ({detail})")]
    WriteQuorum {
        /// What was written.
        what: String,
        /// Drives that succeeded.
        ok: usize,
        /// Drives needed.
        need: usize,
        /// The first drive error.
        detail: String,
    },
    /// Fewer than write-quorum drives accepted a write, most of the others being full.
    #[error("{what}: storage full: {ok} of {need} drives took the write ({detail})")]
    StorageFull {
        /// What was written.
        what: String,
        /// Drives that succeeded.
        ok: usize,
        /// Drives needed.
        need: usize,
        /// The first drive error.
        detail: String,
    },
    /// A block could not be rebuilt: too few good shards.
    #[error("too few good shards to rebuild a block: {have} of {need}")]
    TooFewShards {
        /// Good shards found.
        have: usize,
        /// Shards needed (k).
        need: usize,
    },
    /// The requested range lies outside the object.
    #[error("range not satisfiable for an object of {size} bytes")]
    InvalidRange {
        /// The object's size.
        size: u64,
    },
    /// A k+m geometry the codec refuses.
    #[error("erasure geometry: {reason}")]
    Geometry {
        /// Why.
        reason: String,
    },
    /// The object in place does not meet the write's condition.
    #[error("{bucket}/{key}: the object does not meet the write's condition")]
    PreconditionFailed {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// Reading the client's data failed.
    #[error("reading the request body: {0}")]
    Body(#[source] std::io::Error),
    /// The body was not as long as declared.
    #[error("declared {declared} bytes but received {received}")]
    SizeMismatch {
        /// Declared length.
        declared: u64,
        /// Received length.
        received: u64,
    },
    /// No multipart upload with this id (for this key).
    #[error("no such upload {upload_id}")]
    UploadNotFound {
        /// The upload id.
        upload_id: String,
    },
    /// A listed part was not uploaded, or its ETag differs.
    #[error("part {number}: {reason}")]
    InvalidPart {
        /// Part number.
        number: u32,
        /// Why.
        reason: String,
    },
    /// Parts not listed in ascending order.
    #[error("parts must be listed in ascending order")]
    InvalidPartOrder,
    /// A part other than the last is smaller than 5 MiB.
    #[error("part {number} is {size} bytes; every part but the last must be at least 5 MiB")]
    EntityTooSmall {
        /// Part number.
        number: u32,
        /// Its size.
        size: u64,
    },
    /// A metadata update would make the user metadata larger than allowed.
    #[error("user metadata of {size} bytes is larger than the {limit} bytes allowed")]
    MetadataTooLarge {
        /// The size after the update.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A namespace lock was not granted.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A drive failed where no quorum applies (e.g. a single-drive probe).
    #[error(transparent)]
    Drive(#[from] DriveError),
}
