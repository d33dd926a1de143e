//! Drive errors across the wire: a [`DriveError`] becomes a gRPC status carrying its kind
//! in the `x-tessera-drive-error` metadata, and the calling node rebuilds the same kind, so
//! quorum logic sees a remote drive exactly as a local one. Transport failures and missed
//! deadlines become `Offline`. Both sides use it: the `StorageService` (`internode::storage`)
//! to answer, the remote drive to read the answer.

use tessera_proto::internode as pb;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::drive::DriveError;
use crate::peer::DRIVE_ERROR_KEY as KIND;

/// The status code and kind name of `e`.
fn kind_of(e: &DriveError) -> (Code, &'static str) {
    match e {
        DriveError::NotFound { .. } => (Code::NotFound, "not-found"),
        DriveError::VolumeNotFound { .. } => (Code::NotFound, "volume-not-found"),
        DriveError::VolumeExists { .. } => (Code::AlreadyExists, "volume-exists"),
        DriveError::InvalidPath { .. } => (Code::InvalidArgument, "invalid-path"),
        DriveError::Corrupt { .. } => (Code::DataLoss, "corrupt"),
        DriveError::Unformatted => (Code::FailedPrecondition, "unformatted"),
        DriveError::Offline { .. } => (Code::Unavailable, "offline"),
        DriveError::NoSpace { .. } => (Code::ResourceExhausted, "no-space"),
        DriveError::Io { .. } => (Code::Internal, "io"),
    }
}

/// The status a StorageService call answers for `e`.
pub fn to_status(e: DriveError) -> Status {
    let (code, kind) = kind_of(&e);
    let mut status = Status::new(code, e.to_string());
    status
        .metadata_mut()
        .insert(KIND, MetadataValue::from_static(kind));
    status
}

/// `e` as one drive's answer within a batched call.
pub fn to_failure(e: DriveError) -> pb::DriveFailure {
    pb::DriveFailure {
        kind: kind_of(&e).1.to_string(),
        message: e.to_string(),
    }
}

/// The drive error a peer's status stands for. `path` names what was accessed, for the
/// errors that carry one. A status without a kind (a transport failure, a deadline, a
/// refused call) makes the drive offline.
pub fn from_status(status: &Status, volume: &str, path: &str) -> DriveError {
    let kind = status.metadata().get(KIND).and_then(|v| v.to_str().ok());
    from_kind(kind, status.message(), volume, path).unwrap_or_else(|| DriveError::Offline {
        reason: format!("{:?}: {}", status.code(), status.message()),
    })
}

/// The drive error of one drive's failure within a batched answer.
pub fn from_failure(failure: &pb::DriveFailure, volume: &str, path: &str) -> DriveError {
    from_kind(Some(&failure.kind), &failure.message, volume, path).unwrap_or_else(|| {
        DriveError::Offline {
            reason: failure.message.clone(),
        }
    })
}

/// The error of kind `kind`; `None` for offline, unknown or no kind.
fn from_kind(kind: Option<&str>, message: &str, volume: &str, path: &str) -> Option<DriveError> {
    let path = path.to_string();
    Some(match kind? {
        "not-found" => DriveError::NotFound { path },
        "volume-not-found" => DriveError::VolumeNotFound {
            volume: volume.to_string(),
        },
        "volume-exists" => DriveError::VolumeExists {
            volume: volume.to_string(),
        },
        "invalid-path" => DriveError::InvalidPath { path },
        "corrupt" => DriveError::Corrupt {
            path,
            reason: message.to_string(),
        },
        "unformatted" => DriveError::Unformatted,
        "no-space" => DriveError::NoSpace { path },
        "io" => DriveError::Io {
            path,
            source: std::io::Error::other(message.to_string()),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::is_peer_failure;

    fn every_kind() -> Vec<DriveError> {
        vec![
            DriveError::NotFound { path: "p".into() },
            DriveError::VolumeNotFound { volume: "v".into() },
            DriveError::VolumeExists { volume: "v".into() },
            DriveError::InvalidPath { path: "p".into() },
            DriveError::Corrupt {
                path: "p".into(),
                reason: "r".into(),
            },
            DriveError::Unformatted,
            DriveError::Offline { reason: "r".into() },
            DriveError::NoSpace { path: "p".into() },
            DriveError::Io {
                path: "p".into(),
                source: std::io::Error::other("x"),
            },
        ]
    }

    #[test]
    fn every_kind_survives_the_round_trip() {
        for e in every_kind() {
            let before = std::mem::discriminant(&e);
            let status = to_status(e);
            assert!(!is_peer_failure(&status));
            let after = from_status(&status, "v", "p");
            assert_eq!(before, std::mem::discriminant(&after), "{after}");
        }
        for e in every_kind() {
            let before = std::mem::discriminant(&e);
            let after = from_failure(&to_failure(e), "v", "p");
            assert_eq!(before, std::mem::discriminant(&after), "{after}");
        }
        let transport = Status::unavailable("connection refused");
        assert!(is_peer_failure(&transport));
        assert!(from_status(&transport, "v", "p").is_offline());
        let unknown = pb::DriveFailure {
            kind: "from-a-newer-node".into(),
            message: "m".into(),
        };
        assert!(from_failure(&unknown, "v", "p").is_offline());
    }
}
