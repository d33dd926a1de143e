//! The metadata files of one object across a set's drives: read raw from every drive,
//! decoded (a torn file counts as missing), and written, with a set's local drives batched
//! into one trip to the blocking pool per file system (see [`LocalDrive::read_all_of`] and
//! [`LocalDrive::write_all_of`]) and the drives of each peer in one call meanwhile
//! ([`RemoteDrive::read_all_of`], [`RemoteDrive::write_all_of`]).

use bytes::Bytes;

use super::meta::ObjectMeta;
use super::set::drives_of;
use super::set::{ErasureSet, clone_error, meta_path};
use crate::drive::local::LocalDrive;
use crate::drive::remote::RemoteDrive;
use crate::drive::{DriveError, Target, metafile};

impl ErasureSet {
    /// Raw `tessera.meta` files of `bucket/key` from every drive.
    pub(super) async fn read_raw_metas(
        &self,
        bucket: &str,
        key: &str,
    ) -> Vec<Result<Bytes, DriveError>> {
        let path = &meta_path(key);
        self.each_batched(
            |locals| async move {
                LocalDrive::read_all_of(&drives_of(locals), bucket, path).await
            },
            |remotes| async move {
                RemoteDrive::read_all_of(&drives_of(remotes), bucket, path).await
            },
            |_, d| d.read_all(bucket, path),
        )
        .await
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
        let torn = self
            .drives
            .iter()
            .zip(raw)
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

    /// Decodes raw metadata files; a torn file counts as missing, one that fails its checks
    /// otherwise as corrupt.
    pub(super) fn decode_metas(
        raw: &[Result<Bytes, DriveError>],
        key: &str,
    ) -> Vec<Result<(ObjectMeta, Bytes), DriveError>> {
        raw.iter()
            .map(|r| match r {
                Ok(file) if metafile::is_torn(file) => Err(DriveError::NotFound {
                    path: meta_path(key),
                }),
                Ok(file) => {
                    ObjectMeta::from_file(file.clone()).map_err(|reason| DriveError::Corrupt {
                        path: meta_path(key),
                        reason,
                    })
                }
                Err(e) => Err(clone_error(e)),
            })
            .collect()
    }

    /// Writes `files[d]` (with its target) at `path` of `volume` on drive `d`; a drive
    /// given an error answers with it. Results in drive order.
    pub(super) async fn write_metas(
        &self,
        volume: &str,
        path: &str,
        files: Vec<Result<(Bytes, Target), DriveError>>,
    ) -> Vec<Result<(), DriveError>> {
        let files = &files;
        self.each_batched(
            |locals| async move {
                let written = LocalDrive::write_all_of(given(files, &locals), volume, path).await;
                answers(files, &locals, written)
            },
            |remotes| async move {
                let written = RemoteDrive::write_all_of(given(files, &remotes), volume, path).await;
                answers(files, &remotes, written)
            },
            |d, drive| async move {
                let (data, target) = files[d].as_ref().map_err(clone_error)?;
                drive.write_all(volume, path, data.clone(), *target).await
            },
        )
        .await
    }
}

/// The writes of those of `drives` that were given a file.
fn given<D: Copy>(
    files: &[Result<(Bytes, Target), DriveError>],
    drives: &[(usize, D)],
) -> Vec<(D, Bytes, Target)> {
    (drives.iter())
        .filter_map(|&(d, drive)| {
            let (data, target) = files[d].as_ref().ok()?;
            Some((drive, data.clone(), *target))
        })
        .collect()
}

/// One result per drive of `drives`: its write's (`written` holds those of [`given`]), or
/// the error it was given instead of a file.
fn answers<D>(
    files: &[Result<(Bytes, Target), DriveError>],
    drives: &[(usize, D)],
    written: Vec<Result<(), DriveError>>,
) -> Vec<Result<(), DriveError>> {
    let mut written = written.into_iter();
    (drives.iter())
        .map(|&(d, _)| match &files[d] {
            Ok(_) => written.next().expect("one result per write"),
            Err(e) => Err(clone_error(e)),
        })
        .collect()
}
