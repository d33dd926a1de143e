//! Calls that reach several drives of one peer at once: a set checks a bucket, reads or
//! writes an object's metadata file and walks a listing page on every drive, and one call
//! per peer costs less than one per drive (fewer round trips, and the peer's drives of
//! one file system share their flushes).
//!
//! Invariants: one result per drive, in the order given, as the drive's own call would
//! have answered; a failed call fails every drive of it as a failed call of one would; a
//! peer that does not know a batched call gets one call per drive.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::join_all;
use tessera_proto::internode as pb;
use tonic::{Code, Status};

use super::RemoteDrive;
use super::status::{from_failure, from_status};
use crate::drive::{
    BATCHED_WALK_LIMIT, Drive, DriveError, Target, WalkEntry, WalkMeta, WalkOptions, WalkPage,
};
use crate::peer::{CALL_TIMEOUT, Peer};

impl RemoteDrive {
    /// [`Drive::read_all`] of `path` on several drives of one peer, in one call.
    pub async fn read_all_of(
        drives: &[&RemoteDrive],
        volume: &str,
        path: &str,
    ) -> Vec<Result<Bytes, DriveError>> {
        let Some(peer) = one_peer(drives.iter().copied()) else {
            return Vec::new();
        };
        let req = pb::ReadAllOfRequest {
            drives: drives.iter().map(|d| d.path.clone()).collect(),
            volume: volume.to_string(),
            path: path.to_string(),
        };
        let answer = peer
            .call(CALL_TIMEOUT, peer.storage().read_all_of(req))
            .await;
        if unknown(&answer) {
            return join_all(drives.iter().map(|d| d.read_all(volume, path))).await;
        }
        let results = answer.map(|a| a.results);
        answers(peer, drives.len(), results, volume, path, |r| {
            match r.result {
                Some(pb::drive_read_result::Result::Data(data)) => Some(Ok(data)),
                Some(pb::drive_read_result::Result::Failure(f)) => {
                    Some(Err(from_failure(&f, volume, path)))
                }
                None => None,
            }
        })
    }

    /// [`Drive::stat_volume`] on several drives of one peer, in one call.
    pub async fn stat_volume_of(
        drives: &[&RemoteDrive],
        volume: &str,
    ) -> Vec<Result<(), DriveError>> {
        let Some(peer) = one_peer(drives.iter().copied()) else {
            return Vec::new();
        };
        let req = pb::StatVolumeOfRequest {
            drives: drives.iter().map(|d| d.path.clone()).collect(),
            volume: volume.to_string(),
        };
        let answer = peer
            .call(CALL_TIMEOUT, peer.storage().stat_volume_of(req))
            .await;
        if unknown(&answer) {
            return join_all(drives.iter().map(|d| d.stat_volume(volume))).await;
        }
        let results = answer.map(|a| a.results);
        answers(peer, drives.len(), results, volume, "", |r| {
            Some(outcome(r, volume, ""))
        })
    }

    /// [`Drive::walk`] of several drives of one peer: small pages
    /// ([`BATCHED_WALK_LIMIT`]) in one call, larger ones in a call per drive (so that each
    /// page stays within one message's size).
    pub async fn walk_of(
        drives: &[&RemoteDrive],
        volume: &str,
        opts: &WalkOptions,
    ) -> Vec<Result<WalkPage, DriveError>> {
        let Some(peer) = one_peer(drives.iter().copied()) else {
            return Vec::new();
        };
        let one_by_one = || join_all(drives.iter().map(|d| d.walk(volume, opts)));
        if opts.limit > BATCHED_WALK_LIMIT {
            return one_by_one().await;
        }
        let req = pb::WalkOfRequest {
            drives: drives.iter().map(|d| d.path.clone()).collect(),
            walk: Some(walk_request("", volume, opts)),
        };
        let answer = peer.call(CALL_TIMEOUT, peer.storage().walk_of(req)).await;
        // Pages of large headers may together pass the message limit (each page alone
        // stays within it).
        let too_large = matches!(&answer, Err(s) if s.code() == Code::OutOfRange);
        if unknown(&answer) || too_large {
            return one_by_one().await;
        }
        let results = answer.map(|a| a.results);
        let prefix = &opts.prefix;
        answers(peer, drives.len(), results, volume, prefix, |r| {
            match r.result {
                Some(pb::drive_walk_result::Result::Page(page)) => Some(Ok(page_from_pb(page))),
                Some(pb::drive_walk_result::Result::Failure(f)) => {
                    Some(Err(from_failure(&f, volume, prefix)))
                }
                None => None,
            }
        })
    }

