//! Writes: the streamed upload of a file written from its start, the staging file for
//! everything else, and truncation.

use std::os::unix::fs::FileExt;

use crate::api::{ApiError, ServiceError};
use crate::fs::error::{Errno, FsError, FsResult};
use crate::fs::open::{Body, FileState, OpenFile, Upload};
use crate::fs::state::Inner;

/// Copies of an object replaced while it is copied down before staging gives up.
const STAGE_TRIES: usize = 8;

impl Inner {
    /// Writes `data` at `offset` (at the end for `O_APPEND`).
    pub async fn write(&self, fh: u64, offset: u64, data: &[u8]) -> FsResult<u32> {
        let handle = self.handle(fh)?;
        handle
            .changed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let mut s = handle.file.state.lock().await;
        if let Some(errno) = s.failed {
            return Err(FsError::posix(errno, "an earlier upload failed"));
        }
        if s.unlinked {
            return Ok(data.len() as u32);
        }
        let offset = if handle.append { s.size } else { offset };
        let streaming_at = match &s.body {
            Body::Streaming(up) => Some(up.written),
            Body::Remote if s.size == 0 && offset == 0 => Some(0),
            _ => None,
        };
        let mut end = offset + data.len() as u64;
        if streaming_at == Some(offset) {
            if matches!(s.body, Body::Remote) {
                s.body = Body::Streaming(Upload::default());
            }
            let Body::Streaming(up) = &mut s.body else {
                unreachable!("set above")
            };
            if let Err(e) = up.write(data, || self.start_put(handle.ino)).await {
                let Body::Streaming(up) = std::mem::replace(&mut s.body, Body::Remote) else {
                    unreachable!("matched above")
                };
                // The call's own error says more than the closed channel.
                let e = up.abort().await.unwrap_or(e);
                s.failed = Some(e.errno());
                return Err(e);
            }
        } else {
            self.stage(handle.ino, &mut s).await?;
            // Staging may have found the object grown by another client: append after it.
            let offset = if handle.append { s.size } else { offset };
            end = offset + data.len() as u64;
            let Body::Staged(f) = &s.body else {
                unreachable!("staged above")
            };
            f.write_all_at(data, offset)?;
        }
        s.size = s.size.max(end);
        s.dirty = true;
        self.touch(handle.ino, s.size);
        Ok(data.len() as u32)
    }

    /// Makes the body a staging file holding the current data: commits a streamed upload
    /// first, then copies the object down.
    pub(super) async fn stage(&self, ino: u64, s: &mut FileState) -> FsResult<()> {
        if matches!(s.body, Body::Staged(_)) {
            return Ok(());
        }
        if matches!(s.body, Body::Streaming(_)) {
            self.commit(ino, s).await?;
        }
        let file = tempfile::tempfile_in(&self.settings.cache_dir)?;
        if s.size > 0 {
            let (bucket, key) = self.key_of(&self.path_of(ino)?)?;
            s.size = self.copy_down(&bucket, &key, &file, s.size).await?;
        }
        s.body = Body::Staged(file);
        Ok(())
    }

    /// Copies `bucket/key` into `file`: the `size` bytes the open saw or, when another
    /// client replaced the object since, the whole of what replaced it (an append then
    /// lands after the newest data, never in the middle of it); returns the size copied.
    async fn copy_down(
        &self,
        bucket: &str,
        key: &str,
        file: &std::fs::File,
        mut size: u64,
    ) -> FsResult<u64> {
        for _ in 0..STAGE_TRIES {
            let mut body = match self.remote.get(bucket, key, 0, size).await {
                Ok(body) => body,
                // A range the object no longer has: it was replaced by an empty one.
                Err(ApiError::Service {
                    kind: ServiceError::InvalidArgument,
                    ..
                }) => return Ok(0),
                Err(e) => return Err(e.into()),
            };
            let mut at = 0;
            while let Some(chunk) = body.next().await? {
                file.write_all_at(&chunk, at)?;
                at += chunk.len() as u64;
            }
            if body.object_size() == size && at == size {
                return Ok(size);
            }
            size = body.object_size();
            file.set_len(0)?;
        }
        Err(FsError::posix(
            Errno::EIO,
            "the object kept changing while it was staged",
        ))
    }

    /// Sets the size of an open file.
    pub(super) async fn truncate_open(&self, ino: u64, file: &OpenFile, size: u64) -> FsResult<()> {
        let mut s = file.state.lock().await;
        if let Some(errno) = s.failed {
            return Err(FsError::posix(errno, "an earlier upload failed"));
        }
        let streamed = match &s.body {
            Body::Streaming(up) => Some(up.written),
            _ => None,
        };
        if streamed == Some(size) && s.size == size {
            return Ok(());
        }
        if size == 0 {
            if let Body::Streaming(up) = std::mem::replace(&mut s.body, Body::Remote) {
                up.abort().await;
            }
            s.body = Body::Remote;
        } else {
            self.stage(ino, &mut s).await?;
            if let Body::Staged(f) = &s.body {
                f.set_len(size)?;
            }
        }
        s.size = size;
        s.dirty = true;
        self.touch(ino, size);
        Ok(())
    }

    /// truncate(2) / ftruncate(2): on the open file when there is one, else through a
    /// handle opened for the purpose and closed (uploaded) at once.
    pub async fn truncate(&self, ino: u64, size: u64) -> FsResult<()> {
        if self.settings.read_only {
            return Err(FsError::posix(Errno::EROFS, "mounted read-only"));
        }
        let _writing = self.pages.writing(ino).await;
        let open = self.files().get(&ino).cloned();
        if let Some(file) = open {
            return self.truncate_open(ino, &file, size).await;
        }
        let fh = self.open(ino, libc::O_WRONLY).await?;
        let handle = self.handle(fh)?;
        let result = self.truncate_open(ino, &handle.file, size).await;
        let uploaded = self.upload(ino, &handle.file).await;
        self.release(fh).await;
        result.and(uploaded)
    }
}
