//! What a heal of many objects did ([`HealSummary`]): counts of what was scanned, repaired,
//! left incomplete and failed, and the first failures by name.

use super::HealOutcome;
use crate::erasure::error::ErasureError;

/// Objects a summary names among those it could not heal (all are counted).
pub const NAMED_FAILURES: usize = 20;

/// Counts of a heal walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealSummary {
    /// Objects looked at.
    pub scanned: u64,
    /// Objects with at least one drive repaired (or a deleted object's leftovers removed).
    pub repaired: u64,
    /// Objects that still lack drives that are offline: heal again once they are back.
    pub incomplete: u64,
    /// Objects whose heal failed, on a drive or as a whole.
    pub failed: u64,
    /// Drives on which the bucket's missing volume was created.
    pub volumes_created: u64,
    /// Drives from which a deleted bucket's leftover volume was removed.
    pub volumes_removed: u64,
    /// The first [`NAMED_FAILURES`] objects that could not be healed: `key: why`.
    pub failures: Vec<String>,
}

impl HealSummary {
    /// Adds the counts of `other`.
    pub fn add(&mut self, other: &HealSummary) {
        self.scanned += other.scanned;
        self.repaired += other.repaired;
        self.incomplete += other.incomplete;
        self.failed += other.failed;
        self.volumes_created += other.volumes_created;
        self.volumes_removed += other.volumes_removed;
        let room = NAMED_FAILURES.saturating_sub(self.failures.len());
        self.failures
            .extend(other.failures.iter().take(room).cloned());
    }

    /// Counts the heal of object `key`.
    pub fn count(&mut self, key: &str, result: &Result<HealOutcome, ErasureError>) {
        self.scanned += 1;
        let failure = match result {
            Ok(o) => {
                self.repaired += u64::from(!o.repaired.is_empty());
                self.incomplete += u64::from(!o.offline.is_empty());
                o.failed
                    .first()
                    .map(|(_, why)| format!("{key}: {} drive(s) failed: {why}", o.failed.len()))
            }
            Err(e) => Some(format!("{key}: {e}")),
        };
        if let Some(failure) = failure {
            self.failed += 1;
            if self.failures.len() < NAMED_FAILURES {
                self.failures.push(failure);
            }
        }
    }
}
