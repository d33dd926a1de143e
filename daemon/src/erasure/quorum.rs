//! The one place where per-drive answers become one outcome.
//!
//! Each drive of a set answers a step with a result ([`Answer`]): a success, a drive error,
//! or nothing when the drive took no part in the step (`None`: it lacked what the step
//! builds on, such as a staged shard or the agreed version). A [`Tally`] counts the answers
//! once; every quorum decision of the erasure layer reads a tally:
//! - a drive that took no part, or is offline (or unformatted), does not vote;
//! - any other error votes for its kind (not found, no volume, volume exists, or a failure);
//! - the outcome is the answer at least `quorum` drives gave ([`Verdict`]); when none
//!   reaches it, the quorum is lost.
//!
//! Where drives answer with values that must agree (metadata versions, records), [`agreed`]
//! finds the value most of them hold and how many do.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use super::error::ErasureError;
use crate::drive::DriveError;

/// What a drive's answer counts as.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// The drive did the step.
    Done,
    /// The drive failed it.
    Failed(&'a DriveError),
    /// The drive took no part in it.
    NoPart,
}

/// One drive's answer to a step.
pub trait Answer {
    /// What the answer counts as.
    fn outcome(&self) -> Outcome<'_>;

    /// The drive did the step.
    fn done(&self) -> bool {
        matches!(self.outcome(), Outcome::Done)
    }
}

impl<T> Answer for Result<T, DriveError> {
    fn outcome(&self) -> Outcome<'_> {
        match self {
            Ok(_) => Outcome::Done,
            Err(e) => Outcome::Failed(e),
        }
    }
}

/// `None`: the drive took no part in the step.
impl<A: Answer> Answer for Option<A> {
    fn outcome(&self) -> Outcome<'_> {
        self.as_ref().map_or(Outcome::NoPart, A::outcome)
    }
}

/// What a set of per-drive answers means.
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

/// The answers of a set's drives to one step, counted by kind.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Drives that did the step.
    pub done: usize,
    /// Drives that say the file is not there.
    pub not_found: usize,
    /// Drives that say the volume is not there.
    pub volume_not_found: usize,
    /// Drives that say the volume exists already.
    pub volume_exists: usize,
    /// Drives out of space.
    pub full: usize,
    /// Drives that failed otherwise (I/O, corruption, a refused path).
    pub failed: usize,
    /// Drives that do not vote: offline, unformatted, or no part in the step.
    pub silent: usize,
    first_error: Option<String>,
}

impl Tally {
    /// Counts the answers.
    pub fn of<A: Answer>(answers: &[A]) -> Self {
        let mut tally = Tally::default();
        for a in answers {
            let e = match a.outcome() {
                Outcome::Done => {
                    tally.done += 1;
                    continue;
                }
                Outcome::NoPart => {
                    tally.silent += 1;
                    continue;
                }
                Outcome::Failed(e) => e,
            };
            tally.first_error.get_or_insert_with(|| e.to_string());
            *match e {
                DriveError::NotFound { .. } => &mut tally.not_found,
                DriveError::VolumeNotFound { .. } => &mut tally.volume_not_found,
                DriveError::VolumeExists { .. } => &mut tally.volume_exists,
                DriveError::NoSpace { .. } => &mut tally.full,
                DriveError::Offline { .. } | DriveError::Unformatted => &mut tally.silent,
                DriveError::InvalidPath { .. }
                | DriveError::Corrupt { .. }
                | DriveError::Io { .. } => &mut tally.failed,
            } += 1;
        }
        tally
    }

    /// The answer at least `quorum` drives gave.
    pub fn verdict(&self, quorum: usize) -> Verdict {
        [
            (self.done, Verdict::Ok),
            (self.not_found, Verdict::NotFound),
            (self.volume_not_found, Verdict::VolumeNotFound),
            (self.volume_exists, Verdict::VolumeExists),
        ]
        .into_iter()
        .find(|(votes, _)| *votes >= quorum)
        .map_or(Verdict::Lost, |(_, verdict)| verdict)
    }

    /// The first drive error, for reports (empty when no drive failed).
    pub fn first_error(&self) -> &str {
        self.first_error.as_deref().unwrap_or_default()
    }

    /// `Ok` when at least `need` drives did the step, else [`Tally::write_lost`].
    pub fn require(&self, need: usize, what: impl FnOnce() -> String) -> Result<(), ErasureError> {
        if self.done >= need {
            return Ok(());
        }
        Err(self.write_lost(what(), self.done, need))
    }

