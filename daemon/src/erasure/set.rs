//! `ErasureSet`: the drives of one set, and the per-set steps every object operation shares:
//! fanning a call out to every drive (grouped calls: `crate::drive::group`), resolving
//! metadata by quorum (reading and writing it is `meta_io`), committing staged data into
//! place (or undoing a commit that missed its quorum), and bucket volumes.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use super::decode::Sources;
use super::heal::queue::{HEAL_QUEUE_CAPACITY, HealQueue, HealScan};
use super::meta::ObjectMeta;
use super::quorum::{Verdict, first_error, verdict, write_lost};
use super::{Codec, ErasureError};
use crate::drive::group::{StatVolume, fan_out};
use crate::drive::{
    Drive, DriveError, META_VOLUME, OBJECT_META_FILE, TMP_DIR, Target, join, object_dir, trash_path,
};
use crate::layout::{Placement, write_quorum};
use crate::lock::{LockGuard, NamespaceLock};

/// How to build a set.
pub struct SetConfig {
    /// Pool index.
    pub pool: usize,
    /// Set index in the pool.
    pub index: usize,
    /// The drives, in set order.
    pub drives: Vec<Arc<dyn Drive>>,
    /// Parity shards per block.
    pub parity: usize,
    /// Object placement (for shard distribution).
    pub placement: Placement,
    /// Namespace locks shared by every set of the node.
    pub locks: Arc<dyn NamespaceLock>,
    /// Testing only: how long a PUT waits between taking its commit lock and committing,
    /// so a test can pause or cut off a node that holds a lock.
    pub commit_pause: Option<std::time::Duration>,
}

/// One erasure set.
pub struct ErasureSet {
    pub(super) pool: usize,
    pub(super) index: usize,
    pub(super) drives: Vec<Arc<dyn Drive>>,
    pub(super) codec: Arc<Codec>,
    pub(super) placement: Placement,
    pub(super) locks: Arc<dyn NamespaceLock>,
    pub(super) commit_pause: Option<std::time::Duration>,
    /// Objects to heal: commits that missed drives, reads that found damage.
    pub(super) heal_queue: Arc<HealQueue>,
}

/// Metadata of an object as the drives of its set hold it.
pub(super) struct Resolved {
    /// The agreed metadata (from one of the agreeing drives).
    pub meta: ObjectMeta,
    /// Per drive: its metadata belongs to the agreed version.
    pub agrees: Vec<bool>,
    /// Per shard index: the drive holding it (among the agreeing ones).
    pub holders: Vec<Option<usize>>,
    /// Per shard index: the inline frame, for inline objects.
    pub inline: Vec<Option<Bytes>>,
}

pub(super) fn meta_path(key: &str) -> String {
    join(&object_dir(key), OBJECT_META_FILE)
}

pub(super) fn tmp_path(id: &str) -> String {
    join(TMP_DIR, id)
}

impl ErasureSet {
    /// Builds a set.
    pub fn new(config: SetConfig) -> Result<Self, ErasureError> {
        let n = config.drives.len();
        let codec = Codec::new(n - config.parity.min(n), config.parity)?;
        Ok(Self {
            pool: config.pool,
            index: config.index,
            drives: config.drives,
            codec: Arc::new(codec),
            placement: config.placement,
            locks: config.locks,
            commit_pause: config.commit_pause,
            heal_queue: Arc::new(HealQueue::new(HEAL_QUEUE_CAPACITY)),
        })
    }

    /// (pool, set) indices.
    pub fn position(&self) -> (usize, usize) {
        (self.pool, self.index)
    }

    /// Whether this node runs the set's background scanner: the node of its first drive,
    /// so one node scans each set instead of every node. A round needs every drive of the
    /// set online, so whenever that node is down no node could scan the set anyway.
    pub fn scans_here(&self) -> bool {
        self.drives.first().is_some_and(|d| !d.is_remote())
    }

    /// The drives, in set order.
    pub fn drives(&self) -> &[Arc<dyn Drive>] {
        &self.drives
    }

    /// Data shards (k), also the read quorum.
    pub fn data_shards(&self) -> usize {
        self.codec.data_shards()
    }

    /// Parity shards (m).
    pub fn parity_shards(&self) -> usize {
        self.codec.parity_shards()
    }

    /// Drives that must accept a write.
    pub fn write_quorum(&self) -> usize {
        write_quorum(self.data_shards(), self.parity_shards())
    }

