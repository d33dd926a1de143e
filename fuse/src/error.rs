//! The client's error type and its one mapping to errno: every operation returns
//! [`FsError`], and the FUSE adapter turns it into an errno with [`FsError::errno`] only.
//! gRPC statuses map as DESIGN.md's table says, told apart by the server's
//! `x-tessera-error` name where one gRPC code covers several errors.

use fuser::Errno;
use tessera_proto::ERROR_NAME;
use tonic::{Code, Status};

/// Why a filesystem operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The server answered with an error.
    #[error("server: {}", .0.message())]
    Status(#[from] Status),
    /// The server did not answer in time.
    #[error("the server did not answer within {0:?}")]
    Timeout(std::time::Duration),
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
            Self::Status(status) => status_errno(status),
            Self::Timeout(_) => Errno::EIO,
            Self::Io(e) => match e.raw_os_error() {
                Some(code) if code > 0 => Errno::from_i32(code),
                _ => Errno::EIO,
            },
            Self::Posix(errno, _) => *errno,
        }
    }

    /// Whether the server said the object or bucket does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Status(s) if s.code() == Code::NotFound)
    }
}

fn status_errno(status: &Status) -> Errno {
    let name = status
        .metadata()
        .get(ERROR_NAME)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match (status.code(), name) {
        (_, "NameTooLong" | "KeyTooLong") => Errno::ENAMETOOLONG,
        (_, "BucketNotEmpty") => Errno::ENOTEMPTY,
        (_, "StorageFull") => Errno::ENOSPC,
        (Code::NotFound, _) => Errno::ENOENT,
        (Code::AlreadyExists, _) => Errno::EEXIST,
        (Code::PermissionDenied | Code::Unauthenticated, _) => Errno::EACCES,
        (Code::InvalidArgument | Code::OutOfRange, _) => Errno::EINVAL,
        _ => Errno::EIO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(code: Code, name: &str) -> FsError {
        let mut status = Status::new(code, "x");
        status
            .metadata_mut()
            .insert(ERROR_NAME, name.parse().expect("ascii"));
        FsError::Status(status)
    }

    #[test]
    fn statuses_map_as_the_design_table_says() {
        let cases = [
            (named(Code::NotFound, "NoSuchKey"), Errno::ENOENT),
            (
                named(Code::AlreadyExists, "BucketAlreadyExists"),
                Errno::EEXIST,
            ),
            (
                named(Code::FailedPrecondition, "BucketNotEmpty"),
                Errno::ENOTEMPTY,
            ),
            (
                named(Code::InvalidArgument, "NameTooLong"),
                Errno::ENAMETOOLONG,
            ),
            (
                named(Code::InvalidArgument, "KeyTooLong"),
                Errno::ENAMETOOLONG,
            ),
            (named(Code::InvalidArgument, "InvalidKey"), Errno::EINVAL),
            (named(Code::PermissionDenied, ""), Errno::EACCES),
            (named(Code::Unauthenticated, ""), Errno::EACCES),
            (named(Code::Unavailable, "WriteQuorum"), Errno::EIO),
            (named(Code::Internal, "InternalError"), Errno::EIO),
            (
                FsError::Timeout(std::time::Duration::from_secs(1)),
                Errno::EIO,
            ),
        ];
        for (err, errno) in cases {
            assert_eq!(err.errno(), errno, "{err}");
        }
    }
}
