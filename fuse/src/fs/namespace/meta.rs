//! Attribute changes: setattr (chmod, chown, utimensat, truncate) kept in object
//! metadata, and the times POSIX moves as a side effect: ctime on every change of an
//! inode, a directory's mtime and ctime when its entries change.
//!
//! Invariants: every named attribute change sets ctime to now; a directory's own times
//! are stored on its `dir/` marker (other mounts see them), while an implicit prefix or
//! a bucket keeps the time it shows; updates send every time key (they merge into the
//! stored metadata). The permission rules of utimensat are the kernel's
//! (`default_permissions`). Tested by `e2e/fuse_times.rs`.
//!
//! The mount, not the kernel, drops a file's set-user-ID and set-group-ID bits
//! (`FUSE_HANDLE_KILLPRIV_V2`, which spares every write a `security.capability` lookup),
//! as Linux does on a local file system: on chown, always; on a write, when the kernel's
//! flag says the writer may not keep them; on a truncate, when the caller is not root.
//! Set-group-ID goes only with group execute (without it the bit means mandatory
//! locking). Tested by `e2e/fuse_posix.rs`.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use crate::fs::attr::{Attr, CTIME, Kind, format_time};
use crate::fs::error::{Errno, FsError, FsResult};
use crate::fs::namespace::Change;
use crate::fs::state::{Inner, Place};

impl Inner {
    /// setattr: truncate, then the attribute changes.
    pub async fn setattr(&self, ino: u64, change: Change) -> FsResult<Attr> {
        if let Some(size) = change.size {
            self.truncate(ino, size).await?;
            if change.unprivileged {
                self.drop_privileges(ino).await?;
            }
        }
        let chown = change.uid.is_some() || change.gid.is_some();
        let named =
            change.mode.is_some() || chown || change.atime.is_some() || change.mtime.is_some();
        if !named {
            return self.getattr(ino).await;
        }
        self.set_meta(ino, |a| {
            if let Some(mode) = change.mode {
                a.perm = (mode & 0o7777) as u16;
            }
            if chown && a.kind != Kind::Dir {
                a.perm = without_privileges(a.perm);
            }
            a.uid = change.uid.unwrap_or(a.uid);
            a.gid = change.gid.unwrap_or(a.gid);
            a.mtime = change.mtime.unwrap_or(a.mtime);
            a.atime = change.atime.unwrap_or(a.atime);
        })
        .await
    }

    /// A write or truncate by a process that may not keep them: the file loses its
    /// set-user-ID bit, and set-group-ID when group-executable, and the kernel is told to
    /// ask for the mode again (a write's answer carries no attributes). Nothing is asked
    /// or sent when it has neither (the usual case: every unprivileged write comes here).
    pub async fn drop_privileges(&self, ino: u64) -> FsResult<()> {
        let perm = self.inodes().get(ino).map(|n| n.attr.perm);
        match perm {
            Some(perm) if without_privileges(perm) != perm => {
                self.set_meta(ino, |a| a.perm = without_privileges(a.perm))
                    .await?;
                self.pages.forget_attributes(ino);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// chmod, chown and utimens: kept in the object's metadata (a directory's `dir/`
    /// marker, created when missing); a file written here and not uploaded yet takes them
    /// with its upload.
    pub async fn set_meta(&self, ino: u64, change: impl FnOnce(&mut Attr)) -> FsResult<Attr> {
        let mut attr = self.getattr(ino).await?;
        change(&mut attr);
        // Every attribute change sets ctime, even one to the same value (as chown(2)).
        attr.changed(SystemTime::now(), false);
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
        let (set, remove) = attr.metadata_update();
        if attr.kind == Kind::Dir {
            let marker = format!("{key}/");
            match self
                .remote
                .update_metadata(&bucket, &marker, set, remove)
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
                .update_metadata(&bucket, &key, set, remove)
                .await?;
        }
        self.set_attr(ino, &path, attr.clone());
        self.inodes().invalidate(&path);
        Ok(attr)
    }

    /// The object at `path` (a file's key, or a directory's marker) was renamed there:
    /// its ctime becomes now. Logged, not returned, like [`Self::dir_changed`].
    pub(crate) async fn renamed(&self, path: &str, dir: bool) {
        let Place::Key(bucket, key) = self.place(path) else {
            return;
        };
        let key = if dir { format!("{key}/") } else { key };
        let set = HashMap::from([(CTIME.to_string(), format_time(SystemTime::now()))]);
        match self
            .remote
            .update_metadata(&bucket, &key, set, Vec::new())
            .await
        {
            Ok(info) => {
                let attr = Attr::of_object(&info, &self.settings.defaults);
                let ino = self.inodes().at(path);
                if let Some(ino) = ino {
                    self.set_attr(ino, path, attr);
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => tracing::warn!(path, "ctime not updated after rename: {e}"),
        }
    }
}

/// `perm` without set-user-ID, and without set-group-ID when group-executable.
fn without_privileges(perm: u16) -> u16 {
    let perm = perm & !(libc::S_ISUID as u16);
    match perm & libc::S_IXGRP as u16 {
        0 => perm,
        _ => perm & !(libc::S_ISGID as u16),
    }
}
