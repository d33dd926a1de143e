//! The one way to call many drives at once: a call ([`GroupCall`]) goes to the drives in
//! groups that answer together — this node's local drives in one trip to the blocking
//! pool, one peer's drives in one call to it — and to any other drive on its own. A drive
//! joins its group itself ([`super::Drive::join`]), so no caller asks what kind a drive is,
//! and a batched call is written once ([`ReadAll`], [`WriteAll`], [`StatVolume`], [`Walk`])
//! for the erasure sets and the storage service alike.
//!
//! Invariant: [`fan_out`] answers once per drive, in the drives' order, whatever the
//! grouping; a group's answers come in the order of its drives.

use async_trait::async_trait;
use bytes::Bytes;

use super::local::LocalDrive;
use super::remote::RemoteDrive;
use super::{Drive, DriveError, Groups, Target, WalkOptions, WalkPage};

/// A call that drives answer in groups. The local and peer batches default to one call per
/// drive; a call that has a batched form overrides them.
#[async_trait]
pub trait GroupCall: Sync {
    /// One drive's answer.
    type Out: Send;

    /// The answer of one drive on its own.
    async fn one(&self, place: usize, drive: &dyn Drive) -> Result<Self::Out, DriveError>;

    /// The answers of this node's local drives, in their order.
    async fn local(&self, drives: &[(usize, &LocalDrive)]) -> Vec<Result<Self::Out, DriveError>> {
        futures::future::join_all(drives.iter().map(|&(i, d)| self.one(i, d))).await
    }

    /// The answers of one peer's drives, in their order.
    async fn peer(&self, drives: &[(usize, &RemoteDrive)]) -> Vec<Result<Self::Out, DriveError>> {
        futures::future::join_all(drives.iter().map(|&(i, d)| self.one(i, d))).await
    }
}

/// Sends `call` to every drive of `drives`, grouped; one answer per drive, in order.
pub async fn fan_out<'a, C, D>(drives: &'a [D], call: &C) -> Vec<Result<C::Out, DriveError>>
where
    C: GroupCall,
    D: AsRef<dyn Drive> + 'a,
{
    (fan_out_to(drives, |_| true, call).await.into_iter())
        .map(|answer| answer.expect("every drive takes part"))
        .collect()
}

/// Sends `call` to the drives of `drives` that `takes_part` names, grouped; one answer per
/// drive, in order: `None` for a drive that takes no part.
pub async fn fan_out_to<'a, C, D>(
    drives: &'a [D],
    takes_part: impl Fn(usize) -> bool,
    call: &C,
) -> Vec<Option<Result<C::Out, DriveError>>>
where
    C: GroupCall,
    D: AsRef<dyn Drive> + 'a,
{
    let groups = Groups::of(drives, &takes_part);
    let (local, peers, single) = tokio::join!(
        call.local(&groups.local),
        futures::future::join_all(groups.peers.iter().map(|g| call.peer(g))),
        futures::future::join_all(groups.single.iter().map(|&(i, d)| call.one(i, d))),
    );
    let mut results: Vec<Option<Result<C::Out, DriveError>>> =
        (0..drives.len()).map(|_| None).collect();
    let places = (groups.local.iter().map(|&(i, _)| i).zip(local))
        .chain(
            (groups.peers.iter().zip(peers))
                .flat_map(|(g, answers)| g.iter().map(|&(i, _)| i).zip(answers)),
        )
        .chain(groups.single.iter().map(|&(i, _)| i).zip(single));
    for (i, answer) in places {
        results[i] = Some(answer);
    }
    for (i, r) in results.iter_mut().enumerate() {
        if takes_part(i) && r.is_none() {
            *r = Some(Err(DriveError::Offline {
                reason: "a batched call gave no answer for the drive".into(),
            }));
        }
    }
    results
}

fn drives_of<D: Copy>(batch: &[(usize, D)]) -> Vec<D> {
    batch.iter().map(|&(_, d)| d).collect()
}

/// Reads a whole file.
pub struct ReadAll<'a> {
    /// Volume.
    pub volume: &'a str,
    /// Path in the volume.
    pub path: &'a str,
}

