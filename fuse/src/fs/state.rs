//! The file system's shared state, [`Inner`]: the object API, the mount's settings, the
//! inode table and the tables of open files and directories, with the helpers every
//! operation uses (where a path lives, what the server says a path is, what this mount
//! already knows). The operations themselves are `impl Inner` blocks in `namespace`,
//! `dir` and `file`, which import this module; it imports none of them.
//!
//! A directory's mtime and ctime follow its entries ([`Inner::dir_changed`], called by
//! every operation that adds, removes or renames one), stored on its `dir/` marker by
//! [`Behind`], which also sends the deletes of unlinked files.
//!
//! Invariants: the locks here are never held across an await; paths map to buckets and
//! keys in one place ([`Inner::place`]); a directory is a `/`-delimited prefix, and when a
//! name is both a file key and a prefix the directory wins.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::api::ObjectApi;
use crate::fs::ahead::Ahead;
use crate::fs::attr::{Attr, Defaults, time_of};
use crate::fs::behind::Behind;
use crate::fs::cache::ReadCache;
use crate::fs::error::{Errno, FsError, FsResult};
use crate::fs::inode::Inodes;
use crate::fs::open::{DirStream, Handle, OpenFile};
use crate::fs::pages::Pages;

/// Longest name of one path component.
pub const NAME_MAX: usize = 255;
/// Longest object key (S3's bound; a directory's marker counts its `/`).
pub const KEY_MAX: usize = 1024;

/// An open directory handle: the directory's inode and its listing position.
pub(crate) type OpenDir = (u64, Arc<tokio::sync::Mutex<DirStream>>);

/// How the mount was asked to behave.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The bucket at the root; `None`: the root lists buckets.
    pub bucket: Option<String>,
    /// When that bucket was created, as the mount's check at start found it: the root's
    /// times. A bucket's creation time never changes, so the root's attributes are not
    /// asked of the server again (`None`: they are, at every expiry).
    pub bucket_created: Option<SystemTime>,
    /// How long attributes and lookups are cached.
    pub ttl: Duration,
    /// How long the kernel and this mount may keep "no such name" (0: not at all).
    pub negative_ttl: Duration,
    /// Refuse every change.
    pub read_only: bool,
    /// Where staging files go.
    pub cache_dir: PathBuf,
    /// Bytes of the local read cache (0: none).
    pub cache_size: u64,
    /// Attributes of what has none of its own.
    pub defaults: Defaults,
}

/// Where a path lives on the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The root of a mount without `--bucket`: the list of buckets.
    Buckets,
    /// A bucket's root.
    Bucket(String),
    /// A key in a bucket.
    Key(String, String),
}

/// State shared by every operation.
pub struct Inner {
    /// The cluster.
    pub remote: Arc<dyn ObjectApi>,
    /// Flags.
    pub settings: Settings,
    pub(crate) inodes: Mutex<Inodes>,
    pub(crate) files: Mutex<HashMap<u64, Arc<OpenFile>>>,
    pub(crate) handles: Mutex<HashMap<u64, Arc<Handle>>>,
    /// Open directory handles: the directory's inode and its listing.
    pub(crate) dirs: Mutex<HashMap<u64, OpenDir>>,
    pub(crate) next_fh: AtomicU64,
    /// Deletes and directory times sent behind the answers.
    pub(crate) behind: Arc<Behind>,
    /// The local read cache (`--cache-size`).
    pub(crate) cache: Option<Arc<ReadCache>>,
    /// Data handed to the kernel's page cache ahead of the reads.
    pub pages: Arc<Pages>,
    /// Listings fetched ahead of tree walks.
    pub(crate) ahead: Ahead,
}

