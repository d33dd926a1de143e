//! S3 bucket operations, and the versioning view of our unversioned buckets.
//!
//! ListBuckets pages as S3's paginated form does: buckets in name order, `prefix` and
//! `bucket-region` filter, `max-buckets` (1..=10000) bounds a page, whose continuation token
//! is the last name shown (base64, opaque to clients). Every bucket lives in the node's
//! `--region`, which GetBucketLocation reports (empty for `us-east-1`, as S3 does).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use s3s::S3ErrorCode;

use super::DEFAULT_REGION;
use super::convert::timestamp;
use super::error::{s3_err, to_s3};
use crate::auth::Caller;
use crate::iam::{Env, Iam};
use crate::object::{ObjectLayer, Versioning};

/// The one owner of every bucket.
pub fn owner() -> Owner {
    Owner {
        display_name: Some("tessera".into()),
        id: Some("tessera".into()),
    }
}

/// The most buckets one ListBuckets page shows (S3's limit and its default page).
const MAX_BUCKETS: i32 = 10_000;

/// Where a ListBuckets page starts and how long it is.
struct Page {
    after: Option<String>,
    limit: usize,
}

fn page_of(i: &ListBucketsInput) -> S3Result<Page> {
    let limit = match i.max_buckets {
        None => MAX_BUCKETS,
        Some(n) if (1..=MAX_BUCKETS).contains(&n) => n,
        Some(n) => {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                format!("max-buckets must be between 1 and {MAX_BUCKETS}, not {n}"),
            ));
        }
    };
    let after = match i.continuation_token.as_deref() {
        None | Some("") => None,
        Some(token) => Some(
            URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .ok_or_else(|| {
                    s3_err(
                        S3ErrorCode::InvalidArgument,
                        "The continuation token provided is incorrect",
                    )
                })?,
        ),
    };
    Ok(Page {
        after,
        limit: limit as usize,
    })
}

/// The buckets the caller may list (all of them for root), a page at a time.
pub async fn list_buckets(
    layer: &ObjectLayer,
    iam: &Iam,
    region: &str,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let page = page_of(&req.input)?;
    let i = req.input;
    let who = req.extensions.get::<Caller>().map(|c| &c.0);
    let env = req.extensions.get::<Env>().copied().unwrap_or_default();
    let mut buckets = layer.list_buckets().await.map_err(to_s3)?;
    let prefix = i.prefix.as_deref().unwrap_or_default();
    let elsewhere = i.bucket_region.as_deref().is_some_and(|r| r != region);
    buckets.retain(|b| {
        !elsewhere
            && b.name.starts_with(prefix)
            && page
                .after
                .as_deref()
                .is_none_or(|after| b.name.as_str() > after)
    });
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    let mut buckets = iam.listable(who, &env, buckets, |b| &b.name).await;
    let next = (buckets.len() > page.limit).then(|| {
        buckets.truncate(page.limit);
        URL_SAFE_NO_PAD.encode(&buckets[page.limit - 1].name)
    });
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(
            buckets
                .into_iter()
                .map(|b| Bucket {
                    name: Some(b.name),
                    creation_date: Some(timestamp(b.created_ns)),
                    bucket_region: Some(region.to_owned()),
                })
                .collect(),
        ),
        owner: Some(owner()),
        continuation_token: next,
        prefix: i.prefix,
    }))
}

pub async fn create_bucket(
    layer: &ObjectLayer,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let bucket = req.input.bucket;
    let object_lock = req.input.object_lock_enabled_for_bucket.unwrap_or(false);
    (layer.make_bucket_with(&bucket, object_lock))
        .await
        .map_err(to_s3)?;
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
    region: &str,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    layer.head_bucket(&req.input.bucket).await.map_err(to_s3)?;
    // S3 answers an empty LocationConstraint for us-east-1, its original region.
    let location_constraint =
        (region != DEFAULT_REGION).then(|| BucketLocationConstraint::from(region.to_owned()));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint,
    }))
}

pub async fn get_bucket_versioning(
    layer: &ObjectLayer,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let state = (layer.bucket_versioning(&req.input.bucket))
        .await
        .map_err(to_s3)?;
    // Never enabled: no Status element, as S3 shows a bucket that never had versioning.
    let status = match state {
        Versioning::Unversioned => None,
        Versioning::Enabled => Some(BucketVersioningStatus::ENABLED),
        Versioning::Suspended => Some(BucketVersioningStatus::SUSPENDED),
    };
    Ok(S3Response::new(GetBucketVersioningOutput {
        status: status.map(BucketVersioningStatus::from_static),
        ..Default::default()
    }))
}

pub async fn put_bucket_versioning(
    layer: &ObjectLayer,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let i = req.input;
    if i.versioning_configuration
        .mfa_delete
        .is_some_and(|m| m.as_str() == "Enabled")
    {
        return Err(s3_err(
            S3ErrorCode::NotImplemented,
            "MFA delete is not supported",
        ));
    }
    let status = i.versioning_configuration.status.as_ref();
    let state = status
        .and_then(|s| s.as_str().parse::<Versioning>().ok())
        .ok_or_else(|| {
            s3_err(
                S3ErrorCode::MalformedXML,
                "the versioning Status must be Enabled or Suspended",
            )
        })?;
    (layer.set_bucket_versioning(&i.bucket, state))
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(PutBucketVersioningOutput::default()))
}
