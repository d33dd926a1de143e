//! The filesystem's shared state ([`Inner`]) and the namespace operations: lookup, stat,
//! mkdir, rmdir, unlink, rename, symlink, attribute changes and statfs. Paths map to
//! buckets and keys in one place ([`Inner::place`]).
//!
//! Invariants: the inode table's lock is never held across an await; a directory is a
//! `/`-delimited prefix, and when a name is both a file key and a prefix the directory wins.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::fs::error::Errno;
use bytes::Bytes;

use crate::api::ObjectApi;
use crate::fs::attr::{Attr, Defaults, Kind, time_of};
use crate::fs::dir::DirStream;
use crate::fs::error::{FsError, FsResult};
use crate::fs::file::{Handle, OpenFile};
use crate::fs::inode::{Inodes, join};

mod rename;

/// Longest name of one path component.
pub const NAME_MAX: usize = 255;

/// How the mount was asked to behave.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The bucket at the root; `None`: the root lists buckets.
    pub bucket: Option<String>,
    /// How long attributes and lookups are cached.
    pub ttl: Duration,
    /// Refuse every change.
    pub read_only: bool,
    /// Where staging files go.
    pub cache_dir: PathBuf,
    /// Attributes of what has none of its own.
    pub defaults: Defaults,
}

/// What setattr changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Change {
    /// New permission bits.
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size (truncate).
    pub size: Option<u64>,
    /// New modification time.
    pub mtime: Option<std::time::SystemTime>,
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
    pub(crate) dirs: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<DirStream>>>>,
    pub(crate) next_fh: AtomicU64,
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
        Self {
            remote,
            settings,
            inodes: Mutex::new(Inodes::new(root)),
            files: Mutex::new(HashMap::new()),
            handles: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
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

    pub(crate) fn dirs(&self) -> MutexGuard<'_, HashMap<u64, Arc<tokio::sync::Mutex<DirStream>>>> {
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
                let info = self.remote.head_bucket(&b).await?;
                let mut attr = Attr::implicit_dir(d);
                if let Some(t) = &info.created {
                    attr.mtime = time_of(t);
                }
                Ok(attr)
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

    /// Looks `name` up in `parent`: a fresh or local inode, then a recent listing, then
    /// the server.
    pub async fn lookup(&self, parent: u64, name: &OsStr) -> FsResult<(u64, Attr)> {
        let name = name_str(name)?;
        let path = join(&self.path_of(parent)?, name);
        {
            let mut t = self.inodes();
            if let Some((attr, until)) = self.known_attr(&t, &path) {
                return Ok((t.remember(&path, attr.clone(), until), attr));
            }
        }
        let attr = self.stat(&path).await?;
        let ino = self
            .inodes()
            .remember(&path, attr.clone(), self.fresh_until());
        Ok((ino, attr))
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

    /// The attributes of `ino`, from the server once they are older than the TTL.
    pub async fn getattr(&self, ino: u64) -> FsResult<Attr> {
        let path = {
            let t = self.inodes();
            let node = t
                .get(ino)
                .ok_or(FsError::posix(Errno::ENOENT, "unknown inode"))?;
            if node.local || node.fresh_until > Instant::now() {
                return Ok(node.attr.clone());
            }
            node.path.clone()
        };
        let attr = self.stat(&path).await?;
        self.set_attr(ino, &path, attr.clone());
        Ok(attr)
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

    pub(crate) fn check_writable(&self) -> FsResult<()> {
        if self.settings.read_only {
            return Err(FsError::posix(Errno::EROFS, "mounted read-only"));
        }
        Ok(())
    }

    /// Creates a directory (a bucket at the root of a mount without `--bucket`).
    pub async fn mkdir(&self, parent: u64, name: &OsStr, attr: Attr) -> FsResult<(u64, Attr)> {
        self.check_writable()?;
        let path = join(&self.path_of(parent)?, name_str(name)?);
        match self.place(&path) {
            Place::Bucket(b) => self.remote.create_bucket(&b).await?,
            Place::Key(b, k) => {
                let marker = format!("{k}/");
                self.remote
                    .put_bytes(&b, &marker, attr.metadata(), Bytes::new())
                    .await?;
            }
            Place::Buckets => return Err(FsError::posix(Errno::EEXIST, "the root exists")),
        }
        let ino = self
            .inodes()
            .remember(&path, attr.clone(), self.fresh_until());
        Ok((ino, attr))
    }

    /// Whether the directory at `bucket/prefix` holds anything besides its marker.
    pub(crate) async fn has_children(
        &self,
        bucket: &str,
        prefix: &str,
        path: &str,
    ) -> FsResult<bool> {
        if !self.inodes().local_children(path).is_empty() {
            return Ok(true);
        }
        let list = self.remote.list(bucket, prefix, true, "", 2).await?;
        Ok(!list.common_prefixes.is_empty() || list.objects.iter().any(|o| o.key != prefix))
    }

    /// Removes an empty directory.
    pub async fn rmdir(&self, parent: u64, name: &OsStr) -> FsResult<()> {
        self.check_writable()?;
        let path = join(&self.path_of(parent)?, name_str(name)?);
        match self.place(&path) {
            Place::Bucket(b) => self.remote.delete_bucket(&b).await?,
            Place::Key(b, k) => {
                let prefix = format!("{k}/");
                if self.has_children(&b, &prefix, &path).await? {
                    return Err(FsError::posix(Errno::ENOTEMPTY, "directory not empty"));
                }
                self.remote.delete(&b, &prefix).await?;
            }
            Place::Buckets => return Err(FsError::posix(Errno::EBUSY, "the mount root")),
        }
        self.inodes().unlink(&path);
        Ok(())
    }

    /// Removes a file or symlink. An open file stays readable through its handles but is
    /// not uploaded again.
    pub async fn unlink(&self, parent: u64, name: &OsStr) -> FsResult<()> {
        self.check_writable()?;
        let path = join(&self.path_of(parent)?, name_str(name)?);
        let (bucket, key) = self.key_of(&path)?;
        let ino = self.inodes().at(&path);
        if let Some(file) = ino.and_then(|ino| self.files().get(&ino).cloned()) {
            file.forget_upload().await;
        }
        self.remote.delete(&bucket, &key).await?;
        self.inodes().unlink(&path);
        Ok(())
    }

    /// Creates a symlink to `target`.
    pub async fn symlink(
        &self,
        parent: u64,
        name: &OsStr,
        target: &std::path::Path,
        uid: u32,
        gid: u32,
    ) -> FsResult<(u64, Attr)> {
        self.check_writable()?;
        let path = join(&self.path_of(parent)?, name_str(name)?);
        let (bucket, key) = self.key_of(&path)?;
        let target = target
            .to_str()
            .ok_or(FsError::posix(Errno::EINVAL, "link targets must be UTF-8"))?;
        let mut attr = Attr::new(Kind::Symlink, 0o777, uid, gid);
        attr.size = target.len() as u64;
        let data = Bytes::copy_from_slice(target.as_bytes());
        self.remote
            .put_bytes(&bucket, &key, attr.metadata(), data)
            .await?;
        let ino = self
            .inodes()
            .remember(&path, attr.clone(), self.fresh_until());
        Ok((ino, attr))
    }

    /// The target of a symlink.
    pub async fn readlink(&self, ino: u64) -> FsResult<Bytes> {
        let attr = self.getattr(ino).await?;
        if attr.kind != Kind::Symlink {
            return Err(FsError::posix(Errno::EINVAL, "not a symlink"));
        }
        let (bucket, key) = self.key_of(&self.path_of(ino)?)?;
        if attr.size == 0 {
            return Ok(Bytes::new());
        }
        let mut body = self.remote.get(&bucket, &key, 0, attr.size).await?;
        let mut target = Vec::with_capacity(attr.size as usize);
        while let Some(chunk) = body.next().await? {
            target.extend_from_slice(&chunk);
        }
        Ok(target.into())
    }

    /// setattr: truncate, then the attribute changes.
    pub async fn setattr(&self, ino: u64, change: Change) -> FsResult<Attr> {
        if let Some(size) = change.size {
            self.truncate(ino, size).await?;
        }
        self.set_meta(ino, |a| {
            if let Some(mode) = change.mode {
                a.perm = (mode & 0o7777) as u16;
            }
            a.uid = change.uid.unwrap_or(a.uid);
            a.gid = change.gid.unwrap_or(a.gid);
            a.mtime = change.mtime.unwrap_or(a.mtime);
        })
        .await
    }

    /// chmod, chown and utimens: kept in the object's metadata (a directory's `dir/`
    /// marker, created when missing); a file written here and not uploaded yet takes them
    /// with its upload.
    pub async fn set_meta(&self, ino: u64, change: impl FnOnce(&mut Attr)) -> FsResult<Attr> {
        let mut attr = self.getattr(ino).await?;
        let before = attr.clone();
        change(&mut attr);
        if attr == before {
            return Ok(attr);
        }
        self.check_writable()?;
        let path = {
            let mut t = self.inodes();
            let node = t
                .get_mut(ino)
                .ok_or(FsError::posix(Errno::ENOENT, "unknown inode"))?;
            if node.local {
                node.attr = attr.clone();
                return Ok(attr);
            }
            node.path.clone()
        };
        let (bucket, key) = match self.place(&path) {
            Place::Key(b, k) => (b, k),
            // A bucket has no object to keep them: the root's attributes live in memory
            // for the mount's lifetime (README: limits).
            _ => {
                if let Some(node) = self.inodes().get_mut(ino) {
                    node.attr = attr.clone();
                    node.fresh_until = Instant::now() + Duration::from_secs(u32::MAX.into());
                }
                return Ok(attr);
            }
        };
        if attr.kind == Kind::Dir {
            let marker = format!("{key}/");
            match self
                .remote
                .update_metadata(&bucket, &marker, attr.metadata())
                .await
            {
                Err(e) if e.is_not_found() => {
                    self.remote
                        .put_bytes(&bucket, &marker, attr.metadata(), Bytes::new())
                        .await?;
                }
                r => drop(r?),
            }
        } else {
            self.remote
                .update_metadata(&bucket, &key, attr.metadata())
                .await?;
        }
        self.set_attr(ino, &path, attr.clone());
        self.inodes().invalidate(&path);
        Ok(attr)
    }

    /// Capacity of the cluster as `(blocks, free blocks)` of [`STATFS_BLOCK`] bytes.
    pub async fn statfs(&self) -> FsResult<(u64, u64)> {
        let info = self.remote.cluster_info().await?;
        // Raw capacity scaled by the share that is data, not parity.
        let usable_share = info.usable_free_bytes as f64 / info.free_bytes.max(1) as f64;
        let total = (info.total_bytes as f64 * usable_share) as u64;
        Ok((total / STATFS_BLOCK, info.usable_free_bytes / STATFS_BLOCK))
    }
}

/// Block size statfs reports.
pub const STATFS_BLOCK: u64 = 4096;
