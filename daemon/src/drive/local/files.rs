//! Streamed files of a local drive: a reader of a byte range (blocking reads straight into
//! the returned buffer) and a writer that starts writeback every few MiB, so the fsync that
//! makes the file durable overlaps the upload instead of following it.

use std::fs;
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use super::{io_err, task_failed};
use crate::drive::{DriveError, FileReader, FileWriter};

/// Reads a range of a file with plain blocking reads on tokio's blocking pool, straight
/// into the buffer it returns (one copy, from the kernel).
pub(super) struct LocalReader {
    file: Option<fs::File>,
    left: u64,
    path: PathBuf,
}

#[async_trait]
impl FileReader for LocalReader {
    async fn read_exact(&mut self, len: usize) -> Result<Bytes, DriveError> {
        let short = |path: &Path| DriveError::Io {
            path: path.display().to_string(),
            source: io::Error::from(ErrorKind::UnexpectedEof),
        };
        if len as u64 > self.left {
            return Err(short(&self.path));
        }
        let mut file = self.file.take().ok_or_else(|| short(&self.path))?;
        let path = self.path.clone();
        let (file, buf) = tokio::task::spawn_blocking(move || {
            // Read into fresh capacity: no zeroing of a buffer about to be overwritten.
            let mut buf = Vec::with_capacity(len);
            match (&mut file).take(len as u64).read_to_end(&mut buf) {
                Ok(n) if n == len => Ok((file, buf)),
                Ok(_) => Err(short(&path)),
                Err(e) => Err(io_err(&path, e)),
            }
        })
        .await
        .map_err(|e| task_failed(&e))??;
        self.file = Some(file);
        self.left -= len as u64;
        Ok(Bytes::from(buf))
    }
}

pub(super) struct LocalWriter {
    file: Option<fs::File>,
    path: PathBuf,
    /// Bytes written so far, and where writeback was last started.
    written: u64,
    flushed: u64,
}

/// Writeback of a streamed file is started every this many bytes, so the fsync that ends
/// the file overlaps the rest of the upload instead of following it.
const WRITEBACK_EVERY: u64 = 8 << 20;

#[async_trait]
impl FileWriter for LocalWriter {
    async fn write(&mut self, data: Bytes) -> Result<(), DriveError> {
        let mut file = self.file.take().ok_or_else(|| DriveError::Io {
            path: self.path.display().to_string(),
            source: io::Error::other("write after a failed write"),
        })?;
        let path = self.path.clone();
        let (from, len) = (
            self.flushed,
            self.written + data.len() as u64 - self.flushed,
        );
        let kick = len >= WRITEBACK_EVERY;
        let file = tokio::task::spawn_blocking(move || {
            file.write_all(&data).map_err(|e| io_err(&path, e))?;
            if kick {
                // Best effort: a failure here only means the final fsync does more work.
                let _ = crate::sys::start_writeback(&file, from, len);
            }
            Ok::<_, DriveError>(file)
        })
        .await
        .map_err(|e| task_failed(&e))??;
        self.written = from + len;
        if kick {
            self.flushed = self.written;
        }
        self.file = Some(file);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<(), DriveError> {
        let Some(file) = self.file else {
            return Err(DriveError::Io {
                path: self.path.display().to_string(),
                source: io::Error::other("finish after a failed write"),
            });
        };
        let path = self.path;
        tokio::task::spawn_blocking(move || file.sync_all().map_err(|e| io_err(&path, e)))
            .await
            .map_err(|e| task_failed(&e))?
    }
}

impl LocalReader {
    pub(super) fn new(file: fs::File, len: u64, path: PathBuf) -> Self {
        Self {
            file: Some(file),
            left: len,
            path,
        }
    }
}

impl LocalWriter {
    pub(super) fn new(file: fs::File, path: PathBuf) -> Self {
        Self {
            file: Some(file),
            path,
            written: 0,
            flushed: 0,
        }
    }
}
