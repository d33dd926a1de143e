//! S3 multipart uploads: create, upload part (and part copy with a source range),
//! complete, abort, list parts, list uploads.

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use super::body::{check_algorithm, expected_checksums, verifier};
use super::bucket::owner;
use super::convert::{Conditions, etag, etag_value, timestamp, write_condition, write_headers};
use super::edge::UnknownLength;
use super::error::{s3_err, to_s3};
use super::object::{copy_source, write_error};
use std::collections::BTreeMap;

use crate::object::{
    CHECKSUM_TYPE, CompletePart, LateHeaders, ObjectError, ObjectLayer, RangeSpec, body_reader,
};

fn part_number(n: i32) -> S3Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            s3_err(
                S3ErrorCode::InvalidArgument,
                "part numbers go from 1 to 10000",
            )
        })
}

pub async fn create_multipart_upload(
    layer: &ObjectLayer,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let i = req.input;
    let full = checksum_type(i.checksum_algorithm.as_ref(), i.checksum_type.as_ref())?;
    let mut attrs = write_headers!(i).into_attrs()?;
    if full {
        attrs
            .headers
            .insert(CHECKSUM_TYPE.into(), ChecksumType::FULL_OBJECT.into());
    }
    super::tagging::set_from_header(&mut attrs, i.tagging.as_deref())?;
    super::lock::set_from_request(
        &mut attrs,
        i.object_lock_mode.as_ref(),
        i.object_lock_retain_until_date.as_ref(),
        i.object_lock_legal_hold_status.as_ref(),
    )?;
    let upload_id = layer
        .create_upload(&i.bucket, &i.key, &attrs)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(upload_id),
        ..Default::default()
    }))
}

pub async fn upload_part(
    layer: &ObjectLayer,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let trailers = req.trailing_headers;
    let headers = req.headers;
    let i = req.input;
    let number = part_number(i.part_number)?;
    let length = match req.extensions.get::<UnknownLength>() {
        Some(UnknownLength) => None,
        None => i.content_length,
    };
    let size = match length {
        Some(l) if l < 0 => {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                "negative Content-Length",
            ));
        }
        Some(l) if l > 5 << 30 => {
            return Err(s3_err(
                S3ErrorCode::EntityTooLarge,
                "parts are at most 5 GiB",
            ));
        }
        l => l.map(|l| l as u64),
    };
    let Some(body) = i.body else {
        return Err(s3_err(S3ErrorCode::IncompleteBody, "no body"));
    };
    let expected = expected_checksums!(i);
    check_algorithm(expected.algorithm.as_ref(), &headers)?;
    // The part's verified checksums are kept with it (for the upload's COMPOSITE one).
    let late = LateHeaders::shared();
    let (mut reader, outcome) = verifier(body, expected, trailers, late.clone());
    let at = (i.bucket.as_str(), i.key.as_str(), i.upload_id.as_str());
    let result = (layer.upload_part(at, number, (&mut reader, size), &late)).await;
    let outcome = std::mem::take(&mut *outcome.lock().unwrap_or_else(|e| e.into_inner()));
    let part = result.map_err(|e| write_error(e, outcome.mismatch))?;
    let c = outcome.computed;
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(etag(&part.etag)),
        checksum_crc32: c.checksum_crc32,
        checksum_crc32c: c.checksum_crc32c,
        checksum_sha1: c.checksum_sha1,
        checksum_sha256: c.checksum_sha256,
        checksum_crc64nvme: c.checksum_crc64nvme,
        ..Default::default()
    }))
}

/// Whether an upload created with `algorithm` and `kind` keeps a FULL_OBJECT checksum
/// (CRC64NVME has no other kind; SHA ones have no such kind).
fn checksum_type(
    algorithm: Option<&ChecksumAlgorithm>,
    kind: Option<&ChecksumType>,
) -> S3Result<bool> {
    let crc = |a: &str| {
        [
            ChecksumAlgorithm::CRC32,
            ChecksumAlgorithm::CRC32C,
            ChecksumAlgorithm::CRC64NVME,
        ]
        .contains(&a)
    };
    match (algorithm.map(|a| a.as_str()), kind.map(|k| k.as_str())) {
        (Some(a), Some(ChecksumType::FULL_OBJECT)) if crc(a) => Ok(true),
        (_, Some(ChecksumType::FULL_OBJECT)) => Err(s3_err(
            S3ErrorCode::InvalidRequest,
            "FULL_OBJECT checksums need the CRC32, CRC32C or CRC64NVME algorithm",
        )),
        (Some(ChecksumAlgorithm::CRC64NVME), Some(ChecksumType::COMPOSITE)) => Err(s3_err(
            S3ErrorCode::InvalidRequest,
            "CRC64NVME checksums are FULL_OBJECT only",
        )),
        (Some(ChecksumAlgorithm::CRC64NVME), None) => Ok(true),
        _ => Ok(false),
    }
}