/// A name from the kernel as a key segment.
pub fn name_str(name: &OsStr) -> FsResult<&str> {
    let s = name
        .to_str()
        .ok_or(FsError::posix(Errno::EINVAL, "names must be UTF-8"))?;
    if s.len() > NAME_MAX {
        return Err(FsError::posix(
            Errno::ENAMETOOLONG,
            "name longer than 255 bytes",
        ));
    }
    Ok(s)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    /// The state of a fresh mount.
    pub fn new(remote: Arc<dyn ObjectApi>, settings: Settings) -> Self {
        let root = Attr::implicit_dir(&settings.defaults);
        let cache = (settings.cache_size > 0).then(|| {
            Arc::new(ReadCache::new(
                settings.cache_dir.clone(),
                settings.cache_size,
            ))
        });
        let ahead = Ahead::new(settings.ttl);
        Self {
            behind: Behind::new(remote.clone()),
            cache,
            remote,
            settings,
            inodes: Mutex::new(Inodes::new(root)),
            files: Mutex::new(HashMap::new()),
            handles: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            pages: Arc::new(Pages::default()),
            ahead,
        }
    }

    pub(crate) fn inodes(&self) -> MutexGuard<'_, Inodes> {
        lock(&self.inodes)
    }

    pub(crate) fn files(&self) -> MutexGuard<'_, HashMap<u64, Arc<OpenFile>>> {
        lock(&self.files)
    }

    pub(crate) fn handles(&self) -> MutexGuard<'_, HashMap<u64, Arc<Handle>>> {
        lock(&self.handles)
    }

    pub(crate) fn dirs(&self) -> MutexGuard<'_, HashMap<u64, OpenDir>> {
        lock(&self.dirs)
    }

    /// When attributes read now stop being fresh.
    pub fn fresh_until(&self) -> Instant {
        Instant::now() + self.settings.ttl
    }

    /// Where `path` lives.
    pub fn place(&self, path: &str) -> Place {
        match &self.settings.bucket {
            Some(b) if path.is_empty() => Place::Bucket(b.clone()),
            Some(b) => Place::Key(b.clone(), path.to_string()),
            None if path.is_empty() => Place::Buckets,
            None => match path.split_once('/') {
                None => Place::Bucket(path.to_string()),
                Some((b, k)) => Place::Key(b.to_string(), k.to_string()),
            },
        }
    }

    /// The bucket and key of a new entry at `path`, `dir` for a directory (its marker ends
    /// with `/`): ENAMETOOLONG past [`KEY_MAX`], before anything is made.
    pub fn new_key(&self, path: &str, dir: bool) -> FsResult<(String, String)> {
        let (bucket, key) = self.key_of(path)?;
        if key.len() + usize::from(dir) > KEY_MAX {
            return Err(FsError::posix(
                Errno::ENAMETOOLONG,
                "the object key would pass 1,024 bytes",
            ));
        }
        Ok((bucket, key))
    }

    /// The bucket and key of a file path (EISDIR/EPERM for roots).
    pub fn key_of(&self, path: &str) -> FsResult<(String, String)> {
        match self.place(path) {
            Place::Key(b, k) => Ok((b, k)),
            _ => Err(FsError::posix(Errno::EISDIR, "a bucket is a directory")),
        }
    }

    /// The path, attributes and locality (`Node::local`) of inode `ino`.
    pub(crate) fn node(&self, ino: u64) -> FsResult<(String, Attr, bool)> {
        self.inodes()
            .get(ino)
            .map(|n| (n.path.clone(), n.attr.clone(), n.local))
            .ok_or(FsError::posix(Errno::ENOENT, "unknown inode"))
    }

    /// The path of inode `ino`.
    pub fn path_of(&self, ino: u64) -> FsResult<String> {
        self.node(ino).map(|(path, _, _)| path)
    }

    /// What the server says `path` is.
    pub async fn stat(&self, path: &str) -> FsResult<Attr> {
        let d = &self.settings.defaults;
        match self.place(path) {
            Place::Buckets => Ok(Attr::implicit_dir(d)),
            Place::Bucket(b) => {
                let created = match self.settings.bucket_created {
                    Some(t) if path.is_empty() => Some(t),
                    _ => {
                        let info = self.remote.head_bucket(&b).await?;
                        info.created.as_ref().map(time_of)
                    }
                };
                let mut attr = Attr::implicit_dir(d);
                if let Some(t) = created {
                    attr.mtime = t;
                    attr.atime = t;
                    attr.ctime = t;
                }
                Ok(attr)
            }
            Place::Key(b, k) if k.len() >= KEY_MAX => {
                // No marker or key can lie under a key of the longest length, and the
                // server refuses to look them up: only the object itself can exist.
                let list = self.remote.list(&b, &k, false, "", 1).await?;
                match list.objects.first() {
                    Some(info) if info.key == k => Ok(Attr::of_object(info, d)),
                    _ => Err(FsError::posix(Errno::ENOENT, "no such file or directory")),
                }
            }
            Place::Key(b, k) => {
                // A directory wins over an object of the same name.
                let found = self.remote.lookup(&b, &k).await?;
                if let Some(marker) = &found.marker {
                    return Ok(Attr::of_object(marker, d));
                }
                if found.is_prefix {
                    return Ok(Attr::implicit_dir(d));
                }
                match &found.object {
                    Some(info) => Ok(Attr::of_object(info, d)),
                    None => Err(FsError::posix(Errno::ENOENT, "no such file or directory")),
                }
            }
        }
    }

    /// What the regular file at `path` is now on the server: the object alone (one HEAD,
    /// without the listing a lookup adds to tell a directory of the same name; the kernel
    /// opens only what it looked up as a file). Not found: ENOENT.
    pub async fn stat_file(&self, path: &str) -> FsResult<Attr> {
        match self.place(path) {
            Place::Key(b, k) if k.len() < KEY_MAX => {
                let info = self.remote.head(&b, &k).await?;
                Ok(Attr::of_object(&info, &self.settings.defaults))
            }
            _ => self.stat(path).await,
        }
    }

    /// What this mount knows of `path` without asking the server, and until when: the
    /// attributes of a local or fresh inode, else those of a fresh listing.
    pub(crate) fn known_attr(&self, t: &Inodes, path: &str) -> Option<(Attr, Instant)> {
        if let Some(node) = t.at(path).and_then(|ino| t.get(ino))
            && (node.local || node.fresh_until > Instant::now())
        {
            return Some((node.attr.clone(), node.fresh_until));
        }
        t.listed_attr(path).map(|attr| (attr, self.fresh_until()))
    }

    /// Records attributes just learnt from the server for `ino` at `path`.
    pub(crate) fn set_attr(&self, ino: u64, path: &str, attr: Attr) {
        let until = self.fresh_until();
        let mut t = self.inodes();
        if let Some(node) = t.get_mut(ino)
            && node.path == path
            && !node.local
        {
            node.attr = attr;
            node.fresh_until = until;
        }
    }

    /// An entry of the directory `dir` was created, removed or renamed: its mtime and
    /// ctime become now, at once for this mount and on its marker (when it has one) by the
    /// next round of [`Behind`].
    pub(crate) fn dir_changed(&self, dir: u64) {
        let now = SystemTime::now();
        let path = {
            let mut t = self.inodes();
            let Some(node) = t.get_mut(dir) else {
                return;
            };
            self.ahead.changed(&node.path);
            node.attr.mtime = now;
            node.attr.ctime = now;
            if !node.attr.stored {
                return;
            }
            node.path.clone()
        };
        if let Place::Key(bucket, key) = self.place(&path) {
            self.behind
                .dir_changed(&path, bucket, format!("{key}/"), now);
        }
    }

    /// Waits for the deletes queued here of `path` or of anything under it, if any.
    pub(crate) async fn settle_under(&self, path: &str) {
        if self.behind.touches(path) {
            self.behind.settle().await;
        }
    }

    pub(crate) fn check_writable(&self) -> FsResult<()> {
        if self.settings.read_only {
            return Err(FsError::posix(Errno::EROFS, "mounted read-only"));
        }
        Ok(())
    }
}

/// The largest directory listed ahead of its reads (for the lookups in it, or for a tree
/// walk about to enter it): one listing call of this many names.
pub(crate) const LIST_AHEAD_MAX: u32 = 4_096;

/// The bucket and key prefix a directory's listing reads (`None` for the list of buckets).
pub(crate) fn listed_prefix(place: Place) -> Option<(String, String)> {
    match place {
        Place::Buckets => None,
        Place::Bucket(b) => Some((b, String::new())),
        Place::Key(b, k) => Some((b, format!("{k}/"))),
    }
}
