//! `ObjectError` → `tonic::Status`, in one exhaustive match. Every status also carries the
//! error's name in the `x-tessera-error` metadata entry, so clients (the FUSE client's errno
//! table) tell apart errors that share a gRPC code.

use tessera_proto::ERROR_NAME;
use tonic::{Code, Status};

use crate::iam::IamError;
use crate::object::ObjectError;

/// The gRPC status of an object error.
pub fn to_status(e: &ObjectError) -> Status {
    let (code, name) = match e {
        ObjectError::BucketNotFound { .. } => (Code::NotFound, "NoSuchBucket"),
        ObjectError::ObjectNotFound { .. } => (Code::NotFound, "NoSuchKey"),
        ObjectError::UploadNotFound { .. } => (Code::NotFound, "NoSuchUpload"),
        ObjectError::VersionNotFound { .. } => (Code::NotFound, "NoSuchVersion"),
        ObjectError::VersionIsDeleteMarker { .. } => (Code::NotFound, "MethodNotAllowed"),
        ObjectError::TooManyVersions { .. } => (Code::FailedPrecondition, "TooManyVersions"),
        ObjectError::ObjectLocked { .. } => (Code::PermissionDenied, "ObjectLocked"),
        ObjectError::InvalidBucketState(_) => (Code::FailedPrecondition, "InvalidBucketState"),
        ObjectError::InvalidRequest(_) => (Code::InvalidArgument, "InvalidRequest"),
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

/// The gRPC status of an identity error (the admin API).
pub fn iam_status(e: &IamError) -> Status {
    let code = match e {
        IamError::InvalidUserName { .. }
        | IamError::InvalidPolicyName { .. }
        | IamError::InvalidAccessKey { .. }
        | IamError::InvalidSecret
        | IamError::Policy(_)
        | IamError::Cors { .. } => Code::InvalidArgument,
        IamError::UserExists { .. } | IamError::KeyExists { .. } => Code::AlreadyExists,
        IamError::NoSuchUser { .. }
        | IamError::NoSuchKey { .. }
        | IamError::NoSuchPolicy { .. } => Code::NotFound,
        // The state forbids it (a built-in, a policy in use, the root credentials).
        IamError::BuiltinPolicy { .. } | IamError::PolicyInUse { .. } | IamError::Root => {
            Code::FailedPrecondition
        }
        IamError::Busy(_) => Code::Unavailable,
        IamError::Storage(o) => return to_status(o),
        IamError::Seal { .. } | IamError::Corrupt(_) => {
            tracing::error!(error = %e, "admin request failed");
            return Status::internal("internal error; the node's log has the details");
        }
    };
    Status::new(code, e.to_string())
}

impl From<IamError> for Status {
    fn from(e: IamError) -> Self {
        iam_status(&e)
    }
}
