//! Healing an object whose metadata file holds several versions (or a delete marker): every
//! version is checked on every drive, and a drive found lacking any of them gets the whole
//! journal rebuilt: each version's shard is made again from k good drives (inline frames in
//! memory, data directories staged in `.tessera/tmp/<id>/`), the data directories move into
//! place, then the drive's metadata file, its own journal, is written over the old one.
//!
//! Invariants: as in `rebuild` (frames only from data that passed its checksums, one
//! drive's failure never stops another's); a drive's metadata file is written only after
//! every data directory it names is in place, so a crash leaves the old journal readable.

use bytes::Bytes;

use super::HealOutcome;
use super::rebuild::{
    Blocks, Job, encode, expected_shards, good_enough, record, triage, with_volume,
};
use super::verify::{Check, check_drives};
use crate::drive::{DriveError, META_VOLUME, Target, join, object_dir};
use crate::erasure::decode::{ObjectReader, Sources};
use crate::erasure::drives::SetDrives;
use crate::erasure::error::ErasureError;
use crate::erasure::heal_queue::HealScan;
use crate::erasure::meta::ObjectMeta;
use crate::erasure::metas::Resolved;
use crate::erasure::names::{meta_path, tmp_path};
use crate::erasure::versions::Journal;

/// Checks every version of the resolved journal on every drive and rebuilds the drives
/// that lack any.
pub(super) async fn heal_journal(
    drives: &SetDrives,
    (bucket, key): (&str, &str),
    metas: &[Result<(ObjectMeta, Bytes), DriveError>],
    resolved: &Resolved,
    scan: HealScan,
) -> Result<HealOutcome, ErasureError> {
    let total = drives.codec().total_shards();
    let count = 1 + resolved.meta.older.len();
    let views: Vec<Resolved> = (0..count)
        .map(|i| resolved.version(metas, i, total))
        .collect();
    let mut state = vec![Check::Good; drives.len()];
    for (i, view) in views.iter().enumerate() {
        let expected = expected_shards(drives, &view.meta)?;
        let checks = check_drives(drives, (bucket, key), metas, (view, i), &expected, scan).await;
        for (s, c) in state.iter_mut().zip(checks) {
            if *s == Check::Good || c == Check::Offline {
                *s = c;
            }
        }
    }
    let (mut outcome, targets) = triage(drives, (bucket, key), &state);
    if targets.is_empty() {
        return Ok(outcome);
    }
    let good = good_enough(drives, &state)?;
    let tmp = tmp_path(&uuid::Uuid::new_v4().to_string());
    let rebuilt =
        rebuild_versions(drives, (bucket, key), metas, &views, &good, &targets, &tmp).await;
    let results = match rebuilt {
        Ok((frames, staged)) => {
            let commits = targets
                .iter()
                .zip(staged)
                .enumerate()
                .map(|(t, (&d, staged))| {
                    let frames: Vec<Bytes> = frames.iter().map(|f| f[t].clone()).collect();
                    let (views, tmp) = (&views, &tmp);
                    async move {
                        staged?;
                        commit_journal(drives, (bucket, key), d, views, frames, &metas[d], tmp)
                            .await
                    }
                });
            futures::future::join_all(commits).await
        }
        Err(e) => {
            cleanup(drives, &targets, &tmp).await;
            return Err(e);
        }
    };
    cleanup(drives, &targets, &tmp).await;
    record(drives, (bucket, key), &mut outcome, &targets, results);
    Ok(outcome)
}

/// Per version, each target's inline frame (empty for data in files), and per target
/// whether its staged data directories are complete.
type Rebuilt = (Vec<Vec<Bytes>>, Vec<Result<(), DriveError>>);

