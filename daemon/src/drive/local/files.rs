//! Streamed reads of a local drive: a reader of a byte range, with blocking reads straight
//! into the returned buffers. (The streamed writer is [`super::file_writer`].)
//!
//! A piece read past the page cache that fails for any reason (say, a device that needs a
//! larger alignment than [`crate::sys::DIRECT_ALIGN`]) is read again through the page
//! cache, whose errors are the ones reported.

use std::collections::VecDeque;
use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::task::JoinHandle;

use super::{io_err, task_failed};
use crate::drive::{DriveError, FileReader};

/// How many reads of the caller's size a reader keeps in flight ahead of it: with the
/// next pieces already on their way, the disk's queue stays full while the caller
/// verifies and sends the last one, and a cold read is not one disk round trip per piece.
const READ_AHEAD: usize = 4;

/// Ranges at least this long are read past the page cache where the file system allows it
/// (a large GET's shards): pieces the cache holds come from it, the others straight from
/// the disk. On the reference machine a cold buffered read ran at 650 MB/s, most of its
/// CPU spent copying out of freshly filled cache pages, against 1.6 GB/s direct; and a
/// large object streamed once would only push hotter data out of the cache.
pub(super) const DIRECT_READ_MIN: u64 = 1 << 20;

/// Reads a range of a file front to back with positioned reads on tokio's blocking pool,
/// straight into the buffers it returns. Each call also starts reads of the next pieces,
/// of the size just asked for, up to [`READ_AHEAD`] in flight and never past the range. A
/// later call of another size is served from the same pieces.
pub(super) struct LocalReader {
    file: Arc<fs::File>,
    /// The file opened with `O_DIRECT`, for the pieces the page cache does not hold.
    direct: Option<Arc<fs::File>>,
    path: Arc<PathBuf>,
    /// Bytes of the range not yet returned.
    left: u64,
    /// Where the next read starts, and how much of the range is still unasked.
    next: u64,
    unasked: u64,
    /// Reads in flight, in file order.
    inflight: VecDeque<JoinHandle<Result<Bytes, DriveError>>>,
    /// The rest of a piece a smaller call did not take.
    spare: Bytes,
}

#[async_trait]
impl FileReader for LocalReader {
    async fn read_exact(&mut self, len: usize) -> Result<Bytes, DriveError> {
        if len as u64 > self.left {
            return Err(short(&self.path));
        }
        while self.inflight.len() < READ_AHEAD && self.unasked > 0 {
            self.ask(len);
        }
        let mut pieces: Vec<Bytes> = Vec::new();
        let mut have = 0;
        while have < len {
            let mut piece = if self.spare.is_empty() {
                if self.inflight.is_empty() {
                    self.ask(len - have);
                }
                let read = self.inflight.pop_front().ok_or_else(|| short(&self.path))?;
                read.await.map_err(|e| task_failed(&e))??
            } else {
                std::mem::take(&mut self.spare)
            };
            if piece.is_empty() {
                return Err(short(&self.path));
            }
            if have + piece.len() > len {
                self.spare = piece.split_off(len - have);
            }
            have += piece.len();
            pieces.push(piece);
        }
        self.left -= len as u64;
        Ok(match pieces.len() {
            1 => pieces.pop().unwrap_or_default(),
            _ => pieces.concat().into(),
        })
    }
}

impl LocalReader {
    /// A reader of `len` bytes of `file` from `offset`; `direct`, the same file opened with
    /// `O_DIRECT`, serves the pieces the page cache does not hold.
    pub(super) fn new(
        file: fs::File,
        direct: Option<fs::File>,
        offset: u64,
        len: u64,
        path: PathBuf,
    ) -> Self {
        Self {
            file: Arc::new(file),
            direct: direct.map(Arc::new),
            path: Arc::new(path),
            left: len,
            next: offset,
            unasked: len,
            inflight: VecDeque::new(),
            spare: Bytes::new(),
        }
    }

