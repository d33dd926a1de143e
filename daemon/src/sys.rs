//! The only module allowed `unsafe`: thin wrappers over libc calls that std lacks.
//! Each call checks its return value and turns errno into `io::Error`.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;

/// The CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`); zero if the
/// clock cannot be read.
pub fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes into it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

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

/// Drops `file`'s clean pages from the page cache (`posix_fadvise` with `DONTNEED`), so
/// tests can read it cold.
#[cfg(test)]
pub fn drop_cached(file: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor belongs to `file`, which outlives the call; the call only
    // drops cached pages of the file.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    match rc {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Turns `O_DIRECT` off for `file` (`fcntl` with `F_SETFL`): what follows goes through the
/// page cache, as a tail that fills no whole block must.
pub fn clear_direct(file: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: the descriptor belongs to `file`, which outlives both calls; F_GETFL and
    // F_SETFL only read and set its status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_DIRECT) } < 0 {
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

/// `struct open_how` of `openat2(2)` (libc's is `non_exhaustive`).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// What the kernel's caches alone say of a path (`openat2` with `RESOLVE_CACHED`).
#[derive(Debug)]
pub enum Cached {
    /// Every component was cached: the path is open.
    Open(std::fs::File),
    /// A cached negative entry says it does not exist (`ENOENT`): the answer a blocking
    /// open would give, since a local file system's cached negative entries are as
    /// authoritative as its disk.
    Absent,
    /// Finding out would read the disk, or another error (also a kernel without
    /// `openat2`): the caller takes a blocking path.
    Unknown,
}

/// Opens `path` read-only (`O_NOATIME`) only if the kernel resolves every component from
/// its caches.
pub fn open_cached(path: &CStr) -> Cached {
    openat2_cached(path, libc::O_RDONLY | libc::O_NOATIME)
}

/// Whether `path` is a directory, as far as the kernel knows from its caches alone
/// ([`Cached::Open`] only for a directory).
pub fn cached_dir(path: &CStr) -> Cached {
    openat2_cached(path, libc::O_PATH | libc::O_DIRECTORY)
}

fn openat2_cached(path: &CStr, flags: libc::c_int) -> Cached {
    use std::os::fd::FromRawFd;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: libc::RESOLVE_CACHED,
    };
    // SAFETY: `path` is NUL-terminated and `how` is a valid `open_how` of the size passed;
    // openat2 only reads both.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            path.as_ptr(),
            &raw const how,
            std::mem::size_of::<OpenHow>(),
        )
    };
    match i32::try_from(fd) {
        // SAFETY: openat2 returned a new descriptor that nothing else owns.
        Ok(fd) if fd >= 0 => Cached::Open(unsafe { std::fs::File::from_raw_fd(fd) }),
        _ if io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) => Cached::Absent,
        _ => Cached::Unknown,
    }
}

/// Reads up to `len` bytes at `offset` into fresh capacity (no zeroing of a buffer about
/// to be overwritten); fewer only at the end of the file.
pub fn pread_to_vec(file: &std::fs::File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::<u8>::with_capacity(len);
    pread_append(file, &mut buf, offset, len, 0)?;
    Ok(buf)
}

/// [`pread_to_vec`] only if the page cache holds all of it (`preadv2` with `RWF_NOWAIT`,
/// without blocking): `None` when a page would have to come from the disk, or on any
/// error. Fewer bytes only at the end of the file. A miss starts the kernel's readahead of
/// the range into the page cache (what `RWF_NOWAIT` does), so a blocking read that follows
/// finds it sooner; to ask without reading, see [`is_cached`].
pub fn pread_cached_to_vec(file: &std::fs::File, offset: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = Vec::<u8>::with_capacity(len);
    pread_append(file, &mut buf, offset, len, libc::RWF_NOWAIT).ok()?;
    Some(buf)
}

/// `cachestat(2)` (Linux 6.5; the same number on every architecture since 5.1's unified
/// table), which libc does not name yet.
const SYS_CACHESTAT: libc::c_long = 451;

/// `struct cachestat_range` of `cachestat(2)`.
#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

