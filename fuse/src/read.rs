//! Reads of one open handle. A read that continues where the last one ended streams the
//! rest of the object from there, with a read-ahead buffer that starts at 1 MiB and doubles
//! as the reads keep coming in order, up to [`MAX_WINDOW`]; any other read fetches only the
//! bytes asked for. Memory per handle stays below the window.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::{Semaphore, mpsc};

use crate::error::{FsError, FsResult};
use crate::remote::{RangeBody, Remote};

/// First read-ahead window.
const FIRST_WINDOW: usize = 1 << 20;
/// Largest read-ahead window.
pub const MAX_WINDOW: usize = 64 << 20;
/// A forward jump this small within a stream is read through rather than reopened.
const SKIP_MAX: u64 = 1 << 20;

/// Sequential-read state of a handle.
#[derive(Default)]
pub struct Reader {
    ahead: Option<ReadAhead>,
    /// Where the last read ended.
    last_end: u64,
}

/// A streaming GET drained into a buffer by a task, ahead of the reads.
struct ReadAhead {
    rx: mpsc::UnboundedReceiver<FsResult<Bytes>>,
    /// Bytes the task may hold unread: the window.
    budget: Arc<Semaphore>,
    window: usize,
    /// Bytes read since the window last grew.
    consumed: usize,
    /// Offset of the first byte of `buf`.
    pos: u64,
    buf: Bytes,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ReadAhead {
    fn start(mut body: RangeBody, pos: u64) -> Self {
        let budget = Arc::new(Semaphore::new(FIRST_WINDOW));
        let (tx, rx) = mpsc::unbounded_channel();
        let permits = budget.clone();
        let task = tokio::spawn(async move {
            loop {
                let chunk = body.next().await;
                let done = !matches!(chunk, Ok(Some(_)));
                if let Ok(Some(data)) = &chunk {
                    let n = data.len().min(FIRST_WINDOW) as u32;
                    match permits.acquire_many(n).await {
                        Ok(p) => p.forget(),
                        Err(_) => return,
                    }
                }
                if let Some(item) = chunk.transpose()
                    && tx.send(item).is_err()
                {
                    return;
                }
                if done {
                    return;
                }
            }
        });
        Self {
            rx,
            budget,
            window: FIRST_WINDOW,
            consumed: 0,
            pos,
            buf: Bytes::new(),
            task,
        }
    }

    /// The next buffered bytes, `None` at the end of the stream.
    async fn fill(&mut self) -> FsResult<Option<()>> {
        if !self.buf.is_empty() {
            return Ok(Some(()));
        }
        match self.rx.recv().await {
            Some(Ok(data)) => {
                self.budget.add_permits(data.len().min(FIRST_WINDOW));
                self.buf = data;
                Ok(Some(()))
            }
            Some(Err(e)) => Err(e),
            None => Ok(None),
        }
    }

    /// Takes `len` bytes from the stream (fewer at its end).
    async fn take(&mut self, len: usize) -> FsResult<Bytes> {
        if self.fill().await?.is_none() {
            return Ok(Bytes::new());
        }
        if self.buf.len() >= len {
            self.pos += len as u64;
            return Ok(self.buf.split_to(len));
        }
        let mut out = BytesMut::with_capacity(len);
        while out.len() < len && self.fill().await?.is_some() {
            let n = (len - out.len()).min(self.buf.len());
            out.extend_from_slice(&self.buf.split_to(n));
            self.pos += n as u64;
        }
        Ok(out.freeze())
    }

    /// Reads continue in order: let the task run further ahead.
    fn grow(&mut self) {
        if self.window < MAX_WINDOW {
            self.budget.add_permits(self.window);
            self.window *= 2;
        }
    }
}

impl Reader {
    /// Reads `[offset, offset + size)` of `bucket/key`, a file of `file_size` bytes.
    pub async fn read(
        &mut self,
        remote: &Remote,
        bucket: &str,
        key: &str,
        offset: u64,
        size: u32,
        file_size: u64,
    ) -> FsResult<Bytes> {
        let end = file_size.min(offset + u64::from(size));
        if offset >= end {
            return Ok(Bytes::new());
        }
        let len = (end - offset) as usize;
        // Read through a small forward gap of the stream; drop it on any other jump.
        if let Some(ahead) = &mut self.ahead {
            if offset < ahead.pos || offset - ahead.pos > SKIP_MAX {
                self.ahead = None;
            } else {
                while ahead.pos < offset {
                    let skip = (offset - ahead.pos) as usize;
                    if ahead.take(skip).await?.is_empty() {
                        break;
                    }
                }
            }
        }
        let sequential = offset == 0 || offset == self.last_end;
        if self.ahead.is_none() && sequential {
            let body = remote.get(bucket, key, offset, file_size).await?;
            self.ahead = Some(ReadAhead::start(body, offset));
        }
        self.last_end = end;
        let Some(ahead) = &mut self.ahead else {
            return fetch(remote, bucket, key, offset, end).await;
        };
        let data = ahead.take(len).await?;
        if data.len() < len {
            // The object is shorter than it was said to be, or the stream broke.
            self.ahead = None;
            return Err(FsError::posix(
                fuser::Errno::EIO,
                "the object changed while read",
            ));
        }
        ahead.consumed += len;
        if ahead.consumed >= ahead.window {
            ahead.consumed = 0;
            ahead.grow();
        }
        Ok(data)
    }
}

/// One ranged GET of exactly `[start, end)`.
async fn fetch(remote: &Remote, bucket: &str, key: &str, start: u64, end: u64) -> FsResult<Bytes> {
    let mut body = remote.get(bucket, key, start, end).await?;
    let mut out = BytesMut::with_capacity((end - start) as usize);
    while let Some(chunk) = body.next().await? {
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}
