//! The split of a batched `StorageService` call (`…Of`): the drives that are local drives
//! online run in one batch, so it takes one trip to the blocking pool; any other drive (one
//! of this node's drives found damaged at start, see `crate::drive::slot`) runs on its own,
//! so it fails alone with its own error, not the batch.
//!
//! Invariant: one result per drive, in the call's order. Tested by
//! `drive/remote/batch/tests.rs` (a drive offline on its node fails alone in a batch).

use std::sync::Arc;

use crate::drive::local::LocalDrive;
use crate::drive::{Drive, DriveError};

/// Runs a batched call over `drives`: the local drives online ([`Drive::as_local`]) in one
/// `batch` of (index, drive), any other through `one`; results in the order of `drives`.
pub(super) async fn split_batch<'a, T, B, BF, O, OF>(
    drives: &[&'a Arc<dyn Drive>],
    batch: B,
    one: O,
) -> Vec<Result<T, DriveError>>
where
    B: FnOnce(Vec<(usize, &'a LocalDrive)>) -> BF,
    BF: Future<Output = Vec<Result<T, DriveError>>>,
    O: Fn(usize, &'a Arc<dyn Drive>) -> OF,
    OF: Future<Output = Result<T, DriveError>>,
{
    let mut local = Vec::new();
    let mut others = Vec::new();
    for (i, d) in drives.iter().enumerate() {
        match d.as_local() {
            Some(l) => local.push((i, l)),
            None => others.push((i, *d)),
        }
    }
    let local_order: Vec<usize> = local.iter().map(|&(i, _)| i).collect();
    let other_order: Vec<usize> = others.iter().map(|&(i, _)| i).collect();
    let (batched, single) = tokio::join!(
        batch(local),
        futures::future::join_all(others.into_iter().map(|(i, d)| one(i, d)))
    );
    let mut results: Vec<Option<Result<T, DriveError>>> = drives.iter().map(|_| None).collect();
    let answered =
        (local_order.into_iter().zip(batched)).chain(other_order.into_iter().zip(single));
    for (i, r) in answered {
        results[i] = Some(r);
    }
    (results.into_iter())
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(DriveError::Offline {
                    reason: "a batched call gave no answer for the drive".into(),
                })
            })
        })
        .collect()
}
