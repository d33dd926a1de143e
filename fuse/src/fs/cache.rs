//! The local read cache (`--cache-size`): blocks of objects' data kept on the local disk,
//! for reads that jump around a file (databases, indexes, archives) and for files read
//! again after the kernel dropped their pages.
//!
//! A block is [`BLOCK`] bytes of one version of an object ([`version_of`]). An open learns
//! the version from the server (close-to-open), and a block fetched for a read is kept only
//! when the GET answered with that same version, so a block never stands for other bytes.
//! Blocks are dropped least recently used first once their total would pass the size
//! given. An object's blocks live in one unlinked sparse file under `--cache-dir` (nothing
//! is left behind when the mount ends, however it ends); a dropped block's range is
//! punched out of it, and the file closes with its last block.
//!
//! Invariants: `used` is the sum of the lengths of the blocks indexed and stays at most the
//! capacity; a block is indexed only once its bytes are written; the index lock is never
//! held across an await or a read or write of the disk.
//!
//! [`version_of`]: crate::api::version_of

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};

use crate::api::ObjectApi;
use crate::fs::error::{Errno, FsError, FsResult};

/// Bytes per block: what one miss fetches.
pub const BLOCK: u64 = 256 << 10;

/// The cache.
pub struct ReadCache {
    dir: PathBuf,
    capacity: u64,
    index: Mutex<Index>,
}

#[derive(Default)]
struct Index {
    /// Version → its file and blocks.
    objects: HashMap<u64, Cached>,
    /// Last use → (version, block): the least recently used first.
    lru: BTreeMap<u64, (u64, u64)>,
    tick: u64,
    used: u64,
}

struct Cached {
    file: Arc<File>,
    /// Block number → (last use, length).
    blocks: HashMap<u64, (u64, u64)>,
}

impl Index {
    fn touch(&mut self, version: u64, block: u64) -> Option<(Arc<File>, u64)> {
        self.tick += 1;
        let tick = self.tick;
        let cached = self.objects.get_mut(&version)?;
        let (used, len) = cached.blocks.get_mut(&block)?;
        self.lru.remove(used);
        *used = tick;
        self.lru.insert(tick, (version, block));
        Some((cached.file.clone(), *len))
    }

    /// Drops the least recently used block; false when there is none.
    fn evict_one(&mut self) -> bool {
        let Some((_, (version, block))) = self.lru.pop_first() else {
            return false;
        };
        let Some(cached) = self.objects.get_mut(&version) else {
            return true;
        };
        if let Some((_, len)) = cached.blocks.remove(&block) {
            self.used -= len;
            punch(&cached.file, block * BLOCK, len);
        }
        if cached.blocks.is_empty() {
            self.objects.remove(&version);
        }
        true
    }
}

/// Frees the disk of `[offset, offset + len)` of `file` (best effort: a failure only
/// leaves the space used until the file closes).
fn punch(file: &File, offset: u64, len: u64) {
    use nix::fcntl::{FallocateFlags, fallocate};
    let mode = FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
    if let Err(e) = fallocate(file, mode, offset as i64, len as i64) {
        tracing::debug!("read cache: punching a hole: {e}");
    }
}

/// A block being assembled from a handle's sequential reads (which the kernel sends in
/// pieces smaller than a block), kept once complete.
#[derive(Default)]
pub struct Filler {
    version: u64,
    block: u64,
    /// Where the next byte of the block would be.
    next: u64,
    buf: BytesMut,
}

