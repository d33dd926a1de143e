//! The object metadata stored, per drive, in `tessera.meta` (inside the container of
//! [`crate::drive::metafile`]), and in-progress multipart uploads.
//!
//! The messages are protobuf with explicit tags: fields are only ever added (new tags), so a
//! newer node reads an older file; a breaking change bumps the container version.
//! Invariant: the drives of a set agree on an object version when their `version_id`s are
//! equal; only `shard_index` (and the inline frame) differ from drive to drive. Its
//! compact listing form is `summary`.

use std::time::{SystemTime, UNIX_EPOCH};

use std::collections::BTreeMap;

use bytes::Bytes;
use prost::Message;

use crate::drive::{WalkMeta, metafile};

pub(crate) mod summary;

/// Erasure geometry of an object, as seen by one drive.
#[derive(Clone, PartialEq, Message)]
pub struct ErasureInfo {
    /// Data shards (k).
    #[prost(uint32, tag = "1")]
    pub data: u32,
    /// Parity shards (m).
    #[prost(uint32, tag = "2")]
    pub parity: u32,
    /// Block size in bytes.
    #[prost(uint32, tag = "3")]
    pub block_size: u32,
    /// The shard this drive holds.
    #[prost(uint32, tag = "4")]
    pub shard_index: u32,
    /// `distribution[shard]` = index in the set of the drive holding that shard.
    #[prost(uint32, repeated, tag = "5")]
    pub distribution: Vec<u32>,
    /// Checksum algorithm of the shard frames.
    #[prost(string, tag = "6")]
    pub checksum: String,
}

/// One part of an object (a single PUT is one part, number 1).
#[derive(Clone, PartialEq, Message)]
pub struct PartMeta {
    /// Part number as the client gave it.
    #[prost(uint32, tag = "1")]
    pub number: u32,
    /// Bytes of object data in the part.
    #[prost(uint64, tag = "2")]
    pub size: u64,
    /// Hex MD5 of the part's data.
    #[prost(string, tag = "3")]
    pub etag: String,
    /// The part's verified checksums, by stored header name (`x-amz-checksum-crc32` …).
    #[prost(btree_map = "string, string", tag = "4")]
    pub checksums: BTreeMap<String, String>,
}

/// The metadata of one object version on one drive.
#[derive(Clone, PartialEq, Message)]
pub struct ObjectMeta {
    /// Unique per write; drives agree when they hold the same id.
    #[prost(string, tag = "1")]
    pub version_id: String,
    /// Object size in bytes.
    #[prost(uint64, tag = "2")]
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub mod_time_ns: i64,
    /// ETag (hex MD5, or MD5-of-MD5s with `-N` for multipart).
    #[prost(string, tag = "4")]
    pub etag: String,
    /// Content-Type.
    #[prost(string, tag = "5")]
    pub content_type: String,
    /// User metadata (`x-amz-meta-*` without the prefix, and POSIX attributes).
    #[prost(btree_map = "string, string", tag = "6")]
    pub user_metadata: BTreeMap<String, String>,
    /// Erasure geometry and this drive's shard.
    #[prost(message, optional, tag = "7")]
    pub erasure: Option<ErasureInfo>,
    /// Parts, in order.
    #[prost(message, repeated, tag = "8")]
    pub parts: Vec<PartMeta>,
    /// Name of the data directory; empty when the data is inline.
    #[prost(string, tag = "9")]
    pub data_dir: String,
    /// Standard HTTP headers stored with the object (lowercase names: `cache-control`,
    /// `content-disposition`, `content-encoding`, `content-language`, `expires`) and
    /// checksums (`x-amz-checksum-*`).
    #[prost(btree_map = "string, string", tag = "10")]
    pub headers: BTreeMap<String, String>,
    /// The multipart upload this version completed (empty for any other write), so that a
    /// retried completion of the same upload gets the same answer.
    #[prost(string, tag = "11")]
    pub upload_id: String,
    /// The S3 version id; empty for the `null` version (every object of a bucket that was
    /// never versioned). See [`super::versions`].
    #[prost(string, tag = "12")]
    pub s3_version_id: String,
    /// This version is a delete marker (no data).
    #[prost(bool, tag = "13")]
    pub delete_marker: bool,
    /// The older (noncurrent) versions, newest first; set on the current version only.
    #[prost(message, repeated, tag = "14")]
    pub older: Vec<ObjectMeta>,
    /// Bytes of this version's inline frame in the file's inline section, when the file
    /// holds older versions (their frames follow the current version's, in order).
    #[prost(uint64, tag = "15")]
    pub inline_len: u64,
}

