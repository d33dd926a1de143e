//! S3 versioning views: ListObjectVersions over the object layer's listing of versions
//! (versions and delete markers in S3's order, paged by key and version markers).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use super::bucket::owner;
use super::convert::{etag, timestamp, url_encode};
use super::error::to_s3;
use super::list::{max_keys, url_encoding};
use crate::object::{ObjectLayer, VersionQuery};

pub async fn list_object_versions(
    layer: &ObjectLayer,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let i = req.input;
    let max = max_keys(i.max_keys)?;
    let encode = url_encoding(i.encoding_type.as_ref())?;
    let enc = |s: &str| if encode { url_encode(s) } else { s.to_string() };
    let q = VersionQuery {
        prefix: i.prefix.clone().unwrap_or_default(),
        delimiter: i.delimiter.clone().unwrap_or_default(),
        key_marker: i.key_marker.clone().unwrap_or_default(),
        version_marker: i.version_id_marker.clone().filter(|v| !v.is_empty()),
        max_keys: max,
    };
    let page = (layer.list_object_versions(&i.bucket, &q))
        .await
        .map_err(to_s3)?;
    let mut versions = Vec::new();
    let mut markers = Vec::new();
    for v in &page.versions {
        let o = &v.info;
        if o.delete_marker {
            markers.push(DeleteMarkerEntry {
                key: Some(enc(&o.key)),
                version_id: Some(o.version_id.clone()),
                is_latest: Some(v.is_latest),
                last_modified: Some(timestamp(o.mod_time_ns)),
                owner: Some(owner()),
            });
        } else {
            versions.push(ObjectVersion {
                key: Some(enc(&o.key)),
                version_id: Some(o.version_id.clone()),
                is_latest: Some(v.is_latest),
                size: Some(o.size as i64),
                e_tag: Some(etag(&o.etag)),
                last_modified: Some(timestamp(o.mod_time_ns)),
                owner: Some(owner()),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                ..Default::default()
            });
        }
    }
    let prefixes = (page.prefixes.iter())
        .map(|p| CommonPrefix {
            prefix: Some(enc(p)),
        })
        .collect();
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(i.bucket),
        prefix: Some(enc(&q.prefix)),
        delimiter: i.delimiter.map(|d| enc(&d)),
        key_marker: Some(enc(&q.key_marker)),
        version_id_marker: q.version_marker.clone(),
        max_keys: Some(max as i32),
        is_truncated: Some(page.truncated),
        next_key_marker: page
            .truncated
            .then(|| page.next_key_marker.as_deref().map(enc))
            .flatten(),
        next_version_id_marker: page.truncated.then_some(page.next_version_marker).flatten(),
        versions: Some(versions),
        common_prefixes: Some(prefixes),
        delete_markers: Some(markers),
        encoding_type: i.encoding_type,
        ..Default::default()
    }))
}
