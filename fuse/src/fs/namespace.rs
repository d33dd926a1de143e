//! The namespace operations: lookup, getattr, mkdir, rmdir, unlink, rename, symlink,
//! attribute changes and statfs, as `impl` blocks on the shared state ([`Inner`]).
//!
//! Invariants: a directory exists on the cluster as a `dir/` marker or as keys under its
//! prefix; rmdir removes only an empty one; attributes live in the object's metadata.

use std::ffi::OsStr;
use std::time::Instant;

use bytes::Bytes;

use crate::fs::attr::{Attr, Kind};
use crate::fs::error::{Errno, FsError, FsResult};
use crate::fs::inode::{join, parent_of};
use crate::fs::state::{Inner, Place, name_str};

mod meta;
mod rename;
mod xattr;

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
    /// New access time.
    pub atime: Option<std::time::SystemTime>,
    /// Asked by a process that is not root: a truncate drops the file's set-user-ID and
    /// set-group-ID bits (see [`Inner::drop_privileges`]).
    pub unprivileged: bool,
}

impl Inner {
    /// Looks `name` up in `parent`: a fresh or local inode, then a recent listing, then
    /// the server.
    pub async fn lookup(&self, parent: u64, name: &OsStr) -> FsResult<(u64, Attr)> {
        let name = name_str(name)?;
        let path = join(&self.path_of(parent)?, name);
        if self.behind.deleting(&path) {
            return Err(FsError::posix(Errno::ENOENT, "being deleted"));
        }
        {
            let mut t = self.inodes();
            if let Some((attr, until)) = self.known_attr(&t, &path) {
                return Ok((t.remember(&path, attr.clone(), until), attr));
            }
            if t.known_absent(&path) {
                return Err(FsError::posix(
                    Errno::ENOENT,
                    "not in a directory made here",
                ));
            }
        }
        if let Some(attr) = self.attr_fetched_ahead(&path).await {
            // A directory a walk is about to enter, listed ahead.
            let ino = self
                .inodes()
                .remember(&path, attr.clone(), self.fresh_until());
            return Ok((ino, attr));
        }
        self.lookup_missed(parent).await;
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

    /// The attributes of `ino` once they are older than the TTL: from a recent listing of
    /// its directory, else from the server. Like a lookup, it counts as a miss in the
    /// directory, so a burst of them (`git status` after the TTL: the kernel still holds
    /// the names and asks only for the attributes) becomes one listing.
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
        if !path.is_empty() {
            if let Some(attr) = self.listed_attr_of(ino, &path) {
                return Ok(attr);
            }
            let parent = self.inodes().at(parent_of(&path));
            if let Some(parent) = parent {
                self.lookup_missed(parent).await;
                if let Some(attr) = self.listed_attr_of(ino, &path) {
                    return Ok(attr);
                }
            }
        }
        let attr = self.stat(&path).await?;
        self.set_attr(ino, &path, attr.clone());
        Ok(attr)
    }

    /// What a fresh listing says of `ino` at `path`, kept as its attributes.
    fn listed_attr_of(&self, ino: u64, path: &str) -> Option<Attr> {
        let attr = self.inodes().listed_attr(path)?;
        self.set_attr(ino, path, attr.clone());
        Some(attr)
    }

    /// The kernel forgot `n` lookups of `ino`.
    pub fn forget(&self, ino: u64, n: u64) {
        self.inodes().forget(ino, n);
    }

    /// Creates a directory (a bucket at the root of a mount without `--bucket`).
    pub async fn mkdir(&self, parent: u64, name: &OsStr, attr: Attr) -> FsResult<(u64, Attr)> {
        self.check_writable()?;
        let path = join(&self.path_of(parent)?, name_str(name)?);
        self.settle_under(&path).await;
        match self.place(&path) {
            Place::Bucket(b) => self.remote.create_bucket(&b).await?,
            Place::Key(..) => {
                let (b, k) = self.new_key(&path, true)?;
                let marker = format!("{k}/");
                self.remote
                    .put_bytes(&b, &marker, attr.metadata(), Bytes::new())
                    .await?;
            }
            Place::Buckets => return Err(FsError::posix(Errno::EEXIST, "the root exists")),
        }
        let ino = {
            let mut t = self.inodes();
            if !self.settings.negative_ttl.is_zero() {
                t.made_empty(&path, Instant::now() + self.settings.negative_ttl);
            }
            t.remember(&path, attr.clone(), self.fresh_until())
        };
        self.dir_changed(parent);
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
                self.behind.settle().await;
                if self.has_children(&b, &prefix, &path).await? {
                    return Err(FsError::posix(Errno::ENOTEMPTY, "directory not empty"));
                }
                self.behind.forget_times(&path);
                self.remote.delete(&b, &prefix).await?;
            }
            Place::Buckets => return Err(FsError::posix(Errno::EBUSY, "the mount root")),
        }
        self.inodes().unlink(&path);
        self.dir_changed(parent);
        Ok(())
    }

    /// Removes a file or symlink. An open file stays readable through its handles but is
    /// not uploaded again. In a directory a tree walk holds open (`rm -r`, `find
    /// -delete`, `shutil.rmtree`), the delete goes behind the answer once one succeeded
    /// in the bucket (see [`crate::fs::behind`]).
    pub async fn unlink(&self, parent: u64, name: &OsStr) -> FsResult<()> {
        self.check_writable()?;
        let path = join(&self.path_of(parent)?, name_str(name)?);
        let (bucket, key) = self.key_of(&path)?;
        let ino = self.inodes().at(&path);
        if let Some(file) = ino.and_then(|ino| self.files().get(&ino).cloned()) {
            file.forget_upload().await;
        }
        if self.behind.may_defer(&bucket) && self.dir_is_open(parent) {
            self.behind.delete(&path, bucket, key);
        } else {
            self.remote.delete(&bucket, &key).await?;
            self.behind.proven(&bucket);
        }
        self.inodes().unlink(&path);
        self.dir_changed(parent);
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
        let (bucket, key) = self.new_key(&path, false)?;
        let target = target
            .to_str()
            .ok_or(FsError::posix(Errno::EINVAL, "link targets must be UTF-8"))?;
        let mut attr = Attr::new(Kind::Symlink, 0o777, uid, gid);
        attr.size = target.len() as u64;
        let data = Bytes::copy_from_slice(target.as_bytes());
        self.put_node(parent, &path, &bucket, &key, attr, data)
            .await
    }

    /// mknod(2) of a FIFO, device or socket node: an empty object with its type, mode
    /// and device number in its metadata, made at once.
    pub async fn make_node(&self, parent: u64, name: &OsStr, attr: Attr) -> FsResult<(u64, Attr)> {
        self.check_writable()?;
        let path = join(&self.path_of(parent)?, name_str(name)?);
        let (bucket, key) = self.new_key(&path, false)?;
        self.put_node(parent, &path, &bucket, &key, attr, Bytes::new())
            .await
    }

    /// Puts the object of a new symlink or node at `path` and records its inode.
    async fn put_node(
        &self,
        parent: u64,
        path: &str,
        bucket: &str,
        key: &str,
        attr: Attr,
        data: Bytes,
    ) -> FsResult<(u64, Attr)> {
        self.settle_under(path).await;
        self.remote
            .put_bytes(bucket, key, attr.metadata(), data)
            .await?;
        let ino = {
            let mut t = self.inodes();
            t.invalidate(path);
            t.remember(path, attr.clone(), self.fresh_until())
        };
        self.dir_changed(parent);
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
