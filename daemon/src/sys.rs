//! The only module allowed `unsafe`: thin wrappers over libc calls that std lacks.
//! Each call checks its return value and turns errno into `io::Error`.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;

/// `statvfs(2)`: (total bytes, free bytes, bytes available to unprivileged users).
pub fn statvfs(path: &CStr) -> io::Result<(u64, u64, u64)> {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `path` is a valid NUL-terminated string and `st` points to writable memory of
    // the right type; statvfs only writes into it.
    let rc = unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it initialised the whole struct.
    let st = unsafe { st.assume_init() };
    let frsize = st.f_frsize;
    Ok((
        st.f_blocks * frsize,
        st.f_bfree * frsize,
        st.f_bavail * frsize,
    ))
}

/// `sync_file_range(fd, offset, len, SYNC_FILE_RANGE_WRITE)`: starts writeback of a range
/// without waiting for it, so a later fsync has less left to flush.
pub fn start_writeback(file: &std::fs::File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    // SAFETY: the descriptor belongs to `file`, which outlives the call; the call only
    // queues writeback of the file's own pages.
    let rc = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `syncfs(fd)`: writes out every dirty page and inode of the file system holding `file`
/// and waits for it (one flush of the device instead of one per file).
pub fn syncfs(file: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor belongs to `file`, which outlives the call; syncfs only reads it.
    let rc = unsafe { libc::syncfs(file.as_raw_fd()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
