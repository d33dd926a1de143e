//! The object API the file-system core needs, as one trait: [`ObjectApi`]. The gRPC client
//! ([`crate::remote::Remote`]) implements it for the mount; the core's unit tests implement
//! it in memory. The core reaches the cluster through nothing else.
//!
//! Its error, [`ApiError`], tells "the service said no" ([`ApiError::Service`], with a
//! [`ServiceError`] kind the core maps to an errno) from "the call failed on the way"
//! (a timeout, a broken connection or stream). The data types are the protocol's plain
//! messages (prost structs, no tonic), re-exported here so the core names them from one
//! place.
//!
//! Contract of every implementation: a call that returns `Ok` is committed on the cluster
//! (close-to-open consistency rests on it); a ranged GET yields exactly the bytes of its
//! range unless the object changed; an upload whose sender sends `None` commits nothing.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use tessera_proto::object::{
    BucketInfo, ClusterInfoResponse, ListObjectsResponse, LookupResponse, ObjectInfo, Timestamp,
};

/// Why a call of the object API failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The service answered and refused: the object is missing, the name too long, ...
    #[error("server: {message}")]
    Service {
        /// What kind of refusal, as the core needs to know it.
        kind: ServiceError,
        /// The server's sentence.
        message: String,
    },
    /// The service did not answer within the deadline.
    #[error("the server did not answer within {0:?}")]
    Timeout(Duration),
    /// The call could not be made, or broke on the client's side.
    #[error("client: {0}")]
    Client(String),
}

/// The kinds of refusal the file-system core tells apart (DESIGN.md, "The FUSE client").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceError {
    /// No such bucket, object or upload.
    NotFound,
    /// The bucket already exists.
    AlreadyExists,
    /// The bucket is not empty.
    NotEmpty,
    /// A name or key is longer than the server takes.
    NameTooLong,
    /// The cluster has no room left.
    StorageFull,
    /// The credentials do not allow the call.
    PermissionDenied,
    /// The request is malformed (a key the server refuses, a range past the end).
    InvalidArgument,
    /// Anything else: quorum lost, busy, internal errors.
    Other,
}

impl ApiError {
    /// A refusal of `kind` saying `message`.
    pub fn service(kind: ServiceError, message: impl Into<String>) -> Self {
        Self::Service {
            kind,
            message: message.into(),
        }
    }

    /// Whether the service said the object or bucket does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::Service {
                kind: ServiceError::NotFound,
                ..
            }
        )
    }
}

/// Most keys one [`ObjectApi::delete_many`] call takes (the server's bound).
pub const DELETE_BATCH: usize = 1000;

/// Result of an object API call.
pub type ApiResult<T> = Result<T, ApiError>;

/// A PutObject in progress: the task that ends with the committed object once the data
/// sender is dropped (see [`ObjectApi::upload`]).
pub type UploadTask = JoinHandle<ApiResult<ObjectInfo>>;

/// The result of an upload, once its sender is dropped.
pub async fn finish(task: UploadTask) -> ApiResult<ObjectInfo> {
    task.await
        .unwrap_or_else(|e| Err(ApiError::Client(format!("upload task: {e}"))))
}

/// Which write of an object made its data: its ETag and last-modified time hashed (0 when
/// the server named neither). Two reads of the same version read the same bytes; a new
/// PUT of the same bytes is another version (its time differs).
pub fn version_of(info: &ObjectInfo) -> u64 {
    use std::hash::{Hash, Hasher};
    if info.etag.is_empty() && info.modified.is_none() {
        return 0;
    }
    let mut h = std::hash::DefaultHasher::new();
    info.etag.hash(&mut h);
    info.modified.map(|t| (t.seconds, t.nanos)).hash(&mut h);
    h.finish() | 1
}

/// The data of a ranged GET, chunk by chunk, and the version it is of.
pub struct RangeBody {
    chunks: BoxStream<'static, ApiResult<Bytes>>,
    version: u64,
    size: u64,
}

