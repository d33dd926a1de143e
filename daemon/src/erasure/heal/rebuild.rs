//! Rebuilding the shards of drives that lack an object's agreed version.
//!
//! The object's data is read block by block from the good drives only (any k shards, data
//! shards first, as a GET does), each block is encoded again, and the frames of the drives
//! being healed are streamed into their `.tessera/tmp/<id>/`; then, per drive, the staged
//! data and metadata move into place with `rename_data` (the bucket volume is created if the
//! drive lacks it) and the drive's old data directory is removed. Inline objects get their
//! metadata file rewritten with their own frame.
//!
//! Invariant: a drive is written only with frames produced from data that passed its
//! checksums; a failure on one drive never stops the others. Memory: one block, its frames,
//! and the reader's k frames.

use std::future::Future;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::verify::{Check, check_drives};
use super::{HealOutcome, ignore_missing};
use crate::drive::{
    Drive, DriveError, FileWriter, META_VOLUME, OBJECT_META_FILE, Target, join, object_dir,
};
use crate::erasure::codec::Codec;
use crate::erasure::decode::{ObjectReader, Sources, block_len, block_size};
use crate::erasure::drives::SetDrives;
use crate::erasure::error::ErasureError;
use crate::erasure::heal_queue::HealScan;
use crate::erasure::meta::ObjectMeta;
use crate::erasure::metas::Resolved;
use crate::erasure::names::{meta_path, tmp_path};

/// An object's data cut back into the blocks it was encoded from.
pub(super) struct Blocks {
    reader: ObjectReader,
    carry: Bytes,
}

impl Blocks {
    /// The blocks of what `reader` (opened) reads.
    pub(super) fn new(reader: ObjectReader) -> Self {
        Self {
            reader,
            carry: Bytes::new(),
        }
    }

    /// The next `len` bytes of the object.
    pub(super) async fn take(&mut self, len: usize) -> Result<Bytes, ErasureError> {
        let mut block = BytesMut::with_capacity(len);
        while block.len() < len {
            if self.carry.is_empty() {
                self.carry =
                    self.reader
                        .next_chunk()
                        .await?
                        .ok_or_else(|| ErasureError::Geometry {
                            reason: "object data ended before its recorded size".into(),
                        })?;
            }
            let n = (len - block.len()).min(self.carry.len());
            block.extend_from_slice(&self.carry.split_to(n));
        }
        Ok(block.freeze())
    }
}

/// The drives of one object to rebuild.
pub(super) struct Job<'a> {
    /// The set's drives.
    pub(super) drives: &'a SetDrives,
    pub(super) bucket: &'a str,
    pub(super) key: &'a str,
    /// The agreed version.
    pub(super) meta: &'a ObjectMeta,
    /// The drives to rebuild.
    pub(super) targets: Vec<usize>,
    /// Per drive, the shard it holds.
    pub(super) expected: Vec<usize>,
}

/// Encodes a block on the blocking pool.
pub(super) async fn encode(codec: &Arc<Codec>, block: Bytes) -> Result<Vec<Bytes>, ErasureError> {
    let codec = codec.clone();
    tokio::task::spawn_blocking(move || codec.encode_block(&block))
        .await
        .map_err(|e| ErasureError::Geometry {
            reason: format!("encoder task: {e}"),
        })?
}

/// Runs `op`; if the drive lacks the bucket volume, creates it and runs `op` again.
pub(super) async fn with_volume<F, Fut>(
    drive: &dyn Drive,
    bucket: &str,
    op: F,
) -> Result<(), DriveError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), DriveError>>,
{
    match op().await {
        Err(DriveError::VolumeNotFound { .. }) => {
            match drive.make_volume(bucket).await {
                Ok(()) | Err(DriveError::VolumeExists { .. }) => {}
                Err(e) => return Err(e),
            }
            tracing::info!(
                drive = drive.endpoint(),
                bucket,
                "healed missing bucket volume"
            );
            op().await
        }
        other => other,
    }
}

/// Which shard each drive holds for `meta`; `Geometry` when the metadata does not fit
/// this set.
pub(super) fn expected_shards(
    drives: &SetDrives,
    meta: &ObjectMeta,
) -> Result<Vec<usize>, ErasureError> {
    let n = drives.len();
    let Some(e) = &meta.erasure else {
        return Ok((0..n).collect());
    };
    let mut seen = vec![false; n];
    let permutation = e.distribution.len() == n
        && e.distribution.iter().all(|&d| {
            let fresh = (d as usize) < n && !seen[d as usize];
            if fresh {
                seen[d as usize] = true;
            }
            fresh
        });
    if e.data as usize != drives.data_shards()
        || e.parity as usize != drives.parity_shards()
        || !permutation
    {
        return Err(ErasureError::Geometry {
            reason: format!(
                "object of {}+{} over {:?} in a set of {}+{}",
                e.data,
                e.parity,
                e.distribution,
                drives.data_shards(),
                drives.parity_shards()
            ),
        });
    }
    Ok(SetDrives::shard_of_drive(&e.distribution))
}

