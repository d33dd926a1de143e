//! `MetaStore`: the metadata files of one object across a set's drives, and what they
//! agree on. Files are read raw from every drive, decoded (a torn file counts as missing)
//! and resolved by quorum into the version that at least k drives hold; writes go to the
//! drives given a file. Each read or write is one grouped call ([`crate::drive::group`]):
//! the set's local drives in one trip to the blocking pool, each peer's drives in one call.
//!
//! Invariant: the resolved version is one that at least k drives hold; among versions with
//! as many drives, the newest wins (after a crash mid-commit two complete versions can tie;
//! either is a valid outcome).

use std::sync::Arc;

use bytes::Bytes;

use super::decode::Sources;
use super::drives::SetDrives;
use super::error::ErasureError;
use super::meta::ObjectMeta;
use super::names::meta_path;
use super::quorum::{Tally, agreed};
use super::versions::check_version_id;
use crate::drive::group::{ReadAll, WriteAll, fan_out};
use crate::drive::{DriveError, Target, join, metafile, object_dir};

/// Raw metadata files, one answer per drive.
pub(super) type RawMetas = Vec<Result<Bytes, DriveError>>;
/// Decoded metadata (with the inline frame), one answer per drive.
pub(super) type Metas = Vec<Result<(ObjectMeta, Bytes), DriveError>>;

/// Metadata of an object as the drives of its set hold it.
pub(super) struct Resolved {
    /// The agreed metadata (from one of the agreeing drives).
    pub meta: ObjectMeta,
    /// Per drive: its metadata belongs to the agreed version.
    pub agrees: Vec<bool>,
    /// Per shard index: the drive holding it (among the agreeing ones).
    pub holders: Vec<Option<usize>>,
    /// Per shard index: the inline frame, for inline objects.
    pub inline: Vec<Option<Bytes>>,
}

impl Resolved {
    /// Version `index` of the agreed journal resolved as its own object: its metadata
    /// (without older versions), and its holders and inline frames on the agreeing drives.
    pub(super) fn version(
        &self,
        metas: &[Result<(ObjectMeta, Bytes), DriveError>],
        index: usize,
        total: usize,
    ) -> Resolved {
        let mut holders = vec![None; total];
        let mut inline = vec![None; total];
        for (d, m) in metas.iter().enumerate() {
            let Ok((m, frames)) = m else { continue };
            let Some(v) = m.versions().nth(index).filter(|_| self.agrees[d]) else {
                continue;
            };
            let shard = v.erasure.as_ref().map_or(d, |e| e.shard_index as usize);
            if shard < total && holders[shard].is_none() {
                holders[shard] = Some(d);
                if v.is_inline() {
                    inline[shard] = m.frames(frames).into_iter().nth(index);
                }
            }
        }
        Resolved {
            meta: self.meta.version_at(index).unwrap_or_default(),
            agrees: self.agrees.clone(),
            holders,
            inline,
        }
    }
}

/// The metadata files of a set's objects.
#[derive(Clone)]
pub(super) struct MetaStore {
    drives: Arc<SetDrives>,
}

impl MetaStore {
    pub(super) fn new(drives: Arc<SetDrives>) -> Self {
        Self { drives }
    }

    /// Raw `tessera.meta` files of `bucket/key` from every drive.
    pub(super) async fn read_raw(&self, bucket: &str, key: &str) -> RawMetas {
        let path = &meta_path(key);
        let call = ReadAll {
            volume: bucket,
            path,
        };
        fan_out(self.drives.all(), &call).await
    }

    /// The files of `bucket/key`, raw and decoded.
    pub(super) async fn read(&self, bucket: &str, key: &str) -> (RawMetas, Metas) {
        let raw = self.read_raw(bucket, key).await;
        let metas = Self::decode(&raw, key);
        (raw, metas)
    }

    /// The agreed metadata of `bucket/key`.
    pub(super) async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, ErasureError> {
        let (_, metas) = self.read(bucket, key).await;
        Ok(self.resolve(bucket, key, &metas)?.meta)
    }

    /// Decodes raw metadata files; a torn file counts as missing, one that fails its checks
    /// otherwise as corrupt.
    pub(super) fn decode(raw: &[Result<Bytes, DriveError>], key: &str) -> Metas {
        Self::decode_with(raw, key, ObjectMeta::from_file)
    }

