//! Multipart uploads of one set. An upload lives in `.tessera/multipart/<bucket>/<id>/` on
//! every drive of the key's set: `upload.meta`, then per part `part.N.meta` and the shard
//! file it names (`part.N.<uuid>`, so a re-upload of part N never mixes with the old one).
//! Completion validates the list, moves the named part files into a staged data directory
//! and commits it like a single PUT.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncRead;

use super::commit::Commits;
use super::condition::WriteCondition;
use super::drives::SetDrives;
use super::encode::read_block;
use super::error::ErasureError;
use super::limits::{BLOCK_SIZE, MAX_PART_NUMBER, MIN_PART_SIZE};
use super::meta::now_ns;
use super::meta::{ObjectMeta, PartMeta, UploadMeta, UploadedPart, decode_record, encode_record};
use super::names::{new_data_dir, tmp_path};
use super::quorum::{Answer, agreed, require_writes};
use super::types::{
    CHECKSUM_TYPE, CompletePart, LateHeaders, ObjectAttrs, UploadInfo, multipart_etag,
};
use crate::drive::{DriveError, META_VOLUME, MULTIPART_DIR, Target, join};

const UPLOAD_META: &str = "upload.meta";
/// Upload records a listing of uploads reads at once.
const UPLOAD_READS_AT_ONCE: usize = 16;

fn upload_dir(bucket: &str, upload_id: &str) -> String {
    format!("{MULTIPART_DIR}/{bucket}/{upload_id}")
}

fn part_meta_name(number: u32) -> String {
    format!("part.{number}.meta")
}

/// Upload ids are UUIDs; anything else cannot name an upload (and never reaches a path).
fn check_upload_id(upload_id: &str) -> Result<(), ErasureError> {
    uuid::Uuid::parse_str(upload_id)
        .map(|_| ())
        .map_err(|_| ErasureError::UploadNotFound {
            upload_id: upload_id.to_string(),
        })
}

/// The multipart uploads of one set.
pub struct Uploads {
    drives: Arc<SetDrives>,
    commits: Commits,
}

impl Uploads {
    pub(super) fn new(commits: Commits) -> Self {
        Self {
            drives: commits.drives.clone(),
            commits,
        }
    }

