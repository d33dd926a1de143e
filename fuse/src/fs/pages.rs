//! Data handed to the kernel's page cache ahead of the reads (FUSE's notify-store): the
//! bytes of a small file streamed whole by its first read, the blocks the read cache
//! reads from the disk, and what this mount committed of a file in one piece, at its last
//! close. Reads of such a file then come from the page cache instead of a FUSE round trip
//! each (`git status` re-reading the files a checkout just wrote).
//!
//! A push names the object version its bytes are of. A gate per inode says which version
//! may be pushed: a read opens it for the version its open saw, and only while no handle
//! of this mount may change the data ([`Pages::writing`], taken by every writable open and
//! by truncate). Closing the gate waits for a push of that inode already on its way to the
//! kernel, so once a writer's open (or an open that saw a newer version) is answered, no
//! older byte can land over what the kernel then caches. One thread sends the pushes: a
//! store waits for the pages it fills to be unlocked, and the kernel locks them while a
//! read of them waits for its answer, which other threads give.
//!
//! Invariants: pushes are page-aligned and end at a page boundary or at the end of the
//! file (the kernel marks only whole pages up to date); the gate lock is never held while
//! a push is sent; a push that does not fit in the queue is dropped (the reads then go to
//! the mount as before).

use std::collections::HashMap;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use tokio::sync::watch;

/// The kernel's page size: pushes start and end on its multiples.
pub const PAGE: u64 = 4096;
/// Bytes of one store sent to the kernel.
const PIECE: usize = 256 << 10;
/// Pushes waiting for the thread; more are dropped.
const QUEUE: usize = 256;

/// Where pushed bytes go: the kernel (the adapter's notifier), or a test's record.
pub trait PageSink: Send + Sync {
    /// Stores `data` as the bytes of inode `ino` at `offset`.
    fn store(&self, ino: u64, offset: u64, data: &[u8]) -> std::io::Result<()>;

    /// The attributes cached of `ino` are stale: the mount changed them in answer to a
    /// request whose reply carries none (a write that dropped set-user-ID). A sink that
    /// caches no attributes has nothing to do.
    fn forget_attributes(&self, _ino: u64) -> std::io::Result<()> {
        Ok(())
    }
}

/// One push waiting for the thread.
struct Push {
    ino: u64,
    version: u64,
    offset: u64,
    data: Bytes,
    /// A hand-over after the last close: the gate it opened goes once it is sent.
    last: bool,
}

/// What may be pushed, per inode.
#[derive(Default, Clone, Copy)]
struct Gate {
    /// Handles (and truncates) that may change the data.
    writers: usize,
    /// The version pushes may be of (0: none).
    version: u64,
}

/// The pushes of one mount.
pub struct Pages {
    shared: Arc<Shared>,
    queue: OnceLock<SyncSender<Push>>,
    sink: OnceLock<Arc<dyn PageSink>>,
}

struct Shared {
    gates: Mutex<HashMap<u64, Gate>>,
    /// The inode whose push is being sent.
    busy: watch::Sender<Option<u64>>,
}

impl Shared {
    fn gates(&self) -> MutexGuard<'_, HashMap<u64, Gate>> {
        self.gates.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes `ino`'s gate and waits for a push of it in flight.
    async fn close(&self, ino: u64, writer: bool) {
        {
            let mut gates = self.gates();
            let gate = gates.entry(ino).or_default();
            gate.version = 0;
            gate.writers += usize::from(writer);
            if gate.writers == 0 {
                gates.remove(&ino);
            }
        }
        let mut busy = self.busy.subscribe();
        let _ = busy.wait_for(|b| *b != Some(ino)).await;
    }

    /// Sends `push` when its inode's gate is open for its version.
    fn send(&self, sink: &dyn PageSink, push: &Push) {
        {
            let gates = self.gates();
            if gates.get(&push.ino).map(|g| g.version) != Some(push.version) {
                return;
            }
            self.busy.send_replace(Some(push.ino));
        }
        let mut at = 0;
        while at < push.data.len() {
            let end = (at + PIECE).min(push.data.len());
            let offset = push.offset + at as u64;
            if let Err(e) = sink.store(push.ino, offset, &push.data[at..end]) {
                // The kernel forgot the inode, or refuses: the reads ask the mount.
                tracing::debug!(ino = push.ino, offset, "page store: {e}");
                break;
            }
            at = end;
        }
        if push.last {
            let mut gates = self.gates();
            if gates.get(&push.ino).is_some_and(|g| g.writers == 0) {
                gates.remove(&push.ino);
            }
        }
        self.busy.send_replace(None);
    }
}

impl Default for Pages {
    fn default() -> Self {
        Self {
            shared: Arc::new(Shared {
                gates: Mutex::new(HashMap::new()),
                busy: watch::Sender::new(None),
            }),
            queue: OnceLock::new(),
            sink: OnceLock::new(),
        }
    }
}

