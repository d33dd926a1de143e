//! The trash of a local drive ([`TRASH_DIR`]): data directories of replaced and deleted
//! multipart objects, where a GET that began before the change still finds the parts it
//! has not opened yet, and their purge once [`TRASH_GRACE`](crate::drive::TRASH_GRACE)
//! has passed.
//!
//! Invariant: an entry is removed only once its inode changed (it was moved in) longer ago
//! than the grace the caller gives, or with the whole trash at start.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::read::open_for_read;
use super::{LocalDrive, io_err};
use crate::drive::Groups;
use crate::drive::{Drive, DriveError, META_VOLUME, TRASH_DIR};

/// Opens `path` for reading; when it is gone, its copy in the trash (`trashed`), if any.
/// Returns the file and the path it was opened at.
pub(super) fn open_or_trashed(
    path: PathBuf,
    trashed: Option<PathBuf>,
) -> Result<(fs::File, PathBuf), DriveError> {
    match open_for_read(&path) {
        Ok(file) => Ok((file, path)),
        Err(e) if e.kind() == ErrorKind::NotFound => match trashed {
            // Not there either: the original path's "not found" is the answer.
            Some(t) => open_for_read(&t)
                .map(|file| (file, t))
                .map_err(|_| io_err(&path, e)),
            None => Err(io_err(&path, e)),
        },
        Err(e) => Err(io_err(&path, e)),
    }
}

/// Purges the trash of `drives` (a node's own) every `every`, of what is older than `grace`;
/// runs until aborted. The first purge is one period in: the trash starts empty. A drive
/// is purged while it is a local drive online (one that joins the local group, see
/// [`Groups`]).
pub async fn purge_trash_every(drives: Vec<Arc<dyn Drive>>, grace: Duration, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tick.tick().await;
        for &(_, drive) in Groups::of(&drives, |_| true).locals() {
            if let Err(e) = drive.purge_trash(grace).await {
                tracing::warn!(drive = %drive.root().display(), error = %e, "cannot purge the trash");
            }
        }
    }
}

impl LocalDrive {
    /// Removes what was moved into the trash more than `grace` ago; returns how many
    /// entries went.
    pub async fn purge_trash(&self, grace: Duration) -> Result<usize, DriveError> {
        let dir = self.file_path(META_VOLUME, TRASH_DIR)?;
        self.blocking(move |_| {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(io_err(&dir, e)),
            };
            let now = SystemTime::now();
            let mut removed = 0;
            for entry in entries {
                let path = entry.map_err(|e| io_err(&dir, e))?.path();
                let meta = match fs::symlink_metadata(&path) {
                    Ok(m) => m,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_err(&path, e)),
                };
                // A rename changes the moved inode's ctime, not its mtime.
                let moved = UNIX_EPOCH
                    + Duration::new(meta.ctime().max(0) as u64, meta.ctime_nsec() as u32);
                if now.duration_since(moved).unwrap_or_default() < grace {
                    continue;
                }
                let gone = if meta.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                match gone {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&path, e)),
                }
            }
            Ok(removed)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::drive::{Drive, Target, trashed_path};

    #[test]
    fn only_a_data_directorys_files_have_a_place_in_the_trash() {
        let data_dir = ".tessera.0123abcd";
        assert_eq!(
            trashed_path(&format!("a/b/{data_dir}/part.2")).as_deref(),
            Some(&*format!("trash/{data_dir}/part.2"))
        );
        for other in [
            "a/b/part.2",
            "a/.tessera.dir/tessera.meta",
            "part.1",
            ".tessera/x",
        ] {
            assert_eq!(trashed_path(other), None, "{other}");
        }
    }

    #[tokio::test]
    async fn a_trashed_shard_reads_until_the_purge_takes_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = LocalDrive::open(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/.tessera/format.json"), "{}").unwrap();
        d.make_volume("b").await.unwrap();
        let shard = "k/.tessera.dd/part.2";
        d.write_all("b", shard, Bytes::from_static(b"shard"), Target::Fresh)
            .await
            .unwrap();
        d.rename("b", "k/.tessera.dd", META_VOLUME, "trash/.tessera.dd")
            .await
            .unwrap();
        let mut r = d.read_file("b", shard, 0, 5).await.unwrap();
        assert_eq!(&r.read_exact(5).await.unwrap()[..], b"shard");
        let missing = d.read_file("b", "k/.tessera.other/part.2", 0, 5).await;
        assert!(missing.is_err_and(|e| e.is_not_found()));

        assert_eq!(d.purge_trash(Duration::from_secs(3600)).await.unwrap(), 0);
        assert!(
            d.read_file("b", shard, 0, 5).await.is_ok(),
            "kept within the grace"
        );
        assert_eq!(d.purge_trash(Duration::ZERO).await.unwrap(), 1);
        let gone = d.read_file("b", shard, 0, 5).await;
        assert!(gone.is_err_and(|e| e.is_not_found()));
        assert!(!dir.path().join("d/.tessera/trash/.tessera.dd").exists());
    }
}
