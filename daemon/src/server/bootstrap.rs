//! Turning the topology's drives into an ObjectLayer: format a fresh deployment once, or
//! check every drive's `format.json` against the others and the command line; then build
//! pools and sets over the drives with the node's namespace locks.
//!
//! Invariants: a formatted deployment's layout comes from disk, never from the command line;
//! a drive is accepted only at the place its format names (reordered drives and drives of
//! another deployment refuse the start); a blank drive among formatted ones is a
//! replacement and takes the identity of its place (formatted by the node that owns it);
//! `tmp/` of this node's drives is emptied on every start.

use std::sync::Arc;

use crate::drive::format::{
    DISTRIBUTION_SIPMOD, FORMAT_VERSION, Format, PoolFormat, read_format, write_format,
};
use crate::drive::{Drive, DriveError, META_VOLUME, TMP_DIR, TRASH_DIR};
use crate::erasure::{ErasureSet, SetConfig};
use crate::layout::{Placement, check_parity, default_parity};
use crate::lock::NamespaceLock;
use crate::object::{ObjectLayer, Pool};

use super::ServerError;
use super::topology::Topology;

/// What a drive's `format.json` says, as far as it can be read.
pub(super) enum DriveState {
    /// Formatted.
    Formatted(Format),
    /// No format: a fresh or replaced drive.
    Blank,
    /// Did not answer (its node is down).
    Unreachable,
}

fn drive_error(d: &dyn Drive, source: DriveError) -> ServerError {
    ServerError::Drive {
        drive: d.endpoint().to_string(),
        source,
    }
}

/// Reads a drive's format; a corrupt one stops the start.
pub(super) async fn read_state(d: &dyn Drive) -> Result<DriveState, ServerError> {
    match read_format(d).await {
        Ok(f) => Ok(DriveState::Formatted(f)),
        Err(DriveError::Unformatted) => Ok(DriveState::Blank),
        Err(DriveError::Offline { .. }) => Ok(DriveState::Unreachable),
        Err(source) => Err(drive_error(d, source)),
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
fn expected_ids(reference: &Format) -> Vec<&String> {
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

/// Formats the blank drives of `drives` for which `mine(i)` holds as replacements;
/// returns how many.
pub(super) async fn format_blanks(
    drives: &[Arc<dyn Drive>],
    states: &[DriveState],
    reference: &Format,
    mine: impl Fn(usize) -> bool,
) -> Result<usize, ServerError> {
    let expected = expected_ids(reference);
    let mut replaced = 0;
    for (i, (d, state)) in drives.iter().zip(states).enumerate() {
        if matches!(state, DriveState::Blank) && mine(i) {
            tracing::warn!(
                drive = d.endpoint(),
                "blank drive in a formatted deployment: formatting it as a replacement"
            );
            write_format(d.as_ref(), &reference.for_drive(expected[i]))
                .await
                .map_err(|e| drive_error(d.as_ref(), e))?;
            replaced += 1;
        }
    }
    Ok(replaced)
}

/// The deployment's format, and how many blank drives this node formatted as
/// replacements (they need healing).
pub(super) struct Formatted {
    /// The format every drive agrees on.
    pub format: Format,
    /// Replacement drives formatted at this start.
    pub replaced: usize,
}

/// Opens a single-node deployment: every drive is local and must answer.
pub(super) async fn single_node_format(
    drives: &[Arc<dyn Drive>],
    topology: &Topology,
    parity: Option<usize>,
) -> Result<Formatted, ServerError> {
    let mut states = Vec::with_capacity(drives.len());
    for d in drives {
        states.push(read_state(d.as_ref()).await?);
    }
    let Some((reference, _)) = majority_format(&states) else {
        let format = format_fresh(drives, topology, parity).await?;
        return Ok(Formatted {
            format,
            replaced: 0,
        });
    };
    check_layout(drives, &states, &reference, topology)?;
    let replaced = format_blanks(drives, &states, &reference, |_| true).await?;
    Ok(Formatted {
        format: reference,
        replaced,
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
            })
            .map_err(|e| ServerError::Format(e.to_string()))?;
            sets.push(Arc::new(set));
        }
        pools.push(Pool { sets, placement });
    }
    Ok(ObjectLayer::new(format.deployment_id.clone(), pools))
}
