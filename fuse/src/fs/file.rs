//! Open files: what a write changes and how it reaches the cluster.
//!
//! A file written from its start (new, or opened with `O_TRUNC`) streams up as it is
//! written: one PutObject whose data follows the writes. Anything else — a write elsewhere,
//! an append to existing data, a truncate to a non-zero size — first copies the object into a
//! staging file under `--cache-dir` (disk, not memory) and edits it there. flush (every
//! close), fsync and the last release upload what changed; they return once the cluster has
//! committed it, so after close() every client sees the file.
//!
//! The state they work on ([`OpenFile`], [`Handle`]) is defined in `open`; the invariants
//! are stated there.

use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::{Mutex, mpsc};

use crate::fs::attr::Attr;
use crate::fs::error::{Errno, FsError, FsResult};
use crate::fs::open::{Body, Handle, OpenFile, ReadRequest};
use crate::fs::pages::WriteHold;
use crate::fs::read::{PushTo, Reader};
use crate::fs::state::{Inner, name_str};

mod upload;
mod write;

impl Inner {
    /// Opens `ino` (a regular file): refreshes its attributes from the server first, so
    /// what another client closed is what this open sees.
    pub async fn open(&self, ino: u64, flags: i32) -> FsResult<u64> {
        self.open_keeping(ino, flags).await.map(|(fh, _)| fh)
    }

    /// [`Self::open`], and whether the kernel may keep the pages it holds of the file:
    /// the server's version is the one those pages were read or written as.
    pub async fn open_keeping(&self, ino: u64, flags: i32) -> FsResult<(u64, bool)> {
        let write = flags & libc::O_ACCMODE != libc::O_RDONLY;
        if write && self.settings.read_only {
            return Err(FsError::posix(Errno::EROFS, "mounted read-only"));
        }
        let (path, attr, local) = self.node(ino)?;
        let writing = match write {
            true => Some(self.pages.writing(ino).await),
            false => None,
        };
        let (attr, seen) = if local {
            (attr, None)
        } else {
            let (attr, seen) = self.stat_between_commits(ino, &path).await?;
            (attr, Some(seen))
        };
        if attr.kind == crate::fs::attr::Kind::Dir {
            return Err(FsError::posix(Errno::EISDIR, "a directory"));
        }
        let file = self.attach(ino, attr.size, false);
        let mut keep = false;
        if let Some(seen) = seen {
            let mut s = file.state.lock().await;
            // An upload from this mount since the stat is newer than what it saw.
            if self.commits(ino) == seen {
                s.refresh(attr.size, attr.version);
                keep = self.pages_of(ino, attr.version);
            }
        }
        if !keep {
            // The kernel drops the file's pages at this answer: none of an older version
            // may arrive after it.
            self.pages.close(ino).await;
        }
        if write && flags & libc::O_TRUNC != 0 {
            let result = self.truncate_open(ino, &file, 0).await;
            if let Err(e) = result {
                self.detach(ino, &file).await;
                return Err(e);
            }
        }
        let truncated = write && flags & libc::O_TRUNC != 0;
        let append = flags & libc::O_APPEND != 0;
        let fh = self.new_handle(ino, file, append, truncated, writing);
        Ok((fh, keep && !truncated))
    }

    /// The kernel's pages of `ino` are now of `version`: whether they were already.
    fn pages_of(&self, ino: u64, version: u64) -> bool {
        let mut t = self.inodes();
        let Some(node) = t.get_mut(ino) else {
            return false;
        };
        let same = version != 0 && node.page_version == version;
        node.page_version = version;
        same
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
        let path = crate::fs::inode::join(&self.path_of(parent)?, name_str(name)?);
        self.new_key(&path, false)?;
        self.settle_under(&path).await;
        let ino = {
            let mut t = self.inodes();
            let ino = t.remember(&path, attr, std::time::Instant::now());
            if let Some(node) = t.get_mut(ino) {
                node.local = true;
            }
            t.invalidate(&path);
            ino
        };
        let writing = Some(self.pages.writing(ino).await);
        let file = self.attach(ino, 0, true);
        self.dir_changed(parent);
        Ok((ino, self.new_handle(ino, file, append, true, writing)))
    }

    /// mknod(2) of a regular file: an empty file, uploaded at once.
    pub async fn mknod(
        &self,
        parent: u64,
        name: &std::ffi::OsStr,
        attr: Attr,
    ) -> FsResult<(u64, Attr)> {
        let (ino, fh) = self.create(parent, name, attr, false).await?;
        let uploaded = self.flush_ino(ino).await;
        self.release(fh).await;
        uploaded?;
        Ok((ino, self.getattr(ino).await?))
    }

    /// Uploads of `ino` committed from this mount so far.
    pub(crate) fn commits(&self, ino: u64) -> u64 {
        self.inodes().get(ino).map_or(0, |n| n.commits)
    }

