//! `LocalSlot`: one of this node's drives as the command line names it, whether it can be
//! used or not. It holds the [`LocalDrive`] once the directory opened, and an online flag
//! that the server sets: while offline every call fails at once with
//! [`DriveError::Offline`] carrying the reason, and [`Drive::is_online`] says false (so
//! healers wait for it, as for a remote drive of a stopped node).
//!
//! Invariants: the slot is online only while it holds an opened `LocalDrive`; once opened
//! the `LocalDrive` stays (a later probe opens the same path again only to check it); the
//! slot never logs: whoever changes its state says why (see `server::probe`).
//!
//! Tested by the unit tests at the end of this file and end to end by
//! `tests/e2e/drive_faults.rs` (damaged drives at start).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;

use super::Groups;
use super::local::LocalDrive;
use super::{
    DiskInfo, Drive, DriveError, FileReader, FileWriter, META_VOLUME, Target, VolumeInfo,
    WalkOptions, WalkPage,
};

/// A place for one of this node's drives (see the module doc).
#[derive(Debug)]
pub struct LocalSlot {
    root: PathBuf,
    endpoint: String,
    drive: OnceLock<LocalDrive>,
    online: AtomicBool,
    /// Why the slot is offline (meaningless while online).
    reason: Mutex<String>,
}

impl LocalSlot {
    /// Opens the drive at `root` (see [`LocalDrive::open`]): online when it opens, else
    /// offline with what is wrong with the directory.
    pub fn open(root: impl Into<PathBuf>) -> Self {
        let root: PathBuf = root.into();
        let slot = Self {
            endpoint: root.display().to_string(),
            drive: OnceLock::new(),
            online: AtomicBool::new(false),
            reason: Mutex::new(String::new()),
            root,
        };
        match slot.reopen() {
            Ok(drive) => {
                let _ = slot.drive.set(drive);
                slot.online.store(true, Ordering::Release);
            }
            Err(reason) => slot.set_reason(reason),
        }
        slot
    }

    /// The drive's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Opens the directory again (blocking), whatever the slot's state, so a probe sees
    /// the directory as it is now; the error is what is wrong with it, in words.
    pub fn reopen(&self) -> Result<LocalDrive, String> {
        LocalDrive::open(&self.root).map_err(|e| diagnose(&self.root, &e))
    }

    /// Puts the slot online with `drive` (an opening of this slot's directory, see
    /// [`LocalSlot::reopen`]); the drive opened first stays.
    pub fn set_online(&self, drive: LocalDrive) {
        let _ = self.drive.set(drive);
        self.online.store(true, Ordering::Release);
    }

    /// Takes the slot offline: every call fails with `reason` until [`Self::set_online`].
    pub fn set_offline(&self, reason: impl Into<String>) {
        self.set_reason(reason.into());
        self.online.store(false, Ordering::Release);
    }

    /// Why the slot is offline; `None` while online.
    pub fn offline_reason(&self) -> Option<String> {
        if self.online.load(Ordering::Acquire) {
            return None;
        }
        Some(
            self.reason
                .lock()
                .map_or_else(|e| e.into_inner().clone(), |r| r.clone()),
        )
    }

    fn set_reason(&self, reason: String) {
        match self.reason.lock() {
            Ok(mut r) => *r = reason,
            Err(e) => *e.into_inner() = reason,
        }
    }

    fn up(&self) -> Result<&LocalDrive, DriveError> {
        match self.drive.get() {
            Some(d) if self.online.load(Ordering::Acquire) => Ok(d),
            _ => Err(DriveError::Offline {
                reason: self.offline_reason().unwrap_or_default(),
            }),
        }
    }
}

/// What is wrong with the drive directory `root`, which failed to open with `e`, in words
/// an operator acts on.
fn diagnose(root: &Path, e: &DriveError) -> String {
    let is_link = fs::symlink_metadata(root).is_ok_and(|m| m.file_type().is_symlink());
    match fs::metadata(root) {
        Err(err) if is_link && err.kind() == ErrorKind::NotFound => {
            let target =
                fs::read_link(root).map_or_else(|_| "?".into(), |t| t.display().to_string());
            format!("is a symbolic link to {target}, which does not exist")
        }
        Ok(m) if !m.is_dir() => "is not a directory (a file is in its place)".into(),
        Ok(_) => {
            let meta = root.join(META_VOLUME);
            match fs::metadata(&meta) {
                Ok(m) if !m.is_dir() => format!("{} is not a directory", meta.display()),
                _ => format!("cannot be opened: {e}"),
            }
        }
        Err(_) => format!("cannot be opened: {e}"),
    }
}

