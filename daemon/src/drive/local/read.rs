//! Whole-file reads of a local drive: without touching access times, from the kernel's
//! caches without blocking when it holds them (for a tokio worker), and of the header of
//! an object's metadata file alone (for listings).

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use bytes::Bytes;

use super::{c_path, io_err};
use crate::drive::DriveError;
use crate::sys::Cached;

/// Opens a file to read it without updating its access time: reading an object's files
/// would otherwise dirty their inodes (relatime updates a file's first atime after a
/// write), a metadata write per GET. Falls back to a plain open where the drive's files
/// belong to another user (O_NOATIME then fails with EPERM).
pub(super) fn open_for_read(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let no_atime = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOATIME)
        .open(path);
    match no_atime {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => fs::File::open(path),
        other => other,
    }
}

/// [`open_for_read`] with `O_DIRECT`; `None` where the file system (or the files' owner,
/// for `O_NOATIME`) refuses it.
pub(super) fn open_direct(path: &Path) -> Option<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOATIME | libc::O_DIRECT)
        .open(path)
        .ok()
}

/// The whole file at `path` (`fs::read` through [`open_for_read`]).
pub(super) fn read_bytes(path: &Path) -> Result<Bytes, DriveError> {
    let read = || {
        let mut file = open_for_read(path)?;
        let mut buf = Vec::with_capacity(file.metadata().map_or(0, |m| m.len() as usize + 1));
        file.read_to_end(&mut buf)?;
        Ok(Bytes::from(buf))
    };
    read().map_err(|e| io_err(path, e))
}

/// Largest file [`read_cached`] reads on the caller's thread.
pub(super) const CACHED_READ_MAX: u64 = 256 << 10;

/// The whole file at `path`, if the kernel's caches answer without blocking (a tokio
/// worker may call it): its bytes when it is small and cached, `NotFound` when a cached
/// negative entry says it is absent. `None` otherwise: the caller reads it with
/// [`read_bytes`] on the blocking pool.
pub(super) fn read_cached(path: &Path) -> Option<Result<Bytes, DriveError>> {
    let file = match crate::sys::open_cached(&c_path(path)?) {
        Cached::Open(file) => file,
        Cached::Absent => {
            let path = path.display().to_string();
            return Some(Err(DriveError::NotFound { path }));
        }
        Cached::Unknown => return None,
    };
    let len = file.metadata().ok()?.len();
    if len > CACHED_READ_MAX {
        return None;
    }
    // One byte more than the size, to see the end.
    let buf = crate::sys::pread_cached_to_vec(&file, 0, len as usize + 1)?;
    if buf.len() as u64 > len {
        return None; // It grew: read it the ordinary way.
    }
    Some(Ok(Bytes::from(buf)))
}

/// What the kernel's caches say of the directory at `path`, found without blocking.
pub(super) fn cached_dir(path: &Path) -> Cached {
    c_path(path).map_or(Cached::Unknown, |c_path| crate::sys::cached_dir(&c_path))
}

/// Reads the start of an object's metadata file: enough for the header, without the inline
/// data (see [`crate::drive::metafile`]).
pub(super) fn read_meta_header(path: &Path) -> Result<Bytes, DriveError> {
    let mut f = open_for_read(path).map_err(|e| io_err(path, e))?;
    let mut buf = vec![0u8; 4096];
    let mut filled = 0;
    loop {
        let n = f.read(&mut buf[filled..]).map_err(|e| io_err(path, e))?;
        if n == 0 {
            break;
        }
        filled += n;
        match crate::drive::metafile::header_len(&buf[..filled]) {
            Some(need) if need <= filled => break,
            Some(need) => buf.resize(need, 0),
            None if filled == buf.len() => buf.resize(buf.len() * 2, 0),
            None => {}
        }
    }
    buf.truncate(filled);
    let rel = path.display().to_string();
    crate::drive::metafile::strip_inline(Bytes::from(buf))
        .map_err(|reason| DriveError::Corrupt { path: rel, reason })
}