    /// The error of a write that `ok` of the `need` drives took: `StorageFull` when most
    /// drives that failed it are out of space (not transient: the client should not
    /// retry), else `WriteQuorum`.
    pub fn write_lost(&self, what: String, ok: usize, need: usize) -> ErasureError {
        let others = self.not_found + self.volume_not_found + self.volume_exists + self.failed;
        let detail = self
            .first_error
            .clone()
            .unwrap_or_else(|| "drives unavailable".into());
        if self.full > 0 && self.full >= others {
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
}

/// `Ok` when at least `need` drives did the step, else the error of a lost write quorum
/// naming `what`.
pub fn require_writes<A: Answer>(
    answers: &[A],
    need: usize,
    what: impl FnOnce() -> String,
) -> Result<(), ErasureError> {
    Tally::of(answers).require(need, what)
}

/// The value most drives agree on, and how many do.
#[derive(Debug)]
pub struct Agreement<'a, V> {
    /// One drive's copy of the value.
    pub value: &'a V,
    /// Drives holding it.
    pub votes: usize,
}

impl<'a, V> Agreement<'a, V> {
    /// The value, when at least `quorum` drives hold it.
    pub fn reaching(self, quorum: usize) -> Option<&'a V> {
        (self.votes >= quorum).then_some(self.value)
    }
}

/// Among `values` (one per answering drive), the one most drives hold, compared by `key`;
/// among values held by as many drives, the one with the greatest `rank`.
pub fn agreed<'a, V, K, R>(
    values: impl IntoIterator<Item = &'a V>,
    key: impl Fn(&'a V) -> K,
    rank: impl Fn(&'a V) -> R,
) -> Option<Agreement<'a, V>>
where
    V: 'a,
    K: Eq + Hash,
    R: Ord,
{
    let mut votes: HashMap<K, Agreement<'a, V>> = HashMap::new();
    for value in values {
        votes
            .entry(key(value))
            .or_insert(Agreement { value, votes: 0 })
            .votes += 1;
    }
    votes
        .into_values()
        .max_by(|a, b| (a.votes, rank(a.value)).cmp(&(b.votes, rank(b.value))))
}

/// The values at least `quorum` drives hold (each drive naming a value once), sorted.
pub fn held_by_quorum<K: Ord>(values: impl IntoIterator<Item = K>, quorum: usize) -> Vec<K> {
    let mut counts: BTreeMap<K, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    (counts.into_iter())
        .filter(|&(_, count)| count >= quorum)
        .map(|(v, _)| v)
        .collect()
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
    fn full() -> Result<(), DriveError> {
        Err(DriveError::NoSpace { path: "p".into() })
    }

    fn verdict<A: Answer>(answers: &[A], quorum: usize) -> Verdict {
        Tally::of(answers).verdict(quorum)
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(&[Ok(()), Ok(()), nf(), off()], 2), Verdict::Ok);
        assert_eq!(verdict(&[nf(), nf(), Ok(()), off()], 2), Verdict::NotFound);
        assert_eq!(verdict(&[nf(), off(), off(), Ok(())], 2), Verdict::Lost);
        assert_eq!(verdict(&[off(), off(), off(), off()], 2), Verdict::Lost);
    }

    #[test]
    fn drives_without_a_part_do_not_vote() {
        let answers = [Some(Ok(())), None, None, Some(nf())];
        let tally = Tally::of(&answers);
        assert_eq!((tally.done, tally.silent, tally.not_found), (1, 2, 1));
        assert_eq!(tally.verdict(2), Verdict::Lost);
        assert!(matches!(
            tally.require(2, || "w".into()),
            Err(ErasureError::WriteQuorum { ok: 1, need: 2, .. })
        ));
    }

    #[test]
    fn mostly_full_drives_lose_a_write_as_storage_full() {
        let answers = [Ok(()), full(), full(), off()];
        assert!(matches!(
            require_writes(&answers, 3, || "w".into()),
            Err(ErasureError::StorageFull { ok: 1, need: 3, .. })
        ));
        let answers = [Ok(()), full(), nf(), nf()];
        assert!(matches!(
            require_writes(&answers, 3, || "w".into()),
            Err(ErasureError::WriteQuorum { .. })
        ));
    }

    #[test]
    fn agreement_counts_equal_values_and_breaks_ties_by_rank() {
        let values = [("a", 1), ("b", 5), ("a", 1), ("b", 5), ("c", 9)];
        let best = agreed(&values, |v| v.0, |v| v.1).unwrap();
        assert_eq!((best.value.0, best.votes), ("b", 2));
        assert_eq!(best.reaching(3), None);
        let best = agreed(&values, |v| v.0, |v| v.1).unwrap();
        assert_eq!(best.reaching(2).map(|v| v.0), Some("b"));
        assert!(agreed(&[] as &[(&str, i32)], |v| v.0, |v| v.1).is_none());
    }
}
