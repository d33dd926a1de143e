//! The background task that applies lifecycle rules: every round it walks each bucket with
//! rules, in the sets this node owns, and expires what [`Lifecycle::due`] names, then
//! aborts the uploads the rules say are abandoned.
//!
//! Invariants: a set is walked by one node only, the one holding its first drive (a set
//! whose first drive is on a node that is down waits for it), so no expiry is done twice;
//! each object is judged once per round; a current version expires only if it is still
//! the one judged (ETag and time), a version only by its id, and object lock is obeyed (a
//! locked version stays, and the round goes on).

use std::sync::Arc;
use std::time::Duration;

use super::lifecycle::{Clock, Due, Lifecycle};
use super::{ObjectError, ObjectLayer};
use crate::drive::WalkOptions;
use crate::erasure::{ErasureSet, ListEntry, now_ns};

/// Objects a walk reads at once.
const PAGE: usize = 1000;

/// How the task runs.
#[derive(Debug, Clone, Copy)]
pub struct ExpiryConfig {
    /// From the start of one round to the next.
    pub interval: Duration,
    /// Seconds in a lifecycle day (86,400; tests shorten it).
    pub day: Duration,
}

impl ObjectLayer {
    /// Starts the lifecycle task; it runs until the handle is aborted.
    pub fn spawn_expiry(self: &Arc<Self>, config: ExpiryConfig) -> tokio::task::JoinHandle<()> {
        let layer = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(config.interval);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let clock = Clock {
                    now: now_ns().div_euclid(1_000_000_000),
                    day: config.day.as_secs().max(1) as i64,
                };
                if let Err(e) = layer.expiry_round(&clock).await {
                    tracing::warn!(error = %e, "lifecycle round failed");
                }
            }
        })
    }

    /// One round over every bucket with lifecycle rules.
    pub async fn expiry_round(&self, clock: &Clock) -> Result<(), ObjectError> {
        for bucket in self.list_buckets().await? {
            let Some(lc) = self.lifecycle(&bucket.name).await? else {
                continue;
            };
            for set in self.sets().filter(|s| owns(s)) {
                if let Err(e) = self.expire_in_set(set, &bucket.name, &lc, clock).await {
                    tracing::warn!(bucket = bucket.name, error = %e, "lifecycle walk failed");
                }
            }
            if lc.rules.iter().any(|r| r.abort_multipart_days.is_some()) {
                for u in self.list_uploads(&bucket.name, "").await? {
                    let own = owns(self.set_of(&bucket.name, &u.key).await);
                    if own && lc.abort_due(&u.key, u.initiated_ns, clock) {
                        let r = self.abort_upload(&bucket.name, &u.key, &u.upload_id).await;
                        log_outcome(&bucket.name, &u.key, "abort upload", r.map(drop));
                    }
                }
            }
        }
        Ok(())
    }

    /// Walks the objects of `bucket` in `set` and expires what is due.
    async fn expire_in_set(
        &self,
        set: &ErasureSet,
        bucket: &str,
        lc: &Lifecycle,
        clock: &Clock,
    ) -> Result<(), ObjectError> {
        let mut opts = WalkOptions {
            recursive: true,
            limit: PAGE,
            summaries: false,
            ..Default::default()
        };
        let versioning = self.bucket_versioning(bucket).await?;
        loop {
            let page = set.list_page(bucket, &opts).await?;
            for entry in &page.entries {
                let ListEntry::Object(key, journal) = entry else {
                    continue;
                };
                for due in lc.due(key, journal, clock) {
                    let r = match &due {
                        Due::Current { .. } => {
                            let judged = (journal.etag.as_str(), journal.mod_time_ns);
                            (set.writes())
                                .delete_if_unchanged(bucket, key, judged, versioning)
                                .await
                                .map_err(ObjectError::from)
                        }
                        Due::Version { id, .. } => {
                            (self.delete_version(bucket, key, Some(id)).await).map(drop)
                        }
                    };
                    log_outcome(bucket, key, "expire", r);
                }
            }
            match page.cutoff {
                Some(c) => opts.start_after = c,
                None => return Ok(()),
            }
        }
    }
}

/// Whether this node walks `set`: it holds the set's first drive.
fn owns(set: &ErasureSet) -> bool {
    !set.drives().get(0).is_remote()
}

fn log_outcome(bucket: &str, key: &str, what: &str, r: Result<(), ObjectError>) {
    match r {
        Ok(()) => tracing::info!(bucket, key, what, "lifecycle"),
        Err(ObjectError::ObjectLocked { .. }) => {
            tracing::info!(bucket, key, what, "lifecycle: locked, kept");
        }
        Err(e) => tracing::warn!(bucket, key, what, error = %e, "lifecycle"),
    }
}