/// The checksum headers of a FULL_OBJECT upload completed from `listed`: the CRC every part
/// carries, combined over the parts; a full-object checksum the request sends must match.
async fn full_object_sums(
    layer: &ObjectLayer,
    i: &CompleteMultipartUploadInput,
    listed: &[CompletePart],
) -> S3Result<BTreeMap<String, String>> {
    let stored = (layer.list_parts(&i.bucket, &i.key, &i.upload_id))
        .await
        .map_err(to_s3)?;
    let mut parts = Vec::with_capacity(listed.len());
    for l in listed {
        let Some(p) = stored.iter().find(|p| p.number == l.number) else {
            return Err(s3_err(
                S3ErrorCode::InvalidPart,
                format!("part {} was not uploaded", l.number),
            ));
        };
        parts.push(p);
    }
    let name = super::attributes::full_object_algorithm(parts.iter().map(|p| &p.checksums))
        .ok_or_else(|| {
            s3_err(
                S3ErrorCode::InvalidRequest,
                "a FULL_OBJECT upload needs every part's CRC checksum",
            )
        })?;
    let each: Vec<(u64, &str)> = (parts.iter())
        .map(|p| (p.size, p.checksums[name].as_str()))
        .collect();
    let whole = super::attributes::full_object(name, &each)?;
    let claimed = match name {
        "x-amz-checksum-crc32" => &i.checksum_crc32,
        "x-amz-checksum-crc32c" => &i.checksum_crc32c,
        _ => &i.checksum_crc64nvme,
    };
    if claimed.as_ref().is_some_and(|c| *c != whole) {
        return Err(s3_err(
            S3ErrorCode::BadDigest,
            format!("the object's {name} is {whole}, not the one sent"),
        ));
    }
    Ok(BTreeMap::from([
        (name.to_string(), whole),
        (
            CHECKSUM_TYPE.to_string(),
            ChecksumType::FULL_OBJECT.to_string(),
        ),
    ]))
}

/// `bytes=first-last` of x-amz-copy-source-range.
fn source_range(r: &str) -> S3Result<RangeSpec> {
    let bad = || {
        s3_err(
            S3ErrorCode::InvalidArgument,
            format!("invalid x-amz-copy-source-range {r:?}"),
        )
    };
    let (a, b) = r
        .strip_prefix("bytes=")
        .and_then(|s| s.split_once('-'))
        .ok_or_else(bad)?;
    let first: u64 = a.parse().map_err(|_| bad())?;
    let last: u64 = b.parse().map_err(|_| bad())?;
    if last < first {
        return Err(bad());
    }
    Ok(RangeSpec::Bounded(first, last.saturating_add(1)))
}

pub async fn upload_part_copy(
    layer: &ObjectLayer,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let i = req.input;
    let number = part_number(i.part_number)?;
    let (src_bucket, src_key, src_version) = copy_source(&i.copy_source)?;
    let spec = match &i.copy_source_range {
        Some(r) => source_range(r)?,
        None => RangeSpec::Full,
    };
    let read = layer
        .get_version(&src_bucket, &src_key, spec, src_version.as_deref())
        .await
        .map_err(to_s3)?;
    if let RangeSpec::Bounded(_, end) = spec
        && end > read.info.size
    {
        return Err(s3_err(
            S3ErrorCode::InvalidRange,
            "the source range is past the end of the source object",
        ));
    }
    Conditions {
        if_match: i.copy_source_if_match.as_ref(),
        if_none_match: i.copy_source_if_none_match.as_ref(),
        if_modified_since: i.copy_source_if_modified_since.as_ref(),
        if_unmodified_since: i.copy_source_if_unmodified_since.as_ref(),
    }
    .check(&read.info, false)?;
    let size = read.range.1 - read.range.0;
    let mut body = body_reader(read.body);
    let at = (i.bucket.as_str(), i.key.as_str(), i.upload_id.as_str());
    let part = (layer.upload_part(at, number, (&mut body, Some(size)), &Default::default()))
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(etag(&part.etag)),
            last_modified: Some(timestamp(part.mod_time_ns)),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

pub async fn complete_multipart_upload(
    layer: &ObjectLayer,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let mut i = req.input;
    let listed = (i.multipart_upload.take())
        .and_then(|m| m.parts)
        .unwrap_or_default();
    if listed.is_empty() {
        return Err(s3_err(
            S3ErrorCode::MalformedXML,
            "the request lists no parts",
        ));
    }
    let mut parts = Vec::with_capacity(listed.len());
    for p in listed {
        let checksums = super::attributes::listed(&p);
        let (Some(n), Some(e)) = (p.part_number, p.e_tag) else {
            return Err(s3_err(
                S3ErrorCode::MalformedXML,
                "every part needs a PartNumber and an ETag",
            ));
        };
        parts.push(CompletePart {
            number: part_number(n)?,
            etag: etag_value(&e).to_string(),
            checksums,
        });
    }
    // A retried completion finds the upload gone: the layer answers it from the object.
    let full = match (layer.upload_checksum_type(&i.bucket, &i.key, &i.upload_id)).await {
        Ok(kind) => kind.is_some_and(|t| t == ChecksumType::FULL_OBJECT),
        Err(ObjectError::UploadNotFound { .. }) => false,
        Err(e) => return Err(to_s3(e)),
    };
    let sums = match full {
        true => full_object_sums(layer, &i, &parts).await?,
        false => super::attributes::composite(&parts)?,
    };
    // Checked before the parts are moved, so a doomed completion leaves the upload
    // intact; the commit checks again under the object's lock.
    let cond = write_condition(i.if_match.as_ref(), i.if_none_match.as_ref());
    layer
        .precheck_write(&i.bucket, &i.key, &cond)
        .await
        .map_err(to_s3)?;
    let info = layer
        .complete_upload(&i.bucket, &i.key, &i.upload_id, &parts, (&cond, sums))
        .await
        .map_err(to_s3)?;
    let c = super::attributes::stored(&info);
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        location: Some(format!("/{}/{}", i.bucket, i.key)),
        e_tag: Some(etag(&info.etag)),
        version_id: super::convert::version_id(&info),
        checksum_crc32: c.checksum_crc32,
        checksum_crc32c: c.checksum_crc32c,
        checksum_sha1: c.checksum_sha1,
        checksum_sha256: c.checksum_sha256,
        checksum_crc64nvme: c.checksum_crc64nvme,
        checksum_type: c.checksum_type,
        ..Default::default()
    }))
}

