//! The mount's only way to the cluster: the signed gRPC `ObjectService` client, which
//! implements [`ObjectApi`] with a deadline on every call so a dead or hung server turns
//! into EIO, never a hang. Uploads run on their own task (see [`ObjectApi::upload`]). Owns
//! no state beyond the channel.
//!
//! A `tonic::Status` becomes an [`ApiError`] here and nowhere else ([`api_error`]): its
//! gRPC code and the server's [`ERROR_NAME`] entry give the [`ServiceError`] kind the
//! core's errno table reads.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use prometheus_client::metrics::gauge::Gauge;
use tessera_proto::ERROR_NAME;
use tessera_proto::auth::Credentials;
use tessera_proto::client::{self, ObjectClient};
use tessera_proto::object::{
    self as pb, ByteRange, GetObjectRequest, ListObjectsRequest, ListObjectsResponse,
    ObjectAttributes, ObjectInfo, PutObjectHeader, PutObjectRequest, get_object_response,
    put_object_request,
};
use tessera_proto::tls::ClientTls;
use tokio::sync::mpsc;
use tonic::{Code, Status, Streaming};

use crate::api::{ApiError, ApiResult, ObjectApi, RangeBody, ServiceError, UploadTask};

/// Deadline of a call, and of each message of a stream.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A connected client.
#[derive(Clone)]
pub struct Remote {
    client: ObjectClient,
    /// PutObject calls running.
    uploads: Gauge,
}

/// One upload counted in a gauge while it lives.
struct InFlight(Gauge);

impl InFlight {
    fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Awaits `fut` for at most [`CALL_TIMEOUT`].
async fn deadline<T>(
    fut: impl Future<Output = Result<tonic::Response<T>, Status>>,
) -> ApiResult<T> {
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(r) => Ok(r?.into_inner()),
        Err(_) => Err(ApiError::Timeout(CALL_TIMEOUT)),
    }
}

/// What a gRPC status means to the core: the server's error name where one gRPC code
/// covers several errors, else the code (DESIGN.md's table).
pub fn api_error(status: &Status) -> ApiError {
    let name = status
        .metadata()
        .get(ERROR_NAME)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let kind = match (status.code(), name) {
        (_, "NameTooLong" | "KeyTooLong") => ServiceError::NameTooLong,
        // "Not empty" travels as FailedPrecondition: only its name tells it apart.
        (_, "BucketNotEmpty") => ServiceError::NotEmpty,
        (_, "StorageFull") => ServiceError::StorageFull,
        (Code::NotFound, _) => ServiceError::NotFound,
        (Code::AlreadyExists, _) => ServiceError::AlreadyExists,
        (Code::PermissionDenied | Code::Unauthenticated, _) => ServiceError::PermissionDenied,
        (Code::InvalidArgument | Code::OutOfRange, _) => ServiceError::InvalidArgument,
        _ => ServiceError::Other,
    };
    ApiError::service(kind, status.message())
}

/// One key's result of a DeleteObjects call: a key already gone is deleted.
fn delete_result(result: pb::DeleteResult) -> ApiResult<()> {
    let Some(error) = result.error else {
        return Ok(());
    };
    let kind = match pb::ErrorCode::try_from(error.code) {
        Ok(pb::ErrorCode::NotFound) => return Ok(()),
        Ok(pb::ErrorCode::InvalidArgument) => ServiceError::InvalidArgument,
        _ => ServiceError::Other,
    };
    Err(ApiError::service(kind, error.message))
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        api_error(&status)
    }
}

impl Remote {
    /// Connects to `endpoint` (over TLS with `tls` when it is `https://`) and checks the
    /// credentials with one call.
    pub async fn connect(endpoint: &str, creds: Credentials, tls: &ClientTls) -> ApiResult<Self> {
        let connect = client::connect_with(endpoint, creds, tls);
        let client = match tokio::time::timeout(CALL_TIMEOUT, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                return Err(ApiError::Client(format!(
                    "cannot connect to {endpoint}: {e}"
                )));
            }
            Err(_) => return Err(ApiError::Timeout(CALL_TIMEOUT)),
        };
        let remote = Self {
            client,
            uploads: Gauge::default(),
        };
        remote.list_buckets().await?;
        Ok(remote)
    }

    fn c(&self) -> ObjectClient {
        self.client.clone()
    }

    /// Counts the uploads running in `uploads` from now on.
    pub fn reporting_to(mut self, uploads: Gauge) -> Self {
        self.uploads = uploads;
        self
    }
}

