//! The metadata files of one object across a set's drives: read raw from every drive,
//! decoded (a torn file counts as missing), and written, with a set's local drives batched
//! into one trip to the blocking pool per file system (see [`LocalDrive::read_all_of`] and
//! [`LocalDrive::write_all_of`]) and the remote ones meanwhile.

use bytes::Bytes;

use super::meta::ObjectMeta;
use super::set::{ErasureSet, clone_error, meta_path};
use crate::drive::local::LocalDrive;
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
            |locals| async move { LocalDrive::read_all_of(&locals, bucket, path).await },
            |d| d.read_all(bucket, path),
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

    /// Writes `files[d]` (with its target) at `path` of `volume` on drive `d`; results in
    /// drive order.
    pub(super) async fn write_metas(
        &self,
        volume: &str,
        path: &str,
        files: Vec<Result<(Bytes, Target), DriveError>>,
    ) -> Vec<Result<(), DriveError>> {
        let mut local = Vec::new();
        let mut remote = Vec::new();
        let mut results: Vec<Option<Result<(), DriveError>>> = Vec::new();
        for (d, file) in files.into_iter().enumerate() {
            match (file, self.drives[d].as_local()) {
                (Err(e), _) => results.push(Some(Err(e))),
                (Ok((data, target)), Some(drive)) => {
                    results.push(None);
                    local.push((d, (drive, data, target)));
                }
                (Ok((data, target)), None) => {
                    results.push(None);
                    remote.push((d, data, target));
                }
            }
        }
        let (at, writes): (Vec<usize>, Vec<_>) = local.into_iter().unzip();
        let remote = futures::future::join_all(remote.into_iter().map(|(d, data, target)| {
            let drive = &self.drives[d];
            async move { (d, drive.write_all(volume, path, data, target).await) }
        }));
        let (local, remote) = tokio::join!(LocalDrive::write_all_of(writes, volume, path), remote);
        for (d, r) in at.into_iter().zip(local).chain(remote) {
            results[d] = Some(r);
        }
        results
            .into_iter()
            .map(|r| r.expect("one result per drive"))
            .collect()
    }
}
