//! `DistributedLocks`: namespace locks granted by a majority of the cluster's nodes (each
//! node votes with its `LeaseTable`, the local one directly, peers over `LockService`).
//!
//! Invariants: a write lock needs `n/2 + 1` votes and a read lock `n - (n/2 + 1) + 1`, so
//! any read and write grant (and any two write grants) share a voter and cannot coexist;
//! votes are counted as they come and the request is decided as soon as the outcome is
//! known (a late grant is released at once), so a slow node delays nobody;
//! a request that misses its majority releases what it got before retrying, so no two
//! requesters hold partial grants against each other for long (no deadlock); a grant is a
//! lease refreshed by its holder every third of it and released on drop; when fewer nodes
//! than a majority answer, the request fails at once as a quorum loss.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use futures::future::join_all;
use futures::stream::FuturesUnordered;
use tessera_proto::internode as pb;

use super::lease::LeaseTable;
use super::{LeaseValidity, LockError, LockGuard, LockMode, NamespaceLock};
use crate::metrics::LockFigures;
use crate::peer::{PROBE_TIMEOUT, Peer};

/// One voter: this node's table, or a peer.
#[derive(Clone)]
pub enum Voter {
    /// This node.
    Local(Arc<LeaseTable>),
    /// Another node.
    Remote(Arc<Peer>),
}

/// What a voter said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vote {
    Granted,
    Refused,
    /// No answer (offline, deadline).
    Absent,
}

impl Voter {
    async fn lock(&self, uid: &str, resources: &[String], mode: LockMode, lease: Duration) -> Vote {
        match self {
            Voter::Local(t) => {
                if t.lock(uid, resources, mode, lease) {
                    Vote::Granted
                } else {
                    Vote::Refused
                }
            }
            Voter::Remote(peer) => {
                let req = pb::LockRequest {
                    uid: uid.to_string(),
                    resources: resources.to_vec(),
                    mode: match mode {
                        LockMode::Read => pb::LockMode::Read,
                        LockMode::Write => pb::LockMode::Write,
                    } as i32,
                    lease_ms: lease.as_millis() as u32,
                };
                match peer.call(PROBE_TIMEOUT, peer.locks().lock(req)).await {
                    Ok(r) if r.granted => Vote::Granted,
                    Ok(_) => Vote::Refused,
                    Err(_) => Vote::Absent,
                }
            }
        }
    }

    async fn refresh(&self, uid: &str, lease: Duration) -> bool {
        match self {
            Voter::Local(t) => t.refresh(uid, lease),
            Voter::Remote(peer) => {
                let req = pb::LockId {
                    uid: uid.to_string(),
                    lease_ms: lease.as_millis() as u32,
                };
                matches!(
                    peer.call(PROBE_TIMEOUT, peer.locks().refresh(req)).await,
                    Ok(r) if r.granted
                )
            }
        }
    }

    async fn unlock(&self, uid: &str) {
        match self {
            Voter::Local(t) => t.unlock(uid),
            Voter::Remote(peer) => {
                let req = pb::LockId {
                    uid: uid.to_string(),
                    lease_ms: 0,
                };
                let _ = peer.call(PROBE_TIMEOUT, peer.locks().unlock(req)).await;
            }
        }
    }

    fn is_online(&self) -> bool {
        match self {
            Voter::Local(_) => true,
            Voter::Remote(peer) => peer.is_online(),
        }
    }
}

/// Votes a lock needs out of `n` voters.
pub fn quorum(n: usize, mode: LockMode) -> usize {
    let write = n / 2 + 1;
    match mode {
        LockMode::Write => write,
        LockMode::Read => n - write + 1,
    }
}

/// The first pause before asking again for a lock that was not granted.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// Locks granted by a majority of voters.
pub struct DistributedLocks {
    voters: Arc<Vec<Voter>>,
    lease: Duration,
    timeout: Duration,
    figures: LockFigures,
}

impl DistributedLocks {
    /// Locks over `voters` (every node of the cluster, this one included), with grants
    /// leased for `lease`, and requests that give up after `timeout`.
    pub fn new(voters: Vec<Voter>, lease: Duration, timeout: Duration) -> Self {
        Self {
            voters: Arc::new(voters),
            lease,
            timeout,
            figures: LockFigures::default(),
        }
    }

