//! Healing on the object core: one object, a whole bucket (or prefix) across every set,
//! bucket volumes, and starting the background healers of all sets.
//!
//! Invariants: a bucket exists when the first set says so by quorum (as for every other
//! bucket operation); a drive lacking an existing bucket's volume gets it created, and a
//! drive still holding a deleted bucket's volume loses it only when the drives holding it,
//! offline ones included, are too few for a read quorum in that set. Object heals are the
//! erasure layer's (`crate::erasure::Healer::heal_object`).
//!
//! Tested by the erasure layer's heal tests and `heal_bucket` tests there.

use super::bucket::record_path;
use super::validate::{check_bucket_name, check_prefix};
use super::{ObjectError, ObjectLayer};
use crate::drive::{DriveError, META_VOLUME, MULTIPART_DIR, Target};
use crate::erasure::{HealOutcome, HealScan, HealSummary, HealerConfig, HealerHandle, Tally};

impl ObjectLayer {
    /// Heals one object (deep scan): see [`crate::erasure::Healer::heal_object`].
    pub async fn heal_object(&self, bucket: &str, key: &str) -> Result<HealOutcome, ObjectError> {
        Self::check(bucket, key)?;
        let set = self.set_of(bucket, key).await;
        Ok(set.healer().heal_object(bucket, key).await?)
    }

    /// Heals a bucket: its volume on every drive of every set, its record, then every
    /// object whose key starts with `prefix` (in every set; leftovers of deleted objects
    /// included). When the bucket does not exist but some drives still hold its volume,
    /// those leftovers are removed and the summary counts them; `BucketNotFound` when
    /// there was nothing to remove.
    pub async fn heal_bucket(
        &self,
        bucket: &str,
        prefix: &str,
        scan: HealScan,
    ) -> Result<HealSummary, ObjectError> {
        check_bucket_name(bucket)?;
        check_prefix(prefix)?;
        let mut summary = HealSummary::default();
        match self.check_bucket(bucket).await {
            Ok(()) => {}
            Err(ObjectError::BucketNotFound { .. }) => {
                summary.volumes_removed = self.remove_leftover_bucket(bucket).await;
                if summary.volumes_removed == 0 {
                    return Err(ObjectError::BucketNotFound {
                        bucket: bucket.into(),
                    });
                }
                return Ok(summary);
            }
            Err(e) => return Err(e),
        }
        summary.volumes_created = self.heal_bucket_volumes(bucket).await;
        for set in self.sets() {
            summary.add(&set.healer().heal_prefix(bucket, prefix, scan).await?);
        }
        Ok(summary)
    }

    /// Starts the background healers: one per set, draining its heal queue. Keep the
    /// handle; dropping it stops them.
    pub fn spawn_healer(&self, config: HealerConfig) -> HealerHandle {
        HealerHandle::start(self.sets().map(|s| s.healer().clone()), config)
    }

    /// Objects waiting in the heal queues of all sets.
    pub async fn queued_heals(&self) -> usize {
        let mut n = 0;
        for set in self.sets() {
            n += set.healer().queued_heals().await;
        }
        n
    }

    /// Creates an existing bucket's volume where a drive lacks it and copies its record to
    /// the first set's drives that lack it. Returns how many volumes were created.
    async fn heal_bucket_volumes(&self, bucket: &str) -> u64 {
        let mut created = 0;
        for set in self.sets() {
            let stats = set.drives().stat_volume(bucket).await;
            let made = (set.drives())
                .each(|d, drive| {
                    let missing = matches!(stats[d], Err(DriveError::VolumeNotFound { .. }));
                    async move {
                        if !missing {
                            return Ok(false);
                        }
                        drive.make_volume(bucket).await.map(|()| true)
                    }
                })
                .await;
            for (drive, r) in set.drives().all().iter().zip(made) {
                match r {
                    Ok(true) => {
                        tracing::info!(drive = drive.endpoint(), bucket, "healed bucket volume");
                        created += 1;
                    }
                    Ok(false) | Err(DriveError::VolumeExists { .. }) => {}
                    Err(e) => {
                        tracing::warn!(drive = drive.endpoint(), bucket, error = %e, "cannot heal bucket volume");
                    }
                }
            }
        }
        let first = self.first_set();
        let path = record_path(bucket);
        if let Ok(record) = first.drives().read_record(META_VOLUME, &path).await {
            let _ = (first.drives())
                .each(|_, drive| {
                    let (record, path) = (record.clone(), &path);
                    async move {
                        match drive.read_all(META_VOLUME, path).await {
                            Ok(r) if r == record => Ok(()),
                            Ok(_) | Err(DriveError::NotFound { .. }) => {
                                drive
                                    .write_all(META_VOLUME, path, record, Target::Replace)
                                    .await
                            }
                            Err(e) => Err(e),
                        }
                    }
                })
                .await;
        }
        created
    }

    /// Removes a deleted bucket's leftover volumes (and uploads and record) from the drives
    /// that still hold them, in each set where they cannot make up a read quorum even with
    /// the offline drives. Returns how many volumes were removed.
    async fn remove_leftover_bucket(&self, bucket: &str) -> u64 {
        let mut removed = 0;
        for set in self.sets() {
            let stats = set.drives().stat_volume(bucket).await;
            // Holders and offline drives (which may hold it too) that make a read quorum
            // keep the bucket.
            let tally = Tally::of(&stats);
            if tally.done == 0 || tally.done + tally.silent >= set.drives().data_shards() {
                continue;
            }
            let uploads = format!("{MULTIPART_DIR}/{bucket}");
            let path = record_path(bucket);
            let results = (set.drives())
                .each(|d, drive| {
                    let holds = stats[d].is_ok();
                    let (uploads, path) = (&uploads, &path);
                    async move {
                        if !holds {
                            return Ok(false);
                        }
                        drive.delete_volume(bucket).await?;
                        let _ = drive.delete(META_VOLUME, uploads, true).await;
                        let _ = drive.delete(META_VOLUME, path, false).await;
                        Ok::<_, DriveError>(true)
                    }
                })
                .await;
            for (drive, r) in set.drives().all().iter().zip(results) {
                match r {
                    Ok(true) => {
                        tracing::info!(
                            drive = drive.endpoint(),
                            bucket,
                            "removed leftover volume of a deleted bucket"
                        );
                        removed += 1;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(drive = drive.endpoint(), bucket, error = %e, "cannot remove leftover bucket volume");
                    }
                }
            }
        }
        removed
    }
}
