//! `LeaseTable`: one node's vote in the distributed locks. It grants a request's resources
//! all at once or not at all, never waits (the requester retries), and forgets a grant
//! whose lease ran out, so a holder that died blocks nobody longer than one lease.
//!
//! Invariants: a resource has at most one live writer, or any number of live readers,
//! never both; every grant is indexed by its uid, so refresh and unlock touch only that
//! grant's resources; expired grants are swept on every call that meets them and by
//! [`LeaseTable::sweep`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::LockMode;

#[derive(Debug, Default)]
struct Holders {
    /// Live writer: (uid, expiry).
    writer: Option<(String, Instant)>,
    /// Live readers: uid → expiry.
    readers: HashMap<String, Instant>,
}

impl Holders {
    fn expire(&mut self, now: Instant) {
        if self.writer.as_ref().is_some_and(|(_, until)| *until <= now) {
            self.writer = None;
        }
        self.readers.retain(|_, until| *until > now);
    }

    fn is_empty(&self) -> bool {
        self.writer.is_none() && self.readers.is_empty()
    }

    fn admits(&self, mode: LockMode) -> bool {
        match mode {
            LockMode::Read => self.writer.is_none(),
            LockMode::Write => self.writer.is_none() && self.readers.is_empty(),
        }
    }
}

#[derive(Debug, Default)]
struct Table {
    resources: HashMap<String, Holders>,
    /// uid → (resources, mode) of each grant.
    grants: HashMap<String, (Vec<String>, LockMode)>,
}

impl Table {
    fn release(&mut self, uid: &str) -> Option<(Vec<String>, LockMode)> {
        let (names, mode) = self.grants.remove(uid)?;
        for name in &names {
            if let Some(h) = self.resources.get_mut(name) {
                match mode {
                    LockMode::Write => {
                        if h.writer.as_ref().is_some_and(|(w, _)| w == uid) {
                            h.writer = None;
                        }
                    }
                    LockMode::Read => {
                        h.readers.remove(uid);
                    }
                }
                if h.is_empty() {
                    self.resources.remove(name);
                }
            }
        }
        Some((names, mode))
    }
}

/// The lock table of one node.
#[derive(Debug, Default)]
pub struct LeaseTable {
    table: Mutex<Table>,
}

impl LeaseTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave the table half-updated in a way that
        // matters more than losing it: keep serving.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Grants `resources` to `uid` in `mode` for `lease`, if every one of them is free for
    /// that mode; otherwise grants nothing. A retried uid is granted while its
    /// first grant lives.
    pub fn lock(&self, uid: &str, resources: &[String], mode: LockMode, lease: Duration) -> bool {
        let now = Instant::now();
        let mut t = self.table();
        if t.grants.contains_key(uid) {
            // A retried request: granted again only while the first grant lives.
            drop(t);
            return self.refresh(uid, lease);
        }
        for name in resources {
            if let Some(h) = t.resources.get_mut(name) {
                h.expire(now);
                if !h.admits(mode) {
                    return false;
                }
            }
        }
        let until = now + lease;
        for name in resources {
            let h = t.resources.entry(name.clone()).or_default();
            match mode {
                LockMode::Write => h.writer = Some((uid.to_string(), until)),
                LockMode::Read => {
                    h.readers.insert(uid.to_string(), until);
                }
            }
        }
        t.grants.insert(uid.to_string(), (resources.to_vec(), mode));
        true
    }

    /// Extends `uid`'s grant by `lease`; false when it is gone (expired or never granted).
    pub fn refresh(&self, uid: &str, lease: Duration) -> bool {
        let now = Instant::now();
        let mut t = self.table();
        let Some((names, mode)) = t.grants.get(uid).cloned() else {
            return false;
        };
        let until = now + lease;
        for name in &names {
            let live = t.resources.get_mut(name).is_some_and(|h| match mode {
                LockMode::Write => match &mut h.writer {
                    Some((w, expiry)) if w == uid && *expiry > now => {
                        *expiry = until;
                        true
                    }
                    _ => false,
                },
                LockMode::Read => match h.readers.get_mut(uid) {
                    Some(expiry) if *expiry > now => {
                        *expiry = until;
                        true
                    }
                    _ => false,
                },
            });
            if !live {
                t.release(uid);
                return false;
            }
        }
        true
    }

    /// Releases `uid`'s grant (nothing when there is none).
    pub fn unlock(&self, uid: &str) {
        self.table().release(uid);
    }

    /// Drops every expired grant; returns how many grants remain.
    pub fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut t = self.table();
        let expired: Vec<String> = t
            .grants
            .iter()
            .filter(|(uid, (names, mode))| {
                names.iter().any(|n| {
                    t.resources.get(n).is_none_or(|h| match mode {
                        LockMode::Write => h
                            .writer
                            .as_ref()
                            .is_none_or(|(w, until)| w != *uid || *until <= now),
                        LockMode::Read => h.readers.get(*uid).is_none_or(|until| *until <= now),
                    })
                })
            })
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in expired {
            t.release(&uid);
        }
        t.grants.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    const LEASE: Duration = Duration::from_secs(10);

    #[test]
    fn writers_exclude_readers_share_and_unlock_frees() {
        let t = LeaseTable::new();
        assert!(t.lock("w1", &names(&["a", "b"]), LockMode::Write, LEASE));
        assert!(!t.lock("w2", &names(&["b"]), LockMode::Write, LEASE));
        assert!(!t.lock("r1", &names(&["a"]), LockMode::Read, LEASE));
        // All or nothing: "c" is free but "a" is not.
        assert!(!t.lock("w3", &names(&["c", "a"]), LockMode::Write, LEASE));
        assert!(t.lock("w4", &names(&["c"]), LockMode::Write, LEASE));
        t.unlock("w1");
        assert!(t.lock("r1", &names(&["a"]), LockMode::Read, LEASE));
        assert!(t.lock("r2", &names(&["a"]), LockMode::Read, LEASE));
        assert!(!t.lock("w5", &names(&["a"]), LockMode::Write, LEASE));
        t.unlock("r1");
        t.unlock("r2");
        t.unlock("w4");
        assert_eq!(t.sweep(), 0);
        assert!(t.table().resources.is_empty());
    }

    #[test]
    fn leases_expire_unless_refreshed() {
        let t = LeaseTable::new();
        let short = Duration::from_millis(50);
        assert!(t.lock("w1", &names(&["a"]), LockMode::Write, short));
        assert!(t.lock("w2", &names(&["b"]), LockMode::Write, short));
        std::thread::sleep(Duration::from_millis(30));
        assert!(t.refresh("w2", short));
        std::thread::sleep(Duration::from_millis(30));
        // w1 expired: its resource is free again, and its refresh fails.
        assert!(t.lock("w3", &names(&["a"]), LockMode::Write, LEASE));
        assert!(!t.refresh("w1", short));
        // w2 was refreshed in time.
        assert!(!t.lock("w4", &names(&["b"]), LockMode::Write, LEASE));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(t.sweep(), 1, "only w3 remains");
    }
}
