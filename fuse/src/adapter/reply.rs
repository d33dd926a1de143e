//! The core's answers in the kernel's terms: attributes as `fuser::FileAttr`, errnos as
//! `fuser::Errno`, directory entries added to fuser's directory replies, the file system's
//! figures, and the settings the mount asks the kernel for at INIT. Pure conversions: what
//! an entry carries is decided by the core.

use std::time::SystemTime;

use fuser::{
    FileAttr, FileType, FopenFlags, Generation, INodeNo, InitFlags, KernelConfig, ReplyDirectory,
    ReplyDirectoryPlus, ReplyStatfs,
};

use crate::fs::attr::{Attr, Kind};
use crate::fs::dir::{DirEntry, DirSink};
use crate::fs::error::Errno;
use crate::fs::namespace::STATFS_BLOCK;
use crate::fs::state::NAME_MAX;

/// Preferred I/O size reported to programs (`st_blksize`): one erasure block.
const BLOCK_SIZE: u32 = 1 << 20;
/// The size a directory reports, as on ext4 (`du` and tools expect a nominal size).
const DIR_SIZE: u64 = 4096;

/// The settings the mount asks the kernel for at INIT.
pub fn configure(config: &mut KernelConfig) {
    // O_TRUNC arrives with open() instead of as a separate truncate.
    let _ = config.add_capabilities(InitFlags::FUSE_ATOMIC_O_TRUNC);
    // Listings carry attributes: the kernel takes them with the names (READDIRPLUS),
    // when it sees lookups follow a listing (AUTO).
    let plus = InitFlags::FUSE_DO_READDIRPLUS | InitFlags::FUSE_READDIRPLUS_AUTO;
    let _ = config.add_capabilities(plus);
    // The mount drops set-user-ID and set-group-ID on write, truncate and chown (the core's
    // `drop_privileges`), so the kernel need not ask for `security.capability` before every
    // write it sends.
    let _ = config.add_capabilities(InitFlags::FUSE_HANDLE_KILLPRIV_V2);
    let _ = config.set_max_write(1 << 20);
    let _ = config.set_max_readahead(1 << 20);
    // Room for two read-aheads of the mount (8 MiB in 1 MiB requests) in flight: below
    // the congestion threshold the kernel drops the pages it meant to read ahead.
    let _ = config.set_max_background(32);
    let _ = config.set_congestion_threshold(24);
}

/// Answers a statfs with the file system's `(blocks, free)` in [`STATFS_BLOCK`]s.
pub fn statfs(reply: ReplyStatfs, r: Result<(u64, u64), fuser::Errno>) {
    match r {
        Ok((blocks, free)) => reply.statfs(
            blocks,
            free,
            free,
            u64::from(u32::MAX),
            u64::from(u32::MAX),
            STATFS_BLOCK as u32,
            NAME_MAX as u32,
            STATFS_BLOCK as u32,
        ),
        Err(e) => reply.error(e),
    }
}

/// The kernel's errno.
pub fn errno(e: Errno) -> fuser::Errno {
    fuser::Errno::from_i32(e.code())
}

/// The kernel's name for a kind.
pub fn file_type(kind: Kind) -> FileType {
    match kind {
        Kind::File => FileType::RegularFile,
        Kind::Dir => FileType::Directory,
        Kind::Symlink => FileType::Symlink,
        Kind::Fifo => FileType::NamedPipe,
        Kind::CharDevice => FileType::CharDevice,
        Kind::BlockDevice => FileType::BlockDevice,
        Kind::Socket => FileType::Socket,
    }
}

/// The kernel's view of `attr` as inode `ino`.
pub fn file_attr(attr: &Attr, ino: u64) -> FileAttr {
    let size = if attr.kind == Kind::Dir {
        DIR_SIZE
    } else {
        attr.size
    };
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: attr.atime,
        mtime: attr.mtime,
        ctime: attr.ctime,
        crtime: attr.mtime,
        kind: file_type(attr.kind),
        perm: attr.perm,
        nlink: if attr.kind == Kind::Dir { 2 } else { 1 },
        uid: attr.uid,
        gid: attr.gid,
        rdev: attr.rdev,
        blksize: BLOCK_SIZE,
        flags: 0,
    }
}

