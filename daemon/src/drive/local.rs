//! `LocalDrive`: a [`Drive`] on a directory of this node's file system.
//!
//! Every operation runs its blocking file-system calls on tokio's blocking pool. Paths are
//! checked with [`check_path`] before they are joined to the root, so no request reaches a
//! file outside the drive. Durable writes go to a temporary name in the same directory, are
//! made durable, then renamed over the target, and the rename made durable (see `write`).
//! Small writes and renames are made durable by the file system's group commit
//! ([`GroupSync`]) rather than an fsync each; streamed (shard) files are fsynced on their
//! own.
//!
//! Tested by the unit tests at the end of this file and by every end-to-end test.

mod file_writer;
mod files;
mod group_sync;
mod moves;
mod parallel;
mod read;
mod summary;
mod trash;
mod walk;
mod write;

pub use self::trash::purge_trash_every;

use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use self::file_writer::LocalWriter;
use self::files::LocalReader;
use self::group_sync::GroupSync;
use self::read::{cached_dir, open_direct, read_bytes, read_cached};
use super::Groups;
use super::{
    DiskInfo, Drive, DriveError, FileReader, FileWriter, META_VOLUME, Target, VolumeInfo,
    WalkOptions, WalkPage, check_path, trashed_path,
};
use crate::sys::Cached;

/// A drive on a local directory.
#[derive(Debug, Clone)]
pub struct LocalDrive {
    root: PathBuf,
    endpoint: String,
    /// The group commit of the drive's file system.
    sync: Arc<GroupSync>,
    /// The file system keeps a listing summary inside a directory's inode, so objects get
    /// one (see `summary`).
    keeps_summaries: bool,
}

impl LocalDrive {
    /// Opens (creating if needed) the drive at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, DriveError> {
        let root: PathBuf = root.into();
        fs::create_dir_all(root.join(META_VOLUME)).map_err(|e| io_err(&root, e))?;
        let endpoint = root.display().to_string();
        let sync = GroupSync::for_dir(&root).map_err(|e| io_err(&root, e))?;
        let keeps_summaries = summary::fits_in_inode(&root.join(META_VOLUME));
        Ok(Self {
            root,
            endpoint,
            sync,
            keeps_summaries,
        })
    }

    /// Keeps `summary` for the object directory `dir` when this drive keeps summaries.
    fn keep_summary(&self, dir: &Path, summary: &[u8]) {
        if self.keeps_summaries {
            summary::record(dir, summary);
        }
    }

    /// The drive's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn volume_path(&self, volume: &str) -> Result<PathBuf, DriveError> {
        check_path(volume)?;
        if volume.contains('/') {
            return Err(DriveError::InvalidPath {
                path: volume.to_string(),
            });
        }
        Ok(self.root.join(volume))
    }

    fn file_path(&self, volume: &str, path: &str) -> Result<PathBuf, DriveError> {
        check_path(path)?;
        Ok(self.volume_path(volume)?.join(path))
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, DriveError>
    where
        T: Send + 'static,
        F: FnOnce(LocalDrive) -> Result<T, DriveError> + Send + 'static,
    {
        let me = self.clone();
        let result = tokio::task::spawn_blocking(move || f(me))
            .await
            .map_err(|e| task_failed(&e))?;
        self.judge(result)
    }

    /// A drive whose format is gone was wiped or replaced: its "not found" answers say
    /// nothing about objects, so it reports itself unformatted (and does not vote).
    fn judge<T>(&self, result: Result<T, DriveError>) -> Result<T, DriveError> {
        match result {
            Err(e) if e.is_not_found() && !self.is_formatted() => Err(DriveError::Unformatted),
            other => other,
        }
    }

    /// [`Drive::read_all`] of the same file on several local drives: at once when the
    /// kernel's caches answer for them all (the file held, or known absent), else in one
    /// trip to the blocking pool (a GET's metadata reads: one handoff at most, instead of
    /// one per drive).
    pub async fn read_all_of(
        drives: &[&LocalDrive],
        volume: &str,
        path: &str,
    ) -> Vec<Result<Bytes, DriveError>> {
        let (volume_owned, path_owned) = (volume.to_string(), path.to_string());
        Self::each_of(
            drives,
            |d| {
                let file = d.file_path(volume, path).ok()?;
                read_cached(&file).map(|read| summary::judge_torn(&file, read))
            },
            move |d| {
                let file = d.file_path(&volume_owned, &path_owned)?;
                summary::judge_torn(&file, read_bytes(&file))
            },
        )
        .await
    }

    /// An operation on several local drives, results in the order of `drives` (each
    /// judged, see [`LocalDrive::judge`]): `cached` answers for a drive on the caller's
    /// thread when it can without blocking; the drives it leaves go to `blocking` in one
    /// trip to the blocking pool, one after the other while the kernel's caches answer, the
    /// rest at once on threads of their own when one waited for its disk (not when it was
    /// slow computing, such as a walk of a large directory the caches hold).
    pub(super) async fn each_of<T: Send + 'static>(
        drives: &[&LocalDrive],
        cached: impl Fn(&LocalDrive) -> Option<Result<T, DriveError>>,
        blocking: impl Fn(&LocalDrive) -> Result<T, DriveError> + Send + Sync + 'static,
    ) -> Vec<Result<T, DriveError>> {
        let mut results: Vec<Option<Result<T, DriveError>>> = Vec::with_capacity(drives.len());
        let mut misses = Vec::new();
        for (i, d) in drives.iter().enumerate() {
            let answer = cached(d);
            if answer.is_none() {
                misses.push((i, (*d).clone()));
            }
            results.push(answer.map(|r| d.judge(r)));
        }
        if !misses.is_empty() {
            let run = move || {
                parallel::parallel_map_blocked(&misses, |(i, d)| (*i, d.judge(blocking(d))))
            };
            match tokio::task::spawn_blocking(run).await {
                Ok(done) => done.into_iter().for_each(|(i, r)| results[i] = Some(r)),
                Err(e) => results.iter_mut().for_each(|r| {
                    r.get_or_insert_with(|| Err(task_failed(&e)));
                }),
            }
        }
        results.into_iter().flatten().collect()
    }

    fn is_formatted(&self) -> bool {
        self.root
            .join(META_VOLUME)
            .join(super::format::FORMAT_FILE)
            .exists()
    }
}

