//! The gRPC `ObjectService`: a thin adapter that converts messages, calls the ObjectLayer
//! and maps errors (in `status`). It holds no object logic of its own.
//!
//! Streams: a PUT's data messages are read as an `AsyncRead` straight into the erasure
//! encoder; a GET's chunks are sent as they are decoded. Nothing buffers a whole object.

pub mod admin;
mod convert;
pub mod status;
mod upload;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::{Stream, StreamExt};
use tessera_proto::object as pb;
use tessera_proto::object::object_service_server::ObjectService;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::Caller;
use crate::iam::{Env, Iam};
use crate::object::{
    CompletePart, HealScan, ListQuery, ObjectError, ObjectLayer, RangeSpec, WriteCondition,
};
use crate::traffic::Traffic;
use convert::{attrs, object_info, timestamp};
use upload::{part_header, put_header, split_upload};

/// The service.
pub struct ObjectRpc {
    layer: Arc<ObjectLayer>,
    iam: Arc<Iam>,
    traffic: Arc<Traffic>,
}

impl ObjectRpc {
    /// A service over `layer`, reporting the node's internode `traffic` in ClusterInfo.
    pub fn new(layer: Arc<ObjectLayer>, iam: Arc<Iam>, traffic: Arc<Traffic>) -> Self {
        Self {
            layer,
            iam,
            traffic,
        }
    }
}

