//! How a kernel request becomes a task: the runtime runs the operation, and its result
//! (errors through [`FsError::errno`](crate::error::FsError::errno)) becomes the reply.

use std::future::Future;
use std::sync::Arc;

use fuser::{Errno, FileHandle, Generation, ReplyEmpty, ReplyEntry};

use super::TesseraFs;
use crate::attr::Attr;
use crate::dir::DirReply;
use crate::error::FsResult;
use crate::namespace::Inner;

impl TesseraFs {
    /// Runs `op` on the runtime and hands its result to `done`.
    pub(super) fn run<T: Send + 'static, F: Future<Output = FsResult<T>> + Send + 'static>(
        &self,
        name: &'static str,
        op: impl FnOnce(Arc<Inner>) -> F,
        done: impl FnOnce(Result<T, Errno>) + Send + 'static,
    ) {
        let op = op(self.inner.clone());
        self.rt.spawn(async move {
            let result = op.await;
            if let Err(e) = &result {
                tracing::debug!(op = name, "{e}");
            }
            done(result.map_err(|e| e.errno()));
        });
    }

    pub(super) fn entry(
        &self,
        reply: ReplyEntry,
    ) -> impl FnOnce(Result<(u64, Attr), Errno>) + Send + 'static {
        let ttl = self.inner.settings.ttl;
        move |r| match r {
            Ok((ino, attr)) => reply.entry(&ttl, &attr.file_attr(ino), Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    /// Fills `reply` from the open directory `fh`, on its stream's task.
    pub(super) fn read_dir<R: DirReply>(&self, fh: FileHandle, offset: u64, mut reply: R) {
        let inner = self.inner.clone();
        let Some(stream) = inner.dirs().get(&fh.0).cloned() else {
            reply.error(Errno::EBADF);
            return;
        };
        self.rt.spawn(async move {
            let mut stream = stream.lock().await;
            if let Err(e) = stream.fill(&inner, offset, &mut reply).await {
                tracing::debug!(op = "readdir", "{e}");
                return reply.error(e.errno());
            }
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
