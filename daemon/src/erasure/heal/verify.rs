//! Checks of each drive's copy of an object's agreed version: metadata of that version,
//! the shard index the distribution gives the drive, and its shard data (the inline frame,
//! or one file per part whose frames pass their checksums).
//!
//! Invariant: a drive counts as good only when a read of its shard would succeed; a
//! `Normal` scan reads each part's last frame (the file exists and is long enough), a
//! `Deep` scan every frame. Memory: one frame per drive being checked.

use bytes::Bytes;

use crate::drive::{Drive, DriveError, join, object_dir};
use crate::erasure::codec::Codec;
use crate::erasure::codec::{CHECKSUM_LEN, verify_frame};
use crate::erasure::decode::{block_len, block_size, frame_offset};
use crate::erasure::drives::SetDrives;
use crate::erasure::heal_queue::HealScan;
use crate::erasure::meta::{ObjectMeta, PartMeta};
use crate::erasure::metas::Resolved;

/// What the check of one drive found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Check {
    /// The drive holds the agreed version completely.
    Good,
    /// The drive needs its shard rebuilt; why.
    Bad(String),
    /// The drive did not answer.
    Offline,
}

/// Per drive: the state of its copy of the resolved version (drives checked concurrently).
///
/// `resolved` is version `index` of the agreed journal (see [`Resolved::version`]); a delete
/// marker has no data to check.
pub(super) async fn check_drives(
    drives: &SetDrives,
    (bucket, key): (&str, &str),
    metas: &[Result<(ObjectMeta, Bytes), DriveError>],
    (resolved, index): (&Resolved, usize),
    expected: &[usize],
    scan: HealScan,
) -> Vec<Check> {
    let agreed = &resolved.meta;
    let dir = join(&object_dir(key), &agreed.data_dir);
    let codec = drives.codec();
    let checks = drives.all().iter().enumerate().map(|(d, drive)| {
        let dir = dir.clone();
        async move {
            let (m, frame) = match &metas[d] {
                Err(e) if e.is_offline() => return Check::Offline,
                Err(e) => return Check::Bad(e.to_string()),
                Ok(_) if !resolved.agrees[d] => {
                    return Check::Bad("holds another version".into());
                }
                Ok((file, inline)) => match file.versions().nth(index) {
                    Some(m) => (
                        m,
                        file.frames(inline).swap_remove(index.min(file.older.len())),
                    ),
                    None => return Check::Bad("journal without the version".into()),
                },
            };
            if agreed.delete_marker {
                return Check::Good;
            }
            let shard = m.erasure.as_ref().map_or(d, |e| e.shard_index as usize);
            if shard != expected[d] {
                return Check::Bad(format!("holds shard {shard}, not {}", expected[d]));
            }
            if agreed.is_inline() {
                let want = CHECKSUM_LEN + codec.shard_len(agreed.size as usize);
                return if frame.len() == want && verify_frame(&frame).is_some() {
                    Check::Good
                } else {
                    Check::Bad("inline frame corrupt".into())
                };
            }
            for part in &agreed.parts {
                let path = join(&dir, &format!("part.{}", part.number));
                match check_part(codec, drive.as_ref(), bucket, &path, agreed, part, scan).await {
                    Ok(true) => {}
                    Ok(false) => return Check::Bad(format!("{path}: checksum mismatch")),
                    Err(e) if e.is_offline() => return Check::Offline,
                    Err(e) => return Check::Bad(e.to_string()),
                }
            }
            Check::Good
        }
    });
    futures::future::join_all(checks).await
}

/// Reads the frames of one part's shard file that `scan` asks for; false when one fails its
/// checksum, an error when the file is missing or short.
async fn check_part(
    codec: &Codec,
    drive: &dyn Drive,
    bucket: &str,
    path: &str,
    meta: &ObjectMeta,
    part: &PartMeta,
    scan: HealScan,
) -> Result<bool, DriveError> {
    let blocks = part.size.div_ceil(block_size(meta));
    let frame_len = |b: u64| CHECKSUM_LEN + codec.shard_len(block_len(meta, part.size, b));
    let (first, end) = match blocks.checked_sub(1) {
        None => (0, 0),
        Some(last) => {
            let first = match scan {
                HealScan::Deep => 0,
                HealScan::Normal => last,
            };
            (
                first,
                frame_offset(codec, meta, last) + frame_len(last) as u64,
            )
        }
    };
    let from = frame_offset(codec, meta, first).min(end);
    let mut reader = drive.read_file(bucket, path, from, end - from).await?;
    for b in first..blocks {
        let frame = reader.read_exact(frame_len(b)).await?;
        if verify_frame(&frame).is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}
