//! `SetDrives`: the drives of one erasure set and its geometry. It owns what every part of
//! the set shares: calling every drive at once (grouped calls: `crate::drive::group`), the
//! quorum sizes, where a new object's shards go, staging shard files, the bucket volumes,
//! and small records held whole on every drive.
//!
//! Invariants: the drive list and the geometry never change after the set is built; results
//! of a call to every drive come back in drive order.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncRead;

use super::codec::{CHECKSUM_ALGORITHM, Codec};
use super::encode::{Encoded, ShardWriters, encode_stream};
use super::error::ErasureError;
use super::limits::BLOCK_SIZE;
use super::meta::now_ns;
use super::meta::{ErasureInfo, ObjectMeta, PartMeta};
use super::names::tmp_path;
use super::quorum::{Tally, Verdict, agreed, held_by_quorum, require_writes};
use super::types::ObjectAttrs;
use crate::drive::group::{StatVolume, Walk, fan_out};
use crate::drive::{Drive, DriveError, META_VOLUME, Target, WalkOptions, WalkPage};
use crate::layout::{Placement, write_quorum};
use crate::metrics::{DriveCounters, Metrics};

/// Counts `answer` on `counters` if it is a fault (see [`SetDrives::note`]).
pub(crate) fn note_fault<T>(counters: Option<&DriveCounters>, answer: &Result<T, DriveError>) {
    match (counters, answer) {
        (Some(c), Err(DriveError::Io { .. } | DriveError::NoSpace { .. })) => c.io_error(),
        (Some(c), Err(DriveError::Corrupt { .. })) => c.checksum_mismatch(),
        _ => {}
    }
}

/// The drives of one set, in set order, and its geometry.
pub struct SetDrives {
    pool: usize,
    index: usize,
    drives: Vec<Arc<dyn Drive>>,
    codec: Arc<Codec>,
    placement: Placement,
    /// Each drive's fault counters, in set order.
    counters: Arc<[DriveCounters]>,
}

impl SetDrives {
    /// The drives of set `index` of pool `pool`, with `parity` parity shards per block.
    pub fn new(
        (pool, index): (usize, usize),
        drives: Vec<Arc<dyn Drive>>,
        parity: usize,
        placement: Placement,
    ) -> Result<Self, ErasureError> {
        let n = drives.len();
        let codec = Codec::new(n - parity.min(n), parity)?;
        Ok(Self {
            pool,
            index,
            counters: drives.iter().map(|_| DriveCounters::default()).collect(),
            drives,
            codec: Arc::new(codec),
            placement,
        })
    }

    /// Counts the drives' faults in `metrics` (by endpoint).
    pub fn report_to(&mut self, metrics: &Metrics) {
        self.counters = (self.drives.iter())
            .map(|d| metrics.drive(d.endpoint()))
            .collect();
    }

    /// Each drive's fault counters, in set order.
    pub fn counters(&self) -> &Arc<[DriveCounters]> {
        &self.counters
    }

    /// Counts drive `d`'s answer if it is a fault: an I/O error (or a full drive), or
    /// content that failed its checks.
    pub fn note<T>(&self, d: usize, answer: &Result<T, DriveError>) {
        note_fault(self.counters.get(d), answer);
    }

    /// (pool, set) indices.
    pub fn position(&self) -> (usize, usize) {
        (self.pool, self.index)
    }

    /// The drives, in set order.
    pub fn all(&self) -> &[Arc<dyn Drive>] {
        &self.drives
    }

    /// Number of drives.
    pub fn len(&self) -> usize {
        self.drives.len()
    }

    /// Whether the set has no drive (never, once built).
    pub fn is_empty(&self) -> bool {
        self.drives.is_empty()
    }

    /// Drive `d`.
    pub fn get(&self, d: usize) -> &Arc<dyn Drive> {
        &self.drives[d]
    }

