//! Uploads: the streamed PutObject of a file written in order (started once a chunk is
//! full; a smaller file goes up in one call at the commit), and the upload of a staging
//! file; both wait for the cluster's commit, after which the inode's attributes are the
//! server's again.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;

use crate::fs::error::Errno;
use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use super::{Body, FileState, OpenFile};
use crate::api::{ObjectInfo, UploadTask};
use crate::fs::attr::Attr;
use crate::fs::error::{FsError, FsResult};
use crate::fs::namespace::Inner;

/// Size of the data messages of a streamed upload.
pub(crate) const UPLOAD_CHUNK: usize = 1 << 20;

/// A streamed upload. The PutObject starts with the first full chunk, so a file smaller
/// than one goes up in one call at its commit, with the attributes set meanwhile (`tar`
/// sets times, owner and mode before it closes each file).
#[derive(Default)]
pub(super) struct Upload {
    put: Option<Put>,
    buf: BytesMut,
    /// Bytes taken so far, sent or buffered.
    pub(super) written: u64,
}

/// A committed upload: the object, and the metadata it went up with.
pub(super) type Sent = (ObjectInfo, HashMap<String, String>);

/// A PutObject in progress.
pub(super) struct Put {
    pub(super) tx: mpsc::Sender<Option<Bytes>>,
    pub(super) task: UploadTask,
    /// The metadata it was started with.
    pub(super) metadata: HashMap<String, String>,
}

impl Upload {
    /// Takes `data`; sends a chunk once one is full, starting the PutObject with `start`
    /// if it has not started yet.
    pub(super) async fn write(
        &mut self,
        data: &[u8],
        start: impl FnOnce() -> FsResult<Put>,
    ) -> FsResult<()> {
        self.buf.extend_from_slice(data);
        self.written += data.len() as u64;
        if self.buf.len() < UPLOAD_CHUNK {
            return Ok(());
        }
        let put = match &mut self.put {
            Some(put) => put,
            None => self.put.insert(start()?),
        };
        let chunk = self.buf.split().freeze();
        // A closed channel means the call failed: finishing it says why.
        put.tx.send(Some(chunk)).await.map_err(|_| ended_early())
    }

    /// Sends the rest and waits for the commit. A PutObject not started yet (the file is
    /// smaller than a chunk) is not streamed: `whole` puts the body in one call. Returns
    /// the object and the metadata it went up with.
    pub(super) async fn finish<F>(mut self, whole: impl FnOnce(Bytes) -> F) -> FsResult<Sent>
    where
        F: Future<Output = FsResult<Sent>>,
    {
        let Some(put) = self.put.take() else {
            return whole(self.buf.freeze()).await;
        };
        let sent = if self.buf.is_empty() {
            Ok(())
        } else {
            put.tx.send(Some(self.buf.split().freeze())).await
        };
        drop(put.tx);
        let info = crate::api::finish(put.task).await?;
        sent.map_err(|_| ended_early())?;
        Ok((info, put.metadata))
    }

    /// Cancels the PutObject, if it started: nothing is committed. Returns the error the
    /// call ended with.
    pub(super) async fn abort(self) -> Option<FsError> {
        let put = self.put?;
        let _ = put.tx.send(None).await;
        drop(put.tx);
        crate::api::finish(put.task).await.err().map(FsError::from)
    }
}

fn ended_early() -> FsError {
    FsError::posix(Errno::EIO, "upload ended early")
}

impl Inner {
    /// Commits a streamed upload: the object now holds what was written.
    pub(super) async fn commit(&self, ino: u64, s: &mut FileState) -> FsResult<()> {
        let Body::Streaming(up) = std::mem::replace(&mut s.body, Body::Remote) else {
            return Ok(());
        };
        match up.finish(|data| self.put_whole(ino, data)).await {
            Ok((info, sent)) => {
                s.dirty = false;
                self.uploaded(ino, info, &sent).await
            }
            Err(e) => {
                s.failed = Some(e.errno());
                Err(e)
            }
        }
    }

    /// Where `ino` goes up: its bucket, its key, and its attributes as they are now.
    fn put_target(&self, ino: u64) -> FsResult<(String, String, HashMap<String, String>)> {
        let (path, attr, _) = self.node(ino)?;
        let (bucket, key) = self.key_of(&path)?;
        Ok((bucket, key, attr.metadata()))
    }

    /// Puts `data` as the whole of `ino`, with its attributes as they are now, in one call.
    async fn put_whole(&self, ino: u64, data: Bytes) -> FsResult<Sent> {
        let (bucket, key, metadata) = self.put_target(ino)?;
        let info = self
            .remote
            .put_bytes(&bucket, &key, metadata.clone(), data)
            .await?;
        Ok((info, metadata))
    }

    /// Starts the streamed PutObject of `ino` (of a size not known yet) with its attributes
    /// as they are now.
    pub(super) fn start_put(&self, ino: u64) -> FsResult<Put> {
        let (bucket, key, metadata) = self.put_target(ino)?;
        let (tx, task) = self.remote.upload(&bucket, &key, metadata.clone(), None);
        Ok(Put { tx, task, metadata })
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
        let (bucket, key, metadata) = self.put_target(ino)?;
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
        match crate::api::finish(task).await {
            Ok(info) => {
                s.dirty = false;
                self.uploaded(ino, info, &metadata).await
            }
            Err(e) => Err(e.into()),
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
