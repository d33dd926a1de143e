//! The metadata files of one object across a set's drives: read raw from every drive,
//! decoded (a torn file counts as missing), and written, each as one grouped call
//! ([`crate::drive::group`]): the set's local drives in one trip to the blocking pool and
//! the drives of each peer in one call meanwhile.

use bytes::Bytes;

use super::meta::ObjectMeta;
use super::set::{ErasureSet, meta_path};
use crate::drive::group::{ReadAll, WriteAll, fan_out};
use crate::drive::{DriveError, Target, metafile};

impl ErasureSet {
    /// Raw `tessera.meta` files of `bucket/key` from every drive.
    pub(super) async fn read_raw_metas(
        &self,
        bucket: &str,
        key: &str,
    ) -> Vec<Result<Bytes, DriveError>> {
        let path = &meta_path(key);
        fan_out(
            &self.drives,
            &ReadAll {
                volume: bucket,
                path,
            },
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
                Err(e) => Err(e.duplicate()),
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
        fan_out(
            &self.drives,
            &WriteAll {
                volume,
                path,
                files,
            },
        )
        .await
    }
}
