//! Uploads: the streamed PutObject of a file written in order, and the upload of a
//! staging file; both wait for the cluster's commit, after which the inode's attributes are
//! the server's again.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;

use bytes::{Bytes, BytesMut};
use fuser::Errno;
use tessera_proto::object::ObjectInfo;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Body, FileState, OpenFile};
use crate::attr::Attr;
use crate::error::{FsError, FsResult};
use crate::namespace::Inner;

/// Size of the data messages of a streamed upload.
pub(super) const UPLOAD_CHUNK: usize = 1 << 20;

pub(super) struct Upload {
    pub(super) tx: mpsc::Sender<Option<Bytes>>,
    pub(super) task: JoinHandle<FsResult<ObjectInfo>>,
    pub(super) buf: BytesMut,
    pub(super) written: u64,
    pub(super) metadata: HashMap<String, String>,
}

impl Upload {
    pub(super) async fn send(&mut self, force: bool) -> Result<(), ()> {
        if self.buf.len() >= UPLOAD_CHUNK || (force && !self.buf.is_empty()) {
            let chunk = self.buf.split().freeze();
            self.tx.send(Some(chunk)).await.map_err(drop)?;
        }
        Ok(())
    }

    pub(super) async fn write(&mut self, data: &[u8]) -> Result<(), ()> {
        self.buf.extend_from_slice(data);
        self.written += data.len() as u64;
        self.send(false).await
    }

    pub(super) async fn finish(mut self) -> FsResult<ObjectInfo> {
        let sent = self.send(true).await;
        drop(self.tx);
        let result = crate::remote::finish(self.task).await;
        if result.is_ok() && sent.is_err() {
            return Err(FsError::posix(Errno::EIO, "upload ended early"));
        }
        result
    }

    pub(super) async fn abort(self) {
        let _ = self.tx.send(None).await;
        drop(self.tx);
        let _ = self.task.await;
    }
}

impl Inner {
    /// Commits a streamed upload: the object now holds what was written.
    pub(super) async fn commit(&self, ino: u64, s: &mut FileState) -> FsResult<()> {
        let Body::Streaming(up) = std::mem::replace(&mut s.body, Body::Remote) else {
            return Ok(());
        };
        let sent = up.metadata.clone();
        match up.finish().await {
            Ok(info) => {
                s.dirty = false;
                self.uploaded(ino, info, &sent).await
            }
            Err(e) => {
                s.failed = Some(e.errno());
                Err(e)
            }
        }
    }

    /// After an upload of `ino`: metadata changed meanwhile goes up too, and the inode's
    /// attributes become the server's again.
    async fn uploaded(
        &self,
        ino: u64,
        info: ObjectInfo,
        sent: &HashMap<String, String>,
    ) -> FsResult<()> {
        let (path, attr, _) = self.node(ino)?;
        let mut info = info;
        let wanted = attr.metadata();
        if &wanted != sent {
            info = self
                .remote
                .update_metadata(&info.bucket, &info.key, wanted)
                .await?;
        }
        let attr = Attr::of_object(&info, &self.settings.defaults);
        let until = self.fresh_until();
        let mut t = self.inodes();
        if let Some(node) = t.get_mut(ino)
            && node.path == path
        {
            node.attr = attr;
            node.fresh_until = until;
            node.local = false;
        }
        t.invalidate(&path);
        Ok(())
    }

    /// Uploads what changed in `file`, if anything, and waits for the commit.
    pub(super) async fn upload(&self, ino: u64, file: &OpenFile) -> FsResult<()> {
        let mut s = file.state.lock().await;
        if let Some(errno) = s.failed {
            return Err(FsError::posix(errno, "an earlier upload failed"));
        }
        if !s.dirty || s.unlinked {
            return Ok(());
        }
        if matches!(s.body, Body::Streaming(_)) {
            return self.commit(ino, &mut s).await;
        }
        let (path, attr, _) = self.node(ino)?;
        let (bucket, key) = self.key_of(&path)?;
        let metadata = attr.metadata();
        let (tx, task) = self
            .remote
            .upload(&bucket, &key, metadata.clone(), Some(s.size));
        if let Body::Staged(f) = &s.body {
            let f = f.try_clone()?;
            let size = s.size;
            tokio::task::spawn_blocking(move || send_file(&f, size, &tx))
                .await
                .map_err(|e| FsError::Io(std::io::Error::other(e.to_string())))?;
        } else {
            drop(tx);
        }
        match crate::remote::finish(task).await {
            Ok(info) => {
                s.dirty = false;
                self.uploaded(ino, info, &metadata).await
            }
            Err(e) => Err(e),
        }
    }

    /// flush(2)/fsync(2) of `ino`: uploads its changes and waits for the commit.
    pub async fn flush_ino(&self, ino: u64) -> FsResult<()> {
        let file = self.files().get(&ino).cloned();
        match file {
            Some(file) => self.upload(ino, &file).await,
            None => Ok(()),
        }
    }

    /// Uploads every open file under the directory `dir` (before it is renamed).
    pub async fn flush_under(&self, dir: &str) -> FsResult<()> {
        let under = format!("{dir}/");
        let inos: Vec<u64> = self.files().keys().copied().collect();
        for ino in inos {
            let inside = self
                .inodes()
                .get(ino)
                .is_some_and(|n| n.path.starts_with(&under));
            if inside {
                self.flush_ino(ino).await?;
            }
        }
        Ok(())
    }

    /// Uploads every open file (before unmounting).
    pub async fn flush_all(&self) {
        let inos: Vec<u64> = self.files().keys().copied().collect();
        for ino in inos {
            if let Err(e) = self.flush_ino(ino).await {
                tracing::error!(ino, "upload before unmount failed: {e}");
            }
        }
    }
}

/// Sends `size` bytes of the staging file `f` into an upload (on a blocking thread). A read
/// error aborts the upload, so a short file is never committed.
fn send_file(f: &std::fs::File, size: u64, tx: &mpsc::Sender<Option<Bytes>>) {
    let mut at = 0;
    while at < size {
        let len = (size - at).min(UPLOAD_CHUNK as u64) as usize;
        let mut buf = vec![0; len];
        let chunk = f
            .read_exact_at(&mut buf, at)
            .ok()
            .map(|()| Bytes::from(buf));
        let failed = chunk.is_none();
        if tx.blocking_send(chunk).is_err() || failed {
            return;
        }
        at += len as u64;
    }
}
