//! Durable whole-file writes of local drives. Each file goes to a temporary sibling and is
//! renamed over its path. A batch (one file of an object, on every drive of one file
//! system) shares the file system's flushes ([`GroupSync`](super::GroupSync)): one before
//! the renames when any target may hold a committed file ([`Target::Replace`]), one after.
//! A small PUT on four drives of one disk thus costs one or two `syncfs` and one trip to
//! the blocking pool, not one of each per drive.
//!
//! Invariants: a write reported `Ok` is durable; one reported `Err` leaves no temporary
//! file and, unless the last flush failed, has not replaced its target.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use super::{LocalDrive, io_err, summary, task_failed};
use crate::drive::{DriveError, Target, metafile};

/// One file of a batch.
struct FileWrite {
    drive: LocalDrive,
    path: PathBuf,
    data: Bytes,
    target: Target,
}

impl LocalDrive {
    /// [`Drive::write_all`](crate::drive::Drive::write_all) of one path on several local
    /// drives, each with its own bytes and target. The drives of one file system go in one
    /// trip to the blocking pool and share its flushes; file systems run concurrently.
    /// Results in the order of `writes`.
    pub async fn write_all_of(
        writes: Vec<(&LocalDrive, Bytes, Target)>,
        volume: &str,
        path: &str,
    ) -> Vec<Result<(), DriveError>> {
        let mut results: Vec<Option<Result<(), DriveError>>> =
            writes.iter().map(|_| None).collect();
        let mut batches: Vec<(Vec<usize>, Vec<FileWrite>)> = Vec::new();
        for (i, (drive, data, target)) in writes.into_iter().enumerate() {
            let path = match drive.file_path(volume, path) {
                Ok(p) => p,
                Err(e) => {
                    results[i] = Some(Err(e));
                    continue;
                }
            };
            let write = FileWrite {
                drive: drive.clone(),
                path,
                data,
                target,
            };
            match batches
                .iter_mut()
                .find(|(_, b)| Arc::ptr_eq(&b[0].drive.sync, &drive.sync))
            {
                Some((at, batch)) => {
                    at.push(i);
                    batch.push(write);
                }
                None => batches.push((vec![i], vec![write])),
            }
        }
        let done = futures::future::join_all(batches.into_iter().map(|(at, batch)| async move {
            (
                at,
                tokio::task::spawn_blocking(move || write_batch(&batch)).await,
            )
        }))
        .await;
        for (at, written) in done {
            match written {
                Ok(written) => at.into_iter().zip(written).for_each(|(i, r)| {
                    results[i] = Some(r);
                }),
                Err(e) => at
                    .into_iter()
                    .for_each(|i| results[i] = Some(Err(task_failed(&e)))),
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every write answered"))
            .collect()
    }
}

/// Writes every file of `batch` durably, on drives that share one file system. Results in
/// batch order.
fn write_batch(batch: &[FileWrite]) -> Vec<Result<(), DriveError>> {
    let Some(first) = batch.first() else {
        return Vec::new();
    };
    let sync = &first.drive.sync;
    let mut staged: Vec<Result<PathBuf, DriveError>> = batch.iter().map(stage).collect();
    let replaces = batch
        .iter()
        .zip(&staged)
        .any(|(w, s)| s.is_ok() && w.target == Target::Replace);
    if replaces && let Err(e) = sync.barrier() {
        fail_staged(batch, &mut staged, &e, true);
    }
    let mut renamed: Vec<Result<PathBuf, DriveError>> = batch
        .iter()
        .zip(staged)
        .map(|(w, s)| {
            let tmp = s?;
            fs::rename(&tmp, &w.path).map_err(|e| {
                let _ = fs::remove_file(&tmp);
                io_err(&w.path, e)
            })?;
            Ok(w.path.clone())
        })
        .collect();
    if renamed.iter().any(Result::is_ok)
        && let Err(e) = sync.barrier()
    {
        fail_staged(batch, &mut renamed, &e, false);
    }
    batch
        .iter()
        .zip(renamed)
        .map(|(w, r)| {
            if r.is_ok()
                && let Some(dir) = summary::meta_dir(&w.path)
                && let Ok(Some(kept)) = metafile::summary(&w.data)
            {
                w.drive.keep_summary(dir, &kept);
            }
            w.drive.judge(r.map(drop))
        })
        .collect()
}

/// Writes `w`'s bytes to a new temporary sibling of its path; returns the sibling. The
/// listing summary of a metadata file about to be replaced goes first.
fn stage(w: &FileWrite) -> Result<PathBuf, DriveError> {
    if let Some(dir) = summary::meta_dir(&w.path) {
        summary::forget(dir)?;
    }
    w.drive.create_parent(&w.path)?;
    let tmp = w
        .path
        .with_file_name(format!(".tessera-tmp-{}", uuid::Uuid::new_v4().as_simple()));
    match fs::File::create(&tmp).and_then(|mut f| f.write_all(&w.data)) {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(io_err(&w.path, e))
        }
    }
}

/// A flush failed: every file still in the running fails with it (the kernel may have
/// dropped their pages), its temporary file removed when `remove` says it is one.
fn fail_staged(
    batch: &[FileWrite],
    files: &mut [Result<PathBuf, DriveError>],
    e: &io::Error,
    remove: bool,
) {
    for (w, f) in batch.iter().zip(files.iter_mut()) {
        if let Ok(path) = f {
            if remove {
                let _ = fs::remove_file(&*path);
            }
            *f = Err(io_err(&w.path, io::Error::new(e.kind(), e.to_string())));
        }
    }
}
