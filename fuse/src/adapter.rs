//! The `fuser::Filesystem` implementation: each kernel request becomes a task on the tokio
//! runtime running one [`Inner`] operation, whose result is the reply (errors through
//! [`FsError::errno`](crate::fs::error::FsError::errno), the one errno mapping). No logic
//! lives here; this module and its children are the only ones that know fuser.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use fuser::{
    Errno, FileHandle, FopenFlags, INodeNo, IoctlFlags, KernelConfig, LockOwner, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty,
    ReplyEntry, ReplyIoctl, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow,
    WriteFlags,
};

use crate::fs::attr::{Attr, Kind};
use crate::fs::namespace::Change;
use crate::fs::state::Inner;
use crate::metrics::MountMetrics;

mod notify;
mod reply;
mod task;

pub use notify::KernelPages;

/// The mounted filesystem.
pub struct TesseraFs {
    inner: Arc<Inner>,
    rt: tokio::runtime::Handle,
    metrics: Arc<MountMetrics>,
}

impl TesseraFs {
    /// A filesystem over `inner`, running its operations on `rt`, counting requests in
    /// `metrics`.
    pub fn new(inner: Arc<Inner>, rt: tokio::runtime::Handle, metrics: Arc<MountMetrics>) -> Self {
        Self { inner, rt, metrics }
    }
}

