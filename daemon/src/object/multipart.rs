//! Multipart uploads on the object core: validation and routing to the key's set.
//!
//! A completion is idempotent, as S3's: the object records the upload it completed (its
//! id, and its parts' numbers and ETags), so completing that upload again with the same
//! part list, a client's retry after a lost answer, answers the same object for as long as
//! that version is the key's current one; any other list, or a key written since, answers
//! NoSuchUpload.

use super::validate::{check_bucket_name, check_prefix};
use super::{ObjectError, ObjectInfo, ObjectLayer, WriteCondition};
use crate::erasure::meta::ObjectMeta;
use std::collections::BTreeMap;

use crate::erasure::{CompletePart, ErasureError, LateHeaders, ObjectAttrs};
use tokio::io::AsyncRead;

/// An uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// Part number.
    pub number: u32,
    /// Hex MD5.
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// Upload time, nanoseconds since the Unix epoch.
    pub mod_time_ns: i64,
    /// The part's verified checksums (by stored header name).
    pub checksums: BTreeMap<String, String>,
}

/// An upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSummary {
    /// Key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// Start time, nanoseconds since the Unix epoch.
    pub initiated_ns: i64,
}

/// Whether `meta` is what completing `upload_id` with `parts` made.
fn completes(meta: &ObjectMeta, upload_id: &str, parts: &[CompletePart]) -> bool {
    meta.upload_id == upload_id
        && meta.parts.len() == parts.len()
        && (meta.parts.iter().zip(parts))
            .all(|(m, p)| m.number == p.number && m.etag == p.etag.trim_matches('"'))
}

impl ObjectLayer {
    /// Starts a multipart upload.
    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        attrs: &ObjectAttrs,
    ) -> Result<String, ObjectError> {
        Self::check(bucket, key)?;
        super::validate::check_attrs(attrs)?;
        self.check_bucket(bucket).await?;
        // A default retention counts from the upload's start.
        let state = self.bucket_state(bucket).await?;
        let attrs = &*super::lock::prepare(attrs, &state)?;
        Ok(self
            .set_of(bucket, key)
            .await
            .uploads()
            .create_upload(bucket, key, attrs)
            .await?)
    }

    /// Stores part `number` of an upload, read from `body` (`size`, when known, is
    /// checked), with the checksums its reader verified (set on `checksums` by the body's
    /// end).
    pub async fn upload_part<R: AsyncRead + Unpin + Send>(
        &self,
        (bucket, key, upload_id): (&str, &str, &str),
        number: u32,
        (body, size): (&mut R, Option<u64>),
        checksums: &LateHeaders,
    ) -> Result<PartInfo, ObjectError> {
        Self::check(bucket, key)?;
        let set = self.set_of(bucket, key).await;
        let p = (set.uploads())
            .upload_part(bucket, key, upload_id, number, (body, size), checksums)
            .await?;
        self.figures.wrote_part(p.size);
        Ok(PartInfo {
            number: p.number,
            etag: p.etag,
            size: p.size,
            mod_time_ns: p.mod_time_ns,
            checksums: p.checksums,
        })
    }

    /// Completes an upload from the listed parts, if `cond` holds when it commits.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletePart],
        (cond, headers): (&WriteCondition, BTreeMap<String, String>),
    ) -> Result<ObjectInfo, ObjectError> {
        Self::check(bucket, key)?;
        let extra = ObjectAttrs {
            versioning: self.bucket_versioning(bucket).await?,
            headers,
            ..Default::default()
        };
        let set = self.set_of(bucket, key).await;
        let completed = (set.uploads())
            .complete_upload(bucket, key, upload_id, parts, cond, &extra)
            .await;
        let meta = match completed {
            Ok(meta) => {
                self.figures.completed_upload();
                meta
            }
            // Gone, or its parts already moved by a completion still cleaning up.
            Err(e @ (ErasureError::UploadNotFound { .. } | ErasureError::InvalidPart { .. })) => {
                match set.reads().head_object(bucket, key, None).await {
                    Ok(meta) if completes(&meta, upload_id, parts) => meta,
                    _ => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(ObjectInfo::from_meta(bucket, key, &meta))
    }

    /// Aborts an upload.
    pub async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), ObjectError> {
        Self::check(bucket, key)?;
        Ok(self
            .set_of(bucket, key)
            .await
            .uploads()
            .abort_upload(bucket, key, upload_id)
            .await?)
    }

    /// The parts of an upload, in order.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<PartInfo>, ObjectError> {
        Self::check(bucket, key)?;
        let parts = self
            .set_of(bucket, key)
            .await
            .uploads()
            .list_parts(bucket, key, upload_id)
            .await?;
        Ok(parts
            .into_iter()
            .map(|p| PartInfo {
                number: p.number,
                etag: p.etag,
                size: p.size,
                mod_time_ns: p.mod_time_ns,
                checksums: p.checksums,
            })
            .collect())
    }

    /// The checksum type an upload was created with (`x-amz-checksum-type`), if any.
    pub async fn upload_checksum_type(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<String>, ObjectError> {
        Self::check(bucket, key)?;
        let set = self.set_of(bucket, key).await;
        let meta = set.uploads().upload_meta(bucket, key, upload_id).await?;
        Ok(meta.headers.get(crate::erasure::CHECKSUM_TYPE).cloned())
    }

    /// Uploads in progress in a bucket, by key.
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<UploadSummary>, ObjectError> {
        check_bucket_name(bucket)?;
        check_prefix(prefix)?;
        self.check_bucket(bucket).await?;
        let mut out = Vec::new();
        for set in self.sets() {
            for u in set.uploads().list_uploads(bucket, prefix).await? {
                out.push(UploadSummary {
                    key: u.meta.key,
                    upload_id: u.upload_id,
                    initiated_ns: u.meta.initiated_ns,
                });
            }
        }
        out.sort_by(|a, b| (&a.key, a.initiated_ns).cmp(&(&b.key, b.initiated_ns)));
        Ok(out)
    }
}
