//! Which connections the listener takes and how long a silent one may stay: a bound on
//! open connections, a deadline for a client's first bytes, and the process's file limit.
//!
//! Invariants: at most [`ConnectionLimit::max`] connections are open at once (at the bound
//! the listener stops accepting until one closes, and says so once per episode); a client
//! that has not chosen its protocol within [`HEADER_TIMEOUT`] is dropped (an HTTP/1 client
//! then has the same time for its headers, hyper's `header_read_timeout`, which also bounds
//! an idle keep-alive connection; an HTTP/2 client must answer pings).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a client may take to send its request's headers, and how long an HTTP/1
/// connection may sit idle between requests.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an HTTP/2 connection is pinged, and how long the answer may take before the
/// connection is closed (a gRPC client answers; a stalled socket does not).
pub const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
/// See [`H2_PING_INTERVAL`].
pub const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP/2 connection preface: a client that starts with it speaks HTTP/2.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Connections held for what else the process opens (drive files, peers) per connection
/// allowed: half of the file limit goes to connections.
const FILES_PER_CONNECTION: u64 = 2;

/// The most connections a node takes by default, whatever its file limit.
const DEFAULT_MAX_CONNECTIONS: u64 = 16_384;

/// Raises the soft limit on open files to the hard limit (as MinIO does), so that the
/// connection bound, not the OS, decides; returns the soft limit in force.
pub fn raise_file_limit() -> u64 {
    match crate::sys::raise_nofile_limit() {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit");
            1024
        }
    }
}

/// The default bound on open connections under a file limit of `files`.
pub fn default_max_connections(files: u64) -> usize {
    let n = (files / FILES_PER_CONNECTION).clamp(1, DEFAULT_MAX_CONNECTIONS);
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The bound on open connections.
pub struct ConnectionLimit {
    permits: Arc<Semaphore>,
    max: usize,
    /// The bound was reached and not yet left: said once per episode.
    saturated: AtomicBool,
}

impl ConnectionLimit {
    /// At most `max` connections (at least one).
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
            saturated: AtomicBool::new(false),
        }
    }

    /// The bound.
    pub fn max(&self) -> usize {
        self.max
    }

    /// A place for one more connection; waits while all are taken.
    pub async fn admit(&self) -> OwnedSemaphorePermit {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            if self.saturated.swap(false, Ordering::Relaxed) {
                tracing::info!(max = self.max, "below the connection limit again");
            }
            return permit;
        }
        if !self.saturated.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                max = self.max,
                "connection limit reached: new connections wait until one closes \
                 (--max-connections, or raise the open-file limit)"
            );
        }
        match self.permits.clone().acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => unreachable!("the connection semaphore is never closed"),
        }
    }
}

/// Waits until the client has sent enough to choose its protocol: a byte that cannot
/// begin the HTTP/2 preface, or the whole preface. False when that takes longer than
/// `deadline` or the client goes away first.
pub async fn first_bytes(socket: &TcpStream, deadline: Duration) -> bool {
    let wait = async {
        let mut buf = [0u8; H2_PREFACE.len()];
        loop {
            let n = match socket.peek(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            if n == H2_PREFACE.len() || buf[..n] != H2_PREFACE[..n] {
                return true;
            }
            // Part of the preface: the rest is on its way, or never comes. Peeking again
            // at once would find the same bytes.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(deadline, wait).await.unwrap_or(false)
}

/// Raises the open-file limit and bounds the connections under it: `max`, else half the
/// raised limit.
pub(super) fn connection_limit(max: Option<usize>) -> ConnectionLimit {
    let files = raise_file_limit();
    let limit = ConnectionLimit::new(max.unwrap_or_else(|| default_max_connections(files)));
    tracing::info!(
        open_files = files,
        max_connections = limit.max(),
        "connection limit"
    );
    limit
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn half_the_file_limit_goes_to_connections() {
        assert_eq!(default_max_connections(256), 128);
        assert_eq!(default_max_connections(1), 1);
        assert_eq!(default_max_connections(1 << 20), 16_384);
    }

    #[tokio::test]
    async fn silent_and_half_preface_clients_time_out_others_pass() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let deadline = Duration::from_millis(300);
        for (sent, expected) in [
            (&b""[..], false),
            (&b"PRI * HTTP/2"[..], false),
            (&b"G"[..], true),
            (H2_PREFACE, true),
        ] {
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(sent).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            assert_eq!(first_bytes(&server, deadline).await, expected, "{sent:?}");
        }
    }

    #[tokio::test]
    async fn the_limit_holds_connections_until_one_closes() {
        let limit = ConnectionLimit::new(2);
        let a = limit.admit().await;
        let _b = limit.admit().await;
        let third = tokio::time::timeout(Duration::from_millis(100), limit.admit()).await;
        assert!(third.is_err(), "a third connection waits");
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(5), limit.admit()).await;
        assert!(third.is_ok());
    }
}
