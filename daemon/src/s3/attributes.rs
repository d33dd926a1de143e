//! What S3 tells of an object beside its bytes: the checksums a single PUT stored (given
//! back on GET and HEAD with `x-amz-checksum-mode: ENABLED`), and GetObjectAttributes
//! (ETag, Checksum, ObjectParts, StorageClass, ObjectSize).
//!
//! A PUT's checksums (those the client sent, in headers or a trailer, or asked for with
//! `x-amz-checksum-algorithm`) are verified against the body before the commit and stored
//! as headers of the object (`x-amz-checksum-crc32` …, and `x-amz-checksum-type`
//! FULL_OBJECT), set once the body's end is read ([`record`]), so they cost no second
//! metadata write. Objects written otherwise (multipart uploads, gRPC, the mount, before
//! this) have none.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use super::convert::{check_version, etag, timestamp};
use super::error::to_s3;
use crate::object::{LateHeaders, ObjectInfo, ObjectLayer};

/// The stored header of each checksum algorithm.
const CRC32: &str = "x-amz-checksum-crc32";
const CRC32C: &str = "x-amz-checksum-crc32c";
const SHA1: &str = "x-amz-checksum-sha1";
const SHA256: &str = "x-amz-checksum-sha256";
const CRC64NVME: &str = "x-amz-checksum-crc64nvme";
/// The stored header of the checksums' type.
const TYPE: &str = "x-amz-checksum-type";

/// Records the verified checksums of a body as headers the commit stores.
pub fn record(late: &LateHeaders, computed: &Checksum) {
    let mut any = false;
    for (name, value) in [
        (CRC32, &computed.checksum_crc32),
        (CRC32C, &computed.checksum_crc32c),
        (SHA1, &computed.checksum_sha1),
        (SHA256, &computed.checksum_sha256),
        (CRC64NVME, &computed.checksum_crc64nvme),
    ] {
        if let Some(v) = value {
            late.set(name, v.clone());
            any = true;
        }
    }
    if any {
        late.set(TYPE, ChecksumType::FULL_OBJECT.into());
    }
}

/// The checksums stored with an object.
pub fn stored(info: &ObjectInfo) -> Checksum {
    let get = |name: &str| info.headers.get(name).cloned();
    Checksum {
        checksum_crc32: get(CRC32),
        checksum_crc32c: get(CRC32C),
        checksum_sha1: get(SHA1),
        checksum_sha256: get(SHA256),
        checksum_crc64nvme: get(CRC64NVME),
        checksum_type: get(TYPE).map(ChecksumType::from),
    }
}

/// The stored checksums to answer a GET or HEAD with: when the client asks for them
/// (`x-amz-checksum-mode: ENABLED`) and reads the whole object.
pub fn answered(info: &ObjectInfo, mode: Option<&ChecksumMode>, whole: bool) -> Checksum {
    let enabled = mode.is_some_and(|m| m.as_str() == ChecksumMode::ENABLED);
    if enabled && whole {
        stored(info)
    } else {
        Checksum::default()
    }
}

/// The stored checksum headers of `info`, for a copy of it that keeps its bytes.
pub fn copied(info: &ObjectInfo) -> impl Iterator<Item = (&String, &String)> {
    let names = [CRC32, CRC32C, SHA1, SHA256, CRC64NVME, TYPE];
    (info.headers.iter()).filter(move |(k, _)| names.contains(&k.as_str()))
}

pub async fn get_object_attributes(
    layer: &ObjectLayer,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let i = req.input;
    check_version(i.version_id.as_deref())?;
    let info = layer.head_object(&i.bucket, &i.key).await.map_err(to_s3)?;
    let wants = |a: &str| i.object_attributes.iter().any(|x| x.as_str() == a);
    let checksum = stored(&info);
    let has_checksum = checksum.checksum_type.is_some();
    // Only a multipart object has parts to tell (its ETag ends in `-N`).
    let parts = wants(ObjectAttributes::OBJECT_PARTS) && info.etag.contains('-');
    Ok(S3Response::new(GetObjectAttributesOutput {
        e_tag: wants(ObjectAttributes::ETAG).then(|| etag(&info.etag)),
        checksum: (wants(ObjectAttributes::CHECKSUM) && has_checksum).then_some(checksum),
        object_parts: parts.then(|| object_parts(&info, i.max_parts, i.part_number_marker)),
        object_size: wants(ObjectAttributes::OBJECT_SIZE).then_some(info.size as i64),
        storage_class: (wants(ObjectAttributes::STORAGE_CLASS))
            .then(|| StorageClass::from_static(StorageClass::STANDARD)),
        last_modified: Some(timestamp(info.mod_time_ns)),
        ..Default::default()
    }))
}

/// The parts of a multipart object after `marker`, at most `max` (S3: 1000).
fn object_parts(
    info: &ObjectInfo,
    max: Option<i32>,
    marker: Option<i32>,
) -> GetObjectAttributesParts {
    let max = max.unwrap_or(1000).clamp(1, 1000) as usize;
    let marker = marker.unwrap_or(0).max(0) as usize;
    let all = info.part_sizes.iter().enumerate().skip(marker);
    let parts: Vec<ObjectPart> = all
        .clone()
        .take(max)
        .map(|(i, size)| ObjectPart {
            part_number: Some(i as i32 + 1),
            size: Some(*size as i64),
            ..Default::default()
        })
        .collect();
    let truncated = all.count() > parts.len();
    GetObjectAttributesParts {
        is_truncated: Some(truncated),
        max_parts: Some(max as i32),
        next_part_number_marker: parts.last().and_then(|p| p.part_number),
        part_number_marker: Some(marker as i32),
        total_parts_count: Some(info.parts() as i32),
        parts: Some(parts),
    }
}
