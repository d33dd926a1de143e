//! Turning the topology's drives into an ObjectLayer: format a fresh deployment once, or
//! check every drive's `format.json` against the others and the command line; then build
//! pools and sets over the drives with the node's namespace locks.
//!
//! Invariants: a formatted deployment's layout comes from disk, never from the command line;
//! a drive is accepted only at the place its format names (reordered drives and drives of
//! another deployment refuse the start); a blank drive among formatted ones is a
//! replacement and takes the identity of its place (formatted by the node that owns it),
//! and so is a drive whose `format.json` is corrupt, but only while more than half of all
//! drives agree on the layout (else the start is refused); a drive that does not answer or
//! cannot be read starts offline, and a single node starts only when every set keeps its
//! write quorum without its offline drives; a new deployment is formatted only when every
//! drive answers blank; `tmp/` of this node's drives is emptied on every start.
//!
//! Tested end to end by `tests/e2e/format.rs`, `tests/e2e/drive_faults.rs` and the
//! cluster suite.

use std::sync::Arc;

use crate::drive::format::{
    DISTRIBUTION_SIPMOD, FORMAT_VERSION, Format, PoolFormat, read_format, write_format,
};
use crate::drive::{Drive, DriveError, META_VOLUME, TMP_DIR, TRASH_DIR};
use crate::erasure::{ErasureSet, SetConfig};
use crate::layout::{Placement, check_parity, default_parity, write_quorum};
use crate::lock::NamespaceLock;
use crate::metrics::Metrics;
use crate::object::{ObjectLayer, Pool};

use super::ServerError;
use super::topology::Topology;

/// What a drive's `format.json` says, as far as it can be read.
pub(super) enum DriveState {
    /// Formatted.
    Formatted(Format),
    /// No format: a fresh or replaced drive.
    Blank,
    /// A `format.json` that is no format (garbage, empty, unknown version): why.
    Corrupt(String),
    /// Did not answer (its node is down, the drive is damaged) or its format cannot be
    /// read: why.
    Offline(String),
}

fn drive_error(d: &dyn Drive, source: DriveError) -> ServerError {
    ServerError::Drive {
        drive: d.endpoint().to_string(),
        source,
    }
}

/// Reads a drive's format.
pub(super) async fn read_state(d: &dyn Drive) -> DriveState {
    match read_format(d).await {
        Ok(f) => DriveState::Formatted(f),
        Err(DriveError::Unformatted) => DriveState::Blank,
        Err(e @ DriveError::Corrupt { .. }) => DriveState::Corrupt(e.to_string()),
        Err(DriveError::Offline { reason }) => DriveState::Offline(reason),
        Err(e) => DriveState::Offline(format!("cannot read its format: {e}")),
    }
}

/// The format of a new deployment over the topology's pools (not written yet).
pub(super) fn fresh_format(
    topology: &Topology,
    parity: Option<usize>,
) -> Result<(Format, Vec<String>), ServerError> {
    let mut ids = Vec::new();
    let mut pools = Vec::new();
    for pool in &topology.pools {
        let size = pool.set_size;
        let parity = parity.unwrap_or_else(|| default_parity(size));
        check_parity(parity, size)?;
        let pool_ids: Vec<String> = pool
            .drives
            .iter()
            .map(|_| uuid::Uuid::new_v4().to_string())
            .collect();
        pools.push(PoolFormat {
            parity,
            sets: pool_ids.chunks(size).map(<[String]>::to_vec).collect(),
        });
        ids.extend(pool_ids);
    }
    let format = Format {
        version: FORMAT_VERSION,
        deployment_id: uuid::Uuid::new_v4().to_string(),
        this: String::new(),
        distribution: DISTRIBUTION_SIPMOD.into(),
        pools,
    };
    Ok((format, ids))
}

