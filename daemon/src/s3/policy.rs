//! S3 bucket policies: PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy and
//! GetBucketPolicyStatus, over the identity store (a bucket policy is stored with the
//! identities, so every node enforces it within a second). Who may call them is decided
//! at the gate like every request (`s3:PutBucketPolicy`, ...).

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use super::error::{iam_to_s3, s3_err, to_s3};
use crate::iam::Iam;
use crate::object::ObjectLayer;

pub async fn put_bucket_policy(
    layer: &ObjectLayer,
    iam: &Iam,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let (bucket, doc) = (req.input.bucket, req.input.policy);
    layer.head_bucket(&bucket).await.map_err(to_s3)?;
    iam.change(|s| s.set_bucket_policy(&bucket, Some(&doc)))
        .await
        .map_err(iam_to_s3)?;
    Ok(S3Response::new(PutBucketPolicyOutput {}))
}

fn no_policy(bucket: &str) -> s3s::S3Error {
    s3_err(
        S3ErrorCode::NoSuchBucketPolicy,
        format!("The bucket {bucket} has no policy."),
    )
}

pub async fn get_bucket_policy(
    layer: &ObjectLayer,
    iam: &Iam,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let bucket = req.input.bucket;
    layer.head_bucket(&bucket).await.map_err(to_s3)?;
    let policy = iam
        .bucket_policy_text(&bucket)
        .await
        .ok_or_else(|| no_policy(&bucket))?;
    Ok(S3Response::new(GetBucketPolicyOutput {
        policy: Some(policy),
    }))
}

pub async fn delete_bucket_policy(
    layer: &ObjectLayer,
    iam: &Iam,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    let bucket = req.input.bucket;
    layer.head_bucket(&bucket).await.map_err(to_s3)?;
    iam.change(|s| s.set_bucket_policy(&bucket, None))
        .await
        .map_err(iam_to_s3)?;
    Ok(S3Response::new(DeleteBucketPolicyOutput {}))
}

pub async fn get_bucket_policy_status(
    layer: &ObjectLayer,
    iam: &Iam,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let bucket = req.input.bucket;
    layer.head_bucket(&bucket).await.map_err(to_s3)?;
    let snapshot = iam.snapshot().await;
    let policy = snapshot
        .bucket_policy(&bucket)
        .ok_or_else(|| no_policy(&bucket))?;
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(policy.is_public()),
        }),
    }))
}
