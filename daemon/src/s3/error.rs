//! `ObjectError` → S3 error code and HTTP status, in one exhaustive match.

use s3s::{S3Error, S3ErrorCode};

use crate::object::ObjectError;

/// The S3 error for an object-core error.
pub fn to_s3(e: ObjectError) -> S3Error {
    let code = match &e {
        ObjectError::BucketNotFound { .. } => S3ErrorCode::NoSuchBucket,
        // One tenant: every existing bucket is the caller's own.
        ObjectError::BucketExists { .. } => S3ErrorCode::BucketAlreadyOwnedByYou,
        ObjectError::BucketNotEmpty { .. } => S3ErrorCode::BucketNotEmpty,
        ObjectError::InvalidBucketName { .. } => S3ErrorCode::InvalidBucketName,
        ObjectError::ObjectNotFound { .. } => S3ErrorCode::NoSuchKey,
        ObjectError::PreconditionFailed { .. } => S3ErrorCode::PreconditionFailed,
        // S3 has no path rules; keys that cannot be paths are invalid arguments here.
        ObjectError::InvalidKey { .. } => S3ErrorCode::InvalidArgument,
        ObjectError::KeyTooLong { .. } => S3ErrorCode::KeyTooLongError,
        ObjectError::NameTooLong { .. } => S3ErrorCode::KeyTooLongError,
        ObjectError::InvalidArgument(_) => S3ErrorCode::InvalidArgument,
        ObjectError::InvalidRange { .. } => S3ErrorCode::InvalidRange,
        ObjectError::IncompleteBody { .. } => S3ErrorCode::IncompleteBody,
        ObjectError::Body(_) => S3ErrorCode::IncompleteBody,
        ObjectError::UploadNotFound { .. } => S3ErrorCode::NoSuchUpload,
        ObjectError::InvalidPart { .. } => S3ErrorCode::InvalidPart,
        ObjectError::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
        ObjectError::EntityTooSmall { .. } => S3ErrorCode::EntityTooSmall,
        // Lost quorum is temporary for the client: drives may come back.
        ObjectError::ReadQuorum(_) => S3ErrorCode::ServiceUnavailable,
        ObjectError::WriteQuorum(_) => S3ErrorCode::ServiceUnavailable,
        ObjectError::MetadataTooLarge { .. } => S3ErrorCode::MetadataTooLarge,
        ObjectError::Busy(_) => S3ErrorCode::SlowDown,
        ObjectError::Internal(_) => S3ErrorCode::InternalError,
    };
    match &e {
        ObjectError::Internal(_) => tracing::error!(error = %e, "S3 request failed"),
        ObjectError::ReadQuorum(_) | ObjectError::WriteQuorum(_) => {
            tracing::warn!(error = %e, "S3 request failed")
        }
        _ => {}
    }
    S3Error::with_message(code, e.to_string())
}

/// An S3 error with a message.
pub fn s3_err(code: S3ErrorCode, msg: impl Into<String>) -> S3Error {
    S3Error::with_message(code, msg.into())
}