/// Formats every drive of a new deployment.
pub(super) async fn format_fresh(
    drives: &[Arc<dyn Drive>],
    topology: &Topology,
    parity: Option<usize>,
) -> Result<Format, ServerError> {
    let (reference, ids) = fresh_format(topology, parity)?;
    for (d, id) in drives.iter().zip(&ids) {
        write_format(d.as_ref(), &reference.for_drive(id))
            .await
            .map_err(|e| drive_error(d.as_ref(), e))?;
    }
    tracing::info!(
        deployment = %reference.deployment_id,
        drives = drives.len(),
        pools = reference.pools.len(),
        sets = reference.pools.iter().map(|p| p.sets.len()).sum::<usize>(),
        "formatted a new deployment"
    );
    Ok(reference)
}

/// The layout most formatted drives share, and how many share it.
pub(super) fn majority_format(states: &[DriveState]) -> Option<(Format, usize)> {
    let present: Vec<&Format> = states
        .iter()
        .filter_map(|s| match s {
            DriveState::Formatted(f) => Some(f),
            _ => None,
        })
        .collect();
    present
        .iter()
        .map(|f| (*f, present.iter().filter(|g| g.same_layout(f)).count()))
        .max_by_key(|(_, n)| *n)
        .map(|(f, n)| (f.clone(), n))
}

/// Drive ids of `reference` in set order, pool after pool.
pub(super) fn expected_ids(reference: &Format) -> Vec<&String> {
    reference
        .pools
        .iter()
        .flat_map(|p| p.sets.iter().flatten())
        .collect()
}

/// Checks that the command line's pools match the deployment's and that every formatted
/// drive sits at its place.
pub(super) fn check_layout(
    drives: &[Arc<dyn Drive>],
    states: &[DriveState],
    reference: &Format,
    topology: &Topology,
) -> Result<(), ServerError> {
    let shape: Vec<(usize, usize)> = topology
        .pools
        .iter()
        .map(|p| (p.drives.len(), p.set_size))
        .collect();
    let formatted: Vec<(usize, usize)> = reference
        .pools
        .iter()
        .map(|p| {
            let size = p.sets.first().map_or(0, Vec::len);
            (p.sets.len() * size, size)
        })
        .collect();
    let (given, expected): (usize, usize) = (
        shape.iter().map(|p| p.0).sum(),
        formatted.iter().map(|p| p.0).sum(),
    );
    if given != expected {
        return Err(ServerError::Format(format!(
            "the deployment {} has {expected} drives but {given} were given",
            reference.deployment_id
        )));
    }
    if shape != formatted {
        return Err(ServerError::Format(format!(
            "the deployment {} has pools of {:?} (drives, set size) but the command line gives {:?}",
            reference.deployment_id, formatted, shape
        )));
    }
    let expected = expected_ids(reference);
    for (i, (d, state)) in drives.iter().zip(states).enumerate() {
        let DriveState::Formatted(f) = state else {
            continue;
        };
        if !f.same_layout(reference) {
            return Err(ServerError::Format(format!(
                "drive {} belongs to another deployment ({}, expected {}): refusing to start",
                d.endpoint(),
                f.deployment_id,
                reference.deployment_id
            )));
        }
        if expected[i] != &f.this {
            let place = expected
                .iter()
                .position(|id| *id == &f.this)
                .map_or("no place".to_string(), |p| format!("place {}", p + 1));
            return Err(ServerError::Format(format!(
                "drive {} is listed at place {} but was formatted for {place}: drives reordered? \
                 Give the drives in their original order",
                d.endpoint(),
                i + 1
            )));
        }
    }
    Ok(())
}

/// What a start does with the drives beside those whose format it accepts.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// Drives this node formats as replacements (blank, or their `format.json` corrupt):
    /// place and what is wrong, for the log.
    pub format: Vec<(usize, String)>,
    /// Drives that start offline: place and why.
    pub offline: Vec<(usize, String)>,
}