    /// What the server says `path` (inode `ino`) is, read while no upload of it from this
    /// mount committed (so it is not older than one), with the commit count it follows.
    async fn stat_between_commits(&self, ino: u64, path: &str) -> FsResult<(Attr, u64)> {
        let mut tries = 0;
        loop {
            let seen = self.commits(ino);
            let attr = self.stat_file(path).await?;
            tries += 1;
            if self.commits(ino) == seen {
                self.set_attr(ino, path, attr.clone());
                return Ok((attr, seen));
            }
            if tries == 8 {
                // Uploads keep coming: the shared state of the open file is the truth.
                return Ok((attr, seen));
            }
        }
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
            self.pages.forget(ino);
        }
    }

    fn new_handle(
        &self,
        ino: u64,
        file: Arc<OpenFile>,
        append: bool,
        changed: bool,
        writing: Option<WriteHold>,
    ) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        let handle = Handle {
            ino,
            file,
            append,
            reader: Mutex::new(Reader::default()),
            reads: std::sync::OnceLock::new(),
            changed: std::sync::atomic::AtomicBool::new(changed),
            writing,
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
        let (ino, file) = (handle.ino, handle.file.clone());
        self.detach(ino, &file).await;
        // Its hold on the kernel's pages goes before they are handed over.
        drop(handle);
        self.hand_over_pages(ino, &file).await;
    }

    /// After the last close of `ino`: what this mount committed of it in one piece goes to
    /// the kernel's pages, while it is still the version the inode knows (the next open
    /// keeps the pages when the server still has it).
    async fn hand_over_pages(&self, ino: u64, file: &OpenFile) {
        if file.handles.load(Ordering::SeqCst) != 0 {
            return;
        }
        let committed = {
            let mut s = file.state.lock().await;
            if s.dirty || s.unlinked {
                return;
            }
            s.committed.take()
        };
        let Some((version, data)) = committed else {
            return;
        };
        let current = (self.inodes().get(ino)).is_some_and(|n| n.page_version == version);
        if current {
            self.pages.hand_over(ino, version, data);
        }
    }

    /// Marks `ino` changed here: size and time are now local truth.
    pub(super) fn touch(&self, ino: u64, size: u64) {
        let mut t = self.inodes();
        if let Some(node) = t.get_mut(ino) {
            node.attr.size = size;
            node.attr.changed(SystemTime::now(), true);
            node.local = true;
            let path = node.path.clone();
            t.invalidate(&path);
        }
    }

    /// ftruncate(2) through handle `fh`: its close must upload.
    pub fn mark_changed(&self, fh: u64) {
        if let Ok(handle) = self.handle(fh) {
            handle.changed.store(true, Ordering::SeqCst);
        }
    }

    /// close(2) of handle `fh`: uploads what it changed and waits for the commit.
    pub async fn flush(&self, fh: u64) -> FsResult<()> {
        let handle = self.handle(fh)?;
        if !handle.changed.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.flush_ino(handle.ino).await
    }

    /// Queues a read of handle `fh`. The kernel sends a file's read-ahead as several
    /// requests at once; served as separate tasks they would reach the handle's stream out
    /// of order and look like seeks. One task per handle serves them in arrival order.
    pub fn queue_read(self: &Arc<Self>, fh: u64, request: ReadRequest) {
        let handle = match self.handle(fh) {
            Ok(h) => h,
            Err(e) => return (request.reply)(Err(e)),
        };
        let queue = handle.reads.get_or_init(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<ReadRequest>();
            let inner = self.clone();
            tokio::spawn(async move {
                while let Some(r) = rx.recv().await {
                    (r.reply)(inner.read(fh, r.offset, r.size).await);
                }
            });
            tx
        });
        if let Err(mpsc::error::SendError(request)) = queue.send(request) {
            (request.reply)(Err(FsError::posix(Errno::EBADF, "file handle closed")));
        }
    }

    /// Reads `size` bytes at `offset`.
    pub async fn read(&self, fh: u64, offset: u64, size: u32) -> FsResult<Bytes> {
        let handle = self.handle(fh)?;
        let (file_size, version) = {
            let mut s = handle.file.state.lock().await;
            if matches!(s.body, Body::Streaming(_)) {
                self.commit(handle.ino, &mut s).await?;
            }
            if let Body::Staged(f) = &s.body {
                let end = s.size.min(offset + u64::from(size));
                let mut buf = vec![0; end.saturating_sub(offset) as usize];
                f.read_exact_at(&mut buf, offset)?;
                return Ok(buf.into());
            }
            if s.dirty {
                // Truncated to nothing, nothing written yet.
                return Ok(Bytes::new());
            }
            if s.version != 0 {
                // Under the state lock: a write cannot come between.
                self.pages.allow(handle.ino, s.version);
            }
            (s.size, s.version)
        };
        let (bucket, key) = self.key_of(&self.path_of(handle.ino)?)?;
        let mut reader = handle.reader.lock().await;
        let end = file_size.min(offset + u64::from(size));
        if let Some(cache) = &self.cache
            && version != 0
            && offset < end
            && (cache.holds(version, offset, end) || !reader.would_stream(offset))
        {
            // Held, or a jump the stream would not serve: blocks of the read cache.
            reader.passed(end);
            let object = (bucket.as_str(), key.as_str());
            let (pages, ino) = (&self.pages, handle.ino);
            let mut push = |at, block| pages.push(ino, version, at, block);
            return (cache.read(
                &*self.remote,
                object,
                version,
                offset,
                end,
                file_size,
                &mut push,
            ))
            .await;
        }
        let push = || {
            (version != 0).then(|| PushTo {
                pages: self.pages.clone(),
                cache: self.cache.clone(),
                ino: handle.ino,
                version,
            })
        };
        let remote = &*self.remote;
        let data = (reader.read(remote, &bucket, &key, offset, size, file_size, push)).await?;
        if let Some(cache) = &self.cache
            && version != 0
            && reader.last_version == version
            && !reader.fills_cache()
        {
            cache.offer(&mut reader.fill, version, offset, &data, file_size);
        }
        Ok(data)
    }
}