impl RangeBody {
    /// A body of the object `info` describes, yielding `chunks`.
    pub fn new(
        info: &ObjectInfo,
        chunks: impl futures::Stream<Item = ApiResult<Bytes>> + Send + 'static,
    ) -> Self {
        Self {
            chunks: chunks.boxed(),
            version: version_of(info),
            size: info.size,
        }
    }

    /// The size of the whole object whose bytes these are.
    pub fn object_size(&self) -> u64 {
        self.size
    }

    /// The [`version_of`] the object whose bytes these are.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The next chunk, `None` at the end of the range.
    pub async fn next(&mut self) -> ApiResult<Option<Bytes>> {
        self.chunks.next().await.transpose()
    }
}

/// The calls the file-system core makes on the cluster. Keys are full object keys (a
/// directory marker ends with `/`); buckets are names.
#[async_trait::async_trait]
pub trait ObjectApi: Send + Sync + 'static {
    /// Every bucket.
    async fn list_buckets(&self) -> ApiResult<Vec<BucketInfo>>;

    /// A bucket's info.
    async fn head_bucket(&self, bucket: &str) -> ApiResult<BucketInfo>;

    /// Creates a bucket.
    async fn create_bucket(&self, bucket: &str) -> ApiResult<()>;

    /// Deletes an empty bucket.
    async fn delete_bucket(&self, bucket: &str) -> ApiResult<()>;

    /// What `key` names: the object, the directory marker `key/`, and whether keys lie
    /// under `key/` (one call for a LOOKUP).
    async fn lookup(&self, bucket: &str, key: &str) -> ApiResult<LookupResponse>;

    /// The object `key` alone, or not found (an open's check of what a file is now).
    async fn head(&self, bucket: &str, key: &str) -> ApiResult<ObjectInfo>;

    /// One page of at most `max_keys` entries of the keys under `prefix`, from the
    /// continuation `token` (empty: the start); with `delimiter`, keys below the next `/`
    /// roll up into common prefixes.
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: bool,
        token: &str,
        max_keys: u32,
    ) -> ApiResult<ListObjectsResponse>;

    /// The bytes `[start, end)` of an object.
    async fn get(&self, bucket: &str, key: &str, start: u64, end: u64) -> ApiResult<RangeBody>;

    /// Deletes an object (no error when it is already gone).
    async fn delete(&self, bucket: &str, key: &str) -> ApiResult<()>;

    /// Deletes up to [`DELETE_BATCH`] objects in one call: one result per key, in order
    /// (no error for a key already gone).
    async fn delete_many(&self, bucket: &str, keys: Vec<String>) -> ApiResult<Vec<ApiResult<()>>>;

    /// Moves `src` to `dst`, replacing `dst` atomically.
    async fn rename(&self, bucket: &str, src: &str, dst: &str) -> ApiResult<ObjectInfo>;

    /// Moves every key under the prefix `src` to the prefix `dst`, key by key; returns how
    /// many moved.
    async fn rename_prefix(&self, bucket: &str, src: &str, dst: &str) -> ApiResult<u64>;

    /// Sets user-metadata entries of an object and removes the entries `remove` names
    /// (none of those it sets), keeping its data.
    async fn update_metadata(
        &self,
        bucket: &str,
        key: &str,
        set: HashMap<String, String>,
        remove: Vec<String>,
    ) -> ApiResult<ObjectInfo>;

    /// The cluster's capacity.
    async fn cluster_info(&self) -> ApiResult<ClusterInfoResponse>;

    /// Starts a PutObject of `bucket/key` with `metadata` (and `size`, when known); the
    /// data goes through the returned sender, `None` aborting the upload (nothing is
    /// stored). Dropping the sender ends the data; [`finish`] then waits for the commit.
    fn upload(
        &self,
        bucket: &str,
        key: &str,
        metadata: HashMap<String, String>,
        size: Option<u64>,
    ) -> (mpsc::Sender<Option<Bytes>>, UploadTask);

    /// Puts a small object in one call.
    async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        metadata: HashMap<String, String>,
        data: Bytes,
    ) -> ApiResult<ObjectInfo>;
}