/// `struct cachestat` of `cachestat(2)`: page counts of the range.
#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// Whether the page cache holds every page of `len` bytes at `offset` of `file`, asked
/// with `cachestat(2)`: nothing is read, and no readahead starts. `None` where the kernel
/// cannot say (before Linux 6.5).
pub fn is_cached(file: &std::fs::File, offset: u64, len: usize) -> Option<bool> {
    use std::os::fd::AsRawFd;
    let range = CachestatRange {
        off: offset,
        len: len as u64,
    };
    let mut stat = Cachestat::default();
    // SAFETY: the descriptor belongs to `file`, which outlives the call; the kernel reads
    // `range` and writes `stat`, both valid structs of the layout it expects.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file.as_raw_fd(),
            &raw const range,
            &raw mut stat,
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: sysconf only reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    let pages = (offset + len as u64).div_ceil(page) - offset / page;
    Some(stat.nr_cache >= pages)
}

/// Alignment of direct I/O (offsets, lengths and buffer addresses): the largest logical
/// block size of common devices.
pub const DIRECT_ALIGN: usize = 4096;

/// Reads up to `len` bytes at `offset` from `file`, opened with `O_DIRECT`: the aligned
/// blocks around the range go straight from the disk into one buffer (no page cache), and
/// the result is the range's slice of it. Fewer bytes only at the end of the file.
pub fn pread_direct(file: &std::fs::File, offset: u64, len: usize) -> io::Result<bytes::Bytes> {
    let align = DIRECT_ALIGN as u64;
    let start = offset / align * align;
    let end = (offset + len as u64).next_multiple_of(align);
    let span = usize::try_from(end - start).map_err(io::Error::other)?;
    let mut buf = Vec::<u8>::with_capacity(span + DIRECT_ALIGN);
    let pad = buf.as_ptr().align_offset(DIRECT_ALIGN);
    // SAFETY: `pad` < DIRECT_ALIGN bytes of the capacity are skipped; u8 has no invalid
    // values and these bytes are never read.
    unsafe { buf.set_len(pad) };
    pread_append(file, &mut buf, start, span, 0)?;
    let head = pad + (offset - start) as usize;
    let got = buf.len().saturating_sub(head).min(len);
    Ok(bytes::Bytes::from(buf).slice(head..head + got))
}

/// Appends up to `want` bytes at `offset` to `buf` (whose spare capacity holds them) with
/// `preadv2(flags)`, stopping early only at the end of the file.
fn pread_append(
    file: &std::fs::File,
    buf: &mut Vec<u8>,
    offset: u64,
    want: usize,
    flags: libc::c_int,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let base = buf.len();
    assert!(buf.capacity() - base >= want, "room for the read");
    while buf.len() - base < want {
        let done = buf.len() - base;
        let at = i64::try_from(offset + done as u64).map_err(io::Error::other)?;
        let spare = &mut buf.spare_capacity_mut()[..want - done];
        let iov = libc::iovec {
            iov_base: spare.as_mut_ptr().cast(),
            iov_len: spare.len(),
        };
        // SAFETY: the descriptor belongs to `file`, which outlives the call, and `iov`
        // covers spare capacity of `buf`, which the kernel writes at most `iov_len` of.
        let rc = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, at, flags) };
        match rc {
            0 => break,
            n if n > 0 => {
                // SAFETY: the kernel initialised the first `n` bytes of the spare capacity.
                unsafe { buf.set_len(buf.len() + n as usize) };
            }
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// `lgetxattr(2)`: the value of the extended attribute `name` of `path` (not following a
/// final symlink), read into a buffer of `max` bytes. `Ok(None)` when it is not set or the
/// file system has no such attributes; an error when it is longer than `max`.
pub fn get_xattr(path: &CStr, name: &CStr, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::<u8>::with_capacity(max);
    // SAFETY: both strings are NUL-terminated; `buf` has `max` bytes of writable capacity,
    // of which lgetxattr writes at most `max`.
    let n = unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), max) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENODATA | libc::EOPNOTSUPP) => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: lgetxattr initialised the first `n` (≤ max) bytes.
    unsafe { buf.set_len(n as usize) };
    Ok(Some(buf))
}