/// What an open of a file with the open(2) `flags` answers besides its handle: a read-only
/// handle has nothing to upload at close, so the kernel need not send its FLUSH
/// (FOPEN_NOFLUSH: a round trip fewer per close of a file read).
pub fn open_flags(flags: i32) -> FopenFlags {
    match flags & libc::O_ACCMODE == libc::O_RDONLY {
        true => FopenFlags::FOPEN_NOFLUSH,
        false => FopenFlags::empty(),
    }
}

/// Answers an open or opendir with its handle and `flags`, and FOPEN_KEEP_CACHE when the
/// core says the kernel may keep what it cached of the file or directory.
pub fn opened(
    reply: fuser::ReplyOpen,
    flags: FopenFlags,
) -> impl FnOnce(Result<(u64, bool), fuser::Errno>) + Send + 'static {
    move |r| match r {
        Ok((fh, keep)) => {
            let keep = if keep {
                FopenFlags::FOPEN_KEEP_CACHE
            } else {
                FopenFlags::empty()
            };
            reply.opened(fuser::FileHandle(fh), flags | keep)
        }
        Err(e) => reply.error(e),
    }
}

/// Answers a create with the new file's entry (kept for `ttl`) and handle.
pub fn created(
    reply: fuser::ReplyCreate,
    ttl: std::time::Duration,
) -> impl FnOnce(Result<(u64, u64, Attr), fuser::Errno>) + Send + 'static {
    move |r| match r {
        Ok((ino, fh, attr)) => reply.created(
            &ttl,
            &file_attr(&attr, ino),
            Generation(0),
            fuser::FileHandle(fh),
            FopenFlags::empty(),
        ),
        Err(e) => reply.error(e),
    }
}

/// Answers getxattr/listxattr with `r`: its length when `size` is 0, ERANGE when it does
/// not fit in `size`.
pub fn xattr(reply: fuser::ReplyXattr, size: u32, r: Result<Vec<u8>, fuser::Errno>) {
    match r {
        Ok(v) if size == 0 => reply.size(v.len() as u32),
        Ok(v) if v.len() > size as usize => reply.error(fuser::Errno::ERANGE),
        Ok(v) => reply.data(&v),
        Err(e) => reply.error(e),
    }
}

/// The time a setattr names.
pub fn time_or_now(t: fuser::TimeOrNow) -> SystemTime {
    match t {
        fuser::TimeOrNow::SpecificTime(t) => t,
        fuser::TimeOrNow::Now => SystemTime::now(),
    }
}

/// A kernel reply that directory entries are added to, then sent.
pub trait DirReply: DirSink + Send + 'static {
    /// Sends the reply.
    fn ok(self);
    /// Answers with an error instead.
    fn error(self, e: fuser::Errno);
}

impl DirSink for ReplyDirectory {
    fn plus(&self) -> bool {
        false
    }
    fn add(&mut self, e: &DirEntry, next: u64) -> bool {
        ReplyDirectory::add(self, INodeNo(e.ino), next, file_type(e.kind), &e.name)
    }
}

impl DirReply for ReplyDirectory {
    fn ok(self) {
        ReplyDirectory::ok(self)
    }
    fn error(self, e: fuser::Errno) {
        ReplyDirectory::error(self, e)
    }
}

impl DirSink for ReplyDirectoryPlus {
    fn plus(&self) -> bool {
        true
    }
    fn add(&mut self, e: &DirEntry, next: u64) -> bool {
        let attr = file_attr(&e.attr, e.ino);
        ReplyDirectoryPlus::add(
            self,
            INodeNo(e.ino),
            next,
            &e.name,
            &e.ttl,
            &attr,
            Generation(0),
        )
    }
}

impl DirReply for ReplyDirectoryPlus {
    fn ok(self) {
        ReplyDirectoryPlus::ok(self)
    }
    fn error(self, e: fuser::Errno) {
        ReplyDirectoryPlus::error(self, e)
    }
}