    /// The locks, counting waits and timeouts in `figures`.
    pub fn reporting_to(mut self, figures: &LockFigures) -> Self {
        self.figures = figures.clone();
        self
    }
}

async fn release_all(voters: &[Voter], uid: &str) {
    join_all(voters.iter().map(|v| v.unlock(uid))).await;
}

/// A held distributed lock: refreshed by a task until dropped, then released.
struct Held {
    voters: Arc<Vec<Voter>>,
    uid: String,
    refresher: tokio::task::JoinHandle<()>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.refresher.abort();
        let voters = self.voters.clone();
        let uid = std::mem::take(&mut self.uid);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { release_all(&voters, &uid).await });
        }
    }
}

/// The votes counted by [`DistributedLocks::ballot`].
struct Tally {
    granted: usize,
    absent: usize,
}

impl DistributedLocks {
    /// Asks every voter at once and counts answers until the outcome is known: `need`
    /// grants, or too few voters left to reach them. Voters that answer later are left to
    /// a task that releases any late grant, so a slow or hung node delays nobody.
    async fn ballot(&self, uid: &str, names: &[String], mode: LockMode, need: usize) -> Tally {
        let names: Arc<[String]> = names.into();
        let mut pending: FuturesUnordered<_> = self
            .voters
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, voter)| {
                let (uid, names, lease) = (uid.to_string(), names.clone(), self.lease);
                async move { (i, voter.lock(&uid, &names, mode, lease).await) }
            })
            .collect();
        let n = self.voters.len();
        let (mut granted, mut absent, mut seen) = (0, 0, 0);
        while let Some((_, vote)) = pending.next().await {
            seen += 1;
            match vote {
                Vote::Granted => granted += 1,
                Vote::Absent => absent += 1,
                Vote::Refused => {}
            }
            if granted >= need || granted + (n - seen) < need {
                break;
            }
        }
        if !pending.is_empty() {
            let (voters, uid) = (self.voters.clone(), uid.to_string());
            tokio::spawn(async move {
                while let Some((i, vote)) = pending.next().await {
                    if vote == Vote::Granted {
                        voters[i].unlock(&uid).await;
                    }
                }
            });
        }
        Tally { granted, absent }
    }
}

#[async_trait]
impl NamespaceLock for DistributedLocks {
    async fn lock(&self, resources: &[String], mode: LockMode) -> Result<LockGuard, LockError> {
        let mut names: Vec<String> = resources.to_vec();
        names.sort();
        names.dedup();
        let resource = names.join(", ");
        let need = quorum(self.voters.len(), mode);
        let deadline = Instant::now() + self.timeout;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let online = self.voters.iter().filter(|v| v.is_online()).count();
            if online < need {
                return Err(LockError::Quorum {
                    resource,
                    answered: online,
                    needed: need,
                });
            }
            let uid = uuid::Uuid::new_v4().to_string();
            let asked = tokio::time::Instant::now();
            let tally = self.ballot(&uid, &names, mode, need).await;
            if tally.granted >= need {
                let validity = Arc::new(LeaseValidity::new(resource, asked, self.lease));
                let refresher = tokio::spawn(refresh(
                    self.voters.clone(),
                    uid.clone(),
                    self.lease,
                    need,
                    validity.clone(),
                ));
                let held = Held {
                    voters: self.voters.clone(),
                    uid,
                    refresher,
                };
                return Ok(LockGuard {
                    _held: vec![Box::new(held)],
                    lease: Some(validity),
                });
            }
            release_all(&self.voters, &uid).await;
            if self.voters.len() - tally.absent < need {
                return Err(LockError::Quorum {
                    resource,
                    answered: self.voters.len() - tally.absent,
                    needed: need,
                });
            }
            if Instant::now() + backoff > deadline {
                self.figures.timed_out();
                return Err(LockError::Timeout {
                    resource,
                    timeout: self.timeout,
                });
            }
            if backoff == FIRST_BACKOFF {
                self.figures.waited();
            }
            // Randomized, growing backoff so competing requesters do not collide again.
            let jitter = Duration::from_micros(u64::from(uuid::Uuid::new_v4().as_u128() as u16));
            tokio::time::sleep(backoff + jitter / 8).await;
            backoff = (backoff * 2).min(Duration::from_millis(250));
        }
    }
}