#[async_trait]
impl ObjectApi for Remote {
    async fn list_buckets(&self) -> ApiResult<Vec<pb::BucketInfo>> {
        let r = deadline(self.c().list_buckets(pb::ListBucketsRequest {})).await?;
        Ok(r.buckets)
    }

    async fn head_bucket(&self, bucket: &str) -> ApiResult<pb::BucketInfo> {
        let req = pb::HeadBucketRequest {
            bucket: bucket.into(),
        };
        deadline(self.c().head_bucket(req)).await
    }

    async fn create_bucket(&self, bucket: &str) -> ApiResult<()> {
        let req = pb::CreateBucketRequest {
            bucket: bucket.into(),
        };
        deadline(self.c().create_bucket(req)).await.map(drop)
    }

    async fn delete_bucket(&self, bucket: &str) -> ApiResult<()> {
        let req = pb::DeleteBucketRequest {
            bucket: bucket.into(),
        };
        deadline(self.c().delete_bucket(req)).await.map(drop)
    }

    async fn lookup(&self, bucket: &str, key: &str) -> ApiResult<pb::LookupResponse> {
        let req = pb::LookupRequest {
            bucket: bucket.into(),
            key: key.into(),
        };
        deadline(self.c().lookup(req)).await
    }

    async fn head(&self, bucket: &str, key: &str) -> ApiResult<pb::ObjectInfo> {
        let req = pb::HeadObjectRequest {
            bucket: bucket.into(),
            key: key.into(),
        };
        deadline(self.c().head_object(req)).await
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: bool,
        token: &str,
        max_keys: u32,
    ) -> ApiResult<ListObjectsResponse> {
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

    async fn get(&self, bucket: &str, key: &str, start: u64, end: u64) -> ApiResult<RangeBody> {
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
        let info = match next_message(&mut stream).await? {
            Some(get_object_response::Msg::Info(i)) => i.object.unwrap_or_default(),
            _ => ObjectInfo::default(),
        };
        Ok(RangeBody::new(&info, chunks(stream)))
    }

    async fn delete(&self, bucket: &str, key: &str) -> ApiResult<()> {
        let req = pb::DeleteObjectRequest {
            bucket: bucket.into(),
            key: key.into(),
        };
        match deadline(self.c().delete_object(req)).await {
            // Gone already: what the caller wanted (the server says NotFound).
            Err(e) if e.is_not_found() => Ok(()),
            r => r.map(drop),
        }
    }

    async fn delete_many(&self, bucket: &str, keys: Vec<String>) -> ApiResult<Vec<ApiResult<()>>> {
        let req = pb::DeleteObjectsRequest {
            bucket: bucket.into(),
            keys,
        };
        let answer = deadline(self.c().delete_objects(req)).await?;
        Ok(answer.results.into_iter().map(delete_result).collect())
    }

    async fn rename(&self, bucket: &str, src: &str, dst: &str) -> ApiResult<ObjectInfo> {
        let req = pb::RenameObjectRequest {
            bucket: bucket.into(),
            src_key: src.into(),
            dst_key: dst.into(),
        };
        deadline(self.c().rename_object(req)).await
    }

    async fn rename_prefix(&self, bucket: &str, src: &str, dst: &str) -> ApiResult<u64> {
        let req = pb::RenamePrefixRequest {
            bucket: bucket.into(),
            src_prefix: src.into(),
            dst_prefix: dst.into(),
        };
        // Proportional to the number of keys: no deadline of its own beyond the server's.
        Ok(self.c().rename_prefix(req).await?.into_inner().renamed)
    }

    async fn update_metadata(
        &self,
        bucket: &str,
        key: &str,
        set: HashMap<String, String>,
        remove: Vec<String>,
    ) -> ApiResult<ObjectInfo> {
        let req = pb::UpdateObjectMetadataRequest {
            bucket: bucket.into(),
            key: key.into(),
            set,
            remove,
        };
        deadline(self.c().update_object_metadata(req)).await
    }

    async fn cluster_info(&self) -> ApiResult<pb::ClusterInfoResponse> {
        deadline(self.c().cluster_info(pb::ClusterInfoRequest {})).await
    }

    fn upload(
        &self,
        bucket: &str,
        key: &str,
        metadata: HashMap<String, String>,
        size: Option<u64>,
    ) -> (mpsc::Sender<Option<Bytes>>, UploadTask) {
        let (tx, rx) = mpsc::channel::<Option<Bytes>>(4);
        let requests = upload_requests(put_header(bucket, key, metadata, size), rx);
        let mut client = self.c();
        let running = InFlight::new(&self.uploads);
        let task = tokio::spawn(async move {
            let _running = running;
            Ok(client.put_object(requests).await?.into_inner())
        });
        (tx, task)
    }

    async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        metadata: HashMap<String, String>,
        data: Bytes,
    ) -> ApiResult<ObjectInfo> {
        let header = put_header(bucket, key, metadata, Some(data.len() as u64));
        let body = (!data.is_empty()).then(|| PutObjectRequest {
            msg: Some(put_object_request::Msg::Data(data)),
        });
        let requests = futures::stream::iter(std::iter::once(header).chain(body));
        let _running = InFlight::new(&self.uploads);
        Ok(self.c().put_object(requests).await?.into_inner())
    }
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
) -> ApiResult<Option<get_object_response::Msg>> {
    match tokio::time::timeout(CALL_TIMEOUT, stream.message()).await {
        Ok(Ok(m)) => Ok(m.and_then(|m| m.msg)),
        Ok(Err(status)) => Err(status.into()),
        Err(_) => Err(ApiError::Timeout(CALL_TIMEOUT)),
    }
}