impl Pages {
    /// Starts sending pushes to `sink` (once; without it pushes are dropped).
    pub fn connect(&self, sink: Box<dyn PageSink>) {
        let (tx, rx) = sync_channel::<Push>(QUEUE);
        if self.queue.set(tx).is_err() {
            return;
        }
        let sink: Arc<dyn PageSink> = Arc::from(sink);
        let _ = self.sink.set(sink.clone());
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("page-push".into())
            .spawn(move || {
                while let Ok(push) = rx.recv() {
                    shared.send(&*sink, &push);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("page pushes off: {e}");
        }
    }

    /// Whether pushes go anywhere (a sink is connected).
    pub fn connected(&self) -> bool {
        self.queue.get().is_some()
    }

    /// The kernel is to ask for `ino`'s attributes again (see
    /// [`PageSink::forget_attributes`]); sent at once, on the caller's thread.
    pub fn forget_attributes(&self, ino: u64) {
        if let Some(Err(e)) = self.sink.get().map(|s| s.forget_attributes(ino)) {
            // The kernel forgot the inode already: nothing is cached.
            tracing::debug!(ino, "attribute invalidation: {e}");
        }
    }

    /// Reads of `ino` see `version`: open its gate for it, unless a writer holds it.
    pub fn allow(&self, ino: u64, version: u64) {
        let mut gates = self.shared.gates();
        let gate = gates.entry(ino).or_default();
        if gate.writers == 0 {
            gate.version = version;
        }
    }

    /// Pushes `data`, bytes `offset..` of `ino` at `version` (page-aligned, see the
    /// module's invariants), if its gate is open for that version when it is sent.
    pub fn push(&self, ino: u64, version: u64, offset: u64, data: Bytes) {
        self.queue_push(Push {
            ino,
            version,
            offset,
            data,
            last: false,
        });
    }

    /// The last handle of `ino` closed after this mount committed `data` as the whole of
    /// `version`: opens the gate for it (unless a writer came meanwhile) and pushes it all,
    /// so reads after the next open that finds the same version need no round trip. The
    /// gate goes once the push is sent.
    pub fn hand_over(&self, ino: u64, version: u64, data: Bytes) {
        {
            let mut gates = self.shared.gates();
            let gate = gates.entry(ino).or_default();
            if gate.writers > 0 {
                return;
            }
            gate.version = version;
        }
        let queued = self.queue_push(Push {
            ino,
            version,
            offset: 0,
            data,
            last: true,
        });
        if !queued {
            self.forget(ino);
        }
    }

    /// Queues `push` for the thread; false when it was not (no kernel, nothing to push,
    /// or a full queue).
    fn queue_push(&self, push: Push) -> bool {
        let Some(queue) = self.queue.get() else {
            return false;
        };
        if push.data.is_empty() || push.version == 0 || !push.offset.is_multiple_of(PAGE) {
            return false;
        }
        match queue.try_send(push) {
            Ok(()) => true,
            Err(TrySendError::Full(p)) => {
                tracing::debug!(
                    ino = p.ino,
                    offset = p.offset,
                    "page push dropped: queue full"
                );
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// `ino` has no open handle left: its gate goes (unless a writer still holds it).
    pub fn forget(&self, ino: u64) {
        let mut gates = self.shared.gates();
        if gates.get(&ino).is_some_and(|g| g.writers == 0) {
            gates.remove(&ino);
        }
    }

    /// The data of `ino` may change through this mount until the hold is dropped: closes
    /// its gate, and returns once no push of it is on its way.
    pub async fn writing(&self, ino: u64) -> WriteHold {
        self.shared.close(ino, true).await;
        WriteHold {
            shared: self.shared.clone(),
            ino,
        }
    }

    /// `ino`'s reads are to see another version: closes its gate, and returns once no
    /// push of it is on its way.
    pub async fn close(&self, ino: u64) {
        self.shared.close(ino, false).await;
    }
}

/// A writer of one inode (see [`Pages::writing`]).
pub struct WriteHold {
    shared: Arc<Shared>,
    ino: u64,
}

impl Drop for WriteHold {
    fn drop(&mut self) {
        let mut gates = self.shared.gates();
        if let Some(gate) = gates.get_mut(&self.ino) {
            gate.writers = gate.writers.saturating_sub(1);
            if gate.writers == 0 {
                gates.remove(&self.ino);
            }
        }
    }
}

/// The page-aligned part of `[start, end)` that may be pushed, for a file of `file_size`
/// bytes: up to the last page boundary, or to `end` when it is the file's end.
pub fn pushable_end(end: u64, file_size: u64) -> u64 {
    if end >= file_size {
        end
    } else {
        end - end % PAGE
    }
}
