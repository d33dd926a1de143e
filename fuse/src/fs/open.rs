//! What open handles hold: an open file's shared state ([`OpenFile`]: its body, size and
//! upload state) and each handle of it ([`Handle`]), and an open directory's listing
//! position ([`DirStream`]). Types only, over the object API's types: the operations that
//! change them are in `file` and `dir`.
//!
//! Invariants: one [`OpenFile`] per inode with open handles, shared by them; its state lock
//! orders writes, truncates and uploads; while `dirty`, the inode's attributes are local
//! truth (`Node::local`). Memory: a streamed upload keeps less than one chunk
//! ([`UPLOAD_CHUNK`]) plus the write in hand before it sends; a staged file's data is on
//! disk.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use bytes::Bytes;
use tokio::sync::{Mutex, mpsc};

use crate::fs::attr::{Attr, Kind};
use crate::fs::error::{Errno, FsResult};
use crate::fs::pages::WriteHold;
use crate::fs::read::Reader;

mod streamed;

pub(crate) use streamed::{Put, Sent, UPLOAD_CHUNK, Upload};

/// One open handle.
pub struct Handle {
    /// Its inode.
    pub ino: u64,
    /// The inode's shared state.
    pub file: Arc<OpenFile>,
    /// Opened with `O_APPEND`: every write goes to the end.
    pub append: bool,
    /// This handle changed the file (created, truncated or wrote it): its close uploads.
    /// A close of a handle that only read leaves another handle's writes in progress.
    pub changed: std::sync::atomic::AtomicBool,
    /// Sequential read state of this handle.
    pub reader: Mutex<Reader>,
    /// Reads of this handle, served one at a time in the kernel's order (see
    /// [`Inner::queue_read`](crate::fs::state::Inner::queue_read)).
    pub reads: std::sync::OnceLock<mpsc::UnboundedSender<ReadRequest>>,
    /// Opened for writing: no pushes to the kernel's pages of the inode meanwhile.
    pub writing: Option<WriteHold>,
}

/// A read waiting for its turn, and where its answer goes.
pub struct ReadRequest {
    /// Offset.
    pub offset: u64,
    /// Bytes asked for.
    pub size: u32,
    /// Receives the bytes.
    pub reply: Box<dyn FnOnce(FsResult<Bytes>) + Send>,
}

/// The state every handle of one inode shares.
pub struct OpenFile {
    pub(crate) state: Mutex<FileState>,
    pub(crate) handles: AtomicUsize,
}

pub(crate) struct FileState {
    pub(crate) body: Body,
    /// The file's size as written here.
    pub(crate) size: u64,
    /// Local changes the cluster has not committed.
    pub(crate) dirty: bool,
    /// Unlinked while open: never uploaded again.
    pub(crate) unlinked: bool,
    /// A failed upload: reported by every later write and flush.
    pub(crate) failed: Option<Errno>,
    /// The version of the object a `Remote` body reads, as an open saw it (0: unknown,
    /// e.g. after an upload from here): what the read cache may serve.
    pub(crate) version: u64,
    /// The version this mount last committed and its whole data, when it went up in one
    /// call (under one chunk): handed to the kernel's pages at the last close.
    pub(crate) committed: Option<(u64, Bytes)>,
}

impl FileState {
    /// Another open saw the server's current size: a file without local changes reads
    /// the server's data again (a clean staging copy may be stale).
    pub(crate) fn refresh(&mut self, size: u64, version: u64) {
        if !self.dirty && !matches!(self.body, Body::Streaming(_)) {
            self.body = Body::Remote;
            self.size = size;
            self.version = version;
        }
    }
}

pub(crate) enum Body {
    /// The data is the object's on the cluster (or nothing, when `size` is 0).
    Remote,
    /// A streamed upload in progress.
    Streaming(Upload),
    /// A local copy holds the data.
    Staged(std::fs::File),
}

impl OpenFile {
    pub(crate) fn new(size: u64, dirty: bool) -> Self {
        Self {
            state: Mutex::new(FileState {
                body: Body::Remote,
                size,
                dirty,
                unlinked: false,
                failed: None,
                version: 0,
                committed: None,
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

/// One directory entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Inode number shown to `readdir`.
    pub ino: u64,
    /// Name.
    pub name: String,
    /// Type.
    pub kind: Kind,
    /// Attributes the listing carried (none for directories: they are on the marker).
    pub attr: Option<Attr>,
}

/// An open directory's listing position.
pub struct DirStream {
    pub(crate) ino: u64,
    pub(crate) path: String,
    pub(crate) page: Vec<Entry>,
    pub(crate) page_start: u64,
    pub(crate) token: String,
    pub(crate) state: Stage,
    pub(crate) local_seen: HashSet<String>,
    pub(crate) listing: Option<u64>,
}

#[derive(PartialEq, Eq)]
pub(crate) enum Stage {
    Start,
    Server,
    Local,
    Done,
}

impl DirStream {
    /// A stream over the directory `ino` at `path`.
    pub fn new(ino: u64, path: String) -> Self {
        Self {
            ino,
            path,
            page: Vec::new(),
            page_start: 0,
            token: String::new(),
            state: Stage::Start,
            local_seen: HashSet::new(),
            listing: None,
        }
    }
}