    /// The erasure code of the set.
    pub fn codec(&self) -> &Arc<Codec> {
        &self.codec
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

    /// Every drive reports itself online.
    pub fn online(&self) -> bool {
        self.drives.iter().all(|d| d.is_online())
    }

    /// Whether the drives that report themselves online make up a write quorum; with
    /// `without_local`, not counting this node's own drives (as if it were taken down).
    pub fn writable(&self, without_local: bool) -> bool {
        let online = (self.drives.iter())
            .filter(|d| d.is_online() && (d.is_remote() || !without_local))
            .count();
        online >= self.write_quorum()
    }

    /// Whether this node runs the set's background scanner: the node of its first drive,
    /// so one node scans each set instead of every node. A round needs every drive of the
    /// set online, so whenever that node is down no node could scan the set anyway.
    pub fn scans_here(&self) -> bool {
        self.drives.first().is_some_and(|d| !d.is_remote())
    }

    /// Runs `f` on every drive concurrently; results in drive order.
    pub async fn each<'a, T, F, Fut>(&'a self, f: F) -> Vec<Result<T, DriveError>>
    where
        F: Fn(usize, &'a Arc<dyn Drive>) -> Fut,
        Fut: Future<Output = Result<T, DriveError>> + 'a,
    {
        let answers =
            futures::future::join_all(self.drives.iter().enumerate().map(|(i, d)| f(i, d))).await;
        for (d, answer) in answers.iter().enumerate() {
            self.note(d, answer);
        }
        answers
    }

    /// Runs `f` on the drives `takes_part` names, concurrently; the others answer `None`
    /// (they take no part, so they do not vote). Results in drive order.
    pub async fn each_of<'a, T, F, Fut>(
        &'a self,
        takes_part: impl Fn(usize) -> bool,
        f: F,
    ) -> Vec<Option<Result<T, DriveError>>>
    where
        F: Fn(usize, &'a Arc<dyn Drive>) -> Fut,
        Fut: Future<Output = Result<T, DriveError>> + 'a,
    {
        let calls = self.drives.iter().enumerate().map(|(i, d)| {
            let call = takes_part(i).then(|| f(i, d));
            async move {
                match call {
                    Some(call) => Some(call.await),
                    None => None,
                }
            }
        });
        let answers = futures::future::join_all(calls).await;
        for (d, answer) in answers.iter().enumerate() {
            if let Some(answer) = answer {
                self.note(d, answer);
            }
        }
        answers
    }

    /// Where the shards of `bucket/key` go: `distribution[shard] = drive`.
    pub fn distribution(&self, bucket: &str, key: &str) -> Vec<u32> {
        self.placement.distribution(bucket, key, self.drives.len())
    }

    /// Which shard each drive holds: the inverse of the distribution.
    pub fn shard_of_drive(distribution: &[u32]) -> Vec<usize> {
        let mut inv = vec![0; distribution.len()];
        for (shard, &drive) in distribution.iter().enumerate() {
            inv[drive as usize] = shard;
        }
        inv
    }

    /// Metadata of a new object version; `shard_index` is set per drive
    /// ([`SetDrives::meta_for_drive`]).
    pub fn new_meta(
        &self,
        (bucket, key): (&str, &str),
        attrs: &ObjectAttrs,
        parts: Vec<PartMeta>,
        etag: String,
        data_dir: String,
    ) -> ObjectMeta {
        ObjectMeta {
            version_id: uuid::Uuid::new_v4().to_string(),
            size: parts.iter().map(|p| p.size).sum(),
            mod_time_ns: now_ns(),
            etag,
            content_type: attrs.content_type.clone(),
            user_metadata: attrs.user_metadata.clone(),
            headers: {
                let mut headers = attrs.headers.clone();
                headers.extend(attrs.late.get());
                headers
            },
            erasure: Some(ErasureInfo {
                data: self.data_shards() as u32,
                parity: self.parity_shards() as u32,
                block_size: BLOCK_SIZE as u32,
                shard_index: 0,
                distribution: self.distribution(bucket, key),
                checksum: CHECKSUM_ALGORITHM.into(),
            }),
            parts,
            data_dir,
            s3_version_id: attrs.versioning.new_version_id(),
            ..Default::default()
        }
    }

    /// The metadata as drive `d` stores it.
    pub fn meta_for_drive(meta: &ObjectMeta, d: usize) -> ObjectMeta {
        let mut m = meta.clone();
        if let Some(e) = m.erasure.as_mut() {
            e.shard_index = Self::shard_of_drive(&e.distribution)[d] as u32;
        }
        m
    }

    /// Opens one shard writer per shard index at `path` in the meta volume.
    pub async fn open_writers(&self, dist: &[u32], path: &str) -> ShardWriters {
        futures::future::join_all(dist.iter().map(|&d| async move {
            let drive = &self.drives[d as usize];
            match drive.create_file(META_VOLUME, path).await {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(drive = drive.endpoint(), error = %e, "cannot stage shard");
                    None
                }
            }
        }))
        .await
    }

    /// Encodes `first` and the rest of `body` into shard files at `path` in the meta volume,
    /// shard i on drive `dist[i]`; fails once fewer than write-quorum drives can take it.
    pub(crate) async fn stage<R: AsyncRead + Unpin>(
        &self,
        dist: &[u32],
        path: &str,
        (first, body): (BytesMut, &mut R),
        what: &str,
    ) -> Result<Encoded, ErasureError> {
        let mut writers = self.open_writers(dist, path).await;
        let quorum = self.write_quorum();
        encode_stream(
            &self.codec,
            BLOCK_SIZE,
            first,
            body,
            &mut writers,
            quorum,
            what,
        )
        .await
    }