/// Checks every drive's copy of an object of one version and rebuilds the bad ones (a
/// journal of several is `journal`'s).
pub(super) async fn heal_version(
    drives: &SetDrives,
    (bucket, key): (&str, &str),
    metas: &[Result<(ObjectMeta, Bytes), DriveError>],
    resolved: &Resolved,
    scan: HealScan,
) -> Result<HealOutcome, ErasureError> {
    let meta = &resolved.meta;
    let expected = expected_shards(drives, meta)?;
    let checks = check_drives(drives, (bucket, key), metas, (resolved, 0), &expected, scan).await;
    let (mut outcome, targets) = triage(drives, (bucket, key), &checks);
    if targets.is_empty() {
        return Ok(outcome);
    }
    let good = good_enough(drives, &checks)?;
    let total = drives.codec().total_shards();
    let sources = if meta.is_inline() {
        let mut frames = vec![None; total];
        for &d in &good {
            frames[expected[d]] = metas[d].as_ref().ok().map(|(_, f)| f.clone());
        }
        Sources::Inline(frames)
    } else {
        let mut holders = vec![None; total];
        for &d in &good {
            holders[expected[d]] = Some(drives.get(d).clone());
        }
        Sources::Files {
            drives: holders,
            volume: bucket.to_string(),
            dir: join(&object_dir(key), &meta.data_dir),
        }
    };
    let mut reader = ObjectReader::new(drives.codec().clone(), meta.clone(), sources, 0, meta.size);
    reader.open().await?;
    let mut blocks = Blocks {
        reader,
        carry: Bytes::new(),
    };
    let job = Job {
        drives,
        bucket,
        key,
        meta,
        targets,
        expected,
    };
    let results = if meta.is_inline() {
        job.rebuild_inline(metas, &mut blocks).await?
    } else {
        job.rebuild_files(metas, &mut blocks).await?
    };
    record(drives, (bucket, key), &mut outcome, &job.targets, results);
    Ok(outcome)
}

/// Sorts the checks of every drive into an outcome (the offline drives noted) and the
/// drives to rebuild.
pub(super) fn triage(
    drives: &SetDrives,
    (bucket, key): (&str, &str),
    checks: &[Check],
) -> (HealOutcome, Vec<usize>) {
    let mut outcome = HealOutcome {
        exists: true,
        ..Default::default()
    };
    let mut targets = Vec::new();
    for (d, check) in checks.iter().enumerate() {
        match check {
            Check::Good => {}
            Check::Offline => outcome.offline.push(d),
            Check::Bad(why) => {
                tracing::info!(bucket, key, drive = drives.get(d).endpoint(), %why, "healing drive");
                targets.push(d);
            }
        }
    }
    (outcome, targets)
}

/// The drives found good, when at least k are; `TooFewShards` otherwise.
pub(super) fn good_enough(
    drives: &SetDrives,
    checks: &[Check],
) -> Result<Vec<usize>, ErasureError> {
    let good: Vec<usize> = (0..checks.len())
        .filter(|&d| checks[d] == Check::Good)
        .collect();
    if good.len() < drives.data_shards() {
        return Err(ErasureError::TooFewShards {
            have: good.len(),
            need: drives.data_shards(),
        });
    }
    Ok(good)
}

/// Records each target's rebuild in `outcome`.
pub(super) fn record(
    drives: &SetDrives,
    (bucket, key): (&str, &str),
    outcome: &mut HealOutcome,
    targets: &[usize],
    results: Vec<Result<(), DriveError>>,
) {
    for (&d, r) in targets.iter().zip(results) {
        match r {
            Ok(()) => outcome.repaired.push(d),
            Err(e) if e.is_offline() => outcome.offline.push(d),
            Err(e) => {
                tracing::warn!(bucket, key, drive = drives.get(d).endpoint(), error = %e, "heal failed");
                outcome.failed.push((d, e.to_string()));
            }
        }
    }
}

