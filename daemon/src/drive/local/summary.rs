//! Listing summaries kept beside `tessera.meta`: the summary section of the metadata file
//! (see [`crate::drive::metafile`]), with a checksum, in the `user.tessera` extended
//! attribute of the object's directory. On ext4 that attribute lives inside the
//! directory's inode, which a listing reads anyway to reach the directory, so a cold
//! listing learns an object's size, time and attributes without reading its file: one
//! disk read fewer per object and drive (two become zero once the inode table is read).
//!
//! Invariant: an attribute describes the `tessera.meta` beside it. Every change of that
//! file removes the attribute first (a metadata change the file system journals, and so
//! makes durable, no later than the change itself) and sets it again only once the new file
//! is durable. A crash in between leaves no attribute, and listings read the file. Changes
//! of one object's file are serialized by the object's write lock, so no attribute of an
//! older file is set over a newer one. A drive whose file system has no user attributes,
//! or would keep them outside the inode ([`fits_in_inode`], probed at open), sets none
//! (but still removes any it finds), and listings read the files.

use std::ffi::CString;
use std::path::Path;

use bytes::Bytes;
use xxhash_rust::xxh3::xxh3_64;

use super::{c_path, io_err};
use crate::drive::metafile::SUMMARY_MAX;
use crate::drive::{DriveError, OBJECT_META_FILE};

const ATTRIBUTE: &std::ffi::CStr = c"user.tessera";
/// Bytes of checksum after the summary.
const CHECKSUM_LEN: usize = 4;

/// The object directory of `path` when it names a metadata file.
pub(super) fn meta_dir(path: &Path) -> Option<&Path> {
    (path.file_name()? == OBJECT_META_FILE)
        .then(|| path.parent())
        .flatten()
}

fn dir_path(dir: &Path) -> Result<CString, DriveError> {
    c_path(dir).ok_or_else(|| DriveError::InvalidPath {
        path: dir.display().to_string(),
    })
}

/// Removes the summary of `dir`, before its metadata file changes. An error fails the
/// change: the old summary could outlive it.
pub(super) fn forget(dir: &Path) -> Result<(), DriveError> {
    match crate::sys::remove_xattr(&dir_path(dir)?, ATTRIBUTE) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(dir, e)),
        _ => Ok(()),
    }
}

/// Keeps `summary` as the summary of `dir`, once its metadata file is durable. Best effort:
/// without it the listing reads the file.
pub(super) fn record(dir: &Path, summary: &[u8]) {
    let Ok(path) = dir_path(dir) else { return };
    if summary.is_empty() || summary.len() > SUMMARY_MAX {
        return;
    }
    let mut value = Vec::with_capacity(summary.len() + CHECKSUM_LEN);
    value.extend_from_slice(summary);
    value.extend_from_slice(&checksum(summary));
    if let Err(e) = crate::sys::set_xattr(&path, ATTRIBUTE, &value) {
        tracing::debug!(dir = %dir.display(), error = %e, "listing summary not kept");
    }
}

/// Whether the file system under `scratch` keeps a summary inside a directory's inode,
/// probed with a directory made (and removed) there. ext4 with 128-byte inodes would give
/// each object directory a 4 KiB block of its own for it (the directory's block count
/// grows): a drive there keeps no summaries, and neither does one without user
/// attributes.
pub(super) fn fits_in_inode(scratch: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = scratch.join(format!(
        ".tessera-probe-{}",
        uuid::Uuid::new_v4().as_simple()
    ));
    if std::fs::create_dir(&probe).is_err() {
        return false;
    }
    let fits = (|| {
        let before = std::fs::symlink_metadata(&probe).ok()?.blocks();
        // Bytes unlike any other directory's: identical values may share a block.
        let seed = uuid::Uuid::new_v4();
        let value: Vec<u8> = (0..SUMMARY_MAX + CHECKSUM_LEN)
            .map(|i| seed.as_bytes()[i % 16] ^ i as u8)
            .collect();
        crate::sys::set_xattr(&dir_path(&probe).ok()?, ATTRIBUTE, &value).ok()?;
        Some(std::fs::symlink_metadata(&probe).ok()?.blocks() == before)
    })();
    let _ = std::fs::remove_dir(&probe);
    fits == Some(true)
}

