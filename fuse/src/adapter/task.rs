//! How a kernel request becomes a task: the runtime runs the operation, and its result
//! (errors through [`FsError::errno`](crate::fs::error::FsError::errno)) becomes the reply.
//!
//! Most operations answer from the mount's memory (a cached attribute, a new file's
//! `chmod`, a buffered write), and handing them to a worker thread would cost more than
//! they do. So an operation is first polled once on the kernel request's own thread, in
//! the runtime's context; only one that has to wait (for the server, a lock, a full
//! buffer) goes on as a task, and its waker is then the task's.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Waker};

use fuser::{Errno, FileHandle, Generation, ReplyAttr, ReplyData, ReplyEmpty, ReplyEntry};

use super::TesseraFs;
use super::reply::{DirReply, file_attr};
use crate::fs::attr::Attr;
use crate::fs::error::FsResult;
use crate::fs::open::ReadRequest;
use crate::fs::state::Inner;

impl TesseraFs {
    /// Runs `op` on the runtime and hands its result to `done`.
    pub(super) fn run<T: Send + 'static, F: Future<Output = FsResult<T>> + Send + 'static>(
        &self,
        name: &'static str,
        op: impl FnOnce(Arc<Inner>) -> F,
        done: impl FnOnce(Result<T, Errno>) + Send + 'static,
    ) {
        let op = op(self.inner.clone());
        let metrics = self.metrics.clone();
        let mut task = Box::pin(async move {
            let result = op.await;
            if let Err(e) = &result {
                tracing::debug!(op = name, "{e}");
            }
            metrics.answered(name, result.as_ref().err().map(|e| e.errno()));
            done(result.map_err(|e| super::reply::errno(e.errno())));
        });
        let _runtime = self.rt.enter();
        let mut first_poll = Context::from_waker(Waker::noop());
        if task.as_mut().poll(&mut first_poll).is_pending() {
            self.rt.spawn(task);
        }
    }

    pub(super) fn entry(
        &self,
        reply: ReplyEntry,
    ) -> impl FnOnce(Result<(u64, Attr), Errno>) + Send + 'static {
        let ttl = self.inner.settings.ttl;
        move |r| match r {
            Ok((ino, attr)) => reply.entry(&ttl, &file_attr(&attr, ino), Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    /// Answers a LOOKUP: as [`Self::entry`], except that with `--negative-ttl` an ENOENT
    /// is a negative entry the kernel keeps for that long.
    pub(super) fn lookup_entry(
        &self,
        reply: ReplyEntry,
    ) -> impl FnOnce(Result<(u64, Attr), Errno>) + Send + 'static {
        let (ttl, negative) = (self.inner.settings.ttl, self.inner.settings.negative_ttl);
        move |r| match r {
            Ok((ino, attr)) => reply.entry(&ttl, &file_attr(&attr, ino), Generation(0)),
            Err(e) if e == Errno::ENOENT && !negative.is_zero() => {
                let none = Attr::new(crate::fs::attr::Kind::File, 0, 0, 0);
                reply.entry(&negative, &file_attr(&none, 0), Generation(0));
            }
            Err(e) => reply.error(e),
        }
    }

    /// Answers `reply` with the attributes of inode `ino`.
    pub(super) fn attr(
        &self,
        ino: u64,
        reply: ReplyAttr,
    ) -> impl FnOnce(Result<Attr, Errno>) + Send + 'static {
        let ttl = self.inner.settings.ttl;
        move |r| match r {
            Ok(attr) => reply.attr(&ttl, &file_attr(&attr, ino)),
            Err(e) => reply.error(e),
        }
    }

    /// Queues a read of the open file `fh` for its handle's task, which answers `reply`.
    pub(super) fn read_file(&self, fh: FileHandle, offset: u64, size: u32, reply: ReplyData) {
        let _runtime = self.rt.enter();
        let metrics = self.metrics.clone();
        let reply = Box::new(move |r: FsResult<bytes::Bytes>| match r {
            Ok(data) => {
                metrics.answered("read", None);
                metrics.read(data.len());
                reply.data(&data)
            }
            Err(e) => {
                tracing::debug!(op = "read", "{e}");
                metrics.answered("read", Some(e.errno()));
                reply.error(super::reply::errno(e.errno()));
            }
        });
        let request = ReadRequest {
            offset,
            size,
            reply,
        };
        self.inner.queue_read(fh.0, request);
    }

    /// Fills `reply` from the open directory `fh`, on its stream's task.
    pub(super) fn read_dir<R: DirReply>(&self, fh: FileHandle, offset: u64, mut reply: R) {
        let inner = self.inner.clone();
        let metrics = self.metrics.clone();
        let Some(stream) = inner.dir_stream(fh.0) else {
            metrics.answered("readdir", Some(crate::fs::error::Errno::EBADF));
            reply.error(Errno::EBADF);
            return;
        };
        self.rt.spawn(async move {
            let mut stream = stream.lock().await;
            if let Err(e) = stream.fill(&inner, offset, &mut reply).await {
                tracing::debug!(op = "readdir", "{e}");
                metrics.answered("readdir", Some(e.errno()));
                return reply.error(super::reply::errno(e.errno()));
            }
            metrics.answered("readdir", None);
            reply.ok();
        });
    }

    pub(super) fn empty(reply: ReplyEmpty) -> impl FnOnce(Result<(), Errno>) + Send + 'static {
        move |r| match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }
}