    /// Resolves the current version of `bucket/key` from its raw metadata files for a read:
    /// one copy is decoded whole (older versions left out), the others only as far as the
    /// quorum compares them. Returns the decoded files (the whole copy taken out of them
    /// when it is the one answered) and the resolution.
    pub(super) fn resolve_current(
        &self,
        (bucket, key): (&str, &str),
        raw: &[Result<Bytes, DriveError>],
    ) -> (Metas, Result<Resolved, ErasureError>) {
        let (mut metas, whole) = Self::decode_current(raw, key);
        let resolved = self.resolve(bucket, key, &metas).and_then(|mut resolved| {
            Self::complete((raw, &mut metas), whole, &mut resolved, (bucket, key))?;
            Ok(resolved)
        });
        (metas, resolved)
    }

    /// [`Self::decode`] of the current versions for a read: the first file that decodes
    /// whole (its older versions left out, see [`ObjectMeta::current_from_file`]), the others
    /// only as far as the quorum compares them (no user metadata or stored headers either:
    /// [`ObjectMeta::quorum_view_from_file`]). Also says which drive's decoded whole;
    /// [`Self::complete`] then gives the resolved version the whole of one agreeing copy.
    fn decode_current(raw: &[Result<Bytes, DriveError>], key: &str) -> (Metas, Option<usize>) {
        let mut whole = None;
        let metas = (raw.iter().enumerate())
            .map(|(d, r)| {
                let decode = match whole {
                    None => ObjectMeta::current_from_file,
                    Some(_) => ObjectMeta::quorum_view_from_file,
                };
                let meta = Self::decode_one(r, key, decode);
                if whole.is_none() && meta.is_ok() {
                    whole = Some(d);
                }
                meta
            })
            .collect();
        (metas, whole)
    }

    /// Gives `resolved` (resolved from [`Self::decode_current`]'s `metas`) the whole of its
    /// current version: the copy decoded whole when that drive agrees (taken out of
    /// `metas`), else the first agreeing drive's file decoded again.
    fn complete(
        (raw, metas): (&[Result<Bytes, DriveError>], &mut Metas),
        whole: Option<usize>,
        resolved: &mut Resolved,
        (bucket, key): (&str, &str),
    ) -> Result<(), ErasureError> {
        if let Some(d) = whole.filter(|&d| resolved.agrees[d])
            && let Some(Ok((meta, _))) = metas.get_mut(d)
        {
            resolved.meta = std::mem::take(meta);
            return Ok(());
        }
        let agreeing = raw.iter().zip(&resolved.agrees).filter(|(_, a)| **a);
        for (file, _) in agreeing {
            let Ok(file) = file else { continue };
            if let Ok(meta) = ObjectMeta::current_from_header(file.clone()) {
                resolved.meta = meta;
                return Ok(());
            }
        }
        Err(read_quorum(
            bucket,
            key,
            "no agreeing metadata file decodes whole",
        ))
    }

    fn decode_with(
        raw: &[Result<Bytes, DriveError>],
        key: &str,
        decode: fn(Bytes) -> Result<(ObjectMeta, Bytes), String>,
    ) -> Metas {
        raw.iter()
            .map(|r| Self::decode_one(r, key, decode))
            .collect()
    }

    fn decode_one(
        raw: &Result<Bytes, DriveError>,
        key: &str,
        decode: fn(Bytes) -> Result<(ObjectMeta, Bytes), String>,
    ) -> Result<(ObjectMeta, Bytes), DriveError> {
        match raw {
            Ok(file) if metafile::is_torn(file) => Err(DriveError::NotFound {
                path: meta_path(key),
            }),
            Ok(file) => decode(file.clone()).map_err(|reason| DriveError::Corrupt {
                path: meta_path(key),
                reason,
            }),
            Err(e) => Err(e.duplicate()),
        }
    }

    /// Resolves the metadata of `bucket/key` by quorum.
    pub(super) fn resolve(
        &self,
        bucket: &str,
        key: &str,
        metas: &[Result<(ObjectMeta, Bytes), DriveError>],
    ) -> Result<Resolved, ErasureError> {
        let k = self.drives.data_shards();
        let best = agreed(
            metas.iter().flatten(),
            |(m, _)| m.version_id.as_str(),
            |(m, _)| (m.mod_time_ns, m.version_id.as_str()),
        );
        let votes = best.as_ref().map_or(0, |b| b.votes);
        let Some((meta, _)) = best.and_then(|b| b.reaching(k)) else {
            let tally = Tally::of(metas);
            if tally.not_found + tally.volume_not_found >= k {
                return Err(ErasureError::ObjectNotFound {
                    bucket: bucket.into(),
                    key: key.into(),
                    delete_marker: None,
                });
            }
            let detail = format!(
                "best version on {votes} of {} drives, need {k}; {}",
                self.drives.len(),
                tally.first_error()
            );
            return Err(read_quorum(bucket, key, &detail));
        };
        let total = self.drives.codec().total_shards();
        let mut agrees = vec![false; self.drives.len()];
        let mut holders = vec![None; total];
        let mut inline = vec![None; total];
        for (d, r) in metas.iter().enumerate() {
            let Ok((m, frame)) = r else { continue };
            if m.version_id != meta.version_id {
                continue;
            }
            agrees[d] = true;
            let shard = m.erasure.as_ref().map_or(d, |e| e.shard_index as usize);
            if shard < total && holders[shard].is_none() {
                holders[shard] = Some(d);
                if m.is_inline() {
                    inline[shard] = Some(m.current_frame(frame));
                }
            }
        }
        Ok(Resolved {
            meta: meta.clone(),
            agrees,
            holders,
            inline,
        })
    }