impl ReadCache {
    /// Offers `data`, the bytes at `offset` of `version` (a file of `file_size` bytes) a
    /// read just returned: whole blocks among them, assembled across reads in `fill`, are
    /// kept.
    pub fn offer(&self, fill: &mut Filler, version: u64, offset: u64, data: &[u8], file_size: u64) {
        let (mut at, mut rest) = (offset, data);
        while !rest.is_empty() {
            if fill.version != version || fill.next != at || fill.buf.is_empty() {
                // Not where the block left off: start at the next block boundary.
                let start = at.next_multiple_of(BLOCK);
                let skip = (start - at) as usize;
                fill.version = version;
                fill.buf.clear();
                fill.block = start / BLOCK;
                fill.next = start;
                if skip >= rest.len() {
                    return;
                }
                (at, rest) = (start, &rest[skip..]);
                if self.holds(version, start, start + 1) {
                    // Held already: skip to the next block.
                    let next = (start + BLOCK).min(file_size);
                    let skip = ((next - at) as usize).min(rest.len());
                    (at, rest) = (at + skip as u64, &rest[skip..]);
                    continue;
                }
            }
            let block_end = ((fill.block + 1) * BLOCK).min(file_size);
            let take = ((block_end - at) as usize).min(rest.len());
            fill.buf.extend_from_slice(&rest[..take]);
            (at, rest) = (at + take as u64, &rest[take..]);
            fill.next = at;
            if at == block_end {
                if let Err(e) = self.keep(version, fill.block, &fill.buf) {
                    tracing::debug!("read cache: keeping a block: {e}");
                }
                fill.buf.clear();
            }
        }
    }

