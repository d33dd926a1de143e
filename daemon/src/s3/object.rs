//! S3 object operations: PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject.

use http::StatusCode;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use super::body::{check_algorithm, expected_checksums, response_body, verifier};
use super::convert::*;
use super::edge::UnknownLength;
use super::error::{s3_err, to_s3};
use super::{attributes, lifecycle, lock, tagging};
use crate::object::{LateHeaders, NULL_VERSION, ObjectError, ObjectInfo, ObjectLayer, RangeSpec};

/// Largest object a single PUT may carry (as S3).
const MAX_PUT_SIZE: i64 = 5 << 40;

fn declared_size(len: Option<i64>) -> S3Result<Option<u64>> {
    match len {
        Some(l) if l < 0 => Err(s3_err(
            S3ErrorCode::InvalidArgument,
            "negative Content-Length",
        )),
        Some(l) if l > MAX_PUT_SIZE => Err(s3_err(
            S3ErrorCode::EntityTooLarge,
            "objects are at most 5 TiB",
        )),
        Some(l) => Ok(Some(l as u64)),
        None => Ok(None),
    }
}

/// Maps a write's error, telling a checksum mismatch (BadDigest) from other body errors.
pub(super) fn write_error(e: ObjectError, mismatch: Option<String>) -> s3s::S3Error {
    match (e, mismatch) {
        (ObjectError::Body(_), Some(m)) => s3_err(S3ErrorCode::BadDigest, m),
        (e, _) => to_s3(e),
    }
}

pub async fn put_object(
    layer: &ObjectLayer,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let trailers = req.trailing_headers;
    let headers = req.headers;
    let input = req.input;
    let size = match req.extensions.get::<UnknownLength>() {
        Some(UnknownLength) => None,
        None => declared_size(input.content_length)?,
    };
    let Some(body) = input.body else {
        return Err(s3_err(S3ErrorCode::IncompleteBody, "no body"));
    };
    let expected = expected_checksums!(input);
    check_algorithm(expected.algorithm.as_ref(), &headers)?;
    let mut attrs = write_headers!(input).into_attrs()?;
    tagging::set_from_header(&mut attrs, input.tagging.as_deref())?;
    lock::set_from_request(
        &mut attrs,
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    )?;
    attrs.late = LateHeaders::shared();
    let cond = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref());
    layer
        .precheck_write(&input.bucket, &input.key, &cond)
        .await
        .map_err(to_s3)?;
    let (mut reader, outcome) = verifier(body, expected, trailers, attrs.late.clone());
    let result = layer
        .put_object(&input.bucket, &input.key, &attrs, &mut reader, size, &cond)
        .await;
    let outcome = std::mem::take(&mut *outcome.lock().unwrap_or_else(|e| e.into_inner()));
    let info = result.map_err(|e| write_error(e, outcome.mismatch))?;
    let c = outcome.computed;
    let expiration = lifecycle::expiration_header(layer, &info).await?;
    Ok(S3Response::new(PutObjectOutput {
        expiration,
        e_tag: Some(etag(&info.etag)),
        size: Some(info.size as i64),
        version_id: version_id(&info),
        checksum_crc32: c.checksum_crc32,
        checksum_crc32c: c.checksum_crc32c,
        checksum_sha1: c.checksum_sha1,
        checksum_sha256: c.checksum_sha256,
        checksum_crc64nvme: c.checksum_crc64nvme,
        ..Default::default()
    }))
}

/// Headers of a read as GetObject and HeadObject share them.
struct ReadHeaders {
    content_range: Option<String>,
    partial: bool,
}

fn read_headers(info: &ObjectInfo, range: (u64, u64), asked: bool) -> ReadHeaders {
    ReadHeaders {
        content_range: asked.then(|| {
            format!(
                "bytes {}-{}/{}",
                range.0,
                range.1.saturating_sub(1),
                info.size
            )
        }),
        partial: asked,
    }
}