/// A metadata file that reads as torn (see [`crate::drive::metafile::is_torn`]) stands for
/// no file: what a crash leaves of a write that never returned. Beside a summary, which is
/// set only once its file is durable, it is damage instead (the file was emptied after the
/// fact): `Corrupt`, so a read does not take the object for absent while a listing, which
/// reads the summary, shows it.
pub(super) fn judge_torn(
    path: &Path,
    file: Result<Bytes, DriveError>,
) -> Result<Bytes, DriveError> {
    match file {
        Ok(file) if crate::drive::metafile::is_torn(&file) => match meta_dir(path).and_then(read) {
            Some(_) => Err(DriveError::Corrupt {
                path: path.display().to_string(),
                reason: "emptied after it was written".into(),
            }),
            None => Ok(file),
        },
        other => other,
    }
}

/// The checked summary of `dir`; `None` when there is none (or it fails its checksum).
pub(super) fn read(dir: &Path) -> Option<Bytes> {
    let path = dir_path(dir).ok()?;
    let value = crate::sys::get_xattr(&path, ATTRIBUTE, SUMMARY_MAX + CHECKSUM_LEN)
        .ok()
        .flatten()?;
    checked(value)
}

/// [`read`] of the object directory `rel` inside the directory `parent`, open as `at`:
/// the kernel resolves one name from `at` instead of the whole path (where it can).
pub(super) fn read_at(at: &std::fs::File, parent: &Path, rel: &str) -> Option<Bytes> {
    let name = CString::new(rel).ok()?;
    match crate::sys::get_xattr_at(at, &name, ATTRIBUTE, SUMMARY_MAX + CHECKSUM_LEN) {
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => read(&parent.join(rel)),
        found => checked(found.ok().flatten()?),
    }
}

/// The summary in an attribute's `value`, if its checksum holds.
fn checked(mut value: Vec<u8>) -> Option<Bytes> {
    let at = value.len().checked_sub(CHECKSUM_LEN)?;
    if value[at..] != checksum(&value[..at]) || at == 0 {
        return None;
    }
    value.truncate(at);
    Some(Bytes::from(value))
}

fn checksum(summary: &[u8]) -> [u8; CHECKSUM_LEN] {
    let sum = xxh3_64(summary).to_le_bytes();
    [sum[0], sum[1], sum[2], sum[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_finds_room_in_this_file_system_and_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        // The test machines' file systems (ext4 with 256-byte inodes, tmpfs) have room.
        assert!(fits_in_inode(tmp.path()));
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
        assert!(!fits_in_inode(&tmp.path().join("missing")));
    }

    #[test]
    fn a_summary_is_read_back_until_forgotten_and_damage_reads_as_none() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("obj");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(read(&dir), None);
        forget(&dir).unwrap();
        record(&dir, b"summary");
        assert_eq!(read(&dir).as_deref(), Some(&b"summary"[..]));
        let path = dir_path(&dir).unwrap();
        crate::sys::set_xattr(&path, ATTRIBUTE, b"summarz\0\0\0\0").unwrap();
        assert_eq!(read(&dir), None, "a bad checksum reads as no summary");
        forget(&dir).unwrap();
        record(&dir, &[7; SUMMARY_MAX + 1]);
        assert_eq!(read(&dir), None, "too long is never kept");
        record(&dir, b"again");
        forget(&dir).unwrap();
        assert_eq!(read(&dir), None);
        let file = dir.join(OBJECT_META_FILE);
        assert_eq!(meta_dir(&file), Some(dir.as_path()));
        assert_eq!(meta_dir(&dir.join("part.1")), None);
    }

    #[test]
    fn a_summary_read_from_its_open_parent_is_the_one_read_by_path() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("a/.tessera.dir")).unwrap();
        std::fs::create_dir(tmp.path().join("b")).unwrap();
        record(&tmp.path().join("a"), b"object a");
        record(&tmp.path().join("a/.tessera.dir"), b"marker a/");
        let at = std::fs::File::open(tmp.path()).unwrap();
        let read_at = |rel: &str| read_at(&at, tmp.path(), rel);
        assert_eq!(read_at("a").as_deref(), Some(&b"object a"[..]));
        assert_eq!(
            read_at("a/.tessera.dir").as_deref(),
            Some(&b"marker a/"[..])
        );
        assert_eq!(read_at("b"), None, "no summary");
        assert_eq!(read_at("missing"), None);
        let st = crate::sys::lstat_at(&at, c"a").unwrap();
        assert_eq!((st.st_mode & libc::S_IFMT, st.st_nlink), (libc::S_IFDIR, 3));
        let missing = crate::sys::lstat_at(&at, c"missing").unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    }
}