impl Job<'_> {
    /// Rewrites the metadata file (with its inline frame) of each target drive, then
    /// removes the data directory of the version it replaced.
    async fn rebuild_inline(
        &self,
        metas: &[Result<(ObjectMeta, Bytes), DriveError>],
        blocks: &mut Blocks,
    ) -> Result<Vec<Result<(), DriveError>>, ErasureError> {
        let Job {
            drives,
            bucket,
            key,
            meta,
            ref targets,
            ref expected,
        } = *self;
        let block = blocks.take(meta.size as usize).await?;
        let frames = encode(self.drives.codec(), block).await?;
        let path = meta_path(key);
        Ok(futures::future::join_all(targets.iter().map(|&d| {
            let file = SetDrives::meta_for_drive(meta, d).to_file(&frames[expected[d]]);
            let (drive, path) = (drives.get(d).as_ref(), &path);
            let old_data_dir = metas[d]
                .as_ref()
                .ok()
                .map(|(old, _)| old.data_dir.as_str())
                .filter(|old| !old.is_empty() && *old != meta.data_dir);
            async move {
                with_volume(drive, bucket, move || {
                    drive.write_all(bucket, path, file.clone(), Target::Replace)
                })
                .await?;
                if let Some(old) = old_data_dir {
                    let _ = drive
                        .delete(bucket, &join(&object_dir(key), old), true)
                        .await;
                }
                Ok(())
            }
        }))
        .await)
    }

    /// Streams each target's shard of every part into its staging directory, then moves
    /// data and metadata into place. One result per target.
    async fn rebuild_files(
        &self,
        metas: &[Result<(ObjectMeta, Bytes), DriveError>],
        blocks: &mut Blocks,
    ) -> Result<Vec<Result<(), DriveError>>, ErasureError> {
        let targets = &self.targets;
        let tmp = tmp_path(&uuid::Uuid::new_v4().to_string());
        let staged = self
            .stage_shards(blocks, &join(&tmp, &self.meta.data_dir))
            .await;
        let results = match staged {
            Ok(staged) => {
                let commits = targets.iter().zip(staged).map(|(&d, staged)| {
                    let old = metas[d].as_ref().ok().map(|(m, _)| m.data_dir.as_str());
                    let tmp = &tmp;
                    async move {
                        staged?;
                        self.commit_heal(d, old, tmp).await
                    }
                });
                Ok(futures::future::join_all(commits).await)
            }
            Err(e) => Err(e),
        };
        futures::future::join_all(
            targets
                .iter()
                .map(|&d| self.drives.get(d).delete(META_VOLUME, &tmp, true)),
        )
        .await;
        results
    }

    /// Writes every part's shard file of each target under `dir` (in the meta volume).
    /// Fails only when the object's data cannot be read; a drive that fails gets its error.
    pub(super) async fn stage_shards(
        &self,
        blocks: &mut Blocks,
        dir: &str,
    ) -> Result<Vec<Result<(), DriveError>>, ErasureError> {
        let (meta, targets, expected) = (self.meta, &self.targets, &self.expected);
        let mut status: Vec<Result<(), DriveError>> = targets.iter().map(|_| Ok(())).collect();
        for part in &meta.parts {
            let path = join(dir, &format!("part.{}", part.number));
            let opened = futures::future::join_all(targets.iter().zip(&status).map(|(&d, st)| {
                let path = &path;
                async move {
                    match st {
                        Ok(()) => Some(self.drives.get(d).create_file(META_VOLUME, path).await),
                        Err(_) => None,
                    }
                }
            }))
            .await;
            let mut writers: Vec<Option<Box<dyn FileWriter>>> = Vec::with_capacity(targets.len());
            for (st, w) in status.iter_mut().zip(opened) {
                writers.push(match w {
                    Some(Ok(w)) => Some(w),
                    Some(Err(e)) => {
                        *st = Err(e);
                        None
                    }
                    None => None,
                });
            }
            for b in 0..part.size.div_ceil(block_size(meta)) {
                let block = blocks.take(block_len(meta, part.size, b)).await?;
                let frames = encode(self.drives.codec(), block).await?;
                let writes = writers.iter_mut().zip(targets).map(|(w, &d)| {
                    let frame = frames[expected[d]].clone();
                    async move {
                        match w.as_mut() {
                            Some(w) => w.write(frame).await,
                            None => Ok(()),
                        }
                    }
                });
                let written = futures::future::join_all(writes).await;
                for ((st, w), r) in status.iter_mut().zip(writers.iter_mut()).zip(written) {
                    if let Err(e) = r {
                        *st = Err(e);
                        *w = None;
                    }
                }
            }
            let finished = futures::future::join_all(writers.into_iter().map(|w| async move {
                match w {
                    Some(w) => w.finish().await,
                    None => Ok(()),
                }
            }))
            .await;
            for (st, r) in status.iter_mut().zip(finished) {
                if let Err(e) = r {
                    *st = Err(e);
                }
            }
        }
        Ok(status)
    }

    /// Moves drive `d`'s staged shards and metadata into place, replacing whatever copy
    /// it held, then removes its old data directory.
    async fn commit_heal(
        &self,
        d: usize,
        old_data_dir: Option<&str>,
        tmp: &str,
    ) -> Result<(), DriveError> {
        let (bucket, key, meta) = (self.bucket, self.key, self.meta);
        let drive = self.drives.get(d).as_ref();
        let file = SetDrives::meta_for_drive(meta, d).to_file(&[]);
        drive
            .write_all(
                META_VOLUME,
                &join(tmp, OBJECT_META_FILE),
                file,
                Target::Fresh,
            )
            .await?;
        let dir = object_dir(key);
        // A damaged copy of the same data directory would block the rename.
        let data_dir = join(&dir, &meta.data_dir);
        match drive.delete(bucket, &data_dir, true).await {
            Err(DriveError::VolumeNotFound { .. }) => {}
            r => ignore_missing(r)?,
        }
        with_volume(drive, bucket, || {
            drive.rename_data(META_VOLUME, tmp, Some(&meta.data_dir), bucket, &dir)
        })
        .await?;
        if let Some(old) = old_data_dir.filter(|o| !o.is_empty() && *o != meta.data_dir) {
            let _ = drive.delete(bucket, &join(&dir, old), true).await;
        }
        Ok(())
    }
}
