//! `ObjectError` → `tonic::Status`, in one exhaustive match. Every status also carries the
//! error's name in the `x-tessera-error` metadata entry, so clients (the FUSE client's errno
//! table) tell apart errors that share a gRPC code.

use tessera_proto::ERROR_NAME;
use tonic::{Code, Status};

use crate::object::ObjectError;

/// The gRPC status of an object error.
pub fn to_status(e: &ObjectError) -> Status {
    let (code, name) = match e {
        ObjectError::BucketNotFound { .. } => (Code::NotFound, "NoSuchBucket"),
        ObjectError::ObjectNotFound { .. } => (Code::NotFound, "NoSuchKey"),
        ObjectError::UploadNotFound { .. } => (Code::NotFound, "NoSuchUpload"),
        ObjectError::BucketExists { .. } => (Code::AlreadyExists, "BucketAlreadyExists"),
        // "Not empty" is a precondition on the bucket's state (FUSE: ENOTEMPTY).
        ObjectError::BucketNotEmpty { .. } => (Code::FailedPrecondition, "BucketNotEmpty"),
        ObjectError::PreconditionFailed { .. } => (Code::FailedPrecondition, "PreconditionFailed"),
        ObjectError::InvalidBucketName { .. } => (Code::InvalidArgument, "InvalidBucketName"),
        ObjectError::InvalidKey { .. } => (Code::InvalidArgument, "InvalidKey"),
        ObjectError::KeyTooLong { .. } => (Code::InvalidArgument, "KeyTooLong"),
        ObjectError::NameTooLong { .. } => (Code::InvalidArgument, "NameTooLong"),
        ObjectError::InvalidArgument(_) => (Code::InvalidArgument, "InvalidArgument"),
        ObjectError::InvalidRange { .. } => (Code::OutOfRange, "InvalidRange"),
        ObjectError::IncompleteBody { .. } => (Code::InvalidArgument, "IncompleteBody"),
        // The client's own stream broke: nothing was stored.
        ObjectError::Body(_) => (Code::Aborted, "IncompleteBody"),
        ObjectError::InvalidPart { .. } => (Code::InvalidArgument, "InvalidPart"),
        ObjectError::InvalidPartOrder => (Code::InvalidArgument, "InvalidPartOrder"),
        ObjectError::EntityTooSmall { .. } => (Code::InvalidArgument, "EntityTooSmall"),
        ObjectError::ReadQuorum(_) => (Code::Unavailable, "ReadQuorum"),
        ObjectError::WriteQuorum(_) => (Code::Unavailable, "WriteQuorum"),
        ObjectError::StorageFull(_) => (Code::ResourceExhausted, "StorageFull"),
        ObjectError::MetadataTooLarge { .. } => (Code::InvalidArgument, "MetadataTooLarge"),
        ObjectError::Busy(_) => (Code::Unavailable, "Busy"),
        ObjectError::Internal(_) => (Code::Internal, "InternalError"),
    };
    // The node's own faults are told in a fixed sentence; the node logs their details.
    let message = match e.server_fault() {
        Some(sentence) => {
            tracing::warn!(error = %e, "gRPC request failed");
            sentence.to_string()
        }
        None => e.to_string(),
    };
    let mut status = Status::new(code, message);
    if let Ok(v) = name.parse() {
        status.metadata_mut().insert(ERROR_NAME, v);
    }
    status
}

impl From<ObjectError> for Status {
    fn from(e: ObjectError) -> Self {
        to_status(&e)
    }
}