/// The data chunks of a GET's response stream (empty messages skipped), each awaited
/// within [`CALL_TIMEOUT`].
fn chunks(
    stream: Streaming<pb::GetObjectResponse>,
) -> impl Stream<Item = ApiResult<Bytes>> + Send + 'static {
    futures::stream::try_unfold(stream, |mut stream| async move {
        loop {
            match next_message(&mut stream).await? {
                Some(get_object_response::Msg::Data(data)) if !data.is_empty() => {
                    return Ok(Some((data, stream)));
                }
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::error::{Errno, FsError};

    fn named(code: Code, name: &str) -> FsError {
        let mut status = Status::new(code, "x");
        status
            .metadata_mut()
            .insert(ERROR_NAME, name.parse().expect("ascii"));
        FsError::Api(status.into())
    }

    #[test]
    fn statuses_map_as_the_design_table_says() {
        let cases = [
            (named(Code::NotFound, "NoSuchKey"), Errno::ENOENT),
            (
                named(Code::AlreadyExists, "BucketAlreadyExists"),
                Errno::EEXIST,
            ),
            (
                named(Code::FailedPrecondition, "BucketNotEmpty"),
                Errno::ENOTEMPTY,
            ),
            (
                named(Code::InvalidArgument, "NameTooLong"),
                Errno::ENAMETOOLONG,
            ),
            (
                named(Code::InvalidArgument, "KeyTooLong"),
                Errno::ENAMETOOLONG,
            ),
            (named(Code::InvalidArgument, "InvalidKey"), Errno::EINVAL),
            (named(Code::PermissionDenied, ""), Errno::EACCES),
            (named(Code::Unauthenticated, ""), Errno::EACCES),
            (named(Code::Unavailable, "WriteQuorum"), Errno::EIO),
            (named(Code::Internal, "InternalError"), Errno::EIO),
            (
                FsError::Api(ApiError::Timeout(std::time::Duration::from_secs(1))),
                Errno::EIO,
            ),
        ];
        for (err, errno) in cases {
            assert_eq!(err.errno(), errno, "{err}");
        }
    }
}
