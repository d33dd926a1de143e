//! The mount's only way to the cluster: the signed gRPC `ObjectService` client, with a
//! deadline on every call so a dead or hung server turns into EIO, never a hang. Uploads
//! run on the blocking pool (see [`Remote::upload`]). Owns no state beyond the channel.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tessera_proto::auth::Credentials;
use tessera_proto::client::{self, ObjectClient};
use tessera_proto::object::{
    self as pb, ByteRange, GetObjectRequest, ListObjectsRequest, ListObjectsResponse,
    ObjectAttributes, ObjectInfo, PutObjectHeader, PutObjectRequest, get_object_response,
    put_object_request,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tonic::Streaming;

use crate::error::{FsError, FsResult};

/// Deadline of a call, and of each message of a stream.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A connected client.
#[derive(Clone)]
pub struct Remote {
    client: ObjectClient,
}

/// Awaits `fut` for at most [`CALL_TIMEOUT`].
async fn deadline<T>(
    fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> FsResult<T> {
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(r) => Ok(r?.into_inner()),
        Err(_) => Err(FsError::Timeout(CALL_TIMEOUT)),
    }
}

impl Remote {
    /// Connects to `endpoint` and checks the credentials with one call.
    pub async fn connect(endpoint: &str, creds: Credentials) -> FsResult<Self> {
        let client =
            match tokio::time::timeout(CALL_TIMEOUT, client::connect(endpoint, creds)).await {
                Ok(Ok(client)) => client,
                Ok(Err(e)) => {
                    return Err(FsError::Io(std::io::Error::other(format!(
                        "cannot connect to {endpoint}: {e}"
                    ))));
                }
                Err(_) => return Err(FsError::Timeout(CALL_TIMEOUT)),
            };
        let remote = Self { client };
        remote.list_buckets().await?;
        Ok(remote)
    }

    fn c(&self) -> ObjectClient {
        self.client.clone()
    }

    /// Bucket names.
    pub async fn list_buckets(&self) -> FsResult<Vec<pb::BucketInfo>> {
        let r = deadline(self.c().list_buckets(pb::ListBucketsRequest {})).await?;
        Ok(r.buckets)
    }

    /// A bucket's info.
    pub async fn head_bucket(&self, bucket: &str) -> FsResult<pb::BucketInfo> {
        let req = pb::HeadBucketRequest {
            bucket: bucket.into(),
        };
        deadline(self.c().head_bucket(req)).await
    }

    /// Creates a bucket.
    pub async fn create_bucket(&self, bucket: &str) -> FsResult<()> {
        let req = pb::CreateBucketRequest {
            bucket: bucket.into(),
        };
        deadline(self.c().create_bucket(req)).await.map(drop)
    }

    /// Deletes an empty bucket.
    pub async fn delete_bucket(&self, bucket: &str) -> FsResult<()> {
        let req = pb::DeleteBucketRequest {
            bucket: bucket.into(),
        };
        deadline(self.c().delete_bucket(req)).await.map(drop)
    }

    /// What `key` names: the object, the directory marker `key/`, whether keys lie under
    /// `key/` (one call for a LOOKUP).
    pub async fn lookup(&self, bucket: &str, key: &str) -> FsResult<pb::LookupResponse> {
        let req = pb::LookupRequest {
            bucket: bucket.into(),
            key: key.into(),
        };
        deadline(self.c().lookup(req)).await
    }

    /// One page of a listing.
    pub async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: bool,
        token: &str,
        max_keys: u32,
    ) -> FsResult<ListObjectsResponse> {
        let req = ListObjectsRequest {
            bucket: bucket.into(),
            prefix: prefix.into(),
            delimiter: if delimiter { "/".into() } else { String::new() },
            continuation_token: token.into(),
            max_keys,
            ..Default::default()
        };
        deadline(self.c().list_objects(req)).await
    }

    /// A stream of `[start, end)` of an object.
    pub async fn get(&self, bucket: &str, key: &str, start: u64, end: u64) -> FsResult<RangeBody> {
        let req = GetObjectRequest {
            bucket: bucket.into(),
            key: key.into(),
            range: Some(ByteRange {
                start,
                end: Some(end),
            }),
        };
        let mut stream = deadline(self.c().get_object(req)).await?;
        // The first message is the object's info.
        next_message(&mut stream).await?;
        Ok(RangeBody { stream })
    }

    /// Deletes an object (no error when it is already gone).
    pub async fn delete(&self, bucket: &str, key: &str) -> FsResult<()> {
        let req = pb::DeleteObjectRequest {
            bucket: bucket.into(),
            key: key.into(),
        };
        deadline(self.c().delete_object(req)).await.map(drop)
    }

    /// Moves `src` to `dst`, replacing `dst` atomically.
    pub async fn rename(&self, bucket: &str, src: &str, dst: &str) -> FsResult<ObjectInfo> {
        let req = pb::RenameObjectRequest {
            bucket: bucket.into(),
            src_key: src.into(),
            dst_key: dst.into(),
        };
        deadline(self.c().rename_object(req)).await
    }

    /// Moves every key under `src/` to `dst/`, key by key.
    pub async fn rename_prefix(&self, bucket: &str, src: &str, dst: &str) -> FsResult<u64> {
        let req = pb::RenamePrefixRequest {
            bucket: bucket.into(),
            src_prefix: src.into(),
            dst_prefix: dst.into(),
        };
        // Proportional to the number of keys: no deadline of its own beyond the server's.
        Ok(self.c().rename_prefix(req).await?.into_inner().renamed)
    }

    /// Sets user-metadata entries of an object, keeping its data.
    pub async fn update_metadata(
        &self,
        bucket: &str,
        key: &str,
        set: HashMap<String, String>,
    ) -> FsResult<ObjectInfo> {
        let req = pb::UpdateObjectMetadataRequest {
            bucket: bucket.into(),
            key: key.into(),
            set,
            remove: Vec::new(),
        };
        deadline(self.c().update_object_metadata(req)).await
    }

    /// Cluster capacity.
    pub async fn cluster_info(&self) -> FsResult<pb::ClusterInfoResponse> {
        deadline(self.c().cluster_info(pb::ClusterInfoRequest {})).await
    }

    /// Starts a PutObject of `bucket/key` with `metadata`; the data goes through the
    /// returned sender, `None` aborting the upload (the server stores nothing).
    pub fn upload(
        &self,
        bucket: &str,
        key: &str,
        metadata: HashMap<String, String>,
        size: Option<u64>,
    ) -> (
        mpsc::Sender<Option<Bytes>>,
        JoinHandle<FsResult<ObjectInfo>>,
    ) {
        let (tx, rx) = mpsc::channel::<Option<Bytes>>(4);
        let requests = upload_requests(put_header(bucket, key, metadata, size), rx);
        let mut client = self.c();
        let task = tokio::spawn(async move { Ok(client.put_object(requests).await?.into_inner()) });
        (tx, task)
    }

    /// Puts a small object in one call, on the caller's task: its two messages are at
    /// hand, so no task and no channel carry them.
    pub async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        metadata: HashMap<String, String>,
        data: Bytes,
    ) -> FsResult<ObjectInfo> {
        let header = put_header(bucket, key, metadata, Some(data.len() as u64));
        let body = (!data.is_empty()).then(|| PutObjectRequest {
            msg: Some(put_object_request::Msg::Data(data)),
        });
        let requests = futures::stream::iter(std::iter::once(header).chain(body));
        Ok(self.c().put_object(requests).await?.into_inner())
    }
}

