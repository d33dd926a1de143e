//! The one place where per-drive results become one outcome.
//!
//! A drive that is offline (or unformatted) does not vote. Otherwise every answer is a
//! vote: success, or the kind of error. The outcome is the answer at least `quorum` drives
//! gave; when none reaches it, the quorum is lost.

use super::ErasureError;
use crate::drive::DriveError;

/// What a set of per-drive results means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// At least `quorum` drives succeeded.
    Ok,
    /// At least `quorum` drives say the file is not there.
    NotFound,
    /// At least `quorum` drives say the volume (bucket) is not there.
    VolumeNotFound,
    /// At least `quorum` drives say the volume exists already.
    VolumeExists,
    /// No answer reached the quorum.
    Lost,
}

fn vote(e: &DriveError) -> Option<Verdict> {
    match e {
        DriveError::NotFound { .. } => Some(Verdict::NotFound),
        DriveError::VolumeNotFound { .. } => Some(Verdict::VolumeNotFound),
        DriveError::VolumeExists { .. } => Some(Verdict::VolumeExists),
        DriveError::Offline { .. } | DriveError::Unformatted => None,
        DriveError::InvalidPath { .. }
        | DriveError::Corrupt { .. }
        | DriveError::NoSpace { .. }
        | DriveError::Io { .. } => Some(Verdict::Lost),
    }
}

/// Reduces per-drive results to a verdict with the given quorum.
pub fn verdict<T>(results: &[Result<T, DriveError>], quorum: usize) -> Verdict {
    let ok = results.iter().filter(|r| r.is_ok()).count();
    if ok >= quorum {
        return Verdict::Ok;
    }
    for kind in [
        Verdict::NotFound,
        Verdict::VolumeNotFound,
        Verdict::VolumeExists,
    ] {
        let votes = results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .filter(|e| vote(e) == Some(kind))
            .count();
        if votes >= quorum {
            return kind;
        }
    }
    Verdict::Lost
}

/// `Ok` when at least `need` drives succeeded, else the error of a lost write quorum
/// ([`write_lost`]) naming `what`.
pub fn require_writes<T>(
    results: &[Result<T, DriveError>],
    need: usize,
    what: impl FnOnce() -> String,
) -> Result<(), ErasureError> {
    let ok = results.iter().filter(|r| r.is_ok()).count();
    if ok >= need {
        return Ok(());
    }
    Err(write_lost(
        what(),
        ok,
        need,
        results.iter().filter_map(|r| r.as_ref().err()),
    ))
}

/// The error of a write that `ok` of the `need` drives took, given the other drives'
/// errors: `StorageFull` when most drives that answered with an error are out of space
/// (not transient: the client should not retry), else `WriteQuorum`.
pub fn write_lost<'a>(
    what: String,
    ok: usize,
    need: usize,
    errors: impl IntoIterator<Item = &'a DriveError>,
) -> ErasureError {
    let (mut full, mut other, mut detail) = (0, 0, None);
    for e in errors {
        detail.get_or_insert_with(|| e.to_string());
        match e {
            DriveError::NoSpace { .. } => full += 1,
            e if vote(e).is_some() => other += 1,
            _ => {}
        }
    }
    let detail = detail.unwrap_or_else(|| "drives unavailable".into());
    if full > 0 && full >= other {
        ErasureError::StorageFull {
            what,
            ok,
            need,
            detail,
        }
    } else {
        ErasureError::WriteQuorum {
            what,
            ok,
            need,
            detail,
        }
    }
}

/// The first error message among the results, for reports.
pub fn first_error<T>(results: &[Result<T, DriveError>]) -> String {
    results
        .iter()
        .find_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nf() -> Result<(), DriveError> {
        Err(DriveError::NotFound { path: "p".into() })
    }
    fn off() -> Result<(), DriveError> {
        Err(DriveError::Offline { reason: "x".into() })
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(&[Ok(()), Ok(()), nf(), off()], 2), Verdict::Ok);
        assert_eq!(verdict(&[nf(), nf(), Ok(()), off()], 2), Verdict::NotFound);
        assert_eq!(verdict(&[nf(), off(), off(), Ok(())], 2), Verdict::Lost);
        assert_eq!(
            verdict::<()>(&[off(), off(), off(), off()], 2),
            Verdict::Lost
        );
    }
}
