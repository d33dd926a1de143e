//! Unit tests of the core against [`memory::Memory`], an in-memory object API: lookups,
//! readdir paging, the write paths (streamed, staged) and their uploads, rename, and the
//! errno mapping. No kernel and no server: each test builds an [`Inner`] over a fresh
//! in-memory cluster and a temporary staging directory, and calls the operations the
//! adapter calls.

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::attr::{Attr, Defaults, Kind};
use super::error::{Errno, FsResult};
use super::inode::ROOT;
use super::state::{Inner, Settings};

mod behind;
mod dir;
mod memory;
mod namespace;
mod pages;
mod write;

use memory::Memory;

/// A core over an in-memory cluster, and the staging directory it writes into.
struct Fixture {
    fs: Arc<Inner>,
    _cache: tempfile::TempDir,
}

/// Mounts `api` with `bucket` at the root (or every bucket), read-write.
fn mount(api: &Memory, bucket: Option<&str>) -> Fixture {
    mount_with(api, bucket, false)
}

fn mount_with(api: &Memory, bucket: Option<&str>, read_only: bool) -> Fixture {
    mount_tuned(api, bucket, |s| s.read_only = read_only)
}

/// Mounts `api` with `bucket` at the root, with the settings `tune` changes.
fn mount_tuned(api: &Memory, bucket: Option<&str>, tune: impl FnOnce(&mut Settings)) -> Fixture {
    let cache = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        bucket: bucket.map(str::to_string),
        bucket_created: None,
        ttl: Duration::from_secs(60),
        negative_ttl: Duration::ZERO,
        cache_size: 0,
        read_only: false,
        cache_dir: cache.path().to_path_buf(),
        defaults: Defaults {
            uid: 1000,
            gid: 1000,
            file_perm: 0o644,
            dir_perm: 0o755,
            time: SystemTime::UNIX_EPOCH,
        },
    };
    tune(&mut settings);
    Fixture {
        fs: Arc::new(Inner::new(Arc::new(api.clone()), settings)),
        _cache: cache,
    }
}

fn os(name: &str) -> &OsStr {
    OsStr::new(name)
}

/// The errno of a failed operation.
fn errno<T: std::fmt::Debug>(r: FsResult<T>) -> Errno {
    r.expect_err("the operation should fail").errno()
}

fn file_attr() -> Attr {
    Attr::new(Kind::File, 0o640, 1000, 1000)
}

/// A fresh mount of bucket `b` of `api` once `n` files `d/f0`… of one byte were put there
/// (not through a mount); the mount and `d`'s inode.
async fn mount_over_files(api: &Memory, n: usize) -> (Fixture, u64) {
    for i in 0..n {
        api.insert("b", &format!("d/f{i}"), b"x");
    }
    let f = mount(api, Some("b"));
    let (d, _) = f.lookup("d").await.expect("d");
    (f, d)
}

impl Fixture {
    /// Looks `path` up from the root, component by component.
    async fn lookup(&self, path: &str) -> FsResult<(u64, Attr)> {
        let mut at = (ROOT, Attr::implicit_dir(&self.fs.settings.defaults));
        for name in path.split('/') {
            at = self.fs.lookup(at.0, os(name)).await?;
        }
        Ok(at)
    }

    /// Creates `name` in the root, writes `data` in one write, closes it.
    async fn put(&self, name: &str, data: &[u8]) -> u64 {
        let (ino, fh) = self
            .fs
            .create(ROOT, os(name), file_attr(), false)
            .await
            .expect("create");
        self.fs.write(fh, 0, data).await.expect("write");
        self.fs.flush(fh).await.expect("flush");
        self.fs.release(fh).await;
        ino
    }

    /// Opens `ino` with `flags`, writes `data` at `offset`, closes it.
    async fn write_at(&self, ino: u64, flags: i32, offset: u64, data: &[u8]) -> FsResult<()> {
        let fh = self.fs.open(ino, flags).await?;
        let written = self.fs.write(fh, offset, data).await;
        let flushed = self.fs.flush(fh).await;
        self.fs.release(fh).await;
        assert_eq!(written?, data.len() as u32);
        flushed
    }
}