/// The result of an upload started with [`Remote::upload`], once its sender is dropped.
pub async fn finish(task: JoinHandle<FsResult<ObjectInfo>>) -> FsResult<ObjectInfo> {
    task.await
        .unwrap_or_else(|e| Err(FsError::Io(std::io::Error::other(e.to_string()))))
}

/// The first message of a PutObject.
fn put_header(
    bucket: &str,
    key: &str,
    metadata: HashMap<String, String>,
    size: Option<u64>,
) -> PutObjectRequest {
    PutObjectRequest {
        msg: Some(put_object_request::Msg::Header(PutObjectHeader {
            bucket: bucket.into(),
            key: key.into(),
            attributes: Some(ObjectAttributes {
                content_type: String::new(),
                user_metadata: metadata,
            }),
            size,
        })),
    }
}

/// The request stream of an upload: the header, then the chunks from `rx`. Built from
/// named types only (no async block or closure), so the call's future is `Send`.
fn upload_requests(
    head: PutObjectRequest,
    rx: mpsc::Receiver<Option<Bytes>>,
) -> impl Stream<Item = PutObjectRequest> + Send + 'static {
    use futures::StreamExt;
    fn data_message(chunk: Option<Bytes>) -> PutObjectRequest {
        PutObjectRequest {
            msg: chunk.map(put_object_request::Msg::Data),
        }
    }
    futures::stream::iter([head]).chain(
        tokio_stream::wrappers::ReceiverStream::new(rx)
            .map(data_message as fn(Option<Bytes>) -> PutObjectRequest),
    )
}

async fn next_message(
    stream: &mut Streaming<pb::GetObjectResponse>,
) -> FsResult<Option<get_object_response::Msg>> {
    match tokio::time::timeout(CALL_TIMEOUT, stream.message()).await {
        Ok(Ok(m)) => Ok(m.and_then(|m| m.msg)),
        Ok(Err(status)) => Err(status.into()),
        Err(_) => Err(FsError::Timeout(CALL_TIMEOUT)),
    }
}

/// The data of a ranged GET.
pub struct RangeBody {
    stream: Streaming<pb::GetObjectResponse>,
}

impl RangeBody {
    /// The next chunk, `None` at the end of the range.
    pub async fn next(&mut self) -> FsResult<Option<Bytes>> {
        loop {
            match next_message(&mut self.stream).await? {
                Some(get_object_response::Msg::Data(data)) if !data.is_empty() => {
                    return Ok(Some(data));
                }
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }
}