    /// Every drive's walk of `bucket`, when at least k drives could walk it (`purpose` names
    /// the walk in errors); `BucketNotFound` when at least k drives lack it.
    pub async fn walk(
        &self,
        bucket: &str,
        opts: &WalkOptions,
        purpose: &str,
    ) -> Result<Vec<Result<WalkPage, DriveError>>, ErasureError> {
        let walk = Walk {
            volume: bucket,
            opts,
        };
        let pages = fan_out(&self.drives, &walk).await;
        let tally = Tally::of(&pages);
        let k = self.data_shards();
        if tally.done >= k {
            return Ok(pages);
        }
        if tally.verdict(k) == Verdict::VolumeNotFound {
            return Err(ErasureError::BucketNotFound {
                bucket: bucket.into(),
            });
        }
        Err(ErasureError::ReadQuorum {
            what: format!("{purpose} of {bucket}"),
            detail: tally.first_error().to_string(),
        })
    }

    /// Best-effort removal of a staging directory on every drive.
    pub async fn remove_tmp(&self, id: &str) {
        let path = tmp_path(id);
        let _ = self.each(|_, d| d.delete(META_VOLUME, &path, true)).await;
    }

    /// Creates the bucket's volume on every drive; a drive that has it counts as done.
    pub async fn make_volume(&self, bucket: &str) -> Result<(), ErasureError> {
        let results = self.each(|_, d| d.make_volume(bucket)).await;
        let answers: Vec<_> = results
            .into_iter()
            .map(|r| match r {
                Err(DriveError::VolumeExists { .. }) => Ok(()),
                other => other,
            })
            .collect();
        require_writes(&answers, self.write_quorum(), || {
            format!("creating bucket {bucket}")
        })
    }

    /// Deletes the bucket's volume on every drive; a drive without it counts as done.
    pub async fn delete_volume(&self, bucket: &str) -> Result<(), ErasureError> {
        let results = self.each(|_, d| d.delete_volume(bucket)).await;
        let answers: Vec<_> = results
            .into_iter()
            .map(|r| match r {
                Err(DriveError::VolumeNotFound { .. }) => Ok(()),
                other => other,
            })
            .collect();
        require_writes(&answers, self.write_quorum(), || {
            format!("deleting bucket {bucket}")
        })
    }

    /// Checks that the bucket's volume is on at least k drives; `BucketNotFound` when at
    /// least k drives lack it.
    pub async fn check_volume(&self, bucket: &str) -> Result<(), ErasureError> {
        let tally = Tally::of(&self.stat_volume(bucket).await);
        let k = self.data_shards();
        if tally.done >= k {
            return Ok(());
        }
        if tally.not_found + tally.volume_not_found >= k {
            return Err(ErasureError::BucketNotFound {
                bucket: bucket.into(),
            });
        }
        Err(ErasureError::ReadQuorum {
            what: format!("bucket {bucket}"),
            detail: format!("{} of {k} drives answer", tally.done),
        })
    }

    /// The volumes at least k drives hold, sorted by name.
    pub async fn volumes(&self) -> Vec<String> {
        let listings = self.each(|_, d| d.list_volumes()).await;
        let names = listings.iter().flatten().flatten().map(|v| v.name.as_str());
        (held_by_quorum(names, self.data_shards()).into_iter())
            .map(str::to_string)
            .collect()
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
        require_writes(&results, self.write_quorum(), || format!("{volume}/{path}"))
    }

    /// Reads a small record from every drive and returns the copy most drives hold (at
    /// least k); `Drive(NotFound)` when at least k drives lack it.
    pub async fn read_record(&self, volume: &str, path: &str) -> Result<Bytes, ErasureError> {
        let results = self.each(|_, d| d.read_all(volume, path)).await;
        let k = self.data_shards();
        if let Some(data) =
            agreed(results.iter().flatten(), Bytes::clone, |_| ()).and_then(|a| a.reaching(k))
        {
            return Ok(data.clone());
        }
        let tally = Tally::of(&results);
        if tally.verdict(k) == Verdict::NotFound {
            return Err(ErasureError::Drive(DriveError::NotFound {
                path: path.into(),
            }));
        }
        Err(ErasureError::ReadQuorum {
            what: format!("{volume}/{path}"),
            detail: tally.first_error().to_string(),
        })
    }
}
