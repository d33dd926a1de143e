//! The heal queue of one set (MinIO's "MRF", most-recently-failed): objects a commit
//! reached with quorum but not on every drive, and objects a read found damaged, wait here
//! for the set's healer; what a queued heal checks ([`HealScan`]) and the hint a reader
//! fires when it loses a shard ([`HealHint`]).
//!
//! Invariants: an object is queued at most once (a second push only raises its scan to
//! `Deep` when asked); the queue never holds more than its capacity, and a push into a full
//! queue is dropped with one warning per filling (the background scan and `admin heal`
//! catch what it drops); pushing never waits for healing, only for the queue's short lock.
//!
//! Tested by the unit tests below and by the healer tests in `heal/tests.rs`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::sync::Mutex;
use tokio::sync::Notify;

/// Entries a set's heal queue holds at most.
pub const HEAL_QUEUE_CAPACITY: usize = 100_000;

/// How thoroughly a heal checks the shard files of drives that hold the agreed version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum HealScan {
    /// Each part's file is there, long enough, and its last frame passes its checksum.
    #[default]
    Normal,
    /// Every frame of every shard file passes its checksum (reads all shards).
    Deep,
}

/// A request to heal one object, handed to a reader so a lost shard queues a heal.
pub(crate) struct HealHint {
    queue: Arc<HealQueue>,
    bucket: String,
    key: String,
}

impl HealHint {
    /// A hint that queues `bucket/key` on `queue`.
    pub(crate) fn new(queue: Arc<HealQueue>, bucket: &str, key: &str) -> Self {
        Self {
            queue,
            bucket: bucket.to_string(),
            key: key.to_string(),
        }
    }

    /// Queues a deep heal of the object (never waits for the heal itself).
    pub async fn fire(self) {
        if self
            .queue
            .push(&self.bucket, &self.key, HealScan::Deep)
            .await
        {
            tracing::info!(
                bucket = self.bucket,
                key = self.key,
                "lost shard: heal queued"
            );
        }
    }
}

/// One object waiting for a heal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HealEntry {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// How thoroughly to check the object's shards.
    pub scan: HealScan,
    /// Heals of this entry that failed so far (waits for offline drives do not count).
    pub attempts: u32,
}

#[derive(Default)]
struct State {
    order: VecDeque<(String, String)>,
    /// Per queued object: its scan and failed attempts.
    queued: HashMap<(String, String), (HealScan, u32)>,
    /// A push was dropped since the queue last had room.
    warned_full: bool,
}

/// A bounded, deduplicated FIFO of objects to heal.
pub(crate) struct HealQueue {
    state: Mutex<State>,
    ready: Notify,
    capacity: usize,
}

impl HealQueue {
    /// An empty queue holding at most `capacity` objects.
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            capacity,
        }
    }

    /// Queues `bucket/key`; false when it was queued already or the queue is full.
    pub async fn push(&self, bucket: &str, key: &str, scan: HealScan) -> bool {
        let queued = self
            .insert(HealEntry {
                bucket: bucket.to_string(),
                key: key.to_string(),
                scan,
                attempts: 0,
            })
            .await;
        if queued {
            tracing::debug!(bucket, key, ?scan, "heal queued");
        }
        queued
    }

    /// Puts an entry back at the end of the queue, keeping its attempt count.
    pub async fn requeue(&self, entry: HealEntry) -> bool {
        self.insert(entry).await
    }

    async fn insert(&self, entry: HealEntry) -> bool {
        let mut state = self.state.lock().await;
        let id = (entry.bucket, entry.key);
        if let Some((scan, _)) = state.queued.get_mut(&id) {
            *scan = (*scan).max(entry.scan);
            return false;
        }
        if state.order.len() >= self.capacity {
            if !state.warned_full {
                state.warned_full = true;
                tracing::warn!(
                    capacity = self.capacity,
                    bucket = id.0,
                    key = id.1,
                    "heal queue full: dropping heals until it drains (run `tessera admin heal`)"
                );
            }
            return false;
        }
        state
            .queued
            .insert(id.clone(), (entry.scan, entry.attempts));
        state.order.push_back(id);
        drop(state);
        self.ready.notify_one();
        true
    }

    /// The oldest entry, if any.
    pub async fn pop(&self) -> Option<HealEntry> {
        let mut state = self.state.lock().await;
        let id = state.order.pop_front()?;
        let (scan, attempts) = state.queued.remove(&id).unwrap_or((HealScan::Normal, 0));
        if state.order.len() < self.capacity {
            state.warned_full = false;
        }
        Some(HealEntry {
            bucket: id.0,
            key: id.1,
            scan,
            attempts,
        })
    }

    /// Waits until an entry may have been pushed since the last `pop` found none.
    pub async fn pushed(&self) {
        self.ready.notified().await;
    }

    /// Objects waiting.
    pub async fn len(&self) -> usize {
        self.state.lock().await.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pushes_are_deduplicated_and_raise_the_scan() {
        let q = HealQueue::new(10);
        assert!(q.push("b", "k", HealScan::Normal).await);
        assert!(!q.push("b", "k", HealScan::Deep).await);
        assert!(q.push("b", "j", HealScan::Normal).await);
        assert_eq!(q.len().await, 2);
        let first = q.pop().await.unwrap();
        assert_eq!((first.key.as_str(), first.scan), ("k", HealScan::Deep));
        assert_eq!(q.pop().await.unwrap().key, "j");
        assert!(q.pop().await.is_none());
    }

    #[tokio::test]
    async fn a_full_queue_drops_new_entries_and_takes_them_again_once_drained() {
        let q = HealQueue::new(2);
        assert!(q.push("b", "1", HealScan::Normal).await);
        assert!(q.push("b", "2", HealScan::Normal).await);
        assert!(!q.push("b", "3", HealScan::Normal).await);
        assert_eq!(q.len().await, 2);
        let mut e = q.pop().await.unwrap();
        e.attempts = 3;
        assert!(q.push("b", "3", HealScan::Normal).await);
        assert!(!q.requeue(e.clone()).await);
        q.pop().await.unwrap();
        assert!(q.requeue(e).await);
        q.pop().await.unwrap();
        assert_eq!(q.pop().await.unwrap().attempts, 3);
    }

    #[tokio::test]
    async fn a_push_wakes_a_waiting_healer() {
        let q = std::sync::Arc::new(HealQueue::new(4));
        let waiter = tokio::spawn({
            let q = q.clone();
            async move {
                q.pushed().await;
                q.pop().await
            }
        });
        tokio::task::yield_now().await;
        q.push("b", "k", HealScan::Normal).await;
        assert_eq!(waiter.await.unwrap().unwrap().key, "k");
    }
}