    /// Starts the read of the next `len` bytes of the range (fewer at its end).
    fn ask(&mut self, len: usize) {
        let len = (len as u64).min(self.unasked);
        let (file, path, at) = (self.file.clone(), self.path.clone(), self.next);
        let direct = self.direct.clone();
        self.inflight
            .push_back(tokio::task::spawn_blocking(move || {
                let len = len as usize;
                let read = match direct {
                    Some(direct) if crate::sys::is_cached(&file, at, len) != Some(true) => {
                        crate::sys::pread_direct(&direct, at, len).or_else(|e| {
                            super::direct_io_refused("read", &e);
                            crate::sys::pread_to_vec(&file, at, len).map(Bytes::from)
                        })
                    }
                    _ => crate::sys::pread_to_vec(&file, at, len).map(Bytes::from),
                };
                match read {
                    Ok(buf) if buf.len() == len => Ok(buf),
                    Ok(_) => Err(short(&path)),
                    Err(e) => Err(io_err(&path, e)),
                }
            }));
        self.next += len;
        self.unasked -= len;
    }
}

fn short(path: &Path) -> DriveError {
    DriveError::Io {
        path: path.display().to_string(),
        source: io::Error::from(ErrorKind::UnexpectedEof),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `len` bytes of a pattern in a new file at `path`, out of the page cache; the
    /// bytes and the file opened for reading.
    fn cold_file(path: &Path, len: u32) -> (Vec<u8>, fs::File) {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        fs::write(path, &data).unwrap();
        let file = fs::File::open(path).unwrap();
        file.sync_all().unwrap();
        // The kernel may keep a page a moment longer (still under writeback on a busy
        // machine): drop again until none is left.
        for _ in 0..100 {
            crate::sys::drop_cached(&file).unwrap();
            if crate::sys::is_cached(&file, 0, data.len()) == Some(false) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(crate::sys::is_cached(&file, 0, data.len()), Some(false));
        (data, file)
    }

    /// Reads the rest of `r`'s range of `len` bytes in pieces of at most `piece`.
    async fn read_all(r: &mut LocalReader, len: u64, piece: usize) -> Vec<u8> {
        let mut got = Vec::new();
        while got.len() < len as usize {
            let n = (len as usize - got.len()).min(piece);
            got.extend_from_slice(&r.read_exact(n).await.unwrap());
        }
        got
    }

    #[tokio::test]
    async fn a_failed_direct_read_is_read_again_through_the_page_cache() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("f");
        let (data, file) = cold_file(&path, 3_000_000);
        // A descriptor open for writing only: every direct read fails (EBADF).
        let direct = fs::OpenOptions::new().write(true).open(&path).unwrap();
        assert!(crate::sys::pread_direct(&direct, 0, 10).is_err());
        let len = data.len() as u64 - 100;
        let mut r = LocalReader::new(file, Some(direct), 100, len, path);
        let got = read_all(&mut r, len, 700_000).await;
        assert!(got == data[100..], "every byte of the range, in order");
    }

    #[tokio::test]
    async fn a_cold_range_read_past_the_page_cache_leaves_it_out() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("f");
        let (data, file) = cold_file(&path, 4_000_000);
        let Some(direct) = super::super::read::open_direct(&path) else {
            panic!("the test's file system takes O_DIRECT");
        };
        let len = data.len() as u64 - 5000;
        let mut r = LocalReader::new(file, Some(direct), 5000, len, path.clone());
        let got = read_all(&mut r, len, 87_392).await;
        assert!(got == data[5000..], "every byte of the range, in order");
        // Asking whether a piece is cached must not have read it in (readahead) either.
        let file = fs::File::open(&path).unwrap();
        for at in [0, 1 << 20, 3 << 20] {
            assert_eq!(
                crate::sys::is_cached(&file, at, 4096),
                Some(false),
                "page at {at} stayed out of the page cache"
            );
        }
    }
}