/// Plans the start over `states` (checked against `reference` by [`check_layout`]), of
/// which `agree` share the reference's layout; this node formats the drives for which
/// `mine(i)` holds. A corrupt `format.json` is rewritten only while more than half of all
/// drives agree on the layout, else the start is refused.
pub(super) fn plan(
    drives: &[Arc<dyn Drive>],
    states: &[DriveState],
    agree: usize,
    mine: impl Fn(usize) -> bool,
) -> Result<Plan, ServerError> {
    let mut plan = Plan::default();
    for (i, (d, state)) in drives.iter().zip(states).enumerate() {
        match state {
            DriveState::Formatted(_) => {}
            DriveState::Blank if mine(i) => plan
                .format
                .push((i, "blank drive in a formatted deployment".into())),
            DriveState::Corrupt(why) if agree > drives.len() / 2 => {
                if mine(i) {
                    plan.format.push((
                        i,
                        format!(
                            "{why}; {agree} of {} drives agree on the layout",
                            drives.len()
                        ),
                    ));
                }
            }
            DriveState::Corrupt(why) => {
                return Err(ServerError::Format(format!(
                    "drive {}: {why}; only {agree} of {} drives agree on the layout, too few \
                     to rewrite it: refusing to start",
                    d.endpoint(),
                    drives.len()
                )));
            }
            DriveState::Offline(why) => plan.offline.push((i, why.clone())),
            DriveState::Blank => {}
        }
    }
    Ok(plan)
}

/// Refuses the start when a set of `reference` keeps fewer drives than its write quorum
/// without the drives `offline` names.
pub(super) fn check_quorum(
    drives: &[Arc<dyn Drive>],
    offline: &[(usize, String)],
    reference: &Format,
) -> Result<(), ServerError> {
    let mut first = 0;
    for (p, pool) in reference.pools.iter().enumerate() {
        for (s, set) in pool.sets.iter().enumerate() {
            let places = first..first + set.len();
            first += set.len();
            let down: Vec<String> = offline
                .iter()
                .filter(|(i, _)| places.contains(i))
                .map(|(i, why)| format!("{}: {why}", drives[*i].endpoint()))
                .collect();
            let quorum = write_quorum(set.len() - pool.parity, pool.parity);
            let usable = set.len() - down.len();
            if usable < quorum {
                return Err(ServerError::Quorum {
                    pool: p + 1,
                    set: s + 1,
                    usable,
                    size: set.len(),
                    quorum,
                    down: down.join("; "),
                });
            }
        }
    }
    Ok(())
}

/// Formats the drives `plan` names as replacements, one log line each; a drive whose
/// format cannot be written moves to the plan's offline drives. Returns how many were
/// formatted.
pub(super) async fn format_planned(
    drives: &[Arc<dyn Drive>],
    plan: &mut Plan,
    reference: &Format,
) -> usize {
    let expected = expected_ids(reference);
    let mut replaced = 0;
    for (i, why) in std::mem::take(&mut plan.format) {
        let d = drives[i].as_ref();
        tracing::warn!(
            drive = d.endpoint(),
            "{why}: formatting it as a replacement"
        );
        match write_format(d, &reference.for_drive(expected[i])).await {
            Ok(()) => replaced += 1,
            Err(e) => plan
                .offline
                .push((i, format!("cannot write its format: {e}"))),
        }
    }
    replaced
}

/// The deployment's format, the blank drives this node formatted as replacements (they
/// need healing), and the drives that start offline.
pub(super) struct Formatted {
    /// The format every drive agrees on.
    pub format: Format,
    /// Replacement drives formatted at this start.
    pub replaced: usize,
    /// Drives that start offline: place and why (this node's own and, in a cluster,
    /// others').
    pub offline: Vec<(usize, String)>,
}

/// The refusal of a start where no drive holds a readable format but some hold a corrupt
/// one: the layout is unknown, and a new deployment must not be formatted over data.
pub(super) fn corrupt_without_format(
    drives: &[Arc<dyn Drive>],
    states: &[DriveState],
) -> Option<ServerError> {
    drives
        .iter()
        .zip(states)
        .find_map(|(d, state)| match state {
            DriveState::Corrupt(why) => Some(ServerError::Format(format!(
                "drive {}: {why}, and no drive holds a readable format: refusing to format \
                 a new deployment over it",
                d.endpoint()
            ))),
            _ => None,
        })
}