pub async fn get_object(
    layer: &ObjectLayer,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let i = req.input;
    let version = i.version_id.as_deref();
    let part_info = match i.part_number {
        Some(_) => Some(
            (layer.head_version(&i.bucket, &i.key, version))
                .await
                .map_err(to_s3)?,
        ),
        None => None,
    };
    let spec = range_spec(i.range.as_ref(), i.part_number, part_info.as_ref())?;
    let read = layer
        .get_version(&i.bucket, &i.key, spec, version)
        .await
        .map_err(to_s3)?;
    let info = &read.info;
    let modified = Conditions {
        if_match: i.if_match.as_ref(),
        if_none_match: i.if_none_match.as_ref(),
        if_modified_since: i.if_modified_since.as_ref(),
        if_unmodified_since: i.if_unmodified_since.as_ref(),
    }
    .check(info, true)?;
    if !modified {
        return Err(not_modified(info));
    }
    let h = read_headers(info, read.range, spec != RangeSpec::Full);
    let sums = attributes::answered(info, i.checksum_mode.as_ref(), spec == RangeSpec::Full);
    let (object_lock_mode, object_lock_retain_until_date, object_lock_legal_hold_status) =
        lock::answered(info);
    let expiration = lifecycle::expiration_header(layer, info).await?;
    let output = GetObjectOutput {
        expiration,
        object_lock_mode,
        object_lock_retain_until_date,
        object_lock_legal_hold_status,
        accept_ranges: Some("bytes".into()),
        content_length: Some((read.range.1 - read.range.0) as i64),
        content_range: h.content_range,
        content_type: i.response_content_type.or_else(|| content_type(info)),
        cache_control: i
            .response_cache_control
            .or_else(|| header(info, CACHE_CONTROL)),
        content_disposition: i
            .response_content_disposition
            .or_else(|| header(info, CONTENT_DISPOSITION)),
        content_encoding: i
            .response_content_encoding
            .or_else(|| header(info, CONTENT_ENCODING)),
        content_language: i
            .response_content_language
            .or_else(|| header(info, CONTENT_LANGUAGE)),
        expires: i.response_expires.or_else(|| expires(info)),
        e_tag: Some(etag(&info.etag)),
        last_modified: Some(timestamp(info.mod_time_ns)),
        metadata: metadata(&info.user_metadata),
        parts_count: parts_count(info, i.part_number),
        tag_count: tagging::count(info),
        checksum_crc32: sums.checksum_crc32,
        checksum_crc32c: sums.checksum_crc32c,
        checksum_sha1: sums.checksum_sha1,
        checksum_sha256: sums.checksum_sha256,
        checksum_crc64nvme: sums.checksum_crc64nvme,
        checksum_type: sums.checksum_type,
        version_id: version_id(info),
        body: Some(response_body(read.body)),
        ..Default::default()
    };
    let mut resp = S3Response::new(output);
    if h.partial {
        resp.status = Some(StatusCode::PARTIAL_CONTENT);
    }
    Ok(resp)
}

pub async fn head_object(
    layer: &ObjectLayer,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let i = req.input;
    let info = (layer.head_version(&i.bucket, &i.key, i.version_id.as_deref()))
        .await
        .map_err(to_s3)?;
    let modified = Conditions {
        if_match: i.if_match.as_ref(),
        if_none_match: i.if_none_match.as_ref(),
        if_modified_since: i.if_modified_since.as_ref(),
        if_unmodified_since: i.if_unmodified_since.as_ref(),
    }
    .check(&info, true)?;
    if !modified {
        return Err(not_modified(&info));
    }
    let spec = range_spec(i.range.as_ref(), i.part_number, Some(&info))?;
    let range = spec
        .resolve(info.size)
        .ok_or_else(|| to_s3(ObjectError::InvalidRange { size: info.size }))?;
    let h = read_headers(&info, range, spec != RangeSpec::Full);
    let sums = attributes::answered(&info, i.checksum_mode.as_ref(), spec == RangeSpec::Full);
    let (object_lock_mode, object_lock_retain_until_date, object_lock_legal_hold_status) =
        lock::answered(&info);
    let expiration = lifecycle::expiration_header(layer, &info).await?;
    let output = HeadObjectOutput {
        expiration,
        object_lock_mode,
        object_lock_retain_until_date,
        object_lock_legal_hold_status,
        accept_ranges: Some("bytes".into()),
        content_length: Some((range.1 - range.0) as i64),
        content_range: h.content_range,
        content_type: i.response_content_type.or_else(|| content_type(&info)),
        cache_control: i
            .response_cache_control
            .or_else(|| header(&info, CACHE_CONTROL)),
        content_disposition: i
            .response_content_disposition
            .or_else(|| header(&info, CONTENT_DISPOSITION)),
        content_encoding: i
            .response_content_encoding
            .or_else(|| header(&info, CONTENT_ENCODING)),
        content_language: i
            .response_content_language
            .or_else(|| header(&info, CONTENT_LANGUAGE)),
        expires: i.response_expires.or_else(|| expires(&info)),
        e_tag: Some(etag(&info.etag)),
        last_modified: Some(timestamp(info.mod_time_ns)),
        metadata: metadata(&info.user_metadata),
        parts_count: parts_count(&info, i.part_number),
        checksum_crc32: sums.checksum_crc32,
        checksum_crc32c: sums.checksum_crc32c,
        checksum_sha1: sums.checksum_sha1,
        checksum_sha256: sums.checksum_sha256,
        checksum_crc64nvme: sums.checksum_crc64nvme,
        checksum_type: sums.checksum_type,
        version_id: version_id(&info),
        ..Default::default()
    };
    let mut resp = S3Response::new(output);
    if h.partial {
        resp.status = Some(StatusCode::PARTIAL_CONTENT);
    }
    // Not in s3s's HeadObject output (AWS answers it on GET only; MinIO on HEAD too).
    if let Some(n) = tagging::count(&info) {
        resp.headers.insert("x-amz-tagging-count", n.into());
    }
    Ok(resp)
}