/// Refreshes a grant every third of its lease while it is held; extends the holder's
/// validity on a majority, revokes it (for good) otherwise.
async fn refresh(
    voters: Arc<Vec<Voter>>,
    uid: String,
    lease: Duration,
    need: usize,
    validity: Arc<LeaseValidity>,
) {
    loop {
        tokio::time::sleep(lease / 3).await;
        let asked = tokio::time::Instant::now();
        let kept = join_all(voters.iter().map(|v| v.refresh(&uid, lease)))
            .await
            .into_iter()
            .filter(|k| *k)
            .count();
        if kept < need {
            validity.revoke();
            tracing::error!(
                resource = %validity.resource(),
                kept,
                need,
                "lost the majority of a held lock (nodes unreachable or lease expired)"
            );
            return;
        }
        validity.extend(asked, lease);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_and_write_quorums_overlap() {
        for n in 1..=16 {
            let (r, w) = (quorum(n, LockMode::Read), quorum(n, LockMode::Write));
            assert!(r + w > n, "n={n}: a reader and a writer must share a voter");
            assert!(2 * w > n, "n={n}: two writers must share a voter");
            assert!(r >= 1 && w <= n);
        }
        assert_eq!(quorum(4, LockMode::Write), 3);
        assert_eq!(quorum(4, LockMode::Read), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_whose_refresh_fails_sees_its_lock_lost() {
        let tables: Vec<Arc<LeaseTable>> = (0..3).map(|_| Arc::new(LeaseTable::new())).collect();
        let voters: Arc<Vec<Voter>> = Arc::new(tables.iter().cloned().map(Voter::Local).collect());
        let lease = Duration::from_secs(15);
        let names = vec!["b/k".to_string()];
        for t in &tables {
            assert!(t.lock("held", &names, LockMode::Write, lease));
        }
        let kept = Arc::new(LeaseValidity::new(
            "b/k".into(),
            tokio::time::Instant::now(),
            lease,
        ));
        let task = tokio::spawn(refresh(
            voters.clone(),
            "held".into(),
            lease,
            2,
            kept.clone(),
        ));
        // Refreshed in time, the grant stays valid well past its first lease.
        tokio::time::sleep(lease * 2).await;
        assert!(kept.is_valid());
        // Two of three voters forget the grant (restarted, or expired while cut off): the
        // next refresh misses its majority and the holder knows at once.
        tables[0].unlock("held");
        tables[1].unlock("held");
        tokio::time::sleep(lease / 3 + Duration::from_millis(1)).await;
        assert!(!kept.is_valid());
        task.await.unwrap();
        // Without refreshes, validity ends before the voters' lease does.
        let lone = LeaseValidity::new("b/k".into(), tokio::time::Instant::now(), lease);
        tokio::time::sleep(lease - lease / 5 - Duration::from_millis(10)).await;
        assert!(lone.is_valid());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!lone.is_valid());
    }

    #[tokio::test]
    async fn local_voters_grant_exclusively_and_release_on_drop() {
        let tables: Vec<Arc<LeaseTable>> = (0..3).map(|_| Arc::new(LeaseTable::new())).collect();
        let voters = tables.iter().cloned().map(Voter::Local).collect();
        let locks =
            DistributedLocks::new(voters, Duration::from_secs(10), Duration::from_millis(200));
        let names = vec!["b/k".to_string()];
        let g = locks.lock(&names, LockMode::Write).await.unwrap();
        let err = locks.lock(&names, LockMode::Read).await;
        assert!(matches!(err, Err(LockError::Timeout { .. })));
        drop(g);
        // Release runs on a spawned task.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let r1 = locks.lock(&names, LockMode::Read).await.unwrap();
        let r2 = locks.lock(&names, LockMode::Read).await.unwrap();
        drop((r1, r2));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(tables.iter().all(|t| t.sweep() == 0));
    }
}