fn task_failed(e: &tokio::task::JoinError) -> DriveError {
    DriveError::Offline {
        reason: format!("drive task failed: {e}"),
    }
}

/// Notes that direct I/O failed and the page cache took over: a warning the first time in
/// this process, then at debug level (a file system that refuses it refuses every file).
fn direct_io_refused(what: &str, e: &io::Error) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::debug!(error = %e, "direct {what} failed; going through the page cache");
    } else {
        tracing::warn!(error = %e, "direct {what} failed; going through the page cache");
    }
}

/// Maps an I/O error on `path` to a [`DriveError`].
pub(crate) fn io_err(path: &Path, e: io::Error) -> DriveError {
    let path = path.display().to_string();
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory => DriveError::NotFound { path },
        ErrorKind::StorageFull => DriveError::NoSpace { path },
        // A directory where a file belongs (a damaged object): that entry's fault, not
        // the drive's, so a walk skips it and a heal reports it.
        ErrorKind::IsADirectory => DriveError::Corrupt {
            path,
            reason: "a directory where a file belongs".into(),
        },
        _ => DriveError::Io { path, source: e },
    }
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("/"))
}

#[async_trait]
impl Drive for LocalDrive {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn join<'a>(&'a self, place: usize, groups: &mut Groups<'a>) -> bool {
        groups.local(place, self);
        true
    }

    async fn disk_info(&self) -> Result<DiskInfo, DriveError> {
        self.blocking(|d| statvfs(&d.root)).await
    }

    async fn make_volume(&self, volume: &str) -> Result<(), DriveError> {
        let path = self.volume_path(volume)?;
        let volume = volume.to_string();
        self.blocking(move |_| match fs::create_dir(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                Err(DriveError::VolumeExists { volume })
            }
            Err(e) => Err(io_err(&path, e)),
        })
        .await
    }

    async fn delete_volume(&self, volume: &str) -> Result<(), DriveError> {
        let path = self.volume_path(volume)?;
        let volume = volume.to_string();
        self.blocking(move |_| match fs::remove_dir_all(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => Err(DriveError::VolumeNotFound { volume }),
            other => other.map_err(|e| io_err(&path, e)),
        })
        .await
    }

    async fn stat_volume(&self, volume: &str) -> Result<(), DriveError> {
        let path = self.volume_path(volume)?;
        // Every PUT asks: answered here when the kernel has the directory cached.
        if matches!(cached_dir(&path), Cached::Open(_)) {
            return Ok(());
        }
        let volume = volume.to_string();
        self.blocking(move |_| match fs::metadata(&path) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(DriveError::VolumeNotFound { volume }),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(DriveError::VolumeNotFound { volume }),
            Err(e) => Err(io_err(&path, e)),
        })
        .await
    }

    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>, DriveError> {
        self.blocking(|d| {
            let mut out = Vec::new();
            for entry in fs::read_dir(&d.root).map_err(|e| io_err(&d.root, e))? {
                let entry = entry.map_err(|e| io_err(&d.root, e))?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                if name != META_VOLUME && entry.file_type().is_ok_and(|t| t.is_dir()) {
                    out.push(VolumeInfo { name });
                }
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
        .await
    }

    async fn read_all(&self, volume: &str, path: &str) -> Result<Bytes, DriveError> {
        let path = self.file_path(volume, path)?;
        self.blocking(move |_| summary::judge_torn(&path, read_bytes(&path)))
            .await
    }

    async fn write_all(
        &self,
        volume: &str,
        path: &str,
        data: Bytes,
        target: Target,
    ) -> Result<(), DriveError> {
        Self::write_all_of(vec![(self, data, target)], volume, path)
            .await
            .pop()
            .expect("one result per write")
    }

    async fn create_file(
        &self,
        volume: &str,
        path: &str,
    ) -> Result<Box<dyn FileWriter>, DriveError> {
        let path = self.file_path(volume, path)?;
        self.blocking(move |d| {
            d.create_parent(&path)?;
            Ok(Box::new(LocalWriter::create(path)?) as Box<dyn FileWriter>)
        })
        .await
    }

    async fn read_file(
        &self,
        volume: &str,
        path: &str,
        offset: u64,
        len: u64,
    ) -> Result<Box<dyn FileReader>, DriveError> {
        // A shard of a version replaced or deleted since its GET began is in the trash.
        let trashed = match (volume != META_VOLUME)
            .then(|| trashed_path(path))
            .flatten()
        {
            Some(t) => Some(self.file_path(META_VOLUME, &t)?),
            None => None,
        };
        let path = self.file_path(volume, path)?;
        self.blocking(move |_| {
            let (file, path) = trash::open_or_trashed(path, trashed)?;
            let direct = (len >= files::DIRECT_READ_MIN)
                .then(|| open_direct(&path))
                .flatten();
            let reader = LocalReader::new(file, direct, offset, len, path);
            Ok(Box::new(reader) as Box<dyn FileReader>)
        })
        .await
    }

    async fn list_dir(&self, volume: &str, dir: &str) -> Result<Vec<String>, DriveError> {
        let path = if dir.is_empty() {
            self.volume_path(volume)?
        } else {
            self.file_path(volume, dir.trim_end_matches('/'))?
        };
        self.blocking(move |_| walk::read_dir_sorted(&path)).await
    }

    async fn rename(
        &self,
        src_volume: &str,
        src: &str,
        dst_volume: &str,
        dst: &str,
    ) -> Result<(), DriveError> {
        let src_path = self.file_path(src_volume, src)?;
        let dst_path = self.file_path(dst_volume, dst)?;
        let src_volume_dir = self.volume_path(src_volume)?;
        self.blocking(move |d| d.rename_now(&src_path, &dst_path, &src_volume_dir))
            .await
    }

    async fn delete(&self, volume: &str, path: &str, recursive: bool) -> Result<(), DriveError> {
        let full = self.file_path(volume, path)?;
        let volume_dir = self.volume_path(volume)?;
        self.blocking(move |d| d.delete_now(&full, recursive, &volume_dir))
            .await
    }

    async fn rename_data(
        &self,
        src_volume: &str,
        src_dir: &str,
        data_dir: Option<&str>,
        dst_volume: &str,
        dst_dir: &str,
    ) -> Result<(), DriveError> {
        let src = self.file_path(src_volume, src_dir)?;
        let dst = self.file_path(dst_volume, dst_dir)?;
        let data_dir = match data_dir {
            Some(d) => {
                check_path(d)?;
                Some(d.to_string())
            }
            None => None,
        };
        let src_volume_dir = self.volume_path(src_volume)?;
        self.blocking(move |d| d.rename_data_now(&src, data_dir.as_deref(), &dst, &src_volume_dir))
            .await
    }

    async fn walk(&self, volume: &str, opts: &WalkOptions) -> Result<WalkPage, DriveError> {
        let volume_dir = self.volume_path(volume)?;
        let opts = opts.clone();
        self.blocking(move |d| walk::walk(&volume_dir, &opts, d.keeps_summaries))
            .await
    }
}

/// `path` for a system call; `None` if it holds a NUL (checked paths never do).
fn c_path(path: &Path) -> Option<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes()).ok()
}

fn statvfs(path: &Path) -> Result<DiskInfo, DriveError> {
    let c = c_path(path).ok_or_else(|| DriveError::InvalidPath {
        path: path.display().to_string(),
    })?;
    let (total, free, avail) = crate::sys::statvfs(&c).map_err(|e| io_err(path, e))?;
    Ok(DiskInfo {
        total,
        free: avail,
        used: total.saturating_sub(free),
    })
}

#[cfg(test)]
mod tests;