/// `fstatat(2)` of `name` in the directory `dir`, not following a final symlink: resolves
/// one name instead of a whole path.
pub fn lstat_at(dir: &std::fs::File, name: &CStr) -> io::Result<libc::stat> {
    use std::os::fd::AsRawFd;
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `name` is NUL-terminated, the descriptor belongs to `dir` (alive for the
    // call), and `st` is writable memory of the right type that fstatat only writes.
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstatat returned 0, so it initialised the struct.
    Ok(unsafe { st.assume_init() })
}

/// `getxattrat(2)`'s number: one for every architecture (Linux 6.13 and later).
const SYS_GETXATTRAT: libc::c_long = 464;

/// `getxattrat(2)`'s argument block.
#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

/// Set once the kernel said it has no `getxattrat`.
static NO_GETXATTRAT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// [`get_xattr`] of `path` relative to the directory `dir` (not following a final symlink)
/// with `getxattrat(2)`, which resolves `path` from `dir` rather than from the root.
/// `Err(Unsupported)` on kernels before 6.13: the caller asks [`get_xattr`] instead.
pub fn get_xattr_at(
    dir: &std::fs::File,
    path: &CStr,
    name: &CStr,
    max: usize,
) -> io::Result<Option<Vec<u8>>> {
    use std::os::fd::AsRawFd;
    use std::sync::atomic::Ordering;
    if NO_GETXATTRAT.load(Ordering::Relaxed) {
        return Err(io::ErrorKind::Unsupported.into());
    }
    let mut buf = Vec::<u8>::with_capacity(max);
    let mut args = XattrArgs {
        value: buf.as_mut_ptr() as u64,
        size: u32::try_from(max).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        flags: 0,
    };
    // SAFETY: both strings are NUL-terminated, the descriptor belongs to `dir`, `args` is
    // the kernel's `struct xattr_args` (its size passed along) and names `max` writable
    // bytes of `buf`, of which the call writes at most `max`.
    let n = unsafe {
        libc::syscall(
            SYS_GETXATTRAT,
            dir.as_raw_fd(),
            path.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW as libc::c_uint,
            name.as_ptr(),
            &mut args as *mut XattrArgs,
            std::mem::size_of::<XattrArgs>(),
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENODATA | libc::EOPNOTSUPP) => Ok(None),
            Some(libc::ENOSYS) => {
                NO_GETXATTRAT.store(true, Ordering::Relaxed);
                Err(io::ErrorKind::Unsupported.into())
            }
            _ => Err(e),
        };
    }
    // SAFETY: getxattrat initialised the first `n` (≤ max) bytes.
    unsafe { buf.set_len(n as usize) };
    Ok(Some(buf))
}

/// `lsetxattr(2)`: sets the extended attribute `name` of `path` to `value`.
pub fn set_xattr(path: &CStr, name: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: both strings are NUL-terminated and `value` is readable for its length;
    // lsetxattr only reads them.
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `lremovexattr(2)`: removes the extended attribute `name` of `path`; `Ok` when it was
/// not set or the file system has no such attributes.
pub fn remove_xattr(path: &CStr, name: &CStr) -> io::Result<()> {
    // SAFETY: both strings are NUL-terminated; lremovexattr only reads them.
    let rc = unsafe { libc::lremovexattr(path.as_ptr(), name.as_ptr()) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::ENODATA | libc::EOPNOTSUPP)) {
            return Err(e);
        }
    }
    Ok(())
}

/// Raises the soft limit on open files to the hard limit (at most 2^20, the kernel's
/// usual `nr_open`, for a hard limit of "unlimited"); returns the soft limit now in force.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let target = limit.rlim_max.min(1 << 20);
    if limit.rlim_cur < target {
        let raised = libc::rlimit {
            rlim_cur: target,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit, read by setrlimit only.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        limit.rlim_cur = target;
    }
    Ok(limit.rlim_cur)
}