pub async fn delete_object(
    layer: &ObjectLayer,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let i = req.input;
    let bypass = i.bypass_governance_retention.unwrap_or(false);
    let version = i.version_id.as_deref();
    match (layer.delete_locked_version(&i.bucket, &i.key, version, bypass)).await {
        Ok(d) => Ok(S3Response::new(DeleteObjectOutput {
            delete_marker: d.delete_marker.then_some(true),
            version_id: (d.delete_marker || d.version_id != NULL_VERSION || i.version_id.is_some())
                .then_some(d.version_id),
            ..Default::default()
        })),
        // Deleting what is not there succeeds, as in S3.
        Err(ObjectError::ObjectNotFound { .. }) => {
            Ok(S3Response::new(DeleteObjectOutput::default()))
        }
        Err(e) => Err(to_s3(e)),
    }
}

pub async fn delete_objects(
    layer: &ObjectLayer,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let i = req.input;
    if i.delete.objects.len() > 1000 {
        return Err(s3_err(
            S3ErrorCode::MalformedXML,
            "at most 1000 keys per request",
        ));
    }
    let quiet = i.delete.quiet.unwrap_or(false);
    let keys: Vec<(String, Option<String>)> = (i.delete.objects.into_iter())
        .map(|o| (o.key, o.version_id))
        .collect();
    let bypass = i.bypass_governance_retention.unwrap_or(false);
    let results = layer
        .delete_objects(&i.bucket, &keys, bypass)
        .await
        .map_err(to_s3)?;
    let mut deleted = Vec::new();
    let mut errors: Vec<Error> = Vec::new();
    for ((key, version), r) in keys.into_iter().zip(results) {
        match r {
            Ok(d) => {
                if !quiet {
                    deleted.push(DeletedObject {
                        key: Some(key),
                        delete_marker: d.delete_marker.then_some(true),
                        delete_marker_version_id: (d.delete_marker && version.is_none())
                            .then(|| d.version_id.clone()),
                        version_id: version,
                    });
                }
            }
            Err(ObjectError::ObjectNotFound { .. }) => {
                if !quiet {
                    deleted.push(DeletedObject {
                        key: Some(key),
                        version_id: version,
                        ..Default::default()
                    });
                }
            }
            Err(e) => {
                let s3 = to_s3(e);
                errors.push(Error {
                    code: Some(s3.code().as_str().to_string()),
                    message: s3.message().map(str::to_string),
                    key: Some(key),
                    version_id: version,
                });
            }
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: Some(errors),
        ..Default::default()
    }))
}

/// The bucket, key and version (when named) of a copy source.
pub(super) fn copy_source(src: &CopySource) -> S3Result<(String, String, Option<String>)> {
    match src {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => Ok((
            bucket.to_string(),
            key.to_string(),
            version_id.as_deref().map(str::to_string),
        )),
        _ => Err(s3_err(
            S3ErrorCode::NotImplemented,
            "access point copy sources are not supported",
        )),
    }
}

pub async fn copy_object(
    layer: &ObjectLayer,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    if req.headers.contains_key("x-amz-copy-source-range") {
        return Err(s3_err(
            S3ErrorCode::InvalidRequest,
            "CopyObject does not take a source range; use UploadPartCopy",
        ));
    }
    let i = req.input;
    let (src_bucket, src_key, src_version) = copy_source(&i.copy_source)?;
    let src = layer
        .head_version(&src_bucket, &src_key, src_version.as_deref())
        .await
        .map_err(to_s3)?;
    Conditions {
        if_match: i.copy_source_if_match.as_ref(),
        if_none_match: i.copy_source_if_none_match.as_ref(),
        if_modified_since: i.copy_source_if_modified_since.as_ref(),
        if_unmodified_since: i.copy_source_if_unmodified_since.as_ref(),
    }
    .check(&src, false)?;
    let replace = i
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    if !replace && src_bucket == i.bucket && src_key == i.key && src_version.is_none() {
        return Err(s3_err(
            S3ErrorCode::InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the \
             object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let mut attrs = if replace {
        let mut new = write_headers!(i).into_attrs()?;
        // The bytes are the source's, and so are their checksums.
        let sums = attributes::copied(&src).map(|(k, v)| (k.clone(), v.clone()));
        new.headers.extend(sums);
        new
    } else {
        src.attrs()
    };
    let directive = i.tagging_directive.as_ref();
    tagging::copy_tags(&mut attrs, &src, directive, i.tagging.as_deref())?;
    // A copy's lock is the request's (or the bucket's default), never the source's.
    lock::set_from_request(
        &mut attrs,
        i.object_lock_mode.as_ref(),
        i.object_lock_retain_until_date.as_ref(),
        i.object_lock_legal_hold_status.as_ref(),
    )?;
    let source = (
        src_bucket.as_str(),
        src_key.as_str(),
        src_version.as_deref(),
    );
    let info = layer
        .copy_version(source, &i.bucket, &i.key, Some(&attrs))
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(CopyObjectOutput {
        version_id: version_id(&info),
        copy_source_version_id: src_version,
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(timestamp(info.mod_time_ns)),
            ..Default::default()
        }),
        ..Default::default()
    }))
}
