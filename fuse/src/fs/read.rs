//! Reads of one open handle. A read at the start of the file or where the last one ended
//! starts streaming the rest of the object from there, with a read-ahead buffer that starts
//! at 1 MiB and doubles as the stream is consumed, up to [`MAX_WINDOW`].
//!
//! The kernel sends its read-ahead as several requests in flight, and they do not always
//! arrive in order. So the handle keeps the last [`KEEP`] bytes it took from the stream: a
//! read up to [`PULL`] ahead of the stream takes the stream up to it, and a read behind it
//! is served from what was kept. A read that comes later still fetches its own range (one
//! ranged GET of just those bytes) and leaves the stream as it is. Any other read drops
//! the stream; if it is where the last read ended it starts a new one, else it fetches
//! its own range. A file of at most [`WHOLE_MAX`] bytes is streamed whole from its start
//! by the first read, wherever it is (random reads of a small file then cost one stream).
//! Memory per handle stays below the window plus [`KEEP`]. A whole stream's bytes also go
//! to the kernel's page cache as they arrive ([`Pages`]), so the later reads of the file
//! need not reach the mount at all; such a stream keeps only [`PUSHED_KEEP`] bytes: the
//! kernel holds the rest, and the memory of the stream's start is reused for its end
//! instead of new memory being faulted in (a measurable share of a cold read's CPU).

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::{Semaphore, mpsc};

use crate::api::{ApiResult, ObjectApi, RangeBody};
use crate::fs::cache::{Filler, ReadCache};
use crate::fs::error::{Errno, FsError, FsResult};
use crate::fs::pages::{Pages, pushable_end};

/// First read-ahead window.
const FIRST_WINDOW: usize = 1 << 20;
/// Largest read-ahead window.
const MAX_WINDOW: usize = 64 << 20;
/// Bytes of the stream kept after they were taken, for reads that arrive late.
const KEEP: u64 = 32 << 20;
/// A read this far ahead of the stream takes the stream up to it: twice the mount's
/// kernel read-ahead (the kernel starts the next read-ahead before the last is done).
const PULL: u64 = 16 << 20;
/// Bytes kept of a stream whose bytes go to the page cache: enough for the reads that
/// arrive before the push of their pages lands; a read behind them (pages the kernel
/// dropped) fetches its own range.
const PUSHED_KEEP: u64 = 4 << 20;
/// A file this small is streamed whole from its start by a handle's first read, wherever
/// that read is: all of it fits in the kept bytes, so reads in any order come from them
/// (or from the page cache, when the stream is pushed there).
const WHOLE_MAX: u64 = KEEP;

/// Sequential-read state of a handle.
#[derive(Default)]
pub struct Reader {
    ahead: Option<ReadAhead>,
    /// Where the last read ended.
    last_end: u64,
    /// The version of the object the last read's bytes are of (0: not known).
    pub last_version: u64,
    /// The block of the read cache the reads are filling.
    pub fill: Filler,
}