    /// [`Drive::write_all`] of `path` on several drives of one peer, each with its own
    /// bytes and target, in one call.
    pub async fn write_all_of(
        writes: Vec<(&RemoteDrive, Bytes, Target)>,
        volume: &str,
        path: &str,
    ) -> Vec<Result<(), DriveError>> {
        let Some(peer) = one_peer(writes.iter().map(|w| w.0)) else {
            return Vec::new();
        };
        let req = pb::WriteAllOfRequest {
            volume: volume.to_string(),
            path: path.to_string(),
            writes: (writes.iter())
                .map(|(d, data, target)| pb::DriveWrite {
                    drive: d.path.clone(),
                    data: data.clone(),
                    fresh: *target == Target::Fresh,
                })
                .collect(),
        };
        let answer = peer
            .call(CALL_TIMEOUT, peer.storage().write_all_of(req))
            .await;
        if unknown(&answer) {
            let calls = (writes.into_iter()).map(|(d, data, target)| async move {
                d.write_all(volume, path, data, target).await
            });
            return join_all(calls).await;
        }
        let results = answer.map(|a| a.results);
        answers(peer, writes.len(), results, volume, path, |r| {
            Some(outcome(r, volume, path))
        })
    }
}

/// The walk of `drive` (a path on the peer; empty in a batch) that `opts` asks for.
pub(super) fn walk_request(drive: &str, volume: &str, opts: &WalkOptions) -> pb::WalkRequest {
    pb::WalkRequest {
        drive: drive.to_string(),
        volume: volume.to_string(),
        prefix: opts.prefix.clone(),
        start_after: opts.start_after.clone(),
        recursive: opts.recursive,
        limit: opts.limit.min(u32::MAX as usize) as u32,
        summaries: opts.summaries,
    }
}

/// A walked page as a peer sent it.
pub(super) fn page_from_pb(r: pb::WalkResponse) -> WalkPage {
    WalkPage {
        entries: (r.entries.into_iter())
            .map(|e| WalkEntry {
                name: e.name,
                meta: e.meta.map(|m| match m {
                    pb::walk_entry::Meta::Header(h) => WalkMeta::Header(h),
                    pb::walk_entry::Meta::Summary(s) => WalkMeta::Summary(s),
                }),
            })
            .collect(),
        truncated: r.truncated,
    }
}

/// One drive's result of a call that returns nothing.
fn outcome(r: pb::DriveOutcome, volume: &str, path: &str) -> Result<(), DriveError> {
    match r.failure {
        Some(f) => Err(from_failure(&f, volume, path)),
        None => Ok(()),
    }
}

/// Whether a batched call's answer says the peer does not know the call (a peer from
/// before batched calls): its drives are then called one by one.
fn unknown<T>(answer: &Result<T, Status>) -> bool {
    matches!(answer, Err(s) if s.code() == Code::Unimplemented)
}

/// The peer of `drives`, which must all be of one.
fn one_peer<'a>(mut drives: impl Iterator<Item = &'a RemoteDrive>) -> Option<&'a Arc<Peer>> {
    let peer = &drives.next()?.peer;
    debug_assert!(drives.all(|d| Arc::ptr_eq(&d.peer, peer)));
    Some(peer)
}

/// Each drive's result from a batched call's answer: `result` reads one drive's part
/// (`None` when it is malformed). A failed call, or an answer with another number of
/// results, fails every drive.
fn answers<R, T>(
    peer: &Peer,
    drives: usize,
    answer: Result<Vec<R>, Status>,
    volume: &str,
    path: &str,
    result: impl Fn(R) -> Option<Result<T, DriveError>>,
) -> Vec<Result<T, DriveError>> {
    let malformed = || DriveError::Offline {
        reason: format!("node {}: a malformed batched answer", peer.address()),
    };
    match answer {
        Ok(parts) if parts.len() == drives => (parts.into_iter())
            .map(|p| result(p).unwrap_or_else(|| Err(malformed())))
            .collect(),
        Ok(_) => (0..drives).map(|_| Err(malformed())).collect(),
        Err(s) => (0..drives)
            .map(|_| Err(from_status(&s, volume, path)))
            .collect(),
    }
}

#[cfg(test)]
mod tests;
