//! The log file of a background mount, bounded: `<cache-dir>/tessera-mount.log` is
//! renamed to `tessera-mount.log.1` (replacing the one before) when a line would take it
//! past [`LOG_MAX`], and a new one is started, so the mount's logs never hold more than
//! twice that on disk however long it runs.
//!
//! Invariants: a line is never split between two files; a failure to rotate keeps
//! writing to the current file rather than losing lines or failing the mount. Tested by
//! the unit tests below on a real temporary directory.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Most bytes one log file holds before it is rotated.
pub const LOG_MAX: u64 = 8 << 20;

/// A log file that rotates past a size bound (a `tracing` writer).
pub struct BoundedLog {
    inner: Mutex<Current>,
}

struct Current {
    path: PathBuf,
    file: File,
    len: u64,
    max: u64,
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl BoundedLog {
    /// Appends to the log at `path`, rotating it past `max` bytes.
    pub fn open(path: &Path, max: u64) -> std::io::Result<Self> {
        let file = open(path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            inner: Mutex::new(Current {
                path: path.to_path_buf(),
                file,
                len,
                max,
            }),
        })
    }
}

impl Current {
    fn rotate(&mut self) -> std::io::Result<()> {
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, &old)?;
        self.file = open(&self.path)?;
        self.len = 0;
        Ok(())
    }
}

/// One write of a line through a shared [`BoundedLog`].
pub struct LogWriter<'a>(&'a BoundedLog);

impl Write for LogWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut c = self.0.inner.lock().unwrap_or_else(|e| e.into_inner());
        if c.len > 0 && c.len + buf.len() as u64 > c.max {
            // Keep logging to the full file rather than lose lines.
            let _ = c.rotate();
        }
        c.file.write_all(buf)?;
        c.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BoundedLog {
    type Writer = LogWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_past_its_bound_and_keeps_whole_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.log");
        std::fs::write(&path, "from an earlier run\n").expect("seed");
        let log = BoundedLog::open(&path, 100).expect("open");
        for i in 0..50 {
            use tracing_subscriber::fmt::MakeWriter;
            // tracing hands the writer one formatted line per write.
            let line = format!("line {i:03} of the log\n");
            log.make_writer().write_all(line.as_bytes()).expect("write");
        }
        let now = std::fs::read_to_string(&path).expect("current");
        let old = std::fs::read_to_string(dir.path().join("m.log.1")).expect("rotated");
        assert!(
            now.len() <= 100 && old.len() <= 100,
            "{} {}",
            now.len(),
            old.len()
        );
        assert!(now.ends_with("line 049 of the log\n"), "{now}");
        assert!(
            old.lines()
                .chain(now.lines())
                .all(|l| l.starts_with("line "))
        );
        let files = std::fs::read_dir(dir.path()).expect("ls").count();
        assert_eq!(files, 2, "one rotated file is kept");
    }
}
