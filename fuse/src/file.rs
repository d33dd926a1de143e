//! Open files: what a write changes and how it reaches the cluster.
//!
//! A file written from its start (new, or opened with `O_TRUNC`) streams up as it is
//! written: one PutObject whose data follows the writes. Anything else — a write elsewhere,
//! an append to existing data, a truncate to a non-zero size — first copies the object into a
//! staging file under `--cache-dir` (disk, not memory) and edits it there. flush (every
//! close), fsync and the last release upload what changed; they return once the cluster has
//! committed it, so after close() every client sees the file.
//!
//! Invariants: one [`OpenFile`] per inode with open handles, shared by them; its state lock
//! orders writes, truncates and uploads; while `dirty`, the inode's attributes are local
//! truth (`Node::local`).

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use fuser::Errno;
use tessera_proto::object::ObjectInfo;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use crate::attr::Attr;
use crate::error::{FsError, FsResult};
use crate::namespace::Inner;
use crate::read::Reader;

/// Size of the data messages of a streamed upload.
const UPLOAD_CHUNK: usize = 1 << 20;

/// One open handle.
pub struct Handle {
    /// Its inode.
    pub ino: u64,
    /// The inode's shared state.
    pub file: Arc<OpenFile>,
    /// Opened with `O_APPEND`: every write goes to the end.
    pub append: bool,
    /// Sequential read state of this handle.
    pub reader: Mutex<Reader>,
}

/// The state every handle of one inode shares.
pub struct OpenFile {
    state: Mutex<FileState>,
    handles: AtomicUsize,
}

struct FileState {
    body: Body,
    /// The file's size as written here.
    size: u64,
    /// Local changes the cluster has not committed.
    dirty: bool,
    /// Unlinked while open: never uploaded again.
    unlinked: bool,
    /// A failed upload: reported by every later write and flush.
    failed: Option<Errno>,
}

enum Body {
    /// The data is the object's on the cluster (or nothing, when `size` is 0).
    Remote,
    /// A streamed upload in progress.
    Streaming(Upload),
    /// A local copy holds the data.
    Staged(std::fs::File),
}

struct Upload {
    tx: mpsc::Sender<Option<Bytes>>,
    task: JoinHandle<FsResult<ObjectInfo>>,
    buf: BytesMut,
    written: u64,
    metadata: HashMap<String, String>,
}

impl Upload {
    async fn send(&mut self, force: bool) -> Result<(), ()> {
        if self.buf.len() >= UPLOAD_CHUNK || (force && !self.buf.is_empty()) {
            let chunk = self.buf.split().freeze();
            self.tx.send(Some(chunk)).await.map_err(drop)?;
        }
        Ok(())
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), ()> {
        self.buf.extend_from_slice(data);
        self.written += data.len() as u64;
        self.send(false).await
    }

    async fn finish(mut self) -> FsResult<ObjectInfo> {
        let sent = self.send(true).await;
        drop(self.tx);
        let result = crate::remote::finish(self.task).await;
        if result.is_ok() && sent.is_err() {
            return Err(FsError::posix(Errno::EIO, "upload ended early"));
        }
        result
    }

    async fn abort(self) {
        let _ = self.tx.send(None).await;
        drop(self.tx);
        let _ = self.task.await;
    }
}

impl OpenFile {
    fn new(size: u64, dirty: bool) -> Self {
        Self {
            state: Mutex::new(FileState {
                body: Body::Remote,
                size,
                dirty,
                unlinked: false,
                failed: None,
            }),
            handles: AtomicUsize::new(0),
        }
    }

    /// The file was unlinked: drop any upload in progress and upload nothing more.
    pub async fn forget_upload(&self) {
        let mut s = self.state.lock().await;
        s.unlinked = true;
        s.dirty = false;
        if let Body::Streaming(up) = std::mem::replace(&mut s.body, Body::Remote) {
            up.abort().await;
        }
    }
}

fn staging_error(e: std::io::Error) -> FsError {
    FsError::Io(e)
}