#[async_trait]
impl GroupCall for ReadAll<'_> {
    type Out = Bytes;
    async fn one(&self, _: usize, drive: &dyn Drive) -> Result<Bytes, DriveError> {
        drive.read_all(self.volume, self.path).await
    }
    async fn local(&self, drives: &[(usize, &LocalDrive)]) -> Vec<Result<Bytes, DriveError>> {
        LocalDrive::read_all_of(&drives_of(drives), self.volume, self.path).await
    }
    async fn peer(&self, drives: &[(usize, &RemoteDrive)]) -> Vec<Result<Bytes, DriveError>> {
        RemoteDrive::read_all_of(&drives_of(drives), self.volume, self.path).await
    }
}

/// Checks a volume.
pub struct StatVolume<'a> {
    /// Volume.
    pub volume: &'a str,
}

#[async_trait]
impl GroupCall for StatVolume<'_> {
    type Out = ();
    async fn one(&self, _: usize, drive: &dyn Drive) -> Result<(), DriveError> {
        drive.stat_volume(self.volume).await
    }
    async fn peer(&self, drives: &[(usize, &RemoteDrive)]) -> Vec<Result<(), DriveError>> {
        RemoteDrive::stat_volume_of(&drives_of(drives), self.volume).await
    }
}

/// Walks a volume.
pub struct Walk<'a> {
    /// Volume.
    pub volume: &'a str,
    /// What to walk.
    pub opts: &'a WalkOptions,
}

#[async_trait]
impl GroupCall for Walk<'_> {
    type Out = WalkPage;
    async fn one(&self, _: usize, drive: &dyn Drive) -> Result<WalkPage, DriveError> {
        drive.walk(self.volume, self.opts).await
    }
    async fn local(&self, drives: &[(usize, &LocalDrive)]) -> Vec<Result<WalkPage, DriveError>> {
        LocalDrive::walk_of(&drives_of(drives), self.volume, self.opts).await
    }
    async fn peer(&self, drives: &[(usize, &RemoteDrive)]) -> Vec<Result<WalkPage, DriveError>> {
        RemoteDrive::walk_of(&drives_of(drives), self.volume, self.opts).await
    }
}

/// Writes a whole file on each drive given one: `files[place]` ([`WriteAll::send`]).
pub struct WriteAll<'a> {
    /// Volume.
    pub volume: &'a str,
    /// Path in the volume.
    pub path: &'a str,
    /// Per drive (by place): the bytes and how to write them; `None` for no write.
    pub files: &'a [Option<(Bytes, Target)>],
}

impl WriteAll<'_> {
    /// Sends the writes to `drives`, grouped; one answer per drive, in order: `None` for a
    /// drive given no file.
    pub async fn send<'a, D: AsRef<dyn Drive> + 'a>(
        &self,
        drives: &'a [D],
    ) -> Vec<Option<Result<(), DriveError>>> {
        let given = |place: usize| self.files.get(place).is_some_and(Option::is_some);
        fan_out_to(drives, given, self).await
    }

    /// The writes of `drives`, each given a file.
    fn given<D: Copy>(&self, drives: &[(usize, D)]) -> Vec<(D, Bytes, Target)> {
        (drives.iter())
            .filter_map(|&(i, d)| {
                let (data, target) = self.files[i].as_ref()?;
                Some((d, data.clone(), *target))
            })
            .collect()
    }
}

#[async_trait]
impl GroupCall for WriteAll<'_> {
    type Out = ();
    async fn one(&self, place: usize, drive: &dyn Drive) -> Result<(), DriveError> {
        let Some((data, target)) = &self.files[place] else {
            return Err(DriveError::InvalidPath {
                path: format!("{}: no file given for drive {place}", self.path),
            });
        };
        drive
            .write_all(self.volume, self.path, data.clone(), *target)
            .await
    }
    async fn local(&self, drives: &[(usize, &LocalDrive)]) -> Vec<Result<(), DriveError>> {
        LocalDrive::write_all_of(self.given(drives), self.volume, self.path).await
    }
    async fn peer(&self, drives: &[(usize, &RemoteDrive)]) -> Vec<Result<(), DriveError>> {
        RemoteDrive::write_all_of(self.given(drives), self.volume, self.path).await
    }
}
