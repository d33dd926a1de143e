//! Uploads: the commit of a streamed PutObject, and the upload of a staging file; both
//! wait for the cluster's commit, after which the inode's attributes are the server's
//! again.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::api::ObjectInfo;
use crate::fs::attr::Attr;
use crate::fs::error::{FsError, FsResult};
use crate::fs::open::{Body, FileState, OpenFile, Put, Sent, UPLOAD_CHUNK};
use crate::fs::state::Inner;

impl Inner {
    /// Commits a streamed upload: the object now holds what was written.
    pub(super) async fn commit(&self, ino: u64, s: &mut FileState) -> FsResult<()> {
        let Body::Streaming(up) = std::mem::replace(&mut s.body, Body::Remote) else {
            return Ok(());
        };
        s.committed = None;
        let mut whole = None;
        let finished = up.finish(|data| {
            whole = Some(data.clone());
            self.put_whole(ino, data)
        });
        match finished.await {
            Ok((info, sent)) => {
                s.dirty = false;
                s.version = 0;
                let version = self.uploaded(ino, info, &sent).await?;
                s.committed = whole.map(|data| (version, data));
                Ok(())
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
    /// attributes become the server's again. Returns the version committed.
    async fn uploaded(
        &self,
        ino: u64,
        info: ObjectInfo,
        sent: &HashMap<String, String>,
    ) -> FsResult<u64> {
        let (path, attr, _) = self.node(ino)?;
        let mut info = info;
        if &attr.metadata() != sent {
            let (set, remove) = attr.metadata_update();
            info = self
                .remote
                .update_metadata(&info.bucket, &info.key, set, remove)
                .await?;
        }
        let attr = Attr::of_object(&info, &self.settings.defaults);
        let version = attr.version;
        let until = self.fresh_until();
        let mut t = self.inodes();
        if let Some(node) = t.get_mut(ino) {
            node.commits += 1;
            // The kernel's pages hold what was written here: the version just committed.
            node.page_version = attr.version;
            if node.path == path {
                node.attr = attr;
                node.fresh_until = until;
                node.local = false;
            }
        }
        t.invalidate(&path);
        Ok(version)
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
        s.committed = None;
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
                s.version = 0;
                self.uploaded(ino, info, &metadata).await.map(drop)
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

    /// Uploads every open file and sends what [`Behind`](crate::fs::behind::Behind) holds
    /// (before unmounting).
    pub async fn flush_all(&self) {
        let inos: Vec<u64> = self.files().keys().copied().collect();
        for ino in inos {
            if let Err(e) = self.flush_ino(ino).await {
                tracing::error!(ino, "upload before unmount failed: {e}");
            }
        }
        self.behind.settle().await;
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