pub async fn abort_multipart_upload(
    layer: &ObjectLayer,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let i = req.input;
    layer
        .abort_upload(&i.bucket, &i.key, &i.upload_id)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub async fn list_parts(
    layer: &ObjectLayer,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let i = req.input;
    let max = i.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
    let marker = u32::try_from(i.part_number_marker.unwrap_or(0))
        .map_err(|_| s3_err(S3ErrorCode::InvalidArgument, "invalid part-number-marker"))?;
    let parts = layer
        .list_parts(&i.bucket, &i.key, &i.upload_id)
        .await
        .map_err(to_s3)?;
    let mut after: Vec<_> = parts.into_iter().filter(|p| p.number > marker).collect();
    let truncated = after.len() > max;
    after.truncate(max);
    let next = after.last().map(|p| p.number);
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(i.upload_id),
        max_parts: Some(max as i32),
        is_truncated: Some(truncated),
        part_number_marker: i.part_number_marker,
        next_part_number_marker: truncated.then(|| next.map(|n| n as i32)).flatten(),
        owner: Some(owner()),
        parts: Some(
            after
                .into_iter()
                .map(|p| Part {
                    part_number: Some(p.number as i32),
                    e_tag: Some(etag(&p.etag)),
                    size: Some(p.size as i64),
                    last_modified: Some(timestamp(p.mod_time_ns)),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }))
}

pub async fn list_multipart_uploads(
    layer: &ObjectLayer,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let i = req.input;
    let max = i.max_uploads.unwrap_or(1000).clamp(0, 1000) as usize;
    let prefix = i.prefix.clone().unwrap_or_default();
    let key_marker = i.key_marker.clone().unwrap_or_default();
    let id_marker = i.upload_id_marker.clone().unwrap_or_default();
    let uploads = layer
        .list_uploads(&i.bucket, &prefix)
        .await
        .map_err(to_s3)?;
    let mut after: Vec<_> = uploads
        .into_iter()
        .filter(|u| {
            key_marker.is_empty()
                || u.key > key_marker
                || (u.key == key_marker && u.upload_id > id_marker)
        })
        .collect();
    let truncated = after.len() > max;
    after.truncate(max);
    let last = after.last().cloned();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(i.bucket),
        prefix: i.prefix,
        key_marker: i.key_marker,
        upload_id_marker: i.upload_id_marker,
        max_uploads: Some(max as i32),
        is_truncated: Some(truncated),
        next_key_marker: truncated
            .then(|| last.as_ref().map(|u| u.key.clone()))
            .flatten(),
        next_upload_id_marker: truncated
            .then(|| last.as_ref().map(|u| u.upload_id.clone()))
            .flatten(),
        uploads: Some(
            after
                .into_iter()
                .map(|u| MultipartUpload {
                    key: Some(u.key),
                    upload_id: Some(u.upload_id),
                    initiated: Some(timestamp(u.initiated_ns)),
                    owner: Some(owner()),
                    initiator: Some(Initiator {
                        display_name: Some("tessera".into()),
                        id: Some("tessera".into()),
                    }),
                    storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }))
}