impl ObjectMeta {
    /// Encodes this metadata and the drive's inline frame into a `tessera.meta` file.
    pub fn to_file(&self, inline: &[u8]) -> Bytes {
        let summary = summary::encode(self).unwrap_or_default();
        metafile::encode(&self.encode_to_vec(), &summary, inline)
    }

    /// Decodes a metadata header (no inline data).
    pub fn from_header(header: &[u8]) -> Result<Self, String> {
        Self::decode(header).map_err(|e| format!("metadata: {e}"))
    }

    /// Decodes what a walk found of an object: its header, or its listing summary, whose
    /// [listing view](summary::listing_view) has no erasure geometry or data
    /// directory (a listing needs neither).
    pub fn from_walk(found: &WalkMeta) -> Result<Self, String> {
        match found {
            WalkMeta::Header(header) => Self::from_header(header),
            WalkMeta::Summary(summary) => summary::decode(summary),
        }
    }

    /// Decodes a whole `tessera.meta` file into metadata and the inline frame.
    pub fn from_file(file: Bytes) -> Result<(Self, Bytes), String> {
        let (header, inline) = metafile::decode(file)?;
        Ok((Self::from_header(&header)?, inline))
    }

    /// True when the data lives in the metadata file.
    pub fn is_inline(&self) -> bool {
        self.data_dir.is_empty()
    }
}

/// An in-progress multipart upload (`upload.meta`).
#[derive(Clone, PartialEq, Message)]
pub struct UploadMeta {
    /// The object key the upload completes into.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Start time, nanoseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub initiated_ns: i64,
    /// Content-Type for the object.
    #[prost(string, tag = "3")]
    pub content_type: String,
    /// User metadata for the object.
    #[prost(btree_map = "string, string", tag = "4")]
    pub user_metadata: BTreeMap<String, String>,
    /// Standard headers for the object (see [`ObjectMeta::headers`]).
    #[prost(btree_map = "string, string", tag = "5")]
    pub headers: BTreeMap<String, String>,
}

/// One uploaded part of a multipart upload (`part.N.meta`).
#[derive(Clone, PartialEq, Message)]
pub struct UploadedPart {
    /// Part number.
    #[prost(uint32, tag = "1")]
    pub number: u32,
    /// Bytes of data.
    #[prost(uint64, tag = "2")]
    pub size: u64,
    /// Hex MD5.
    #[prost(string, tag = "3")]
    pub etag: String,
    /// Name of the shard file in the upload directory.
    #[prost(string, tag = "4")]
    pub file: String,
    /// Upload time, nanoseconds since the Unix epoch.
    #[prost(int64, tag = "5")]
    pub mod_time_ns: i64,
    /// The part's verified checksums (see [`PartMeta::checksums`]).
    #[prost(btree_map = "string, string", tag = "6")]
    pub checksums: BTreeMap<String, String>,
}

/// Encodes any of the small records above with a checksummed container.
pub fn encode_record<M: Message>(m: &M) -> Bytes {
    metafile::encode(&m.encode_to_vec(), &[], &[])
}

/// Decodes a record written by [`encode_record`].
pub fn decode_record<M: Message + Default>(file: Bytes) -> Result<M, String> {
    let (header, _) = metafile::decode(file)?;
    M::decode(header).map_err(|e| e.to_string())
}

/// Now, in nanoseconds since the Unix epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default()
}
