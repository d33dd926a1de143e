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
mod error;
mod heal;
mod heal_queue;
mod limits;
mod list;
pub mod meta;
mod metas;
mod multipart;
mod names;
mod quorum;
mod read;
pub mod retention;
mod set;
#[cfg(test)]
mod tests;
mod types;
mod versions;
mod write;

pub use codec::{CHECKSUM_ALGORITHM, Codec};
pub use condition::{ETagMatch, WriteCondition};
pub use decode::ObjectReader;
pub use drives::SetDrives;
pub use error::ErasureError;
pub use heal::{HealOutcome, HealSummary, Healer, HealerConfig, HealerHandle, ScannerConfig};
pub use heal_queue::{HEAL_QUEUE_CAPACITY, HealScan};
pub use limits::{BLOCK_SIZE, INLINE_LIMIT, MAX_PART_NUMBER, MIN_PART_SIZE};
pub use list::{ListEntry, ListPage};
pub use meta::{ObjectMeta, now_ns};
pub use multipart::Uploads;
pub use quorum::{Tally, Verdict};
pub use read::Reads;
pub use set::{ErasureSet, SetConfig};
pub use types::{
    CHECKSUM_TYPE, CompletePart, LateHeaders, MetadataUpdate, ObjectAttrs, RangeSpec, UploadInfo,
    multipart_etag,
};
pub use versions::{MAX_VERSIONS, NULL_VERSION, Versioning, check_version_id};
pub use write::{Deleted, Writes};