impl Inner {
    /// Opens `ino` (a regular file): refreshes its attributes from the server first, so
    /// what another client closed is what this open sees.
    pub async fn open(&self, ino: u64, flags: i32) -> FsResult<u64> {
        let write = flags & libc::O_ACCMODE != libc::O_RDONLY;
        if write && self.settings.read_only {
            return Err(FsError::posix(Errno::EROFS, "mounted read-only"));
        }
        let (path, local, attr) = {
            let t = self.inodes();
            let node = t
                .get(ino)
                .ok_or(FsError::posix(Errno::ENOENT, "unknown inode"))?;
            (node.path.clone(), node.local, node.attr.clone())
        };
        let attr = if local {
            attr
        } else {
            let attr = self.stat(&path).await?;
            self.set_attr(ino, &path, attr.clone());
            attr
        };
        if attr.kind == crate::attr::Kind::Dir {
            return Err(FsError::posix(Errno::EISDIR, "a directory"));
        }
        let file = self.attach(ino, attr.size, false);
        if write && flags & libc::O_TRUNC != 0 {
            let result = self.truncate_open(ino, &file, 0).await;
            if let Err(e) = result {
                self.detach(ino, &file).await;
                return Err(e);
            }
        }
        Ok(self.new_handle(ino, file, flags & libc::O_APPEND != 0))
    }

    /// Creates and opens a new, empty file; it exists on the cluster from its first close.
    pub async fn create(
        &self,
        parent: u64,
        name: &std::ffi::OsStr,
        attr: Attr,
        append: bool,
    ) -> FsResult<(u64, u64)> {
        if self.settings.read_only {
            return Err(FsError::posix(Errno::EROFS, "mounted read-only"));
        }
        let path = crate::inode::join(&self.path_of(parent)?, crate::namespace::name_str(name)?);
        self.key_of(&path)?;
        let ino = {
            let mut t = self.inodes();
            let ino = t.remember(&path, attr, std::time::Instant::now());
            if let Some(node) = t.get_mut(ino) {
                node.local = true;
            }
            t.invalidate(&path);
            ino
        };
        let file = self.attach(ino, 0, true);
        Ok((ino, self.new_handle(ino, file, append)))
    }

    fn attach(&self, ino: u64, size: u64, dirty: bool) -> Arc<OpenFile> {
        let mut files = self.files();
        let file = files
            .entry(ino)
            .or_insert_with(|| Arc::new(OpenFile::new(size, dirty)))
            .clone();
        file.handles.fetch_add(1, Ordering::SeqCst);
        file
    }

    /// Drops one handle's hold on `file`; the last one uploads what is left.
    async fn detach(&self, ino: u64, file: &Arc<OpenFile>) {
        if file.handles.fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        if let Err(e) = self.upload(ino, file).await {
            tracing::warn!(ino, "upload at release failed: {e}");
        }
        let mut files = self.files();
        if files.get(&ino).is_some_and(|f| Arc::ptr_eq(f, file))
            && file.handles.load(Ordering::SeqCst) == 0
        {
            files.remove(&ino);
        }
    }

