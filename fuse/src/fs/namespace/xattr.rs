//! Extended attributes: get, set, list and remove of `user.*` names, kept in the
//! object's metadata with its other attributes (`attr::xattr` has the encoding), so a
//! server-side copy or rename keeps them and an upload of new data carries them.
//!
//! Invariants: a change goes through `set_meta` like chmod (ctime moves; a file not
//! uploaded yet takes it with its upload); the whole of an object's user metadata stays
//! within the server's bound ([`METADATA_MAX`]): past it setxattr answers ENOSPC, as a
//! Linux file system out of attribute room does (values over 64 KiB get E2BIG from the
//! kernel itself). Other namespaces answer ENOTSUP. Permissions are the kernel's
//! (`default_permissions`). Tested by `e2e/fuse_xattr.rs`.

use std::ffi::OsStr;

use crate::api::{ApiError, ServiceError};
use crate::fs::attr::xattr::{Namespace, namespace};
use crate::fs::error::{Errno, FsError, FsResult};
use crate::fs::state::Inner;

/// The most bytes of user metadata (names and values) an object carries: the server's
/// bound (S3's 2 KiB).
pub const METADATA_MAX: usize = 2048;

/// A stored attribute's name, or why it cannot be one.
fn user_name(name: &OsStr) -> FsResult<String> {
    let name = name.to_str().ok_or(FsError::posix(
        Errno::ENOTSUP,
        "attribute names must be UTF-8",
    ))?;
    match namespace(name) {
        Namespace::User => Ok(name.to_string()),
        Namespace::Unsupported => Err(FsError::posix(
            Errno::ENOTSUP,
            "only user.* attributes are stored",
        )),
    }
}

impl Inner {
    /// The value of the attribute `name` of `ino`.
    pub async fn getxattr(&self, ino: u64, name: &OsStr) -> FsResult<Vec<u8>> {
        let name = user_name(name)?;
        let attr = self.getattr(ino).await?;
        attr.xattrs
            .get(&name)
            .cloned()
            .ok_or(FsError::posix(Errno::ENODATA, "no such attribute"))
    }

    /// The names of `ino`'s attributes, each ending with a NUL.
    pub async fn listxattr(&self, ino: u64) -> FsResult<Vec<u8>> {
        let attr = self.getattr(ino).await?;
        let mut names = Vec::new();
        for name in attr.xattrs.keys() {
            names.extend_from_slice(name.as_bytes());
            names.push(0);
        }
        Ok(names)
    }

    /// Sets the attribute `name` of `ino` (`XATTR_CREATE`: only a new one;
    /// `XATTR_REPLACE`: only an existing one).
    pub async fn setxattr(&self, ino: u64, name: &OsStr, value: &[u8], flags: i32) -> FsResult<()> {
        let name = user_name(name)?;
        let attr = self.getattr(ino).await?;
        let exists = attr.xattrs.contains_key(&name);
        if flags & libc::XATTR_CREATE != 0 && exists {
            return Err(FsError::posix(Errno::EEXIST, "the attribute exists"));
        }
        if flags & libc::XATTR_REPLACE != 0 && !exists {
            return Err(FsError::posix(Errno::ENODATA, "no such attribute"));
        }
        let mut next = attr;
        next.xattrs.insert(name.clone(), value.to_vec());
        let size: usize = next.metadata().iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > METADATA_MAX {
            return Err(FsError::posix(Errno::ENOSPC, "no room for the attribute"));
        }
        let value = value.to_vec();
        match self
            .set_meta(ino, |a| drop(a.xattrs.insert(name, value)))
            .await
        {
            // Other metadata of the object (put over S3) left less room than counted.
            Err(FsError::Api(ApiError::Service {
                kind: ServiceError::InvalidArgument,
                ..
            })) => Err(FsError::posix(Errno::ENOSPC, "no room for the attribute")),
            r => r.map(drop),
        }
    }

    /// Removes the attribute `name` of `ino`.
    pub async fn removexattr(&self, ino: u64, name: &OsStr) -> FsResult<()> {
        let name = user_name(name)?;
        let attr = self.getattr(ino).await?;
        if !attr.xattrs.contains_key(&name) {
            return Err(FsError::posix(Errno::ENODATA, "no such attribute"));
        }
        self.set_meta(ino, |a| drop(a.xattrs.remove(&name))).await?;
        Ok(())
    }
}
