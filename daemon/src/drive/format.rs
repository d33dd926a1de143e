//! `format.json`: the identity of a drive and the layout of the cluster it belongs to.
//!
//! Written once when a fresh deployment is formatted and only read afterwards: the layout
//! (pools, sets, parity, placement algorithm) is never recomputed from the command line.
//! Invariant: a drive's `this` id appears exactly once in `pools`, at the drive's place.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Drive, DriveError, META_VOLUME, Target};

/// The file's path inside [`META_VOLUME`].
pub const FORMAT_FILE: &str = "format.json";
/// The only format version so far.
pub const FORMAT_VERSION: u32 = 1;
/// The object-to-set placement algorithm: SipHash-2-4 keyed by the deployment id, mod sets.
pub const DISTRIBUTION_SIPMOD: &str = "sipmod-2-4";

/// The contents of `format.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Format {
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// The deployment's id (shared by every drive of the cluster).
    pub deployment_id: String,
    /// This drive's id.
    pub this: String,
    /// Placement algorithm tag.
    pub distribution: String,
    /// Pools: each a list of sets, each a list of drive ids in shard order.
    pub pools: Vec<PoolFormat>,
}

/// One pool's layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolFormat {
    /// Parity shards per set.
    pub parity: usize,
    /// Drive ids of each set.
    pub sets: Vec<Vec<String>>,
}

impl Format {
    /// Where the drive with this format sits: (pool, set, index in set).
    pub fn position(&self) -> Option<(usize, usize, usize)> {
        self.position_of(&self.this)
    }

    /// Where the drive `id` sits: (pool, set, index in set).
    pub fn position_of(&self, id: &str) -> Option<(usize, usize, usize)> {
        self.pools.iter().enumerate().find_map(|(p, pool)| {
            pool.sets
                .iter()
                .enumerate()
                .find_map(|(s, set)| set.iter().position(|d| d == id).map(|i| (p, s, i)))
        })
    }

    /// The same layout with another drive's identity.
    pub fn for_drive(&self, id: &str) -> Format {
        Format {
            this: id.to_string(),
            ..self.clone()
        }
    }

    /// True when both describe the same deployment and layout.
    pub fn same_layout(&self, other: &Format) -> bool {
        self.deployment_id == other.deployment_id
            && self.pools == other.pools
            && self.distribution == other.distribution
    }
}

/// Reads a drive's format; `Unformatted` when it has none.
pub async fn read_format(drive: &dyn Drive) -> Result<Format, DriveError> {
    let data = match drive.read_all(META_VOLUME, FORMAT_FILE).await {
        Ok(data) => data,
        Err(e) if e.is_not_found() => return Err(DriveError::Unformatted),
        Err(e) => return Err(e),
    };
    let format: Format = serde_json::from_slice(&data).map_err(|e| DriveError::Corrupt {
        path: FORMAT_FILE.into(),
        reason: e.to_string(),
    })?;
    if format.version != FORMAT_VERSION {
        return Err(DriveError::Corrupt {
            path: FORMAT_FILE.into(),
            reason: format!("unknown format version {}", format.version),
        });
    }
    Ok(format)
}

/// Writes a drive's format durably.
pub async fn write_format(drive: &dyn Drive, format: &Format) -> Result<(), DriveError> {
    let data = serde_json::to_vec_pretty(format).map_err(|e| DriveError::Corrupt {
        path: FORMAT_FILE.into(),
        reason: e.to_string(),
    })?;
    drive
        .write_all(META_VOLUME, FORMAT_FILE, Bytes::from(data), Target::Replace)
        .await
}
