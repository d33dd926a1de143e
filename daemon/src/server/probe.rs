//! This node's drives that cannot be used at start: marked offline with one log line each
//! saying what is wrong, then probed every [`PROBE_EVERY`] until they open and carry (or
//! take) the deployment's format; then they go online and every bucket is healed onto
//! them. Also the heal that fills replacement drives formatted at start.
//!
//! Invariants: a probed drive goes online only with the format of its own place in the
//! deployment agreed at start: an intact one, or one written by the probe because the
//! drive came back blank or with a corrupt `format.json` (logged); a drive formatted for
//! another place or deployment stays offline; its `tmp/` and trash are emptied before it
//! goes online; a probe logs when what is wrong with a drive changes and when it is back,
//! not at every round; the task ends once every drive is back.
//!
//! Tested end to end by `tests/e2e/drive_faults.rs`.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::bootstrap::{DriveState, expected_ids, read_state};
use crate::drive::format::{Format, write_format};
use crate::drive::local::LocalDrive;
use crate::drive::slot::LocalSlot;
use crate::drive::{Drive, META_VOLUME, TMP_DIR, TRASH_DIR};
use crate::metrics::{DriveCounters, Metrics};
use crate::object::{HealScan, ObjectLayer};

/// How often an offline drive is probed.
pub(super) const PROBE_EVERY: Duration = Duration::from_secs(3);

/// One of this node's drives waiting offline.
pub(super) struct Standby {
    slot: Arc<LocalSlot>,
    /// The drive's id at its place in the deployment.
    id: String,
    /// What was last logged as wrong with it.
    logged: String,
}

/// Takes this node's drives among `offline` (place, why) offline, one log line each, and
/// returns them for [`spawn`]. `slots` are this node's drives by place.
pub(super) fn mark_offline(
    slots: &[(usize, Arc<LocalSlot>)],
    offline: &[(usize, String)],
    format: &Format,
) -> Vec<Standby> {
    let ids = expected_ids(format);
    let mut standby = Vec::new();
    for (place, why) in offline {
        let Some((_, slot)) = slots.iter().find(|(p, _)| p == place) else {
            continue;
        };
        let Some(id) = ids.get(*place) else {
            continue;
        };
        tracing::warn!(
            drive = slot.endpoint(),
            "drive offline: {why}; the node runs without it and probes it every {PROBE_EVERY:?}"
        );
        slot.set_offline(why.clone());
        standby.push(Standby {
            slot: slot.clone(),
            id: (*id).clone(),
            logged: why.clone(),
        });
    }
    standby
}

/// Probes the `standby` drives until every one is back; `None` when there is none.
/// Abort the task to stop it.
pub(super) fn spawn(
    standby: Vec<Standby>,
    format: Format,
    layer: Arc<ObjectLayer>,
    metrics: Arc<Metrics>,
) -> Option<JoinHandle<()>> {
    (!standby.is_empty()).then(|| tokio::spawn(run(standby, format, layer, metrics)))
}

async fn run(
    mut standby: Vec<Standby>,
    format: Format,
    layer: Arc<ObjectLayer>,
    metrics: Arc<Metrics>,
) {
    let start = tokio::time::Instant::now() + PROBE_EVERY;
    let mut tick = tokio::time::interval_at(start, PROBE_EVERY);
    while !standby.is_empty() {
        tick.tick().await;
        let mut back = Vec::new();
        let mut waiting = Vec::new();
        for mut s in standby {
            match probe(&s, &format).await {
                Ok(drive) => {
                    s.slot.set_online(drive);
                    tracing::info!(
                        drive = s.slot.endpoint(),
                        "drive back online; healing onto it"
                    );
                    back.push(metrics.drive(s.slot.endpoint()));
                }
                Err(why) => {
                    if why != s.logged {
                        tracing::warn!(drive = s.slot.endpoint(), "drive still offline: {why}");
                        s.slot.set_offline(why.clone());
                        s.logged = why;
                    }
                    waiting.push(s);
                }
            }
        }
        standby = waiting;
        if !back.is_empty() {
            tokio::spawn(heal_all(layer.clone(), back));
        }
    }
}

/// Opens the drive's directory afresh and checks its format, writing the format of its
/// place when it is blank or corrupt; the opened drive once it can go online, else what is
/// wrong with it.
async fn probe(s: &Standby, reference: &Format) -> Result<LocalDrive, String> {
    let slot = s.slot.clone();
    let drive = tokio::task::spawn_blocking(move || slot.reopen())
        .await
        .map_err(|e| format!("probe failed: {e}"))??;
    let endpoint = s.slot.endpoint();
    let rewrite = match read_state(&drive).await {
        DriveState::Formatted(f) if f.same_layout(reference) && f.this == s.id => None,
        DriveState::Formatted(f) if f.same_layout(reference) => {
            return Err(format!(
                "formatted for another place ({}) of this deployment: drives swapped?",
                f.position().map_or("none".into(), |(p, s, i)| format!(
                    "pool {}, set {}, drive {}",
                    p + 1,
                    s + 1,
                    i + 1
                ))
            ));
        }
        DriveState::Formatted(f) => {
            return Err(format!(
                "belongs to another deployment ({}, expected {})",
                f.deployment_id, reference.deployment_id
            ));
        }
        DriveState::Blank => Some("blank drive back".to_string()),
        DriveState::Corrupt(why) => Some(format!("drive back with {why}")),
        DriveState::Offline(why) => return Err(why),
    };
    if let Some(why) = rewrite {
        tracing::warn!(drive = endpoint, "{why}: formatting it as a replacement");
        write_format(&drive, &reference.for_drive(&s.id))
            .await
            .map_err(|e| format!("cannot write its format: {e}"))?;
    }
    // Staging and trash of an earlier run: nothing of this run can be in them.
    let _ = drive.delete(META_VOLUME, TMP_DIR, true).await;
    let _ = drive.delete(META_VOLUME, TRASH_DIR, true).await;
    Ok(drive)
}

/// Heals every bucket (volumes, records, objects): fills drives that were formatted as
/// replacements or came back; `healing` (those drives' counters) report `healing` meanwhile.
pub(super) async fn heal_all(layer: Arc<ObjectLayer>, healing: Vec<DriveCounters>) {
    healing.iter().for_each(|d| d.set_healing(true));
    heal_buckets(&layer).await;
    healing.iter().for_each(|d| d.set_healing(false));
}

async fn heal_buckets(layer: &ObjectLayer) {
    let buckets = match layer.list_buckets().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list buckets to heal returned drives");
            return;
        }
    };
    for bucket in buckets {
        match layer.heal_bucket(&bucket.name, "", HealScan::Normal).await {
            Ok(summary) => {
                tracing::info!(bucket = %bucket.name, ?summary, "healed onto returned drives")
            }
            Err(e) => tracing::warn!(bucket = %bucket.name, error = %e, "heal failed"),
        }
    }
}
