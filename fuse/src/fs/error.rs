//! The core's error type and its one mapping to an errno: every operation returns
//! [`FsError`], and the FUSE adapter turns it into the kernel's errno with
//! [`FsError::errno`] only. The object API's refusals map as DESIGN.md's table says
//! (their kind was read from the gRPC status by `remote`, the one place that sees one).
//!
//! [`Errno`] is the core's own errno value (a libc code), so the core needs no fuser type.

use crate::api::{ApiError, ServiceError};

/// An errno value the kernel is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(i32);

impl Errno {
    /// Operation not permitted.
    pub const EPERM: Self = Self(libc::EPERM);
    /// No such file or directory.
    pub const ENOENT: Self = Self(libc::ENOENT);
    /// I/O error.
    pub const EIO: Self = Self(libc::EIO);
    /// Bad file handle.
    pub const EBADF: Self = Self(libc::EBADF);
    /// Permission denied.
    pub const EACCES: Self = Self(libc::EACCES);
    /// Busy.
    pub const EBUSY: Self = Self(libc::EBUSY);
    /// Exists.
    pub const EEXIST: Self = Self(libc::EEXIST);
    /// Across file systems (here: across buckets).
    pub const EXDEV: Self = Self(libc::EXDEV);
    /// Not a directory.
    pub const ENOTDIR: Self = Self(libc::ENOTDIR);
    /// Is a directory.
    pub const EISDIR: Self = Self(libc::EISDIR);
    /// Invalid argument.
    pub const EINVAL: Self = Self(libc::EINVAL);
    /// No space left.
    pub const ENOSPC: Self = Self(libc::ENOSPC);
    /// Read-only file system.
    pub const EROFS: Self = Self(libc::EROFS);
    /// Name too long.
    pub const ENAMETOOLONG: Self = Self(libc::ENAMETOOLONG);
    /// Directory not empty.
    pub const ENOTEMPTY: Self = Self(libc::ENOTEMPTY);
    /// No such extended attribute.
    pub const ENODATA: Self = Self(libc::ENODATA);
    /// Not supported (an extended-attribute namespace that is not stored).
    pub const ENOTSUP: Self = Self(libc::ENOTSUP);

    /// The errno of a libc code.
    pub fn from_i32(code: i32) -> Self {
        Self(code)
    }

    /// The libc code.
    pub fn code(self) -> i32 {
        self.0
    }
}

/// Why a filesystem operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The object API failed: the server refused, or the call did not get through.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A local file (staging) failed.
    #[error("local i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The operation is refused for a POSIX reason (ENOENT, EISDIR, ...).
    #[error("{1}")]
    Posix(Errno, &'static str),
}

/// Result of a filesystem operation.
pub type FsResult<T> = Result<T, FsError>;

impl FsError {
    /// Shorthand for a POSIX refusal.
    pub fn posix(errno: Errno, why: &'static str) -> Self {
        Self::Posix(errno, why)
    }

    /// The errno the caller sees.
    pub fn errno(&self) -> Errno {
        match self {
            Self::Api(ApiError::Service { kind, .. }) => match kind {
                ServiceError::NotFound => Errno::ENOENT,
                ServiceError::AlreadyExists => Errno::EEXIST,
                ServiceError::NotEmpty => Errno::ENOTEMPTY,
                ServiceError::NameTooLong => Errno::ENAMETOOLONG,
                ServiceError::StorageFull => Errno::ENOSPC,
                ServiceError::PermissionDenied => Errno::EACCES,
                ServiceError::InvalidArgument => Errno::EINVAL,
                // Quorum lost, busy, internal: nothing the caller can fix.
                ServiceError::Other => Errno::EIO,
            },
            // A dead or hung server is an I/O error, never a hang.
            Self::Api(ApiError::Timeout(_) | ApiError::Client(_)) => Errno::EIO,
            Self::Io(e) => match e.raw_os_error() {
                Some(code) if code > 0 => Errno::from_i32(code),
                _ => Errno::EIO,
            },
            Self::Posix(errno, _) => *errno,
        }
    }

    /// Whether the server said the object or bucket does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api(e) if e.is_not_found())
    }
}
