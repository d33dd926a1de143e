//! S3 bucket operations, and the versioning view of our unversioned buckets.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use super::convert::timestamp;
use super::error::to_s3;
use crate::auth::Caller;
use crate::iam::{Env, Iam};
use crate::object::ObjectLayer;

/// The one owner of every bucket.
pub fn owner() -> Owner {
    Owner {
        display_name: Some("tessera".into()),
        id: Some("tessera".into()),
    }
}

/// The buckets the caller may list (all of them for root).
pub async fn list_buckets(
    layer: &ObjectLayer,
    iam: &Iam,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let who = req.extensions.get::<Caller>().map(|c| &c.0);
    let env = req.extensions.get::<Env>().copied().unwrap_or_default();
    let buckets = layer.list_buckets().await.map_err(to_s3)?;
    let buckets = iam.listable(who, &env, buckets, |b| &b.name).await;
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(
            buckets
                .into_iter()
                .map(|b| Bucket {
                    name: Some(b.name),
                    creation_date: Some(timestamp(b.created_ns)),
                    ..Default::default()
                })
                .collect(),
        ),
        owner: Some(owner()),
        ..Default::default()
    }))
}

pub async fn create_bucket(
    layer: &ObjectLayer,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let bucket = req.input.bucket;
    layer.make_bucket(&bucket).await.map_err(to_s3)?;
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{bucket}")),
    }))
}

pub async fn head_bucket(
    layer: &ObjectLayer,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    layer.head_bucket(&req.input.bucket).await.map_err(to_s3)?;
    Ok(S3Response::new(HeadBucketOutput::default()))
}

pub async fn delete_bucket(
    layer: &ObjectLayer,
    iam: &Iam,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    layer
        .delete_bucket(&req.input.bucket)
        .await
        .map_err(to_s3)?;
    iam.forget_bucket(&req.input.bucket).await;
    Ok(S3Response::new(DeleteBucketOutput::default()))
}

pub async fn get_bucket_location(
    layer: &ObjectLayer,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    layer.head_bucket(&req.input.bucket).await.map_err(to_s3)?;
    // Empty: the default region (us-east-1), as S3 answers for it.
    Ok(S3Response::new(GetBucketLocationOutput::default()))
}

pub async fn get_bucket_versioning(
    layer: &ObjectLayer,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    layer.head_bucket(&req.input.bucket).await.map_err(to_s3)?;
    // Never enabled: no Status element, as S3 shows a bucket that never had versioning.
    Ok(S3Response::new(GetBucketVersioningOutput::default()))
}