type GetStream = Pin<Box<dyn Stream<Item = Result<pb::GetObjectResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ObjectService for ObjectRpc {
    async fn create_bucket(
        &self,
        r: Request<pb::CreateBucketRequest>,
    ) -> Result<Response<pb::CreateBucketResponse>, Status> {
        self.layer.make_bucket(&r.into_inner().bucket).await?;
        Ok(Response::new(pb::CreateBucketResponse {}))
    }

    async fn delete_bucket(
        &self,
        r: Request<pb::DeleteBucketRequest>,
    ) -> Result<Response<pb::DeleteBucketResponse>, Status> {
        let bucket = r.into_inner().bucket;
        self.layer.delete_bucket(&bucket).await?;
        self.iam.forget_bucket(&bucket).await;
        Ok(Response::new(pb::DeleteBucketResponse {}))
    }

    async fn head_bucket(
        &self,
        r: Request<pb::HeadBucketRequest>,
    ) -> Result<Response<pb::BucketInfo>, Status> {
        let b = self.layer.head_bucket(&r.into_inner().bucket).await?;
        Ok(Response::new(pb::BucketInfo {
            name: b.name,
            created: Some(timestamp(b.created_ns)),
        }))
    }

    async fn list_buckets(
        &self,
        r: Request<pb::ListBucketsRequest>,
    ) -> Result<Response<pb::ListBucketsResponse>, Status> {
        let buckets = self.layer.list_buckets().await?;
        // Only the buckets the caller (which the authenticator put there) may list.
        let who = r.extensions().get::<Caller>().map(|c| &c.0);
        let env = r.extensions().get::<Env>().copied().unwrap_or_default();
        let buckets = self.iam.listable(who, &env, buckets, |b| &b.name).await;
        Ok(Response::new(pb::ListBucketsResponse {
            buckets: buckets
                .into_iter()
                .map(|b| pb::BucketInfo {
                    name: b.name,
                    created: Some(timestamp(b.created_ns)),
                })
                .collect(),
        }))
    }

    async fn put_object(
        &self,
        r: Request<Streaming<pb::PutObjectRequest>>,
    ) -> Result<Response<pb::ObjectInfo>, Status> {
        let (h, data, refusal) = split_upload(r.into_inner(), put_header).await?;
        let mut body = tokio_util::io::StreamReader::new(data);
        let (attrs, cond) = (attrs(h.attributes), &WriteCondition::NONE);
        let info = self
            .layer
            .put_object(&h.bucket, &h.key, &attrs, &mut body, h.size, cond)
            .await
            .map_err(|e| refusal.or(e))?;
        Ok(Response::new(object_info(info)))
    }

    type GetObjectStream = GetStream;

    async fn get_object(
        &self,
        r: Request<pb::GetObjectRequest>,
    ) -> Result<Response<GetStream>, Status> {
        let r = r.into_inner();
        let range = match r.range {
            None => RangeSpec::Full,
            Some(pb::ByteRange { start, end: None }) => RangeSpec::From(start),
            Some(pb::ByteRange {
                start,
                end: Some(end),
            }) => RangeSpec::Bounded(start, end),
        };
        let read = self.layer.get_object(&r.bucket, &r.key, range).await?;
        let info = pb::GetObjectResponse {
            msg: Some(pb::get_object_response::Msg::Info(pb::GetObjectInfo {
                object: Some(object_info(read.info)),
                start: read.range.0,
                end: read.range.1,
            })),
        };
        let data = read.body.map(|chunk| match chunk {
            Ok(data) => Ok(pb::GetObjectResponse {
                msg: Some(pb::get_object_response::Msg::Data(data)),
            }),
            Err(e) => Err(Status::from(e)),
        });
        Ok(Response::new(Box::pin(
            futures::stream::once(async { Ok(info) }).chain(data),
        )))
    }

    async fn head_object(
        &self,
        r: Request<pb::HeadObjectRequest>,
    ) -> Result<Response<pb::ObjectInfo>, Status> {
        let r = r.into_inner();
        Ok(Response::new(object_info(
            self.layer.head_object(&r.bucket, &r.key).await?,
        )))
    }

    async fn lookup(
        &self,
        r: Request<pb::LookupRequest>,
    ) -> Result<Response<pb::LookupResponse>, Status> {
        let r = r.into_inner();
        let found = self.layer.lookup(&r.bucket, &r.key).await?;
        Ok(Response::new(pb::LookupResponse {
            object: found.object.map(object_info),
            marker: found.marker.map(object_info),
            is_prefix: found.is_prefix,
        }))
    }

    async fn delete_object(
        &self,
        r: Request<pb::DeleteObjectRequest>,
    ) -> Result<Response<pb::DeleteObjectResponse>, Status> {
        let r = r.into_inner();
        self.layer.delete_object(&r.bucket, &r.key).await?;
        Ok(Response::new(pb::DeleteObjectResponse {}))
    }

    async fn delete_objects(
        &self,
        r: Request<pb::DeleteObjectsRequest>,
    ) -> Result<Response<pb::DeleteObjectsResponse>, Status> {
        let r = r.into_inner();
        if r.keys.len() > 1000 {
            return Err(ObjectError::InvalidArgument("at most 1000 keys per call".into()).into());
        }
        let keys: Vec<_> = r.keys.iter().map(|k| (k.clone(), None)).collect();
        let results = self.layer.delete_objects(&r.bucket, &keys, false).await?;
        let results = r
            .keys
            .into_iter()
            .zip(results)
            .map(|(key, res)| pb::DeleteResult {
                key,
                error: res.err().map(|e| {
                    let status = status::to_status(&e);
                    let code = match status.code() {
                        tonic::Code::NotFound => pb::ErrorCode::NotFound,
                        tonic::Code::InvalidArgument => pb::ErrorCode::InvalidArgument,
                        tonic::Code::Unavailable => pb::ErrorCode::Unavailable,
                        _ => pb::ErrorCode::Internal,
                    };
                    pb::ErrorDetail {
                        code: code as i32,
                        message: e.to_string(),
                    }
                }),
            })
            .collect();
        Ok(Response::new(pb::DeleteObjectsResponse { results }))
    }

    async fn copy_object(
        &self,
        r: Request<pb::CopyObjectRequest>,
    ) -> Result<Response<pb::ObjectInfo>, Status> {
        let r = r.into_inner();
        let replace = r.attributes.map(|a| attrs(Some(a)));
        let info = self
            .layer
            .copy_object(
                &r.src_bucket,
                &r.src_key,
                &r.dst_bucket,
                &r.dst_key,
                replace.as_ref(),
            )
            .await?;
        Ok(Response::new(object_info(info)))
    }

    async fn rename_object(
        &self,
        r: Request<pb::RenameObjectRequest>,
    ) -> Result<Response<pb::ObjectInfo>, Status> {
        let r = r.into_inner();
        let info = self
            .layer
            .rename_object(&r.bucket, &r.src_key, &r.dst_key)
            .await?;
        Ok(Response::new(object_info(info)))
    }

    async fn list_objects(
        &self,
        r: Request<pb::ListObjectsRequest>,
    ) -> Result<Response<pb::ListObjectsResponse>, Status> {
        let r = r.into_inner();
        let q = ListQuery {
            prefix: r.prefix,
            delimiter: r.delimiter,
            start_after: r.start_after,
            continuation: Some(r.continuation_token).filter(|t| !t.is_empty()),
            max_keys: if r.max_keys == 0 {
                1000
            } else {
                r.max_keys as usize
            },
        };
        let page = self.layer.list_objects(&r.bucket, &q).await?;
        Ok(Response::new(pb::ListObjectsResponse {
            objects: page.objects.into_iter().map(object_info).collect(),
            common_prefixes: page.prefixes,
            truncated: page.truncated,
            next_continuation_token: page.next_token.unwrap_or_default(),
        }))
    }

    async fn update_object_metadata(
        &self,
        r: Request<pb::UpdateObjectMetadataRequest>,
    ) -> Result<Response<pb::ObjectInfo>, Status> {
        let mut r = r.into_inner();
        let update = convert::metadata_update(&mut r);
        let info = self
            .layer
            .update_object_metadata(&r.bucket, &r.key, &update)
            .await?;
        Ok(Response::new(object_info(info)))
    }

    async fn rename_prefix(
        &self,
        r: Request<pb::RenamePrefixRequest>,
    ) -> Result<Response<pb::RenamePrefixResponse>, Status> {
        let r = r.into_inner();
        let renamed = self
            .layer
            .rename_prefix(&r.bucket, &r.src_prefix, &r.dst_prefix)
            .await?;
        Ok(Response::new(pb::RenamePrefixResponse { renamed }))
    }

    async fn create_multipart_upload(
        &self,
        r: Request<pb::CreateMultipartUploadRequest>,
    ) -> Result<Response<pb::CreateMultipartUploadResponse>, Status> {
        let r = r.into_inner();
        let upload_id = self
            .layer
            .create_upload(&r.bucket, &r.key, &attrs(r.attributes))
            .await?;
        Ok(Response::new(pb::CreateMultipartUploadResponse {
            upload_id,
        }))
    }

    async fn upload_part(
        &self,
        r: Request<Streaming<pb::UploadPartRequest>>,
    ) -> Result<Response<pb::PartInfo>, Status> {
        let (h, data, refusal) = split_upload(r.into_inner(), part_header).await?;
        let mut body = tokio_util::io::StreamReader::new(data);
        let p = self
            .layer
            .upload_part(
                (&h.bucket, &h.key, &h.upload_id),
                h.part_number,
                (&mut body, h.size),
                &Default::default(),
            )
            .await
            .map_err(|e| refusal.or(e))?;
        Ok(Response::new(pb::PartInfo {
            part_number: p.number,
            etag: p.etag,
            size: p.size,
            modified: Some(timestamp(p.mod_time_ns)),
        }))
    }

    async fn complete_multipart_upload(
        &self,
        r: Request<pb::CompleteMultipartUploadRequest>,
    ) -> Result<Response<pb::ObjectInfo>, Status> {
        let r = r.into_inner();
        let parts: Vec<CompletePart> = r
            .parts
            .into_iter()
            .map(|p| CompletePart {
                number: p.part_number,
                etag: p.etag,
                ..Default::default()
            })
            .collect();
        let info = self
            .layer
            .complete_upload(
                &r.bucket,
                &r.key,
                &r.upload_id,
                &parts,
                (&WriteCondition::NONE, Default::default()),
            )
            .await?;
        Ok(Response::new(object_info(info)))
    }

    async fn abort_multipart_upload(
        &self,
        r: Request<pb::AbortMultipartUploadRequest>,
    ) -> Result<Response<pb::AbortMultipartUploadResponse>, Status> {
        let r = r.into_inner();
        self.layer
            .abort_upload(&r.bucket, &r.key, &r.upload_id)
            .await?;
        Ok(Response::new(pb::AbortMultipartUploadResponse {}))
    }

    async fn list_parts(
        &self,
        r: Request<pb::ListPartsRequest>,
    ) -> Result<Response<pb::ListPartsResponse>, Status> {
        let r = r.into_inner();
        let max = if r.max_parts == 0 {
            1000
        } else {
            r.max_parts.min(1000) as usize
        };
        let parts = self
            .layer
            .list_parts(&r.bucket, &r.key, &r.upload_id)
            .await?;
        let mut after: Vec<_> = parts
            .into_iter()
            .filter(|p| p.number > r.part_number_marker)
            .collect();
        let truncated = after.len() > max;
        after.truncate(max);
        let next = if truncated {
            after.last().map_or(0, |p| p.number)
        } else {
            0
        };
        Ok(Response::new(pb::ListPartsResponse {
            parts: after
                .into_iter()
                .map(|p| pb::PartInfo {
                    part_number: p.number,
                    etag: p.etag,
                    size: p.size,
                    modified: Some(timestamp(p.mod_time_ns)),
                })
                .collect(),
            truncated,
            next_part_number_marker: next,
        }))
    }

    async fn list_multipart_uploads(
        &self,
        r: Request<pb::ListMultipartUploadsRequest>,
    ) -> Result<Response<pb::ListMultipartUploadsResponse>, Status> {
        let r = r.into_inner();
        let uploads = self.layer.list_uploads(&r.bucket, &r.prefix).await?;
        Ok(Response::new(pb::ListMultipartUploadsResponse {
            uploads: uploads
                .into_iter()
                .map(|u| pb::MultipartUploadInfo {
                    key: u.key,
                    upload_id: u.upload_id,
                    initiated: Some(timestamp(u.initiated_ns)),
                })
                .collect(),
        }))
    }

    async fn cluster_info(
        &self,
        _r: Request<pb::ClusterInfoRequest>,
    ) -> Result<Response<pb::ClusterInfoResponse>, Status> {
        let mut info = convert::cluster_info(self.layer.cluster_info().await);
        info.internode_received_bytes = self.traffic.received.load(Ordering::Relaxed);
        info.internode_sent_bytes = self.traffic.sent.load(Ordering::Relaxed);
        Ok(Response::new(info))
    }

    async fn heal_bucket(
        &self,
        r: Request<pb::HealBucketRequest>,
    ) -> Result<Response<pb::HealBucketResponse>, Status> {
        let r = r.into_inner();
        let scan = if r.deep {
            HealScan::Deep
        } else {
            HealScan::Normal
        };
        let s = self.layer.heal_bucket(&r.bucket, &r.prefix, scan).await?;
        Ok(Response::new(pb::HealBucketResponse {
            scanned: s.scanned,
            repaired: s.repaired,
            incomplete: s.incomplete,
            failed: s.failed,
            volumes_created: s.volumes_created,
            volumes_removed: s.volumes_removed,
            failures: s.failures,
        }))
    }
}
