//! `ObjectError` → S3 error code and HTTP status, in one exhaustive match.
//!
//! Invariant: an error the node is at fault for answers its fixed sentence
//! ([`ObjectError::server_fault`]); what the node knows (drive paths, the drives' own
//! errors) goes to its log, never to the client.

use s3s::{S3Error, S3ErrorCode};

use crate::iam::IamError;
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
        ObjectError::VersionNotFound { .. } => S3ErrorCode::NoSuchVersion,
        // S3 answers 405 for a read of a delete marker by its id.
        ObjectError::VersionIsDeleteMarker { .. } => S3ErrorCode::MethodNotAllowed,
        // MinIO's answer past its bound on versions per object.
        ObjectError::TooManyVersions { .. } => S3ErrorCode::Custom("MaxVersionsExceeded".into()),
        // S3 refuses a locked version's removal as a denied access.
        ObjectError::ObjectLocked { .. } => S3ErrorCode::AccessDenied,
        ObjectError::InvalidBucketState(_) => S3ErrorCode::InvalidBucketState,
        ObjectError::InvalidRequest(_) => S3ErrorCode::InvalidRequest,
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
        // Not transient (SDKs retry a 503): MinIO's code and status, which tools know.
        ObjectError::StorageFull(_) => S3ErrorCode::Custom(STORAGE_FULL.into()),
        ObjectError::MetadataTooLarge { .. } => S3ErrorCode::MetadataTooLarge,
        ObjectError::Busy(_) => S3ErrorCode::SlowDown,
        ObjectError::Internal(_) => S3ErrorCode::InternalError,
    };
    let message = match e.server_fault() {
        Some(sentence) => {
            if matches!(e, ObjectError::Internal(_)) {
                tracing::error!(error = %e, "S3 request failed");
            } else {
                tracing::warn!(error = %e, "S3 request failed");
            }
            sentence.to_string()
        }
        None => e.to_string(),
    };
    let mut err = S3Error::with_message(code, message);
    match &e {
        ObjectError::StorageFull(_) => err.set_status_code(http::StatusCode::INSUFFICIENT_STORAGE),
        ObjectError::TooManyVersions { .. } => err.set_status_code(http::StatusCode::BAD_REQUEST),
        // A delete marker in the way says so, and which one it is.
        ObjectError::ObjectNotFound {
            delete_marker: Some(version),
            ..
        }
        | ObjectError::VersionIsDeleteMarker { version, .. } => {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                "x-amz-delete-marker",
                http::HeaderValue::from_static("true"),
            );
            if let Ok(v) = http::HeaderValue::from_str(version) {
                headers.insert("x-amz-version-id", v);
            }
            err.set_headers(headers);
        }
        _ => {}
    }
    err
}

/// The S3 error code of a full store (MinIO's).
pub const STORAGE_FULL: &str = "XMinioStorageFull";

/// The answer of an S3 error made outside s3s (refused at the edge, a CORS preflight),
/// rendered as s3s renders its own.
pub fn error_response(
    status: http::StatusCode,
    code: &str,
    message: &str,
) -> http::Response<s3s::Body> {
    let message = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message></Error>"
    );
    let mut resp = http::Response::new(s3s::Body::from(xml));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    resp
}

/// An S3 error with a message.
pub fn s3_err(code: S3ErrorCode, msg: impl Into<String>) -> S3Error {
    S3Error::with_message(code, msg.into())
}

/// The S3 error for an identity-store error (the bucket policy, ACL and CORS operations).
pub fn iam_to_s3(e: IamError) -> S3Error {
    let code = match &e {
        IamError::Policy(_) => S3ErrorCode::MalformedPolicy,
        IamError::Cors { .. } => S3ErrorCode::InvalidRequest,
        // Only bucket policies are changed over S3; the rest cannot reach here, but each
        // still answers what it means.
        IamError::InvalidUserName { .. }
        | IamError::InvalidPolicyName { .. }
        | IamError::InvalidAccessKey { .. }
        | IamError::InvalidSecret => S3ErrorCode::InvalidArgument,
        IamError::UserExists { .. } | IamError::KeyExists { .. } => S3ErrorCode::InvalidArgument,
        IamError::NoSuchUser { .. }
        | IamError::NoSuchKey { .. }
        | IamError::NoSuchPolicy { .. } => S3ErrorCode::InvalidArgument,
        IamError::BuiltinPolicy { .. } | IamError::PolicyInUse { .. } | IamError::Root => {
            S3ErrorCode::AccessDenied
        }
        IamError::Busy(_) => S3ErrorCode::SlowDown,
        IamError::Storage(_) => return to_s3(into_object(e)),
        IamError::Seal { .. } | IamError::Corrupt(_) => S3ErrorCode::InternalError,
    };
    if code == S3ErrorCode::InternalError {
        tracing::error!(error = %e, "S3 request failed");
        return S3Error::with_message(code, "We encountered an internal error. Please try again.");
    }
    S3Error::with_message(code, e.to_string())
}

fn into_object(e: IamError) -> ObjectError {
    match e {
        IamError::Storage(o) => o,
        other => ObjectError::Internal(other.to_string()),
    }
}
