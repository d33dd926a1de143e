//! Healing every object of a bucket (or of a prefix of it) in one set: the drives walk the
//! bucket a page at a time and every name any drive holds is healed.
//!
//! Invariant: names are the union of the drives' pages, not the quorum listing, so a
//! leftover of a deleted object (held by fewer than k drives) is found and removed; a page
//! is trusted only up to the shortest truncated drive page, as in `list`. Memory: one page
//! of names per drive.

use std::collections::BTreeSet;

use super::{HealOutcome, HealScan};
use crate::drive::{WalkOptions, WalkPage};
use crate::erasure::ErasureError;
use crate::erasure::quorum::{Verdict, first_error, verdict};
use crate::erasure::set::ErasureSet;

/// Names walked per drive and page.
const PAGE: usize = 1000;

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

impl ErasureSet {
    /// Heals every object of `bucket` in this set whose key starts with `prefix`.
    /// `BucketNotFound` when at least k drives lack the bucket; `ReadQuorum` when fewer
    /// than k drives can walk it. A failed object is counted and the walk goes on.
    pub async fn heal_prefix(
        &self,
        bucket: &str,
        prefix: &str,
        scan: HealScan,
    ) -> Result<HealSummary, ErasureError> {
        let k = self.data_shards();
        let mut summary = HealSummary::default();
        let mut opts = WalkOptions {
            prefix: prefix.to_string(),
            start_after: String::new(),
            recursive: true,
            limit: PAGE,
            summaries: false,
        };
        loop {
            let pages = self.each(|_, d| d.walk(bucket, &opts)).await;
            if pages.iter().filter(|p| p.is_ok()).count() < k {
                if verdict(&pages, k) == Verdict::VolumeNotFound {
                    return Err(ErasureError::BucketNotFound {
                        bucket: bucket.into(),
                    });
                }
                return Err(ErasureError::ReadQuorum {
                    what: format!("heal walk of {bucket}"),
                    detail: first_error(&pages),
                });
            }
            let cutoff = WalkPage::cutoff(pages.iter().flatten());
            let names: BTreeSet<&str> = pages
                .iter()
                .flatten()
                .flat_map(|p| &p.entries)
                .map(|e| e.name.as_str())
                .filter(|n| cutoff.as_deref().is_none_or(|c| *n <= c))
                .collect();
            for name in names {
                let result = self.heal_object_with(bucket, name, scan).await;
                if let Err(e) = &result {
                    tracing::warn!(bucket, key = name, error = %e, "heal failed");
                }
                summary.count(name, &result);
            }
            match cutoff {
                Some(c) => opts.start_after = c,
                None => return Ok(summary),
            }
        }
    }
}
