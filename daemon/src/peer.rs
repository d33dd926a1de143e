//! The internode client: a connection to one peer node, with a channel for small control
//! calls (metadata, locks, probes) and another for bulk shard streams, so a large transfer
//! never delays a lock or a metadata call; the deadlines of those calls; and the peer's
//! online state. `drive::remote` (a peer's drives) and `lock::distributed` (a peer's lock
//! vote) call peers through it; it imports nothing else of the node but `metrics` (each
//! call's latency and failure are counted for the peer).
//!
//! Invariants: every call is signed with the cluster credentials (derived from the root
//! credentials; the peer's services refuse any other). A peer that fails a call for a
//! reason of its own (refused connection, missed deadline) is offline at once: every call
//! to it fails fast, and so do the calls and streams already waiting on it (none waits out
//! its own deadline on a peer known to be gone), until the monitor task reaches it again
//! (probes with backoff). While online it is probed every [`PROBE_INTERVAL`], so a hung or
//! cut-off peer is noticed within `PROBE_INTERVAL + PROBE_TIMEOUT` even when idle. A peer
//! back from offline is *suspect* until one call succeeds: its calls get the short
//! [`PROBE_TIMEOUT`], so a peer that answers probes but not calls (a flaky link) costs each
//! request at most that. A drive's own error (a status carrying [`DRIVE_ERROR_KEY`]) is an
//! answer, never a failure of the peer.
//!
//! Tested in `peer/tests.rs` against a peer that never answers and one that answers only
//! probes; end to end by the partition test (`cluster_partition`).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tessera_proto::auth::Credentials;
use tessera_proto::client::{self, MAX_MESSAGE_SIZE, Signed};
use tessera_proto::internode::identity_service_client::IdentityServiceClient;
use tessera_proto::internode::lock_service_client::LockServiceClient;
use tessera_proto::internode::storage_service_client::StorageServiceClient;
use tessera_proto::internode::{HelloRequest, HelloResponse};
use tessera_proto::tls::ClientTls;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Response, Status};

use crate::metrics::PeerFigures;

/// Deadline of a control call (metadata reads and writes, renames, walks).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of a probe and of a lock vote.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Deadline for each message of a shard stream.
pub const STREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an online peer is probed.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// Longest wait between probes of an offline peer.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Metadata key of a status that carries a drive's own error (`drive::remote::status`
/// writes it): the peer answered, so such a status never makes it offline.
pub const DRIVE_ERROR_KEY: &str = "x-tessera-drive-error";

/// A signed StorageService client.
pub type StorageClient = StorageServiceClient<Signed<Channel>>;
/// A signed LockService client.
pub type LockClient = LockServiceClient<Signed<Channel>>;

/// A signed IdentityService client.
pub type IdentityClient = IdentityServiceClient<Signed<Channel>>;

/// One peer node.
pub struct Peer {
    address: String,
    me: String,
    /// Signed channels: small calls, and bulk shard streams.
    control: Signed<Channel>,
    data: Signed<Channel>,
    online: AtomicBool,
    /// Back from offline, no call has succeeded since.
    suspect: AtomicBool,
    /// Wakes the monitor when a call marks the peer offline.
    wake: tokio::sync::Notify,
    /// Wakes every call and stream waiting on the peer when it goes offline.
    gone: tokio::sync::Notify,
    /// Where calls are counted, once the server says.
    figures: OnceLock<PeerFigures>,
}

/// A lazy channel to the peer at `address`: over TLS when `tls` is given.
fn channel(address: &str, tls: Option<&ClientTls>) -> Result<Channel, String> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))
        .map_err(|e| format!("bad peer address {address}: {e}"))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(1))
        .http2_keep_alive_interval(Duration::from_secs(5))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true)
        .initial_stream_window_size(client::STREAM_WINDOW)
        .initial_connection_window_size(client::CONNECTION_WINDOW)
        .max_frame_size(client::MAX_FRAME_SIZE);
    Ok(match tls {
        Some(tls) => client::lazy_channel(endpoint, tls),
        None => endpoint.connect_lazy(),
    })
}

impl Peer {
    /// A peer at `address` (`host:port`), called by the node at `me`, signing with the
    /// cluster credentials, over TLS when `tls` is given (a cluster with certificates).
    /// Starts offline-unknown (online) and spawns its monitor task, which ends when the
    /// peer is dropped.
    pub fn new(
        address: &str,
        me: &str,
        cluster: Credentials,
        tls: Option<&ClientTls>,
    ) -> Result<Arc<Self>, String> {
        let peer = Arc::new(Self {
            address: address.to_string(),
            me: me.to_string(),
            control: Signed::new(channel(address, tls)?, cluster.clone()),
            data: Signed::new(channel(address, tls)?, cluster),
            online: AtomicBool::new(true),
            suspect: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
            gone: tokio::sync::Notify::new(),
            figures: OnceLock::new(),
        });
        tokio::spawn(monitor(Arc::downgrade(&peer)));
        Ok(peer)
    }

    /// Counts this peer's calls in `figures` from now on (the first figures given stay).
    pub fn report_to(&self, figures: PeerFigures) {
        let _ = self.figures.set(figures);
    }