/// A streaming GET drained into a buffer by a task, ahead of the reads.
struct ReadAhead {
    rx: mpsc::UnboundedReceiver<ApiResult<Bytes>>,
    /// Bytes the task may hold unread: the window.
    budget: Arc<Semaphore>,
    window: usize,
    /// Bytes taken since the window last grew.
    consumed: usize,
    /// The last bytes taken from the stream, in order, at most `keep`.
    kept: VecDeque<Bytes>,
    /// [`KEEP`], or [`PUSHED_KEEP`] for a stream pushed to the kernel's page cache.
    keep: u64,
    /// Offset of the first kept byte.
    kept_start: u64,
    /// Offset of the next byte of the stream: the end of `kept`.
    pos: u64,
    /// The version of the object streamed.
    version: u64,
    /// Streaming a whole small file: every read of it is for this stream.
    whole: bool,
    /// Its bytes go to the page cache and the read cache as they arrive.
    pushed: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where a whole stream's bytes go as they arrive, besides the reads: the kernel's pages
/// of `ino` and the read cache, when the stream is of `version`.
pub struct PushTo {
    /// The mount's pushes.
    pub pages: Arc<Pages>,
    /// The read cache, if the mount has one.
    pub cache: Option<Arc<ReadCache>>,
    /// The file's inode.
    pub ino: u64,
    /// The version its open saw.
    pub version: u64,
}

/// Hands a stream's bytes to the page cache in page-aligned pieces, and to the read
/// cache, in order.
struct StreamPusher {
    to: PushTo,
    file_size: u64,
    /// Offset of the first byte not pushed.
    at: u64,
    /// Bytes from `at` short of a page boundary.
    carry: BytesMut,
    fill: Filler,
}

impl StreamPusher {
    fn take(&mut self, data: &Bytes) {
        let start = self.at + self.carry.len() as u64;
        if let Some(cache) = &self.to.cache {
            let (version, size) = (self.to.version, self.file_size);
            cache.offer(&mut self.fill, version, start, data, size);
        }
        let end = start + data.len() as u64;
        let upto = pushable_end(end, self.file_size);
        let n = (upto - self.at) as usize;
        let piece = if self.carry.is_empty() {
            self.carry.extend_from_slice(&data[n..]);
            data.slice(..n)
        } else {
            self.carry.extend_from_slice(data);
            self.carry.split_to(n).freeze()
        };
        let to = &self.to;
        to.pages.push(to.ino, to.version, self.at, piece);
        self.at = upto;
    }
}

impl ReadAhead {
    fn start(mut body: RangeBody, pos: u64, whole: bool, push: Option<StreamPusher>) -> Self {
        let version = body.version();
        let mut push = push.filter(|p| whole && pos == 0 && p.to.version == version);
        let pushed = push.is_some();
        let to_kernel = push.as_ref().is_some_and(|p| p.to.pages.connected());
        // A whole stream pushed to the kernel is drained at once: the reads that follow
        // come from the page cache and would not take it further.
        let first = match &push {
            Some(p) => (p.file_size as usize).max(FIRST_WINDOW),
            None => FIRST_WINDOW,
        };
        let budget = Arc::new(Semaphore::new(first));
        let (tx, rx) = mpsc::unbounded_channel();
        let permits = budget.clone();
        let task = tokio::spawn(async move {
            loop {
                let chunk = body.next().await;
                let done = !matches!(chunk, Ok(Some(_)));
                if let Ok(Some(data)) = &chunk {
                    if let Some(p) = &mut push {
                        p.take(data);
                    }
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
            kept: VecDeque::new(),
            keep: if to_kernel { PUSHED_KEEP } else { KEEP },
            kept_start: pos,
            pos,
            version,
            whole,
            pushed,
            task,
        }
    }

    /// Whether a read at `offset` is for this stream: among the kept bytes, or at most
    /// [`PULL`] ahead of the stream.
    fn covers(&self, offset: u64) -> bool {
        offset >= self.kept_start && (self.whole || offset <= self.pos + PULL)
    }

    /// Takes the stream up to `end` (or its end), keeping what it takes.
    async fn advance_to(&mut self, end: u64) -> FsResult<()> {
        while self.pos < end {
            let data = match self.rx.recv().await {
                Some(Ok(data)) => data,
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            };
            self.budget.add_permits(data.len().min(FIRST_WINDOW));
            self.pos += data.len() as u64;
            self.consumed += data.len();
            if self.consumed >= self.window {
                self.consumed = 0;
                self.grow();
            }
            self.kept.push_back(data);
            while self.pos - self.kept_start > self.keep {
                let Some(old) = self.kept.pop_front() else {
                    break;
                };
                self.kept_start += old.len() as u64;
            }
        }
        Ok(())
    }

    /// The kept bytes `[start, end)`, or fewer when the stream ended first.
    fn copy_out(&self, start: u64, end: u64) -> Bytes {
        let end = end.min(self.pos);
        let mut at = self.kept_start;
        let mut out: Option<BytesMut> = None;
        for chunk in &self.kept {
            let chunk_end = at + chunk.len() as u64;
            if chunk_end > start && at < end {
                let from = start.max(at) - at;
                let to = end.min(chunk_end) - at;
                let part = chunk.slice(from as usize..to as usize);
                if out.is_none() && at <= start && chunk_end >= end {
                    return part; // Inside one chunk: no copy.
                }
                out.get_or_insert_with(|| BytesMut::with_capacity((end - start) as usize))
                    .extend_from_slice(&part);
            }
            at = chunk_end;
        }
        out.map(BytesMut::freeze).unwrap_or_default()
    }

    /// Reads are consumed in order: let the task run further ahead.
    fn grow(&mut self) {
        if self.window < MAX_WINDOW {
            self.budget.add_permits(self.window);
            self.window *= 2;
        }
    }
}

impl Reader {
    /// Whether a read at `offset` would come from this handle's stream (a stream it has,
    /// or one it would start).
    pub fn would_stream(&self, offset: u64) -> bool {
        offset == 0
            || offset == self.last_end
            || self.ahead.as_ref().is_some_and(|a| a.covers(offset))
    }

    /// Whether the stream offers its bytes to the read cache itself.
    pub fn fills_cache(&self) -> bool {
        self.ahead.as_ref().is_some_and(|a| a.pushed)
    }

    /// A read up to `end` was served elsewhere (the read cache).
    pub fn passed(&mut self, end: u64) {
        self.last_end = end;
    }

    /// Reads `[offset, offset + size)` of `bucket/key`, a file of `file_size` bytes; a
    /// whole stream it starts also goes where `push` says (asked only then).
    #[allow(clippy::too_many_arguments)]
    pub async fn read(
        &mut self,
        remote: &dyn ObjectApi,
        bucket: &str,
        key: &str,
        offset: u64,
        size: u32,
        file_size: u64,
        push: impl FnOnce() -> Option<PushTo>,
    ) -> FsResult<Bytes> {
        let end = file_size.min(offset + u64::from(size));
        if offset >= end {
            return Ok(Bytes::new());
        }
        let whole = file_size <= WHOLE_MAX && self.ahead.is_none();
        let sequential = offset == 0 || offset == self.last_end || whole;
        self.last_end = end;
        let ahead = match self.ahead.take() {
            Some(ahead) if ahead.covers(offset) => self.ahead.insert(ahead),
            Some(ahead) if offset < ahead.kept_start && offset + KEEP >= ahead.kept_start => {
                // Too late even for the kept bytes: fetch this range, keep the stream.
                self.ahead = Some(ahead);
                tracing::debug!(offset, len = end - offset, "late read");
                return self.fetch(remote, bucket, key, offset, end).await;
            }
            _ if !sequential => return self.fetch(remote, bucket, key, offset, end).await,
            _ => {
                let from = if whole { 0 } else { offset };
                tracing::debug!(from, "read stream started");
                let body = remote.get(bucket, key, from, file_size).await?;
                let push = push().map(|to| StreamPusher {
                    to,
                    file_size,
                    at: 0,
                    carry: BytesMut::new(),
                    fill: Filler::default(),
                });
                self.ahead.insert(ReadAhead::start(body, from, whole, push))
            }
        };
        if let Err(e) = ahead.advance_to(end).await {
            self.ahead = None;
            return Err(e);
        }
        let data = ahead.copy_out(offset, end);
        self.last_version = ahead.version;
        if data.len() as u64 != end - offset {
            // The object is shorter than it was said to be, or the stream broke.
            self.ahead = None;
            return Err(FsError::posix(Errno::EIO, "the object changed while read"));
        }
        Ok(data)
    }

    /// One ranged GET of exactly `[start, end)`.
    async fn fetch(
        &mut self,
        remote: &dyn ObjectApi,
        bucket: &str,
        key: &str,
        start: u64,
        end: u64,
    ) -> FsResult<Bytes> {
        let mut body = remote.get(bucket, key, start, end).await?;
        let mut out = BytesMut::with_capacity((end - start) as usize);
        while let Some(chunk) = body.next().await? {
            out.extend_from_slice(&chunk);
        }
        self.last_version = body.version();
        Ok(out.freeze())
    }
}