impl fuser::Filesystem for TesseraFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        reply::configure(config);
        Ok(())
    }

    fn destroy(&mut self) {
        let inner = self.inner.clone();
        self.rt.block_on(async move { inner.flush_all().await });
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let name = name.to_owned();
        self.run(
            "lookup",
            move |inner| async move { inner.lookup(parent.0, &name).await },
            self.lookup_entry(reply),
        );
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.inner.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let op = move |inner: Arc<Inner>| async move { inner.getattr(ino.0).await };
        self.run("getattr", op, self.attr(ino.0, reply));
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        if let (Some(fh), Some(_)) = (fh, size) {
            self.inner.mark_changed(fh.0);
        }
        let change = Change {
            mode,
            uid,
            gid,
            size,
            atime: atime.map(reply::time_or_now),
            mtime: mtime.map(reply::time_or_now),
            unprivileged: req.uid() != 0,
        };
        let op = move |inner: Arc<Inner>| async move { inner.setattr(ino.0, change).await };
        self.run("setattr", op, self.attr(ino.0, reply));
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        self.run(
            "readlink",
            move |inner| async move { inner.readlink(ino.0).await },
            move |r| match r {
                Ok(target) => reply.data(&target),
                Err(e) => reply.error(e),
            },
        );
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let kind = Kind::of_mode(mode);
        if kind == Kind::Dir || kind == Kind::Symlink {
            // mkdir(2) and symlink(2) make these; mknod(2) of one is refused by the kernel.
            reply.error(Errno::EINVAL);
            return;
        }
        let name = name.to_owned();
        let mut attr = Attr::new(kind, mode & !umask, req.uid(), req.gid());
        if matches!(kind, Kind::CharDevice | Kind::BlockDevice) {
            attr.rdev = rdev;
        }
        let op = move |inner: Arc<Inner>| async move {
            if attr.kind.is_special() {
                inner.make_node(parent.0, &name, attr).await
            } else {
                inner.mknod(parent.0, &name, attr).await
            }
        };
        self.run("mknod", op, self.entry(reply));
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let name = name.to_owned();
        let attr = Attr::new(Kind::Dir, mode & !umask, req.uid(), req.gid());
        self.run(
            "mkdir",
            move |inner| async move { inner.mkdir(parent.0, &name, attr).await },
            self.entry(reply),
        );
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = name.to_owned();
        self.run(
            "unlink",
            move |inner| async move { inner.unlink(parent.0, &name).await },
            Self::empty(reply),
        );
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = name.to_owned();
        self.run(
            "rmdir",
            move |inner| async move { inner.rmdir(parent.0, &name).await },
            Self::empty(reply),
        );
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let (name, target) = (link_name.to_owned(), target.to_owned());
        let (uid, gid) = (req.uid(), req.gid());
        self.run(
            "symlink",
            move |inner| async move { inner.symlink(parent.0, &name, &target, uid, gid).await },
            self.entry(reply),
        );
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
            reply.error(Errno::EINVAL);
            return;
        }
        let no_replace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        let (name, newname) = (name.to_owned(), newname.to_owned());
        let op = move |inner: Arc<Inner>| async move {
            inner
                .rename(parent.0, &name, newparent.0, &newname, no_replace)
                .await
        };
        self.run("rename", op, Self::empty(reply));
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        // Objects have one name each: hard links cannot exist.
        reply.error(Errno::EPERM);
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let truncate = flags.0 & libc::O_TRUNC != 0 && req.uid() != 0;
        let op = move |inner: Arc<Inner>| async move {
            let opened = inner.open_keeping(ino.0, flags.0).await?;
            if truncate {
                inner.drop_privileges(ino.0).await?;
            }
            Ok(opened)
        };
        self.run("open", op, reply::opened(reply, reply::open_flags(flags.0)));
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.read_file(fh, offset, size, reply);
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let data = data.to_vec();
        let metrics = self.metrics.clone();
        let drop_privileges = write_flags.contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID);
        self.run(
            "write",
            move |inner| async move {
                let written = inner.write(fh.0, offset, &data).await?;
                if drop_privileges {
                    inner.drop_privileges(ino.0).await?;
                }
                Ok(written)
            },
            move |r| match r {
                Ok(n) => {
                    metrics.wrote(n as usize);
                    reply.written(n)
                }
                Err(e) => reply.error(e),
            },
        );
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.run(
            "flush",
            move |inner| async move { inner.flush(fh.0).await },
            Self::empty(reply),
        );
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.run(
            "release",
            move |inner| async move {
                inner.release(fh.0).await;
                Ok(())
            },
            Self::empty(reply),
        );
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.run(
            "fsync",
            move |inner| async move { inner.flush_ino(ino.0).await },
            Self::empty(reply),
        );
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let op = move |inner: Arc<Inner>| async move { inner.opendir_keeping(ino.0).await };
        // The kernel may cache the entries; it keeps them for the next open only when told
        // the directory's listing is fresh.
        self.run(
            "opendir",
            op,
            reply::opened(reply, FopenFlags::FOPEN_CACHE_DIR),
        );
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: ReplyDirectory,
    ) {
        self.read_dir(fh, offset, reply);
    }

    fn readdirplus(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: ReplyDirectoryPlus,
    ) {
        self.read_dir(fh, offset, reply);
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.inner.releasedir(fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Every directory change is committed before it is answered, except the deletes
        // sent behind: wait for those.
        let op = move |inner: Arc<Inner>| async move {
            inner.fsyncdir().await;
            Ok(())
        };
        self.run("fsyncdir", op, Self::empty(reply));
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let name = name.to_owned();
        self.run(
            "getxattr",
            move |inner| async move { inner.getxattr(ino.0, &name).await },
            move |r| reply::xattr(reply, size, r),
        );
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        self.run(
            "listxattr",
            move |inner| async move { inner.listxattr(ino.0).await },
            move |r| reply::xattr(reply, size, r),
        );
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let (name, value) = (name.to_owned(), value.to_vec());
        let op = move |inner: Arc<Inner>| async move {
            inner.setxattr(ino.0, &name, &value, flags).await
        };
        self.run("setxattr", op, Self::empty(reply));
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = name.to_owned();
        self.run(
            "removexattr",
            move |inner| async move { inner.removexattr(ino.0, &name).await },
            Self::empty(reply),
        );
    }

    /// No ioctl applies to these files: ENOTTY, as a local file system answers the `TCGETS`
    /// every buffered Python `open()` asks (fuser's default logs each one).
    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: ReplyIoctl,
    ) {
        reply.error(Errno::ENOTTY);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        self.run(
            "statfs",
            move |inner| async move { inner.statfs().await },
            move |r| reply::statfs(reply, r),
        );
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let name = name.to_owned();
        let attr = Attr::new(Kind::File, mode & !umask, req.uid(), req.gid());
        let ttl = self.inner.settings.ttl;
        let append = flags & libc::O_APPEND != 0;
        self.run(
            "create",
            move |inner| async move {
                let (ino, fh) = inner.create(parent.0, &name, attr.clone(), append).await?;
                Ok((ino, fh, attr))
            },
            reply::created(reply, ttl),
        );
    }
}
