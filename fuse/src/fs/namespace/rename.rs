//! rename(2): a file in one server-side call that replaces its target atomically; a
//! directory key by key under its prefix (each key atomic, the whole not), after the
//! POSIX checks (target kind, emptiness, a directory into itself).

use std::ffi::OsStr;

use crate::fs::attr::{Attr, Kind};
use crate::fs::error::{Errno, FsError, FsResult};
use crate::fs::inode::join;
use crate::fs::state::{Inner, Place, name_str};

impl Inner {
    /// The attributes of `path`, or `None` when nothing is there.
    async fn try_stat(&self, path: &str) -> FsResult<Option<Attr>> {
        {
            let t = self.inodes();
            if let Some(node) = t.at(path).and_then(|ino| t.get(ino)).filter(|n| n.local) {
                return Ok(Some(node.attr.clone()));
            }
        }
        match self.stat(path).await {
            Ok(attr) => Ok(Some(attr)),
            Err(FsError::Posix(e, _)) if e == Errno::ENOENT => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// rename(2): a file in one server-side call replacing the target atomically; a
    /// directory key by key under its prefix (not atomic as a whole).
    pub async fn rename(
        &self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        no_replace: bool,
    ) -> FsResult<()> {
        self.check_writable()?;
        self.behind.settle().await;
        let from = join(&self.path_of(parent)?, name_str(name)?);
        let to = join(&self.path_of(new_parent)?, name_str(new_name)?);
        let (Place::Key(bucket, src), Place::Key(dst_bucket, dst)) =
            (self.place(&from), self.place(&to))
        else {
            return Err(FsError::posix(Errno::EXDEV, "buckets cannot be renamed"));
        };
        if bucket != dst_bucket {
            return Err(FsError::posix(Errno::EXDEV, "rename across buckets"));
        }
        if from == to {
            return Ok(());
        }
        let src_attr = self
            .try_stat(&from)
            .await?
            .ok_or(FsError::posix(Errno::ENOENT, "no such file or directory"))?;
        let dst_attr = self.try_stat(&to).await?;
        if no_replace && dst_attr.is_some() {
            return Err(FsError::posix(Errno::EEXIST, "target exists"));
        }
        if src_attr.kind == Kind::Dir {
            if to.starts_with(&format!("{from}/")) {
                return Err(FsError::posix(Errno::EINVAL, "a directory into itself"));
            }
            let (src_prefix, dst_prefix) = (format!("{src}/"), format!("{dst}/"));
            match dst_attr.map(|a| a.kind) {
                Some(Kind::Dir) => {
                    if self.has_children(&bucket, &dst_prefix, &to).await? {
                        return Err(FsError::posix(Errno::ENOTEMPTY, "target not empty"));
                    }
                    self.remote.delete(&bucket, &dst_prefix).await?;
                }
                Some(_) => return Err(FsError::posix(Errno::ENOTDIR, "target is a file")),
                None => {}
            }
            self.flush_under(&from).await?;
            self.remote
                .rename_prefix(&bucket, &src_prefix, &dst_prefix)
                .await?;
        } else {
            if dst_attr.is_some_and(|a| a.kind == Kind::Dir) {
                return Err(FsError::posix(Errno::EISDIR, "target is a directory"));
            }
            let ino = self.inodes().at(&from);
            if let Some(ino) = ino {
                self.flush_ino(ino).await?;
            }
            self.remote.rename(&bucket, &src, &dst).await?;
        }
        self.inodes().rename(&from, &to);
        if src_attr.kind != Kind::Dir || src_attr.stored {
            self.renamed(&to, src_attr.kind == Kind::Dir).await;
        }
        self.dir_changed(parent);
        if new_parent != parent {
            self.dir_changed(new_parent);
        }
        Ok(())
    }
}
