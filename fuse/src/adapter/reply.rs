//! The core's answers in the kernel's terms: attributes as `fuser::FileAttr`, errnos as
//! `fuser::Errno`, and directory entries added to fuser's directory replies. Pure
//! conversions: what an entry carries is decided by the core.

use std::time::SystemTime;

use fuser::{FileAttr, FileType, Generation, INodeNo, ReplyDirectory, ReplyDirectoryPlus};

use crate::fs::attr::{Attr, Kind};
use crate::fs::dir::{DirEntry, DirSink};
use crate::fs::error::Errno;

/// Preferred I/O size reported to programs (`st_blksize`): one erasure block.
const BLOCK_SIZE: u32 = 1 << 20;
/// The size a directory reports, as on ext4 (`du` and tools expect a nominal size).
const DIR_SIZE: u64 = 4096;

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
