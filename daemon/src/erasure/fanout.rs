//! Fanning one call out to every drive of a set in as few calls as the drives allow: the
//! local drives answer together from one trip to the blocking pool, and the drives of one
//! peer from one call to it.
//!
//! Invariant: one result per drive, in drive order, whatever the grouping.

use std::sync::Arc;

use super::set::ErasureSet;
use crate::drive::local::LocalDrive;
use crate::drive::remote::RemoteDrive;
use crate::drive::{Drive, DriveError};

impl ErasureSet {
    /// Like [`Self::each`], but in batches: the local drives answer together from one call
    /// of `local`, and the drives of one peer from one call of `remote` (each given its
    /// drives with their indices, in drive order), all at once. Drives that are neither
    /// local nor remote run `other`, one call each.
    pub(super) async fn each_batched<'a, T, L, LF, R, RF, O, OF>(
        &'a self,
        local: L,
        remote: R,
        other: O,
    ) -> Vec<Result<T, DriveError>>
    where
        L: FnOnce(Vec<(usize, &'a LocalDrive)>) -> LF,
        LF: Future<Output = Vec<Result<T, DriveError>>>,
        R: Fn(Vec<(usize, &'a RemoteDrive)>) -> RF,
        RF: Future<Output = Vec<Result<T, DriveError>>>,
        O: Fn(usize, &'a Arc<dyn Drive>) -> OF,
        OF: Future<Output = Result<T, DriveError>>,
    {
        let mut locals = Vec::new();
        let mut peers: Vec<Vec<(usize, &'a RemoteDrive)>> = Vec::new();
        let mut others = Vec::new();
        for (i, d) in self.drives.iter().enumerate() {
            if let Some(l) = d.as_local() {
                locals.push((i, l));
            } else if let Some(r) = d.as_remote() {
                match peers
                    .iter_mut()
                    .find(|g| Arc::ptr_eq(g[0].1.peer(), r.peer()))
                {
                    Some(group) => group.push((i, r)),
                    None => peers.push(vec![(i, r)]),
                }
            } else {
                others.push(i);
            }
        }
        let local_order: Vec<usize> = locals.iter().map(|&(i, _)| i).collect();
        let peer_order: Vec<Vec<usize>> = (peers.iter())
            .map(|g| g.iter().map(|&(i, _)| i).collect())
            .collect();
        let (local, remote, other) = tokio::join!(
            local(locals),
            futures::future::join_all(peers.into_iter().map(remote)),
            futures::future::join_all(others.iter().map(|&i| other(i, &self.drives[i]))),
        );
        let mut results: Vec<Option<Result<T, DriveError>>> =
            self.drives.iter().map(|_| None).collect();
        let answered = (local_order.into_iter().zip(local))
            .chain(
                peer_order
                    .into_iter()
                    .zip(remote)
                    .flat_map(|(o, r)| o.into_iter().zip(r)),
            )
            .chain(others.into_iter().zip(other));
        for (i, result) in answered {
            results[i] = Some(result);
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
}