    fn new_handle(&self, ino: u64, file: Arc<OpenFile>, append: bool) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        let handle = Handle {
            ino,
            file,
            append,
            reader: Mutex::new(Reader::default()),
        };
        self.handles().insert(fh, Arc::new(handle));
        fh
    }

    pub(crate) fn handle(&self, fh: u64) -> FsResult<Arc<Handle>> {
        self.handles()
            .get(&fh)
            .cloned()
            .ok_or(FsError::posix(Errno::EBADF, "unknown file handle"))
    }

    /// Closes a handle for good.
    pub async fn release(&self, fh: u64) {
        let Some(handle) = self.handles().remove(&fh) else {
            return;
        };
        self.detach(handle.ino, &handle.file).await;
    }

    /// Marks `ino` changed here: size and time are now local truth.
    fn touch(&self, ino: u64, size: u64) {
        let mut t = self.inodes();
        if let Some(node) = t.get_mut(ino) {
            node.attr.size = size;
            node.attr.mtime = SystemTime::now();
            node.local = true;
            let path = node.path.clone();
            t.invalidate(&path);
        }
    }

    /// Writes `data` at `offset` (at the end for `O_APPEND`).
    pub async fn write(&self, fh: u64, offset: u64, data: &[u8]) -> FsResult<u32> {
        let handle = self.handle(fh)?;
        let mut s = handle.file.state.lock().await;
        if let Some(errno) = s.failed {
            return Err(FsError::posix(errno, "an earlier upload failed"));
        }
        if s.unlinked {
            return Ok(data.len() as u32);
        }
        let offset = if handle.append { s.size } else { offset };
        let end = offset + data.len() as u64;
        let streaming_at = match &s.body {
            Body::Streaming(up) => Some(up.written),
            Body::Remote if s.size == 0 && offset == 0 => Some(0),
            _ => None,
        };
        if streaming_at == Some(offset) {
            if matches!(s.body, Body::Remote) {
                s.body = Body::Streaming(self.start_upload(handle.ino)?);
            }
            let Body::Streaming(up) = &mut s.body else {
                unreachable!("set above")
            };
            if up.write(data).await.is_err() {
                let Body::Streaming(up) = std::mem::replace(&mut s.body, Body::Remote) else {
                    unreachable!("matched above")
                };
                let e = up
                    .finish()
                    .await
                    .err()
                    .unwrap_or(FsError::posix(Errno::EIO, "upload failed"));
                s.failed = Some(e.errno());
                return Err(e);
            }
        } else {
            self.stage(handle.ino, &mut s).await?;
            let Body::Staged(f) = &s.body else {
                unreachable!("staged above")
            };
            f.write_all_at(data, offset).map_err(staging_error)?;
        }
        s.size = s.size.max(end);
        s.dirty = true;
        self.touch(handle.ino, s.size);
        Ok(data.len() as u32)
    }

    fn start_upload(&self, ino: u64) -> FsResult<Upload> {
        let (path, attr) = {
            let t = self.inodes();
            let node = t
                .get(ino)
                .ok_or(FsError::posix(Errno::ENOENT, "unknown inode"))?;
            (node.path.clone(), node.attr.clone())
        };
        let (bucket, key) = self.key_of(&path)?;
        let metadata = attr.metadata();
        let (tx, task) = self.remote.upload(&bucket, &key, metadata.clone(), None);
        Ok(Upload {
            tx,
            task,
            buf: BytesMut::with_capacity(UPLOAD_CHUNK),
            written: 0,
            metadata,
        })
    }

    /// Makes the body a staging file holding the current data: commits a streamed upload
    /// first, then copies the object down.
    async fn stage(&self, ino: u64, s: &mut FileState) -> FsResult<()> {
        if matches!(s.body, Body::Staged(_)) {
            return Ok(());
        }
        if matches!(s.body, Body::Streaming(_)) {
            self.commit(ino, s).await?;
        }
        let file = tempfile::tempfile_in(&self.settings.cache_dir).map_err(staging_error)?;
        if s.size > 0 {
            let (bucket, key) = self.key_of(&self.path_of(ino)?)?;
            let mut body = self.remote.get(&bucket, &key, 0, s.size).await?;
            let mut at = 0;
            while let Some(chunk) = body.next().await? {
                file.write_all_at(&chunk, at).map_err(staging_error)?;
                at += chunk.len() as u64;
            }
            if at != s.size {
                return Err(FsError::posix(
                    Errno::EIO,
                    "the object changed size while staged",
                ));
            }
        }
        s.body = Body::Staged(file);
        Ok(())
    }

    /// Sets the size of an open file.
    async fn truncate_open(&self, ino: u64, file: &OpenFile, size: u64) -> FsResult<()> {
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
                f.set_len(size).map_err(staging_error)?;
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

    /// Reads `size` bytes at `offset`.
    pub async fn read(&self, fh: u64, offset: u64, size: u32) -> FsResult<Bytes> {
        let handle = self.handle(fh)?;
        let file_size = {
            let mut s = handle.file.state.lock().await;
            if matches!(s.body, Body::Streaming(_)) {
                self.commit(handle.ino, &mut s).await?;
            }
            if let Body::Staged(f) = &s.body {
                let end = s.size.min(offset + u64::from(size));
                let mut buf = vec![0; end.saturating_sub(offset) as usize];
                f.read_exact_at(&mut buf, offset).map_err(staging_error)?;
                return Ok(buf.into());
            }
            if s.dirty {
                // Truncated to nothing, nothing written yet.
                return Ok(Bytes::new());
            }
            s.size
        };
        let (bucket, key) = self.key_of(&self.path_of(handle.ino)?)?;
        let mut reader = handle.reader.lock().await;
        reader
            .read(&self.remote, &bucket, &key, offset, size, file_size)
            .await
    }

    /// Commits a streamed upload: the object now holds what was written.
    async fn commit(&self, ino: u64, s: &mut FileState) -> FsResult<()> {
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
        let (path, attr) = {
            let t = self.inodes();
            let node = t
                .get(ino)
                .ok_or(FsError::posix(Errno::ENOENT, "unknown inode"))?;
            (node.path.clone(), node.attr.clone())
        };
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
    async fn upload(&self, ino: u64, file: &OpenFile) -> FsResult<()> {
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
        let attr = self
            .inodes()
            .get(ino)
            .map(|n| n.attr.clone())
            .ok_or(FsError::posix(Errno::ENOENT, "unknown inode"))?;
        let (bucket, key) = self.key_of(&self.path_of(ino)?)?;
        let metadata = attr.metadata();
        let (tx, task) = self
            .remote
            .upload(&bucket, &key, metadata.clone(), Some(s.size));
        if let Body::Staged(f) = &s.body {
            let f = f.try_clone().map_err(staging_error)?;
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
