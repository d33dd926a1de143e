//! Erasure sets: one object lives in one set of drives, cut into 1 MiB blocks, each block
//! into k data + m parity shards with a checksum per shard (see `codec`).
//!
//! Invariants:
//! - shard data is written under `.tessera/tmp/` and renamed into place under the object's
//!   write lock (the commit); a commit reaching fewer than write-quorum drives is undone, so
//!   no partial object becomes visible; old data is removed only after the new commit;
//! - metadata is resolved by quorum: the version that at least k drives hold is the truth;
//! - a read returns the object's bytes or an error, never bytes that failed a checksum;
//! - memory per request is O(block size × set size);
//! - a drive that missed a commit, or whose shards a read found missing or corrupt, is
//!   queued for healing (`heal`); the quorum's version is rebuilt on it.
//!
//! An [`ErasureSet`] is composed of parts (see `set`): its drives ([`SetDrives`]), metadata
//! resolution (`metas`), the read path ([`Reads`]), the write path ([`Writes`]) and its
//! commits (`commit`), multipart uploads ([`Uploads`]), listing (`list`) and healing
//! ([`Healer`]); quorum counting is `quorum`'s alone.
//!
//! Unit-tested in `codec`, `quorum`, `condition`, `tests`, `list`, `heal`; end-to-end by the
//! tests crate.

mod codec;
mod commit;
mod condition;
mod decode;
mod drives;
mod encode;
mod heal;
mod list;
pub mod meta;
mod metas;
mod multipart;
mod names;
mod quorum;
mod read;
mod set;
#[cfg(test)]
mod tests;
mod types;
mod write;

use std::time::{SystemTime, UNIX_EPOCH};

pub use codec::{CHECKSUM_ALGORITHM, Codec};
pub use condition::{ETagMatch, WriteCondition};
pub use decode::ObjectReader;
pub use drives::SetDrives;
pub use heal::{
    HEAL_QUEUE_CAPACITY, HealOutcome, HealScan, HealSummary, Healer, HealerConfig, HealerHandle,
    ScannerConfig,
};
pub use list::{ListEntry, ListPage};
pub use meta::ObjectMeta;
pub use multipart::Uploads;
pub use quorum::{Tally, Verdict};
pub use read::Reads;
pub use set::{ErasureSet, SetConfig};
pub use types::{CompletePart, MetadataUpdate, ObjectAttrs, RangeSpec, UploadInfo, multipart_etag};
pub use write::Writes;

use crate::drive::DriveError;
use crate::lock::LockError;

/// Size of an erasure block.
pub const BLOCK_SIZE: usize = 1 << 20;
/// Objects up to this size are stored inline in `tessera.meta`.
pub const INLINE_LIMIT: usize = 128 << 10;
/// Smallest part of a multipart upload, except the last.
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// Highest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;

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

/// Now, in nanoseconds since the Unix epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default()
}