/// Checks that a new deployment may be formatted: every drive answers blank (none is
/// offline or holds a corrupt `format.json`).
pub(super) fn check_fresh(
    drives: &[Arc<dyn Drive>],
    states: &[DriveState],
) -> Result<(), ServerError> {
    if let Some(refused) = corrupt_without_format(drives, states) {
        return Err(refused);
    }
    for (d, state) in drives.iter().zip(states) {
        if let DriveState::Offline(why) = state {
            return Err(ServerError::Format(format!(
                "drive {}: {why}: a new deployment is formatted only when every drive answers",
                d.endpoint()
            )));
        }
    }
    Ok(())
}

/// Opens a single-node deployment: every drive is local; those that cannot be used start
/// offline while every set keeps its write quorum.
pub(super) async fn single_node_format(
    drives: &[Arc<dyn Drive>],
    topology: &Topology,
    parity: Option<usize>,
) -> Result<Formatted, ServerError> {
    let mut states = Vec::with_capacity(drives.len());
    for d in drives {
        states.push(read_state(d.as_ref()).await);
    }
    let Some((reference, agree)) = majority_format(&states) else {
        check_fresh(drives, &states)?;
        let format = format_fresh(drives, topology, parity).await?;
        return Ok(Formatted {
            format,
            replaced: 0,
            offline: Vec::new(),
        });
    };
    check_layout(drives, &states, &reference, topology)?;
    let mut plan = plan(drives, &states, agree, |_| true)?;
    check_quorum(drives, &plan.offline, &reference)?;
    let replaced = format_planned(drives, &mut plan, &reference).await;
    check_quorum(drives, &plan.offline, &reference)?;
    Ok(Formatted {
        format: reference,
        replaced,
        offline: plan.offline,
    })
}

/// Empties the staging directory and the trash of `drives` (this node's own): no GET of
/// this run can be reading what an earlier run trashed.
pub(super) async fn empty_tmp_and_trash(drives: &[Arc<dyn Drive>]) {
    for d in drives {
        let _ = d.delete(META_VOLUME, TMP_DIR, true).await;
        let _ = d.delete(META_VOLUME, TRASH_DIR, true).await;
    }
}

/// Pools and sets over `drives` (in set order) as `format` lays them out.
pub(super) fn build_layer(
    drives: Vec<Arc<dyn Drive>>,
    format: &Format,
    locks: Arc<dyn NamespaceLock>,
    commit_pause: Option<std::time::Duration>,
    metrics: &Arc<Metrics>,
) -> Result<ObjectLayer, ServerError> {
    let deployment = uuid::Uuid::parse_str(&format.deployment_id)
        .map_err(|_| ServerError::Format(format!("bad deployment id {}", format.deployment_id)))?;
    let mut next = drives.into_iter();
    let mut pools = Vec::new();
    for (p, pool) in format.pools.iter().enumerate() {
        let placement = Placement::new(&deployment, pool.sets.len());
        let mut sets = Vec::new();
        for (s, ids) in pool.sets.iter().enumerate() {
            let set_drives: Vec<Arc<dyn Drive>> = next.by_ref().take(ids.len()).collect();
            let set = ErasureSet::new(SetConfig {
                pool: p,
                index: s,
                drives: set_drives,
                parity: pool.parity,
                placement,
                locks: locks.clone(),
                commit_pause,
                metrics: Some(metrics.clone()),
            })
            .map_err(|e| ServerError::Format(e.to_string()))?;
            sets.push(Arc::new(set));
        }
        pools.push(Pool { sets, placement });
    }
    Ok(ObjectLayer::new(format.deployment_id.clone(), pools).reporting_to(metrics))
}