#[async_trait]
impl Drive for LocalSlot {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }
    fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }
    fn join<'a>(&'a self, place: usize, groups: &mut Groups<'a>) -> bool {
        // Offline, it answers on its own: it fails alone, not its group.
        match self.up() {
            Ok(drive) => {
                groups.local(place, drive);
                true
            }
            Err(_) => false,
        }
    }
    async fn disk_info(&self) -> Result<DiskInfo, DriveError> {
        self.up()?.disk_info().await
    }
    async fn make_volume(&self, volume: &str) -> Result<(), DriveError> {
        self.up()?.make_volume(volume).await
    }
    async fn delete_volume(&self, volume: &str) -> Result<(), DriveError> {
        self.up()?.delete_volume(volume).await
    }
    async fn stat_volume(&self, volume: &str) -> Result<(), DriveError> {
        self.up()?.stat_volume(volume).await
    }
    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>, DriveError> {
        self.up()?.list_volumes().await
    }
    async fn read_all(&self, volume: &str, path: &str) -> Result<Bytes, DriveError> {
        self.up()?.read_all(volume, path).await
    }
    async fn write_all(
        &self,
        volume: &str,
        path: &str,
        data: Bytes,
        target: Target,
    ) -> Result<(), DriveError> {
        self.up()?.write_all(volume, path, data, target).await
    }
    async fn create_file(
        &self,
        volume: &str,
        path: &str,
    ) -> Result<Box<dyn FileWriter>, DriveError> {
        self.up()?.create_file(volume, path).await
    }
    async fn read_file(
        &self,
        volume: &str,
        path: &str,
        offset: u64,
        len: u64,
    ) -> Result<Box<dyn FileReader>, DriveError> {
        self.up()?.read_file(volume, path, offset, len).await
    }
    async fn list_dir(&self, volume: &str, dir: &str) -> Result<Vec<String>, DriveError> {
        self.up()?.list_dir(volume, dir).await
    }
    async fn rename(
        &self,
        src_volume: &str,
        src: &str,
        dst_volume: &str,
        dst: &str,
    ) -> Result<(), DriveError> {
        self.up()?.rename(src_volume, src, dst_volume, dst).await
    }
    async fn delete(&self, volume: &str, path: &str, recursive: bool) -> Result<(), DriveError> {
        self.up()?.delete(volume, path, recursive).await
    }
    async fn rename_data(
        &self,
        src_volume: &str,
        src_dir: &str,
        data_dir: Option<&str>,
        dst_volume: &str,
        dst_dir: &str,
    ) -> Result<(), DriveError> {
        self.up()?
            .rename_data(src_volume, src_dir, data_dir, dst_volume, dst_dir)
            .await
    }
    async fn walk(&self, volume: &str, opts: &WalkOptions) -> Result<WalkPage, DriveError> {
        self.up()?.walk(volume, opts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline_reason(slot: &LocalSlot) -> String {
        assert!(!slot.is_online());
        slot.offline_reason().expect("offline")
    }

    #[tokio::test]
    async fn a_good_directory_opens_online() {
        let dir = tempfile::tempdir().unwrap();
        let slot = LocalSlot::open(dir.path().join("d"));
        assert!(slot.is_online());
        assert!(slot.up().is_ok());
        slot.make_volume("b").await.unwrap();
    }

    #[tokio::test]
    async fn damaged_directories_open_offline_saying_why() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, b"x").unwrap();
        let reason = offline_reason(&LocalSlot::open(&file));
        assert!(reason.contains("not a directory"), "{reason}");

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("gone/away"), &link).unwrap();
        let reason = offline_reason(&LocalSlot::open(&link));
        assert!(
            reason.contains("symbolic link") && reason.contains("gone/away"),
            "{reason}"
        );

        let meta = dir.path().join("meta");
        fs::create_dir(&meta).unwrap();
        fs::write(meta.join(META_VOLUME), b"x").unwrap();
        let slot = LocalSlot::open(&meta);
        let reason = offline_reason(&slot);
        assert!(reason.contains(".tessera is not a directory"), "{reason}");
        // Calls fail as offline, with the reason.
        match slot.read_all(META_VOLUME, "format.json").await {
            Err(DriveError::Offline { reason: r }) => assert_eq!(r, reason),
            other => panic!("{other:?}"),
        }
        assert!(slot.up().is_err());

        // Repaired, it opens; online once told.
        fs::remove_file(meta.join(META_VOLUME)).unwrap();
        let drive = slot.reopen().unwrap();
        slot.set_online(drive);
        assert!(slot.is_online());
        slot.make_volume("b").await.unwrap();
        slot.set_offline("test");
        assert!(matches!(
            slot.stat_volume("b").await,
            Err(DriveError::Offline { .. })
        ));
    }
}
