//! S3 listings: ListObjects (v1) and ListObjectsV2, over one ObjectLayer listing
//! (ListObjectVersions is `versioning`'s).

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use super::bucket::owner;
use super::convert::{etag, timestamp, url_encode};
use super::error::{s3_err, to_s3};
use crate::object::{ListQuery, ListResult, ObjectLayer};

pub(super) fn max_keys(m: Option<i32>) -> S3Result<usize> {
    match m {
        None => Ok(1000),
        Some(m) if m < 0 => Err(s3_err(
            S3ErrorCode::InvalidArgument,
            "max-keys must not be negative",
        )),
        Some(m) => Ok((m as usize).min(1000)),
    }
}

pub(super) fn url_encoding(e: Option<&EncodingType>) -> S3Result<bool> {
    match e.map(|e| e.as_str()) {
        None => Ok(false),
        Some(EncodingType::URL) => Ok(true),
        Some(other) => Err(s3_err(
            S3ErrorCode::InvalidArgument,
            format!("invalid encoding-type {other:?}"),
        )),
    }
}

struct Page {
    result: ListResult,
    encode: bool,
}

impl Page {
    fn enc(&self, s: &str) -> String {
        if self.encode {
            url_encode(s)
        } else {
            s.to_string()
        }
    }

    fn objects(&self, with_owner: bool) -> Vec<Object> {
        self.result
            .objects
            .iter()
            .map(|o| Object {
                key: Some(self.enc(&o.key)),
                size: Some(o.size as i64),
                e_tag: Some(etag(&o.etag)),
                last_modified: Some(timestamp(o.mod_time_ns)),
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                owner: with_owner.then(owner),
                ..Default::default()
            })
            .collect()
    }

    fn prefixes(&self) -> Vec<CommonPrefix> {
        self.result
            .prefixes
            .iter()
            .map(|p| CommonPrefix {
                prefix: Some(self.enc(p)),
            })
            .collect()
    }

    /// The last key or prefix of the page (what v1's NextMarker names).
    fn last_name(&self) -> Option<String> {
        let last_obj = self.result.objects.last().map(|o| o.key.clone());
        let last_pre = self.result.prefixes.last().cloned();
        last_obj.max(last_pre)
    }
}

async fn list(
    layer: &ObjectLayer,
    bucket: &str,
    q: ListQuery,
    encoding: Option<&EncodingType>,
) -> S3Result<Page> {
    let encode = url_encoding(encoding)?;
    let result = layer.list_objects(bucket, &q).await.map_err(to_s3)?;
    Ok(Page { result, encode })
}

pub async fn list_objects(
    layer: &ObjectLayer,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let i = req.input;
    let max = max_keys(i.max_keys)?;
    let q = ListQuery {
        prefix: i.prefix.clone().unwrap_or_default(),
        delimiter: i.delimiter.clone().unwrap_or_default(),
        start_after: i.marker.clone().unwrap_or_default(),
        continuation: None,
        max_keys: max,
    };
    let page = list(layer, &i.bucket, q, i.encoding_type.as_ref()).await?;
    let truncated = page.result.truncated;
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(i.bucket),
        prefix: Some(page.enc(&i.prefix.unwrap_or_default())),
        marker: Some(page.enc(&i.marker.unwrap_or_default())),
        delimiter: i.delimiter.map(|d| page.enc(&d)),
        max_keys: Some(max as i32),
        is_truncated: Some(truncated),
        next_marker: truncated
            .then(|| page.last_name().map(|n| page.enc(&n)))
            .flatten(),
        contents: Some(page.objects(true)),
        common_prefixes: Some(page.prefixes()),
        encoding_type: i.encoding_type,
        ..Default::default()
    }))
}

pub async fn list_objects_v2(
    layer: &ObjectLayer,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let i = req.input;
    let max = max_keys(i.max_keys)?;
    let q = ListQuery {
        prefix: i.prefix.clone().unwrap_or_default(),
        delimiter: i.delimiter.clone().unwrap_or_default(),
        start_after: i.start_after.clone().unwrap_or_default(),
        continuation: i.continuation_token.clone(),
        max_keys: max,
    };
    let page = list(layer, &i.bucket, q, i.encoding_type.as_ref()).await?;
    let objects = page.objects(i.fetch_owner.unwrap_or(false));
    let prefixes = page.prefixes();
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(i.bucket),
        prefix: Some(page.enc(&i.prefix.unwrap_or_default())),
        delimiter: i.delimiter.map(|d| page.enc(&d)),
        start_after: i.start_after.map(|s| page.enc(&s)),
        max_keys: Some(max as i32),
        key_count: Some((objects.len() + prefixes.len()) as i32),
        is_truncated: Some(page.result.truncated),
        continuation_token: i.continuation_token,
        next_continuation_token: page.result.next_token.clone(),
        contents: Some(objects),
        common_prefixes: Some(prefixes),
        encoding_type: i.encoding_type,
        ..Default::default()
    }))
}
