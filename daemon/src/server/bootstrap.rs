//! Turning a drive list into an ObjectLayer: open the drives, format a fresh deployment
//! once, or check every drive's `format.json` against the others and the command line.
//!
//! Invariants: a formatted deployment's layout comes from disk, never from the command line;
//! a drive is accepted only at the place its format names (reordered drives and drives of
//! another deployment refuse the start); a blank drive among formatted ones is a
//! replacement and takes the identity of its place; `tmp/` is emptied on every start.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::drive::format::{
    DISTRIBUTION_SIPMOD, FORMAT_VERSION, Format, PoolFormat, read_format, write_format,
};
use crate::drive::local::LocalDrive;
use crate::drive::{Drive, DriveError, META_VOLUME, TMP_DIR};
use crate::erasure::{ErasureSet, SetConfig};
use crate::layout::{Placement, check_parity, default_parity, set_size};
use crate::lock::{LocalLocks, NamespaceLock};
use crate::object::{ObjectLayer, Pool};

use super::ServerError;

/// How long a lock request waits before the operation fails as busy.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens (and formats when fresh) the drives at `paths` into an ObjectLayer.
pub async fn open_object_layer(
    paths: &[PathBuf],
    parity: Option<usize>,
) -> Result<ObjectLayer, ServerError> {
    if paths.is_empty() {
        return Err(ServerError::Layout("no drives given".into()));
    }
    for (i, p) in paths.iter().enumerate() {
        if paths[..i].contains(p) {
            return Err(ServerError::Layout(format!(
                "drive {} is given twice",
                p.display()
            )));
        }
    }
    let mut drives: Vec<Arc<dyn Drive>> = Vec::with_capacity(paths.len());
    for p in paths {
        let d = LocalDrive::open(p).map_err(|source| ServerError::Drive {
            drive: p.display().to_string(),
            source,
        })?;
        drives.push(Arc::new(d));
    }
    let mut formats = Vec::with_capacity(drives.len());
    for d in &drives {
        formats.push(match read_format(d.as_ref()).await {
            Ok(f) => Some(f),
            Err(DriveError::Unformatted) => None,
            Err(source) => {
                return Err(ServerError::Drive {
                    drive: d.endpoint().to_string(),
                    source,
                });
            }
        });
    }
    let reference = if formats.iter().all(Option::is_none) {
        format_fresh(&drives, parity).await?
    } else {
        check_formats(&drives, &formats).await?
    };
    for d in &drives {
        let _ = d.delete(META_VOLUME, TMP_DIR, true).await;
    }
    build_layer(drives, &reference)
}

/// Formats every drive of a new deployment.
async fn format_fresh(
    drives: &[Arc<dyn Drive>],
    parity: Option<usize>,
) -> Result<Format, ServerError> {
    let size = set_size(&[drives.len()]).map_err(|e| ServerError::Layout(e.to_string()))?;
    let parity = parity.unwrap_or_else(|| default_parity(size));
    check_parity(parity, size).map_err(|e| ServerError::Layout(e.to_string()))?;
    let ids: Vec<String> = drives
        .iter()
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let reference = Format {
        version: FORMAT_VERSION,
        deployment_id: uuid::Uuid::new_v4().to_string(),
        this: String::new(),
        distribution: DISTRIBUTION_SIPMOD.into(),
        pools: vec![PoolFormat {
            parity,
            sets: ids.chunks(size).map(<[String]>::to_vec).collect(),
        }],
    };
    for (d, id) in drives.iter().zip(&ids) {
        write_format(d.as_ref(), &reference.for_drive(id))
            .await
            .map_err(|source| ServerError::Drive {
                drive: d.endpoint().to_string(),
                source,
            })?;
    }
    tracing::info!(
        deployment = %reference.deployment_id,
        drives = drives.len(),
        sets = drives.len() / size,
        data = size - parity,
        parity,
        "formatted a new deployment"
    );
    Ok(reference)
}

/// Checks the formats of a deployment that exists; formats blank replacement drives.
async fn check_formats(
    drives: &[Arc<dyn Drive>],
    formats: &[Option<Format>],
) -> Result<Format, ServerError> {
    // The layout most drives share is the deployment's.
    let present: Vec<&Format> = formats.iter().flatten().collect();
    let reference = present
        .iter()
        .max_by_key(|f| present.iter().filter(|g| g.same_layout(f)).count())
        .map(|f| (*f).clone())
        .ok_or_else(|| ServerError::Format("no formatted drive".into()))?;
    let expected: Vec<&String> = reference
        .pools
        .iter()
        .flat_map(|p| p.sets.iter().flatten())
        .collect();
    if expected.len() != drives.len() {
        return Err(ServerError::Format(format!(
            "the deployment {} has {} drives but {} were given",
            reference.deployment_id,
            expected.len(),
            drives.len()
        )));
    }
    for (i, (d, f)) in drives.iter().zip(formats).enumerate() {
        let Some(f) = f else { continue };
        if !f.same_layout(&reference) {
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
    for (i, (d, f)) in drives.iter().zip(formats).enumerate() {
        if f.is_none() {
            tracing::warn!(
                drive = d.endpoint(),
                "blank drive in a formatted deployment: formatting it as a replacement"
            );
            write_format(d.as_ref(), &reference.for_drive(expected[i]))
                .await
                .map_err(|source| ServerError::Drive {
                    drive: d.endpoint().to_string(),
                    source,
                })?;
        }
    }
    Ok(reference)
}

fn build_layer(drives: Vec<Arc<dyn Drive>>, format: &Format) -> Result<ObjectLayer, ServerError> {
    let deployment = uuid::Uuid::parse_str(&format.deployment_id)
        .map_err(|_| ServerError::Format(format!("bad deployment id {}", format.deployment_id)))?;
    let locks: Arc<dyn NamespaceLock> = Arc::new(LocalLocks::new(LOCK_TIMEOUT));
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
            })
            .map_err(|e| ServerError::Format(e.to_string()))?;
            sets.push(Arc::new(set));
        }
        pools.push(Pool { sets, placement });
    }
    Ok(ObjectLayer::new(format.deployment_id.clone(), pools))
}