/// Makes every version's shard for each target again, from the good drives.
async fn rebuild_versions(
    drives: &SetDrives,
    (bucket, key): (&str, &str),
    metas: &[Result<(ObjectMeta, Bytes), DriveError>],
    views: &[Resolved],
    good: &[usize],
    targets: &[usize],
    tmp: &str,
) -> Result<Rebuilt, ErasureError> {
    let total = drives.codec().total_shards();
    let mut frames = Vec::with_capacity(views.len());
    let mut staged: Vec<Result<(), DriveError>> = targets.iter().map(|_| Ok(())).collect();
    for (i, view) in views.iter().enumerate() {
        let meta = &view.meta;
        if meta.delete_marker {
            frames.push(vec![Bytes::new(); targets.len()]);
            continue;
        }
        let expected = expected_shards(drives, meta)?;
        let sources = if meta.is_inline() {
            let mut inline = vec![None; total];
            for &d in good {
                if let Ok((m, blob)) = &metas[d] {
                    inline[expected[d]] = m.frames(blob).into_iter().nth(i);
                }
            }
            Sources::Inline(inline)
        } else {
            let mut holders = vec![None; total];
            for &d in good {
                holders[expected[d]] = Some(drives.get(d).clone());
            }
            Sources::Files {
                drives: holders,
                volume: bucket.to_string(),
                dir: join(&object_dir(key), &meta.data_dir),
            }
        };
        let mut reader =
            ObjectReader::new(drives.codec().clone(), meta.clone(), sources, 0, meta.size);
        reader.open().await?;
        let mut blocks = Blocks::new(reader);
        if meta.is_inline() {
            let block = blocks.take(meta.size as usize).await?;
            let encoded = encode(drives.codec(), block).await?;
            frames.push(
                targets
                    .iter()
                    .map(|&d| encoded[expected[d]].clone())
                    .collect(),
            );
        } else {
            let dir = join(tmp, &meta.data_dir);
            let job = Job {
                drives,
                bucket,
                key,
                meta,
                targets: targets.to_vec(),
                expected,
            };
            let status = job.stage_shards(&mut blocks, &dir).await?;
            for (s, r) in staged.iter_mut().zip(status) {
                if s.is_ok() {
                    *s = r;
                }
            }
            frames.push(vec![Bytes::new(); targets.len()]);
        }
    }
    Ok((frames, staged))
}

/// Moves drive `d`'s staged data directories into place, writes its journal over its
/// metadata file, then removes the data directories its old file named and the new one
/// does not.
async fn commit_journal(
    drives: &SetDrives,
    (bucket, key): (&str, &str),
    d: usize,
    views: &[Resolved],
    frames: Vec<Bytes>,
    old: &Result<(ObjectMeta, Bytes), DriveError>,
    tmp: &str,
) -> Result<(), DriveError> {
    let drive = drives.get(d).as_ref();
    let dir = object_dir(key);
    let mut versions = Vec::with_capacity(views.len());
    for (view, frame) in views.iter().zip(frames) {
        let meta = SetDrives::meta_for_drive(&view.meta, d);
        if !meta.is_inline() && !meta.delete_marker {
            let dst = join(&dir, &meta.data_dir);
            match drive.delete(bucket, &dst, true).await {
                Err(DriveError::VolumeNotFound { .. }) => {}
                Err(e) if !e.is_not_found() => return Err(e),
                _ => {}
            }
            let src = join(tmp, &meta.data_dir);
            with_volume(drive, bucket, || {
                drive.rename(META_VOLUME, &src, bucket, &dst)
            })
            .await?;
        }
        versions.push((meta, frame));
    }
    let kept: Vec<String> = versions.iter().map(|(m, _)| m.data_dir.clone()).collect();
    let file_id = views[0].meta.version_id.clone();
    let Some(file) = Journal::from_versions(versions).into_file(&file_id) else {
        return Ok(());
    };
    let path = meta_path(key);
    with_volume(drive, bucket, || {
        drive.write_all(bucket, &path, file.clone(), Target::Replace)
    })
    .await?;
    if let Ok((old, _)) = old {
        for v in old.versions() {
            if !v.data_dir.is_empty() && !kept.contains(&v.data_dir) {
                let _ = drive.delete(bucket, &join(&dir, &v.data_dir), true).await;
            }
        }
    }
    Ok(())
}

async fn cleanup(drives: &SetDrives, targets: &[usize], tmp: &str) {
    futures::future::join_all(
        targets
            .iter()
            .map(|&d| drives.get(d).delete(META_VOLUME, tmp, true)),
    )
    .await;
}
