//! Renames and deletes on a local drive, run on the calling (blocking-pool) thread: a
//! target's parents are created, a source's emptied parents pruned, and a metadata file
//! takes its listing summary along (see `summary`: removed from both directories before
//! the move, set on the target once the move is durable).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{LocalDrive, io_err, parent, summary};
use crate::drive::{DriveError, OBJECT_META_FILE};

impl LocalDrive {
    /// Creates the parent directories of `path`, but never the volume itself: writing into
    /// a missing volume (a deleted bucket, a wiped drive) fails with `VolumeNotFound`.
    pub(super) fn create_parent(&self, path: &Path) -> Result<(), DriveError> {
        let parent = parent(path);
        if parent.is_dir() {
            return Ok(());
        }
        let volume = path
            .strip_prefix(&self.root)
            .ok()
            .and_then(|rel| rel.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        if !self.root.join(&volume).is_dir() {
            return Err(DriveError::VolumeNotFound { volume });
        }
        fs::create_dir_all(parent).map_err(|e| io_err(path, e))
    }

    /// Makes every change made so far on this drive durable (see [`GroupSync`]).
    pub(super) fn make_durable(&self, path: &Path) -> Result<(), DriveError> {
        self.sync.barrier().map_err(|e| io_err(path, e))
    }

    /// Renames, creating the target's parents; retries once if a concurrent delete pruned
    /// them between the two steps.
    pub(super) fn rename_creating_parents(&self, src: &Path, dst: &Path) -> Result<(), DriveError> {
        for attempt in 0..2 {
            self.create_parent(dst)?;
            match fs::rename(src, dst) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::NotFound && attempt == 0 && src.exists() => {
                    continue;
                }
                Err(e) => return Err(io_err(src, e)),
            }
        }
        Err(DriveError::NotFound {
            path: dst.display().to_string(),
        })
    }

    /// Removes empty directories from `dir` upwards, stopping at the volume directory.
    pub(super) fn prune_empty_parents(&self, volume_dir: &Path, mut dir: PathBuf) {
        while dir.starts_with(volume_dir) && dir != volume_dir {
            if fs::remove_dir(&dir).is_err() {
                break;
            }
            if !dir.pop() {
                break;
            }
        }
    }

    /// [`Drive::rename`](crate::drive::Drive::rename) of checked paths.
    pub(super) fn rename_now(
        &self,
        src: &Path,
        dst: &Path,
        src_volume_dir: &Path,
    ) -> Result<(), DriveError> {
        let src_dir = summary::meta_dir(src);
        let carried = src_dir.and_then(summary::read);
        src_dir.map(summary::forget).transpose()?;
        let dst_dir = summary::meta_dir(dst);
        dst_dir.map(summary::forget).transpose()?;
        self.rename_creating_parents(src, dst)?;
        self.make_durable(dst)?;
        if let (Some(dir), Some(carried)) = (dst_dir, carried) {
            self.keep_summary(dir, &carried);
        }
        self.prune_empty_parents(src_volume_dir, parent(src).to_path_buf());
        Ok(())
    }

    /// [`Drive::delete`](crate::drive::Drive::delete) of a checked path.
    pub(super) fn delete_now(
        &self,
        full: &Path,
        recursive: bool,
        volume_dir: &Path,
    ) -> Result<(), DriveError> {
        let meta = fs::symlink_metadata(full).map_err(|e| io_err(full, e))?;
        summary::meta_dir(full).map(summary::forget).transpose()?;
        let result = if meta.is_dir() {
            if recursive {
                fs::remove_dir_all(full)
            } else {
                fs::remove_dir(full)
            }
        } else {
            fs::remove_file(full)
        };
        result.map_err(|e| io_err(full, e))?;
        self.prune_empty_parents(volume_dir, parent(full).to_path_buf());
        Ok(())
    }

    /// [`Drive::rename_data`](crate::drive::Drive::rename_data) of checked paths.
    pub(super) fn rename_data_now(
        &self,
        src: &Path,
        data_dir: Option<&str>,
        dst: &Path,
        src_volume_dir: &Path,
    ) -> Result<(), DriveError> {
        let carried = summary::read(src);
        summary::forget(src)?;
        summary::forget(dst)?;
        if let Some(data_dir) = data_dir {
            self.rename_creating_parents(&src.join(data_dir), &dst.join(data_dir))?;
        }
        self.rename_creating_parents(&src.join(OBJECT_META_FILE), &dst.join(OBJECT_META_FILE))?;
        self.make_durable(dst)?;
        if let Some(carried) = carried {
            self.keep_summary(dst, &carried);
        }
        self.prune_empty_parents(src_volume_dir, src.to_path_buf());
        Ok(())
    }
}