    /// Runs `f` on every drive concurrently; results in drive order.
    pub async fn each<'a, T, F, Fut>(&'a self, f: F) -> Vec<Result<T, DriveError>>
    where
        F: Fn(usize, &'a Arc<dyn Drive>) -> Fut,
        Fut: Future<Output = Result<T, DriveError>> + 'a,
    {
        futures::future::join_all(self.drives.iter().enumerate().map(|(i, d)| f(i, d))).await
    }

    /// Resolves the metadata of `bucket/key` by quorum.
    pub(super) fn resolve(
        &self,
        bucket: &str,
        key: &str,
        metas: &[Result<(ObjectMeta, Bytes), DriveError>],
    ) -> Result<Resolved, ErasureError> {
        let k = self.data_shards();
        // Votes per version; among versions with as many votes, the newest wins (after a
        // crash mid-commit two complete versions can tie; either is a valid outcome).
        let mut votes: HashMap<&str, (usize, i64)> = HashMap::new();
        for (m, _) in metas.iter().flatten() {
            votes
                .entry(m.version_id.as_str())
                .or_insert((0, m.mod_time_ns))
                .0 += 1;
        }
        let best = votes
            .iter()
            .max_by_key(|(v, (count, time))| (*count, *time, **v))
            .map(|(v, (count, _))| (v.to_string(), *count));
        match best {
            Some((version, count)) if count >= k => {
                let n = self.drives.len();
                let mut agrees = vec![false; n];
                let mut holders = vec![None; self.codec.total_shards()];
                let mut inline = vec![None; self.codec.total_shards()];
                let mut meta = None;
                for (d, r) in metas.iter().enumerate() {
                    let Ok((m, frame)) = r else { continue };
                    if m.version_id != version {
                        continue;
                    }
                    agrees[d] = true;
                    let shard = m.erasure.as_ref().map_or(d, |e| e.shard_index as usize);
                    if shard < holders.len() && holders[shard].is_none() {
                        holders[shard] = Some(d);
                        if m.is_inline() {
                            inline[shard] = Some(frame.clone());
                        }
                    }
                    meta.get_or_insert_with(|| m.clone());
                }
                let meta = meta.ok_or_else(|| read_quorum(bucket, key, "no agreeing drive"))?;
                Ok(Resolved {
                    meta,
                    agrees,
                    holders,
                    inline,
                })
            }
            _ => {
                let not_found = metas
                    .iter()
                    .filter(|r| matches!(r, Err(e) if e.is_not_found()))
                    .count();
                if not_found >= k {
                    Err(ErasureError::ObjectNotFound {
                        bucket: bucket.into(),
                        key: key.into(),
                    })
                } else {
                    let detail = format!(
                        "best version on {} of {} drives, need {k}; {}",
                        best.map_or(0, |b| b.1),
                        self.drives.len(),
                        first_error(metas)
                    );
                    Err(read_quorum(bucket, key, &detail))
                }
            }
        }
    }

    /// Where the shards of a resolved object are.
    pub(super) fn sources(&self, bucket: &str, key: &str, r: &Resolved) -> Sources {
        if r.meta.is_inline() {
            Sources::Inline(r.inline.clone())
        } else {
            Sources::Files {
                drives: r
                    .holders
                    .iter()
                    .map(|h| h.map(|d| self.drives[d].clone()))
                    .collect(),
                volume: bucket.to_string(),
                dir: join(&object_dir(key), &r.meta.data_dir),
            }
        }
    }

    /// Which shard each drive holds for a new object of `bucket/key`: the inverse of the
    /// distribution (`distribution[shard] = drive`).
    pub(super) fn shard_of_drive(distribution: &[u32]) -> Vec<usize> {
        let mut inv = vec![0; distribution.len()];
        for (shard, &drive) in distribution.iter().enumerate() {
            inv[drive as usize] = shard;
        }
        inv
    }

    /// Checks the outcome of a commit step on every drive; on a missed quorum, undoes it
    /// on the drives where it succeeded (restoring their old metadata) and fails. A commit
    /// that reached its quorum but not every drive queues the object for healing.
    pub(super) async fn settle_commit(
        &self,
        lock: &LockGuard,
        bucket: &str,
        key: &str,
        results: &[Result<(), DriveError>],
        old: &[Result<Bytes, DriveError>],
        new_data_dir: Option<&str>,
    ) -> Result<(), ErasureError> {
        let need = self.write_quorum();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        if ok >= need {
            if ok < results.len() {
                self.queue_heal(bucket, key, HealScan::Normal).await;
            }
            return Ok(());
        }
        tracing::warn!(
            bucket,
            key,
            ok,
            need,
            "commit missed its write quorum; undoing"
        );
        let path = meta_path(key);
        // Undo only while the lock still holds: once it is lost, another writer may have
        // committed over these drives, and restoring the old files would undo its write.
        // The partial version then stays below quorum, where reads ignore it and heal
        // removes it.
        let undo = lock.check().is_ok();
        futures::future::join_all(
            self.drives
                .iter()
                .zip(results)
                .zip(old)
                .map(|((d, r), old)| {
                    let path = path.clone();
                    async move {
                        if r.is_err() || !undo {
                            return;
                        }
                        let _ = match old {
                            Ok(file) => {
                                d.write_all(bucket, &path, file.clone(), Target::Replace)
                                    .await
                            }
                            Err(_) => d.delete(bucket, &path, false).await,
                        };
                        if let Some(dd) = new_data_dir {
                            let _ = d.delete(bucket, &join(&object_dir(key), dd), true).await;
                        }
                    }
                }),
        )
        .await;
        if verdict(results, need) == Verdict::VolumeNotFound
            || results
                .iter()
                .filter(|r| matches!(r, Err(DriveError::VolumeNotFound { .. })))
                .count()
                >= self.data_shards()
        {
            return Err(ErasureError::BucketNotFound {
                bucket: bucket.into(),
            });
        }
        Err(write_lost(
            format!("{bucket}/{key}"),
            ok,
            need,
            results.iter().filter_map(|r| r.as_ref().err()),
        ))
    }

    /// Removes the data directories that old metadata files point to, unless they are
    /// the one just committed.
    pub(super) async fn remove_old_data(
        &self,
        bucket: &str,
        key: &str,
        old: &[Result<Bytes, DriveError>],
        keep: Option<&str>,
    ) {
        futures::future::join_all(self.drives.iter().zip(old).map(|(d, old)| async move {
            let Ok(file) = old else { return };
            let Ok((m, _)) = ObjectMeta::from_file(file.clone()) else {
                return;
            };
            if Some(m.data_dir.as_str()) != keep {
                Self::discard_data(d, bucket, key, &m).await;
            }
        }))
        .await;
    }

    /// Removes an old version's data directory from `drive`, best effort. A multipart
    /// version's goes to the drive's trash, where a GET that began before the change still
    /// finds the parts it has not reached (a single-part GET holds its files open).
    pub(super) async fn discard_data(
        drive: &Arc<dyn Drive>,
        bucket: &str,
        key: &str,
        old: &ObjectMeta,
    ) {
        if old.data_dir.is_empty() {
            return;
        }
        let dir = join(&object_dir(key), &old.data_dir);
        if old.parts.len() > 1 {
            let trashed = trash_path(&old.data_dir);
            if drive
                .rename(bucket, &dir, META_VOLUME, &trashed)
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = drive.delete(bucket, &dir, true).await;
    }

    /// Best-effort removal of a staging directory on every drive.
    pub(super) async fn remove_tmp(&self, id: &str) {
        let path = tmp_path(id);
        let _ = self.each(|_, d| d.delete(META_VOLUME, &path, true)).await;
    }

    /// Creates the bucket's volume on every drive.
    pub async fn make_volume(&self, bucket: &str) -> Vec<Result<(), DriveError>> {
        self.each(|_, d| d.make_volume(bucket)).await
    }

    /// Deletes the bucket's volume on every drive.
    pub async fn delete_volume(&self, bucket: &str) -> Vec<Result<(), DriveError>> {
        self.each(|_, d| d.delete_volume(bucket)).await
    }

    /// Checks the bucket's volume on every drive.
    pub async fn stat_volume(&self, bucket: &str) -> Vec<Result<(), DriveError>> {
        fan_out(&self.drives, &StatVolume { volume: bucket }).await
    }

    /// Writes a small record to every drive; fails below write quorum.
    pub async fn write_record(
        &self,
        volume: &str,
        path: &str,
        data: Bytes,
    ) -> Result<(), ErasureError> {
        let results = self
            .each(|_, d| d.write_all(volume, path, data.clone(), Target::Replace))
            .await;
        super::quorum::require_writes(&results, self.write_quorum(), || format!("{volume}/{path}"))
    }

    /// Reads a small record from every drive and returns the copy most drives hold (at
    /// least k); `Drive(NotFound)` when at least k drives lack it.
    pub async fn read_record(&self, volume: &str, path: &str) -> Result<Bytes, ErasureError> {
        let results = self.each(|_, d| d.read_all(volume, path)).await;
        let mut votes: HashMap<&Bytes, usize> = HashMap::new();
        for r in results.iter().flatten() {
            *votes.entry(r).or_default() += 1;
        }
        if let Some((data, count)) = votes.into_iter().max_by_key(|(_, c)| *c)
            && count >= self.data_shards()
        {
            return Ok(data.clone());
        }
        if verdict(&results, self.data_shards()) == Verdict::NotFound {
            return Err(ErasureError::Drive(DriveError::NotFound {
                path: path.into(),
            }));
        }
        Err(ErasureError::ReadQuorum {
            what: format!("{volume}/{path}"),
            detail: first_error(&results),
        })
    }
}

/// The lock an object's reads and writes take.
pub(super) fn lock_name(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

pub(super) fn read_quorum(bucket: &str, key: &str, detail: &str) -> ErasureError {
    ErasureError::ReadQuorum {
        what: format!("{bucket}/{key}"),
        detail: detail.to_string(),
    }
}
