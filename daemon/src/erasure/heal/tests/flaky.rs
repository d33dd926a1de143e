//! A drive that can be switched offline: a `LocalDrive` whose every call fails with
//! `Offline` (and whose `is_online` says false) while switched off, as a remote drive of a
//! stopped node does.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use crate::drive::local::LocalDrive;
use crate::drive::{
    DiskInfo, Drive, DriveError, FileReader, FileWriter, Target, VolumeInfo, WalkOptions, WalkPage,
};

pub struct Flaky {
    pub inner: LocalDrive,
    online: AtomicBool,
}

impl Flaky {
    pub fn new(inner: LocalDrive) -> Self {
        Self {
            inner,
            online: AtomicBool::new(true),
        }
    }

    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::SeqCst);
    }

    fn up(&self) -> Result<&LocalDrive, DriveError> {
        if self.online.load(Ordering::SeqCst) {
            Ok(&self.inner)
        } else {
            Err(DriveError::Offline {
                reason: "switched off by the test".into(),
            })
        }
    }
}

#[async_trait]
impl Drive for Flaky {
    fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }
    fn is_online(&self) -> bool {
        self.online.load(Ordering::SeqCst)
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