    /// The peer's `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// False from a failed call until a probe succeeds.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// A client on the control channel.
    pub fn storage(&self) -> StorageClient {
        StorageServiceClient::new(self.control.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }

    /// A client on the bulk channel (shard streams).
    pub fn storage_data(&self) -> StorageClient {
        StorageServiceClient::new(self.data.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }

    /// A lock client on the control channel.
    pub fn locks(&self) -> LockClient {
        LockServiceClient::new(self.control.clone())
    }

    /// An identity-change client on the control channel.
    pub fn identities(&self) -> IdentityClient {
        IdentityServiceClient::new(self.control.clone())
    }

    /// Marks the peer offline when `status` is a failure of the peer itself.
    pub fn observe(&self, status: &Status) {
        if is_peer_failure(status) {
            self.set_offline(status.message());
        }
    }

    /// Offline from now: the monitor starts probing, and every call and stream waiting on
    /// the peer fails at once.
    fn set_offline(&self, reason: &str) {
        if self.online.swap(false, Ordering::AcqRel) {
            tracing::warn!(peer = %self.address, error = %reason, "peer offline");
            self.wake.notify_one();
        }
        self.gone.notify_waiters();
    }

    /// Back online after a probe answered: suspect until a call succeeds.
    fn set_online(&self) {
        if !self.online.load(Ordering::Acquire) {
            self.suspect.store(true, Ordering::Release);
            if !self.online.swap(true, Ordering::AcqRel) {
                tracing::info!(peer = %self.address, "peer back online");
            }
        }
    }

    fn offline_status(&self) -> Status {
        Status::unavailable(format!("node {} is offline", self.address))
    }

    /// Waits for `work` (a call, or one message of a stream) for at most `timeout`, and no
    /// longer than the peer stays online: fails at once when it is offline or goes offline
    /// meanwhile, with a missed deadline when `timeout` passes. Marks nothing: see
    /// [`Peer::observe`].
    pub async fn bounded<T>(
        &self,
        timeout: Duration,
        work: impl Future<Output = T>,
    ) -> Result<T, Status> {
        let gone = self.gone.notified();
        tokio::pin!(gone);
        // Registered before the check, so going offline in between still wakes it.
        gone.as_mut().enable();
        if !self.is_online() {
            return Err(self.offline_status());
        }
        tokio::select! {
            result = tokio::time::timeout(timeout, work) => result.map_err(|_| {
                Status::deadline_exceeded(format!(
                    "node {} did not answer within {timeout:?}",
                    self.address
                ))
            }),
            () = gone => Err(self.offline_status()),
        }
    }

    /// Runs a call with `timeout` (at most [`PROBE_TIMEOUT`] while the peer is suspect):
    /// fails fast while the peer is offline or once it goes offline, marks it offline when
    /// the call fails for a reason of the peer's own, and clears suspicion on an answer.
    pub async fn call<T, F>(&self, timeout: Duration, call: F) -> Result<T, Status>
    where
        F: Future<Output = Result<Response<T>, Status>>,
    {
        let timeout = if self.suspect.load(Ordering::Acquire) {
            timeout.min(PROBE_TIMEOUT)
        } else {
            timeout
        };
        let started = std::time::Instant::now();
        let result = match self.bounded(timeout, call).await {
            Ok(answer) => answer.map(Response::into_inner),
            Err(status) => Err(status),
        };
        let failed = matches!(&result, Err(status) if is_peer_failure(status));
        if let Some(figures) = self.figures.get() {
            figures.call(started.elapsed(), failed);
        }
        match &result {
            Err(status) if failed => self.set_offline(status.message()),
            // It answered (a drive's own error is an answer too).
            _ => self.suspect.store(false, Ordering::Release),
        }
        result
    }

    /// Asks the peer who it is (no offline short cut: this is how a peer comes back).
    pub async fn hello(&self) -> Result<HelloResponse, Status> {
        let request = HelloRequest {
            from: self.me.clone(),
        };
        match tokio::time::timeout(PROBE_TIMEOUT, self.storage().hello(request)).await {
            Ok(result) => result.map(Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded("no answer to hello")),
        }
    }
}

/// True when a status says the peer itself failed (not the drive operation): the peer is
/// then marked offline.
pub fn is_peer_failure(status: &Status) -> bool {
    status.metadata().get(DRIVE_ERROR_KEY).is_none()
        && matches!(
            status.code(),
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown
        )
}

/// Probes the peer while it lives: every [`PROBE_INTERVAL`] when online, with a growing
/// backoff when offline; flips the state on the first answer or failure.
async fn monitor(peer: std::sync::Weak<Peer>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(p) = peer.upgrade() else { return };
        let online = p.is_online();
        let wait = if online { PROBE_INTERVAL } else { backoff };
        // Wake early when a call marks the peer offline.
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = p.wake.notified() => {}
        }
        drop(p);
        let Some(p) = peer.upgrade() else { return };
        match p.hello().await {
            Ok(_) => {
                backoff = Duration::from_millis(100);
                p.set_online();
            }
            Err(status) => {
                p.set_offline(status.message());
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests;
