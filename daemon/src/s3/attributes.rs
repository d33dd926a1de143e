//! What S3 tells of an object beside its bytes: the checksums a single PUT stored (given
//! back on GET and HEAD with `x-amz-checksum-mode: ENABLED`), and GetObjectAttributes
//! (ETag, Checksum, ObjectParts, StorageClass, ObjectSize).
//!
//! A PUT's checksums (those the client sent, in headers or a trailer, or asked for with
//! `x-amz-checksum-algorithm`) are verified against the body before the commit and stored
//! as headers of the object (`x-amz-checksum-crc32` …, and `x-amz-checksum-type`
//! FULL_OBJECT), set once the body's end is read ([`record`]), so they cost no second
//! metadata write. A part's are verified and kept with the part; completing an upload whose
//! listed parts all carry a CRC32, CRC32C, SHA-1 or SHA-256 stores S3's COMPOSITE checksum
//! of them ([`composite`]: the checksum of the parts' raw checksums, then `-N`); an upload
//! created FULL_OBJECT gets the CRC of the whole object, combined from its parts'
//! ([`full_object`]). Objects written otherwise (gRPC, the mount, before this) have none.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use s3s::S3ErrorCode;
use s3s::checksum::ChecksumHasher;

use super::convert::{check_version, etag, timestamp};
use super::error::{s3_err, to_s3};
use crate::object::{CHECKSUM_TYPE, CompletePart, LateHeaders, ObjectInfo, ObjectLayer};

/// The stored header of each checksum algorithm.
const CRC32: &str = "x-amz-checksum-crc32";
const CRC32C: &str = "x-amz-checksum-crc32c";
const SHA1: &str = "x-amz-checksum-sha1";
const SHA256: &str = "x-amz-checksum-sha256";
const CRC64NVME: &str = "x-amz-checksum-crc64nvme";
/// The stored header of the checksums' type.
const TYPE: &str = CHECKSUM_TYPE;

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

/// The checksums a CompleteMultipartUpload lists for one part, by stored header name.
pub fn listed(p: &CompletedPart) -> BTreeMap<String, String> {
    [
        (CRC32, &p.checksum_crc32),
        (CRC32C, &p.checksum_crc32c),
        (SHA1, &p.checksum_sha1),
        (SHA256, &p.checksum_sha256),
        (CRC64NVME, &p.checksum_crc64nvme),
    ]
    .into_iter()
    .filter_map(|(name, v)| Some((name.to_string(), v.clone()?)))
    .collect()
}

/// The COMPOSITE checksums of an upload of `parts` (as listed, each checked against its
/// part when the upload completes): for each algorithm every part lists (CRC64NVME has
/// only full-object checksums), the algorithm over the parts' raw checksums, base64, `-N`;
/// with the type when there is one.
pub fn composite(parts: &[CompletePart]) -> S3Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for name in [CRC32, CRC32C, SHA1, SHA256] {
        let Some(values) = (parts.iter())
            .map(|p| p.checksums.get(name))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let mut hasher = ChecksumHasher::default();
        match name {
            CRC32 => hasher.crc32 = Some(Default::default()),
            CRC32C => hasher.crc32c = Some(Default::default()),
            SHA1 => hasher.sha1 = Some(Default::default()),
            _ => hasher.sha256 = Some(Default::default()),
        }
        for v in values {
            let raw = STANDARD.decode(v).map_err(|_| {
                s3_err(
                    S3ErrorCode::InvalidRequest,
                    format!("{name} of a part is not base64"),
                )
            })?;
            hasher.update(&raw);
        }
        let c = hasher.finalize();
        let sum = [
            c.checksum_crc32,
            c.checksum_crc32c,
            c.checksum_sha1,
            c.checksum_sha256,
        ];
        if let Some(sum) = sum.into_iter().flatten().next() {
            out.insert(name.to_string(), format!("{sum}-{}", parts.len()));
        }
    }
    if !out.is_empty() {
        out.insert(TYPE.to_string(), ChecksumType::COMPOSITE.into());
    }
    Ok(out)
}

/// The FULL_OBJECT checksum `name` (a CRC's header) of an object made of `parts`, each
/// `(size, base64 CRC)` in order: the parts' CRCs combined, as if the whole were read.
pub fn full_object(name: &str, parts: &[(u64, &str)]) -> S3Result<String> {
    use super::crc_combine;
    let (crc, bytes) = match name {
        CRC32 => (crc_combine::CRC32, 4),
        CRC32C => (crc_combine::CRC32C, 4),
        CRC64NVME => (crc_combine::CRC64NVME, 8),
        _ => {
            return Err(s3_err(
                S3ErrorCode::InvalidRequest,
                "FULL_OBJECT checksums are CRC32, CRC32C or CRC64NVME",
            ));
        }
    };
    let mut whole: Option<u64> = None;
    for (size, value) in parts {
        let raw = STANDARD.decode(value).ok().filter(|r| r.len() == bytes);
        let raw = raw.ok_or_else(|| {
            s3_err(
                S3ErrorCode::InvalidRequest,
                format!("{name} of a part is malformed"),
            )
        })?;
        let crc_part = raw.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        whole = Some(match whole {
            None => crc_part,
            Some(w) => crc.combine(w, crc_part, *size),
        });
    }
    let whole = whole.unwrap_or_default().to_be_bytes();
    Ok(STANDARD.encode(&whole[8 - bytes..]))
}

/// The CRC a FULL_OBJECT upload's parts all carry (by stored header name), preferring the
/// widest.
pub fn full_object_algorithm<'a>(
    parts: impl Iterator<Item = &'a BTreeMap<String, String>> + Clone,
) -> Option<&'static str> {
    [CRC64NVME, CRC32C, CRC32]
        .into_iter()
        .find(|name| parts.clone().all(|sums| sums.contains_key(*name)))
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
        .map(|(i, size)| {
            let sums = info.part_checksums.get(i);
            let get = |name: &str| sums.and_then(|s| s.get(name)).cloned();
            ObjectPart {
                part_number: Some(i as i32 + 1),
                size: Some(*size as i64),
                checksum_crc32: get(CRC32),
                checksum_crc32c: get(CRC32C),
                checksum_sha1: get(SHA1),
                checksum_sha256: get(SHA256),
                checksum_crc64nvme: get(CRC64NVME),
            }
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