    /// Starts an upload.
    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        attrs: &ObjectAttrs,
    ) -> Result<String, ErasureError> {
        let upload_id = uuid::Uuid::new_v4().to_string();
        let meta = UploadMeta {
            key: key.to_string(),
            initiated_ns: now_ns(),
            content_type: attrs.content_type.clone(),
            user_metadata: attrs.user_metadata.clone(),
            headers: attrs.headers.clone(),
        };
        let path = join(&upload_dir(bucket, &upload_id), UPLOAD_META);
        self.drives
            .write_record(META_VOLUME, &path, encode_record(&meta))
            .await?;
        Ok(upload_id)
    }

    /// The upload's metadata; `UploadNotFound` unless it exists for this key.
    pub async fn upload_meta(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadMeta, ErasureError> {
        check_upload_id(upload_id)?;
        let not_found = || ErasureError::UploadNotFound {
            upload_id: upload_id.to_string(),
        };
        let path = join(&upload_dir(bucket, upload_id), UPLOAD_META);
        let data = match self.drives.read_record(META_VOLUME, &path).await {
            Ok(d) => d,
            Err(ErasureError::Drive(e)) if e.is_not_found() => return Err(not_found()),
            Err(e) => return Err(e),
        };
        let meta: UploadMeta = decode_record(data).map_err(|reason| {
            ErasureError::Drive(DriveError::Corrupt {
                path: path.clone(),
                reason,
            })
        })?;
        if meta.key != key {
            return Err(not_found());
        }
        Ok(meta)
    }

    /// Stores one part read from `body`.
    pub async fn upload_part<R: AsyncRead + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        (body, declared): (&mut R, Option<u64>),
        checksums: &LateHeaders,
    ) -> Result<UploadedPart, ErasureError> {
        if !(1..=MAX_PART_NUMBER).contains(&number) {
            return Err(ErasureError::InvalidPart {
                number,
                reason: format!("part numbers go from 1 to {MAX_PART_NUMBER}"),
            });
        }
        self.upload_meta(bucket, key, upload_id).await?;
        let dir = upload_dir(bucket, upload_id);
        let file = format!("part.{number}.{}", uuid::Uuid::new_v4().as_simple());
        let dist = self.drives.distribution(bucket, key);
        let first = read_block(body, BLOCK_SIZE).await?;
        let what = format!("{bucket}/{key} part {number}");
        let encoded = (self.drives)
            .stage(&dist, &join(&dir, &file), (first, body), &what)
            .await?;
        if let Some(declared) = declared
            && declared != encoded.size
        {
            return Err(ErasureError::SizeMismatch {
                declared,
                received: encoded.size,
            });
        }
        let part = UploadedPart {
            number,
            size: encoded.size,
            etag: hex::encode(encoded.md5),
            file,
            mod_time_ns: now_ns(),
            checksums: (checksums.get().into_iter())
                .filter(|(name, _)| name != CHECKSUM_TYPE)
                .collect(),
        };
        let record = encode_record(&part);
        let path = join(&dir, &part_meta_name(number));
        let shard_of = SetDrives::shard_of_drive(&dist);
        let (record, path) = (&record, &path);
        let results = (self.drives)
            .each_of(
                |d| encoded.durable[shard_of[d]],
                |_, drive| drive.write_all(META_VOLUME, path, record.clone(), Target::Replace),
            )
            .await;
        require_writes(&results, self.drives.write_quorum(), || what)?;
        Ok(part)
    }

    /// Per drive, the record of part `number` (decoded).
    async fn part_records(&self, dir: &str, number: u32) -> Vec<Option<UploadedPart>> {
        let path = join(dir, &part_meta_name(number));
        self.drives
            .each(|_, d| d.read_all(META_VOLUME, &path))
            .await
            .into_iter()
            .map(|r| r.ok().and_then(|b: Bytes| decode_record(b).ok()))
            .collect()
    }

    /// The record most drives (at least k) agree on.
    fn agreed_part(&self, records: &[Option<UploadedPart>]) -> Option<UploadedPart> {
        let best = agreed(records.iter().flatten(), |r| r.file.as_str(), |_| ())?;
        best.reaching(self.drives.data_shards()).cloned()
    }

    /// Completes an upload from the listed parts, if `cond` holds at the commit (when it
    /// fails there, the parts are gone with the upload's staging).
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletePart],
        cond: &WriteCondition,
        extra: &ObjectAttrs,
    ) -> Result<ObjectMeta, ErasureError> {
        let upload = self.upload_meta(bucket, key, upload_id).await?;
        if parts.is_empty() {
            return Err(ErasureError::InvalidPart {
                number: 0,
                reason: "no parts listed".into(),
            });
        }
        if parts.windows(2).any(|w| w[0].number >= w[1].number) {
            return Err(ErasureError::InvalidPartOrder);
        }
        let dir = upload_dir(bucket, upload_id);
        let n = self.drives.len();
        let mut has_all = vec![true; n];
        let mut chosen = Vec::with_capacity(parts.len());
        for (i, listed) in parts.iter().enumerate() {
            let records = self.part_records(&dir, listed.number).await;
            let part = self
                .agreed_part(&records)
                .ok_or_else(|| ErasureError::InvalidPart {
                    number: listed.number,
                    reason: "not uploaded".into(),
                })?;
            if part.etag != listed.etag.trim_matches('"') {
                return Err(ErasureError::InvalidPart {
                    number: listed.number,
                    reason: "ETag does not match the uploaded part".into(),
                });
            }
            let stored =
                |(name, value): (&String, &String)| part.checksums.get(name) == Some(value);
            if !listed.checksums.iter().all(stored) {
                return Err(ErasureError::InvalidPart {
                    number: listed.number,
                    reason: "a checksum does not match the uploaded part's".into(),
                });
            }
            if i + 1 < parts.len() && part.size < MIN_PART_SIZE {
                return Err(ErasureError::EntityTooSmall {
                    number: part.number,
                    size: part.size,
                });
            }
            for (d, r) in records.iter().enumerate() {
                if r.as_ref().is_none_or(|r| r.file != part.file) {
                    has_all[d] = false;
                }
            }
            chosen.push(part);
        }

        let tmp_id = uuid::Uuid::new_v4().to_string();
        let data_dir = new_data_dir();
        let staged_dir = join(&tmp_path(&tmp_id), &data_dir);
        let (chosen, dir, staged_dir) = (&chosen, &dir, &staged_dir);
        // Only drives holding every chosen part stage the object.
        let moved = (self.drives)
            .each_of(
                |d| has_all[d],
                |_, drive| async move {
                    for p in chosen {
                        let part = join(staged_dir, &format!("part.{}", p.number));
                        (drive.rename(META_VOLUME, &join(dir, &p.file), META_VOLUME, &part))
                            .await?;
                    }
                    Ok(())
                },
            )
            .await;
        let staged: Vec<bool> = moved.iter().map(Answer::done).collect();
        let etags: Vec<String> = chosen.iter().map(|p| p.etag.clone()).collect();
        let meta_parts = chosen
            .iter()
            .map(|p| PartMeta {
                number: p.number,
                size: p.size,
                etag: p.etag.clone(),
                checksums: p.checksums.clone(),
            })
            .collect();
        let attrs = ObjectAttrs {
            content_type: upload.content_type,
            user_metadata: upload.user_metadata,
            headers: {
                let mut headers = upload.headers;
                headers.extend(extra.headers.clone());
                headers
            },
            late: Default::default(),
            versioning: extra.versioning,
        };
        let mut meta = self.drives.new_meta(
            (bucket, key),
            &attrs,
            meta_parts,
            multipart_etag(&etags),
            data_dir,
        );
        meta.upload_id = upload_id.to_owned();
        let result = self
            .commits
            .commit_staged(bucket, key, &tmp_id, &meta, &staged, cond, extra.versioning)
            .await;
        self.drives.remove_tmp(&tmp_id).await;
        if result.is_ok() {
            let _ = self
                .drives
                .each(|_, d| d.delete(META_VOLUME, dir, true))
                .await;
        }
        result
    }

    /// Aborts an upload and removes its parts.
    pub async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), ErasureError> {
        self.upload_meta(bucket, key, upload_id).await?;
        let dir = upload_dir(bucket, upload_id);
        let _ = self
            .drives
            .each(|_, d| d.delete(META_VOLUME, &dir, true))
            .await;
        Ok(())
    }

    /// The uploaded parts, in order.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<UploadedPart>, ErasureError> {
        self.upload_meta(bucket, key, upload_id).await?;
        let dir = upload_dir(bucket, upload_id);
        let listings = self.drives.each(|_, d| d.list_dir(META_VOLUME, &dir)).await;
        let numbers: BTreeSet<u32> = listings
            .iter()
            .flatten()
            .flatten()
            .filter_map(|name| {
                name.strip_prefix("part.")?
                    .strip_suffix(".meta")?
                    .parse()
                    .ok()
            })
            .collect();
        let mut parts = Vec::with_capacity(numbers.len());
        for number in numbers {
            let records = self.part_records(&dir, number).await;
            if let Some(p) = self.agreed_part(&records) {
                parts.push(p);
            }
        }
        Ok(parts)
    }

    /// Uploads in progress in `bucket` whose keys start with `prefix`.
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<UploadInfo>, ErasureError> {
        let dir = format!("{MULTIPART_DIR}/{bucket}");
        let listings = self.drives.each(|_, d| d.list_dir(META_VOLUME, &dir)).await;
        let ids: BTreeSet<String> = listings
            .iter()
            .flatten()
            .flatten()
            .filter_map(|n| n.strip_suffix('/'))
            .filter(|n| uuid::Uuid::parse_str(n).is_ok())
            .map(str::to_string)
            .collect();
        // Each record is a quorum read on its own: a few at once, not one after another.
        let reads = ids.into_iter().map(|upload_id| async move {
            let path = join(&upload_dir(bucket, &upload_id), UPLOAD_META);
            let data = self.drives.read_record(META_VOLUME, &path).await.ok()?;
            let meta = decode_record::<UploadMeta>(data).ok()?;
            meta.key
                .starts_with(prefix)
                .then_some(UploadInfo { upload_id, meta })
        });
        let mut out: Vec<UploadInfo> = futures::stream::iter(reads)
            .buffer_unordered(UPLOAD_READS_AT_ONCE)
            .filter_map(std::future::ready)
            .collect()
            .await;
        out.sort_by(|a, b| {
            (&a.meta.key, a.meta.initiated_ns).cmp(&(&b.meta.key, b.meta.initiated_ns))
        });
        Ok(out)
    }
}
