//! Where the identity state lives and how a node keeps its view current: one record in the
//! cluster's system area (`ObjectLayer::{read,write}_system_record`: every drive of the
//! first set, write quorum), changed only under a cluster-wide write lock (read, change,
//! raise the generation, write), pushed to the other nodes ([`Notify`]: they reread it at
//! once), and reloaded by every node every [`RELOAD_EVERY`] as the backstop, so a change
//! made through one node is enforced by all within one second.
//!
//! Invariants: a change that fails (bad input, lost quorum) leaves the record and every
//! cache as they were; the node that made a change uses it before it answers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tessera_proto::auth::Credentials;

use super::IamError;
use super::model::{STATE_VERSION, State};
use super::seal::Sealer;
use super::snapshot::Snapshot;
use crate::lock::{LockMode, NamespaceLock};
use crate::object::ObjectLayer;
use crate::policy::{self, Policy};
use crate::sync::RwLock;

/// The system record's name.
const RECORD: &str = "iam.json";
/// The lock name changes take (not a valid bucket, so no object shares it).
const LOCK: &str = ".tessera/iam";
/// How often a node rereads the record (the bound on how stale a node's view is).
pub const RELOAD_EVERY: Duration = Duration::from_millis(400);

/// Tells the other nodes that the record changed (to generation `.0`), so they reload it
/// at once; the periodic reload covers a notice that is lost.
pub type Notify = Box<dyn Fn(u64) + Send + Sync>;

/// The identity store of one node.
pub struct Iam {
    notify: Option<Notify>,
    layer: Arc<ObjectLayer>,
    locks: Arc<dyn NamespaceLock>,
    root: Credentials,
    sealer: Sealer,
    builtins: Vec<(&'static str, Arc<Policy>)>,
    current: RwLock<Arc<Snapshot>>,
}

impl Iam {
    /// Opens the store over `layer` and loads the state. When the record cannot be read
    /// yet (a cluster still gathering its quorum), the store starts empty (only root is
    /// let in) and the reloader loads it as soon as it can.
    pub async fn open(
        layer: Arc<ObjectLayer>,
        locks: Arc<dyn NamespaceLock>,
        root: Credentials,
        notify: Option<Notify>,
    ) -> Arc<Self> {
        let sealer = Sealer::new(&root);
        let builtins = policy::builtins()
            .unwrap_or_default()
            .into_iter()
            .map(|(n, p)| (n, Arc::new(p)))
            .collect::<Vec<_>>();
        let state = read(&layer).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "identities not loaded yet; retrying in the background");
            State::default()
        });
        let snapshot = Arc::new(Snapshot::build(state, &sealer, &builtins));
        Arc::new(Self {
            notify,
            layer,
            locks,
            root,
            sealer,
            builtins,
            current: RwLock::new(snapshot),
        })
    }

    /// The root credentials.
    pub fn root(&self) -> &Credentials {
        &self.root
    }

    /// The sealer of secrets.
    pub(super) fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The current view.
    pub async fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().await.clone()
    }

    async fn install(&self, state: State) {
        let mut current = self.current.write().await;
        if current.state.generation != state.generation || current.state != state {
            *current = Arc::new(Snapshot::build(state, &self.sealer, &self.builtins));
        }
    }

    /// Rereads the record and installs it when it changed.
    pub async fn reload(&self) -> Result<(), IamError> {
        let state = read(&self.layer).await?;
        self.install(state).await;
        Ok(())
    }

    /// Rereads the record every `period` ([`RELOAD_EVERY`] in service) until the store is
    /// dropped.
    pub fn spawn_reloader(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(iam) = weak.upgrade() else { return };
                if let Err(e) = iam.reload().await {
                    tracing::debug!(error = %e, "identity reload failed; keeping the last view");
                }
            }
        })
    }

    /// Applies `change` to the latest state under the cluster-wide lock and stores it.
    pub async fn change<T>(
        &self,
        change: impl FnOnce(&mut State) -> Result<T, IamError>,
    ) -> Result<T, IamError> {
        let guard = self
            .locks
            .lock(&[LOCK.to_owned()], LockMode::Write)
            .await
            .map_err(|e| IamError::Busy(e.to_string()))?;
        let mut state = read(&self.layer).await?;
        let out = change(&mut state)?;
        state.generation += 1;
        let data = serde_json::to_vec(&state).map_err(|e| IamError::Corrupt(e.to_string()))?;
        guard.check().map_err(|e| IamError::Busy(e.to_string()))?;
        self.layer
            .write_system_record(RECORD, Bytes::from(data))
            .await?;
        drop(guard);
        let generation = state.generation;
        self.install(state).await;
        if let Some(notify) = &self.notify {
            notify(generation);
        }
        Ok(out)
    }
}

async fn read(layer: &ObjectLayer) -> Result<State, IamError> {
    let Some(data) = layer.read_system_record(RECORD).await? else {
        return Ok(State::default());
    };
    let state: State =
        serde_json::from_slice(&data).map_err(|e| IamError::Corrupt(e.to_string()))?;
    if state.version != STATE_VERSION {
        return Err(IamError::Corrupt(format!(
            "identity record version {} (this node knows {STATE_VERSION})",
            state.version
        )));
    }
    Ok(state)
}