    /// The resolved object's version `id` (its current one when `None`), resolved as its
    /// own object: the version's metadata, holders and inline frames from the agreeing
    /// drives' files. A delete marker is refused: as "no such object" when it is the current
    /// version asked for without an id, else as a version without data.
    pub(super) fn select(
        &self,
        (bucket, key): (&str, &str),
        resolved: Resolved,
        metas: &[Result<(ObjectMeta, Bytes), DriveError>],
        id: Option<&str>,
    ) -> Result<Resolved, ErasureError> {
        let index = match id {
            None => 0,
            Some(id) => {
                check_version_id(id)?;
                (resolved.meta.find_version(id)).ok_or_else(|| ErasureError::VersionNotFound {
                    bucket: bucket.into(),
                    key: key.into(),
                    version: id.into(),
                })?
            }
        };
        let meta = resolved
            .meta
            .versions()
            .nth(index)
            .unwrap_or(&resolved.meta);
        if meta.delete_marker {
            let version = meta.s3_version().to_string();
            return Err(match id {
                None => ErasureError::ObjectNotFound {
                    bucket: bucket.into(),
                    key: key.into(),
                    delete_marker: Some(version),
                },
                Some(_) => ErasureError::VersionIsDeleteMarker {
                    bucket: bucket.into(),
                    key: key.into(),
                    version,
                },
            });
        }
        if index == 0 {
            return Ok(resolved);
        }
        let total = self.drives.codec().total_shards();
        Ok(resolved.version(metas, index, total))
    }

    /// Where the shards of a resolved object are.
    pub(super) fn sources(&self, bucket: &str, key: &str, r: &Resolved) -> Sources {
        if r.meta.is_inline() {
            Sources::Inline(r.inline.clone())
        } else {
            Sources::Files {
                drives: (r.holders.iter())
                    .map(|h| h.map(|d| self.drives.get(d).clone()))
                    .collect(),
                volume: bucket.to_string(),
                dir: join(&object_dir(key), &r.meta.data_dir),
            }
        }
    }

    /// Removes the torn metadata files among `raw` (what a crash left of a PUT that never
    /// returned), once `key` is known to name no object.
    pub(super) async fn remove_torn(
        &self,
        bucket: &str,
        key: &str,
        raw: &[Result<Bytes, DriveError>],
    ) {
        let path = &meta_path(key);
        let torn = (self.drives.all().iter().zip(raw))
            .filter(|(_, file)| matches!(file, Ok(f) if metafile::is_torn(f)));
        futures::future::join_all(torn.map(|(d, _)| d.delete(bucket, path, false))).await;
    }

    /// How to write a drive's new metadata file over `old`, the raw file read from that
    /// drive under the object's write lock: nothing committed there (missing or torn) is
    /// [`Target::Fresh`].
    pub(super) fn target_over(old: &Result<Bytes, DriveError>) -> Target {
        match old {
            Err(DriveError::NotFound { .. }) => Target::Fresh,
            Ok(file) if metafile::is_torn(file) => Target::Fresh,
            _ => Target::Replace,
        }
    }

    /// Writes `files[d]` (with its target) at `path` of `volume` on each drive `d` given a
    /// file. Answers in drive order; `None` for a drive given no file.
    pub(super) async fn write(
        &self,
        volume: &str,
        path: &str,
        files: &[Option<(Bytes, Target)>],
    ) -> Vec<Option<Result<(), DriveError>>> {
        let call = WriteAll {
            volume,
            path,
            files,
        };
        call.send(self.drives.all()).await
    }
}

/// The error of a read that found no version on k drives.
pub(super) fn read_quorum(bucket: &str, key: &str, detail: &str) -> ErasureError {
    ErasureError::ReadQuorum {
        what: format!("{bucket}/{key}"),
        detail: detail.to_string(),
    }
}