    /// A cache of at most `capacity` bytes in files under `dir`.
    pub fn new(dir: PathBuf, capacity: u64) -> Self {
        Self {
            dir,
            capacity,
            index: Mutex::default(),
        }
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes held.
    pub fn used(&self) -> u64 {
        self.index().used
    }

    /// Whether every block of `[offset, end)` of `version` is held.
    pub fn holds(&self, version: u64, offset: u64, end: u64) -> bool {
        let index = self.index();
        let Some(cached) = index.objects.get(&version) else {
            return false;
        };
        (offset / BLOCK..end.div_ceil(BLOCK)).all(|b| cached.blocks.contains_key(&b))
    }

    /// The bytes `[offset, end)` of `bucket/key` at `version`, a file of `file_size`
    /// bytes: held blocks from the disk, the others fetched whole and kept. Every whole
    /// block of `version` it had in hand goes to `blocks` with its offset.
    #[allow(clippy::too_many_arguments)]
    pub async fn read(
        &self,
        remote: &dyn ObjectApi,
        (bucket, key): (&str, &str),
        version: u64,
        offset: u64,
        end: u64,
        file_size: u64,
        blocks: &mut (dyn FnMut(u64, Bytes) + Send),
    ) -> FsResult<Bytes> {
        let mut out = BytesMut::with_capacity((end - offset) as usize);
        for block in offset / BLOCK..end.div_ceil(BLOCK) {
            let start = block * BLOCK;
            let (data, of_version) = match self.cached_block(version, block)? {
                Some(data) => (data, true),
                None => {
                    let block_end = (start + BLOCK).min(file_size);
                    self.fetch(remote, (bucket, key), version, block, block_end)
                        .await?
                }
            };
            if of_version {
                blocks(start, data.clone());
            }
            let from = (offset.max(start) - start) as usize;
            let to = ((end.min(start + BLOCK) - start) as usize).min(data.len());
            if from >= to {
                break;
            }
            out.extend_from_slice(&data[from..to]);
        }
        Ok(out.freeze())
    }

    fn cached_block(&self, version: u64, block: u64) -> FsResult<Option<Bytes>> {
        let Some((file, len)) = self.index().touch(version, block) else {
            return Ok(None);
        };
        let mut buf = vec![0; len as usize];
        file.read_exact_at(&mut buf, block * BLOCK)?;
        Ok(Some(buf.into()))
    }

    /// GETs block `block` (up to `block_end`) and keeps it when it is of `version`; and
    /// whether it was.
    async fn fetch(
        &self,
        remote: &dyn ObjectApi,
        (bucket, key): (&str, &str),
        version: u64,
        block: u64,
        block_end: u64,
    ) -> FsResult<(Bytes, bool)> {
        let start = block * BLOCK;
        let mut body = remote.get(bucket, key, start, block_end).await?;
        let mut data = BytesMut::with_capacity((block_end - start) as usize);
        while let Some(chunk) = body.next().await? {
            data.extend_from_slice(&chunk);
        }
        let data = data.freeze();
        if body.version() != version {
            tracing::debug!(bucket, key, "read cache: the object changed since its open");
            return Ok((data, false));
        }
        if data.len() as u64 != block_end - start {
            return Err(FsError::posix(Errno::EIO, "the object changed while read"));
        }
        if let Err(e) = self.keep(version, block, &data) {
            tracing::debug!("read cache: keeping a block: {e}");
        }
        Ok((data, true))
    }

    /// Writes `data`, block `block` of `version`, to its file and indexes it, dropping the
    /// least recently used blocks to make room.
    fn keep(&self, version: u64, block: u64, data: &[u8]) -> std::io::Result<()> {
        let len = data.len() as u64;
        if len > self.capacity {
            return Ok(());
        }
        // The file is made under the lock: two blocks of one new version land in one.
        let file = match self.index().objects.entry(version) {
            Entry::Occupied(e) => e.get().file.clone(),
            Entry::Vacant(e) => {
                let file = Arc::new(tempfile::tempfile_in(&self.dir)?);
                let blocks = HashMap::new();
                e.insert(Cached { file, blocks }).file.clone()
            }
        };
        if let Err(e) = file.write_all_at(data, block * BLOCK) {
            let mut index = self.index();
            if index
                .objects
                .get(&version)
                .is_some_and(|c| c.blocks.is_empty())
            {
                index.objects.remove(&version);
            }
            return Err(e);
        }
        let mut index = self.index();
        while index.used + len > self.capacity {
            if !index.evict_one() {
                break;
            }
        }
        index.tick += 1;
        let tick = index.tick;
        let cached = index.objects.entry(version).or_insert_with(|| Cached {
            file,
            blocks: HashMap::new(),
        });
        if let Some((old, old_len)) = cached.blocks.insert(block, (tick, len)) {
            index.lru.remove(&old);
            index.used -= old_len;
        }
        index.lru.insert(tick, (version, block));
        index.used += len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_dropped_least_recently_used_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = ReadCache::new(dir.path().to_path_buf(), 2 * BLOCK);
        let block = vec![7u8; BLOCK as usize];
        cache.keep(1, 0, &block).expect("keep");
        cache.keep(1, 1, &block).expect("keep");
        assert!(cache.holds(1, 0, 2 * BLOCK));
        // Block 0 used again: block 1 is the older one.
        assert!(cache.cached_block(1, 0).expect("read").is_some());
        cache.keep(2, 0, &block[..100]).expect("keep");
        assert!(cache.holds(1, 0, BLOCK), "recently used, kept");
        assert!(
            !cache.holds(1, BLOCK, 2 * BLOCK),
            "least recently used, dropped"
        );
        assert!(cache.holds(2, 0, 100));
        assert_eq!(cache.used(), BLOCK + 100);
        let got = cache.cached_block(1, 0).expect("read").expect("held");
        assert_eq!(&got[..], &block[..]);
    }

    #[test]
    fn sequential_reads_fill_whole_blocks_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = ReadCache::new(dir.path().to_path_buf(), 16 * BLOCK);
        let size = 2 * BLOCK + BLOCK / 2;
        let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        let mut fill = Filler::default();
        // Starting inside block 0: it cannot be whole.
        for at in (BLOCK / 4..size).step_by(64 << 10) {
            let end = (at + (64 << 10)).min(size);
            cache.offer(&mut fill, 9, at, &data[at as usize..end as usize], size);
        }
        assert!(!cache.holds(9, 0, 1));
        assert!(
            cache.holds(9, BLOCK, size),
            "blocks 1 and the short last one"
        );
        let last = cache.cached_block(9, 2).expect("read").expect("held");
        assert_eq!(&last[..], &data[2 * BLOCK as usize..]);
        // A jump breaks the block being filled.
        let mut fill = Filler::default();
        cache.offer(&mut fill, 10, 0, &data[..4096], size);
        cache.offer(&mut fill, 10, 8192, &data[8192..BLOCK as usize], size);
        assert!(!cache.holds(10, 0, 1));
    }
}
