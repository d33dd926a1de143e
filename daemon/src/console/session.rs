//! Console sessions and the login rate limit, both in this node's memory.
//!
//! A session is a random id (the cookie's only content) naming the access key that signed
//! in and a CSRF token of its own; it ends at logout or [`SESSION_TTL`] after sign-in.
//! The secret is never kept: each use resolves the key again, so a key removed or disabled
//! after sign-in stops working at once.
//!
//! Invariants: ids and tokens hold 244 random bits (two v4 UUIDs); at most
//! [`MAX_SESSIONS`] live at once (the oldest goes first); a source address that failed
//! [`MAX_FAILURES`] logins within [`FAILURE_WINDOW`] is refused every login until that
//! window has passed; the limiter keeps at most [`MAX_TRACKED`] addresses. Time is passed
//! in (`now`), so the unit tests below drive it without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::sync::Mutex;

/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// The most sessions a node keeps.
pub const MAX_SESSIONS: usize = 10_000;
/// Failed logins an address may make within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: u32 = 5;
/// The window failed logins are counted over.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// The most source addresses the limiter tracks.
pub const MAX_TRACKED: usize = 10_000;

/// A random token: two v4 UUIDs in hex.
fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// One signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The access key that signed in.
    pub access_key: String,
    /// The token state-changing calls must carry.
    pub csrf: String,
    /// When it ends.
    pub expires: Instant,
}

/// The live sessions.
#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    live: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Sessions lasting `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Opens a session for `access_key`; gives its id and the session.
    pub async fn open(&self, access_key: &str, now: Instant) -> (String, Session) {
        let mut live = self.live.lock().await;
        live.retain(|_, s| s.expires > now);
        if live.len() >= MAX_SESSIONS {
            let oldest = (live.iter())
                .min_by_key(|(_, s)| s.expires)
                .map(|(id, _)| id.clone());
            if let Some(id) = oldest {
                live.remove(&id);
            }
        }
        let session = Session {
            access_key: access_key.to_owned(),
            csrf: random_token(),
            expires: now + self.ttl,
        };
        let id = random_token();
        live.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session `id`, if any.
    pub async fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let mut live = self.live.lock().await;
        match live.get(id) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                live.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends session `id`.
    pub async fn close(&self, id: &str) {
        self.live.lock().await.remove(id);
    }
}

/// Failed logins of one address.
#[derive(Debug, Clone, Copy)]
struct Failures {
    since: Instant,
    count: u32,
}

/// Counts failed logins per source address.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<Option<IpAddr>, Failures>>,
}

impl LoginLimiter {
    /// Whether `addr` may try to log in now.
    pub async fn admits(&self, addr: Option<IpAddr>, now: Instant) -> bool {
        let failures = self.failures.lock().await;
        match failures.get(&addr) {
            Some(f) if now.duration_since(f.since) < FAILURE_WINDOW => f.count < MAX_FAILURES,
            _ => true,
        }
    }

    /// Records a failed login of `addr`.
    pub async fn failed(&self, addr: Option<IpAddr>, now: Instant) {
        let mut failures = self.failures.lock().await;
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, f| now.duration_since(f.since) < FAILURE_WINDOW);
        }
        if failures.len() >= MAX_TRACKED && !failures.contains_key(&addr) {
            return;
        }
        let entry = failures.entry(addr).or_insert(Failures {
            since: now,
            count: 0,
        });
        if now.duration_since(entry.since) >= FAILURE_WINDOW {
            *entry = Failures {
                since: now,
                count: 0,
            };
        }
        entry.count += 1;
    }
}

/// Whether `a` and `b` are equal, in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_ends_at_its_expiry_and_at_logout() {
        let sessions = Sessions::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let (id, s) = sessions.open("alice", t0).await;
        assert_eq!(s.access_key, "alice");
        assert_ne!(id, s.csrf);
        assert_eq!(id.len(), 64);
        let found = sessions.get(&id, t0 + Duration::from_secs(9)).await;
        assert_eq!(found.map(|s| s.csrf), Some(s.csrf));
        assert!(
            sessions
                .get(&id, t0 + Duration::from_secs(10))
                .await
                .is_none()
        );
        let (id, _) = sessions.open("alice", t0).await;
        sessions.close(&id).await;
        assert!(sessions.get(&id, t0).await.is_none());
        assert!(sessions.get("nonsense", t0).await.is_none());
    }

    #[tokio::test]
    async fn an_address_is_refused_after_its_failures_until_the_window_passes() {
        let limiter = LoginLimiter::default();
        let (a, b) = (
            Some("10.0.0.1".parse().unwrap()),
            Some("10.0.0.2".parse().unwrap()),
        );
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert!(limiter.admits(a, t0).await);
            limiter.failed(a, t0).await;
        }
        assert!(!limiter.admits(a, t0 + Duration::from_secs(59)).await);
        assert!(
            limiter.admits(b, t0).await,
            "another address is not limited"
        );
        assert!(limiter.admits(a, t0 + FAILURE_WINDOW).await);
        limiter.failed(a, t0 + FAILURE_WINDOW).await;
        assert!(limiter.admits(a, t0 + FAILURE_WINDOW).await, "a new window");
    }

    #[test]
    fn tokens_compare_by_content() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
    }
}
