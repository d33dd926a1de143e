//! FUSE mounts for tests: [`Mount`] runs `tessera-mount` in the foreground as a child,
//! waits for its `ready` line, and on drop unmounts (lazily, so a hung mount cannot wedge
//! the test) and kills it. [`fuse_available`] decides whether FUSE tests run: they fail when
//! `/dev/fuse` is missing unless `TESSERA_SKIP_FUSE=1` says to skip them on purpose.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{PASSWORD, USER};

/// Whether FUSE tests should run here; panics when they cannot and no opt-out is set.
pub fn fuse_available() -> bool {
    if std::env::var("TESSERA_SKIP_FUSE").is_ok_and(|v| v == "1") {
        eprintln!("TESSERA_SKIP_FUSE=1: skipping a FUSE test on purpose");
        return false;
    }
    assert!(
        Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing: FUSE tests need it (set TESSERA_SKIP_FUSE=1 to skip them on purpose)"
    );
    true
}

/// How a test mount logs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MountLog {
    /// At debug level (each refused request with its reason), for the test that fails.
    Debug,
    /// At the client's own level, as a user runs it (the benchmarks: a debug line per
    /// refused request costs a `git clone` a few percent).
    AsUsersDo,
}

/// A running `tessera-mount`.
pub struct Mount {
    child: Option<Child>,
    /// The mount point.
    pub path: PathBuf,
    log: PathBuf,
    mounted: bool,
}

impl Mount {
    /// Mounts `endpoint` on `path` with `args`, with the test credentials; panics with the
    /// client's log when it does not come up.
    pub fn start(bin: &Path, endpoint: &str, path: &Path, args: &[&str]) -> Mount {
        match Self::try_start(bin, endpoint, path, args, (USER, PASSWORD)) {
            Ok(m) => m,
            Err(e) => panic!("mount failed: {e}"),
        }
    }

    /// Mounts, or says why it did not (logging at [`MountLog::Debug`]).
    pub fn try_start(
        bin: &Path,
        endpoint: &str,
        path: &Path,
        args: &[&str],
        creds: (&str, &str),
    ) -> Result<Mount, String> {
        Self::try_start_logging(bin, endpoint, path, args, creds, MountLog::Debug)
    }

    /// [`Mount::try_start`], logging as `logging` says.
    pub fn try_start_logging(
        bin: &Path,
        endpoint: &str,
        path: &Path,
        args: &[&str],
        (user, password): (&str, &str),
        logging: MountLog,
    ) -> Result<Mount, String> {
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let log = path.with_extension("mount.log");
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut command = Command::new(bin);
        command
            .arg("--endpoint")
            .arg(endpoint)
            .args(args)
            .arg("--foreground")
            .arg(path)
            .env("TESSERA_ROOT_USER", user)
            .env("TESSERA_ROOT_PASSWORD", password)
            .env("TESSERA_MOUNT_NOTIFY", "1")
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG");
        if logging == MountLog::Debug {
            command.env("RUST_LOG", "tessera_fuse=debug,warn");
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("spawn tessera-mount: {e}"))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let mut mount = Mount {
            child: Some(child),
            path: path.to_path_buf(),
            log,
            mounted: line.trim() == "ready",
        };
        if !mount.mounted {
            let status = mount.wait_exit(Duration::from_secs(10));
            return Err(format!(
                "{} (exit {status:?}); log:\n{}",
                line.trim(),
                mount.log_text()
            ));
        }
        Ok(mount)
    }

    /// What the client logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The client's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends SIGTERM (the client uploads open files, unmounts and exits).
    pub fn signal_term(&self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
    }

    /// Waits up to `timeout` for the client to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                self.mounted = false;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `fusermount3 -u`, then waits for the client to exit.
    pub fn unmount(&mut self) -> Option<ExitStatus> {
        let out = Command::new("fusermount3")
            .arg("-u")
            .arg(&self.path)
            .output()
            .expect("run fusermount3 (Debian package fuse3)");
        assert!(
            out.status.success(),
            "fusermount3 -u: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.wait_exit(Duration::from_secs(20))
    }
}

/// Unmounts (lazily) a mount point on drop if something is still mounted there: the guard
/// of a mount whose process is not ours, such as a `tessera-mount` gone to the background.
pub struct MountPointGuard(pub PathBuf);

impl Drop for MountPointGuard {
    fn drop(&mut self) {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let path = self.0.display().to_string();
        if mounts
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(path.as_str()))
        {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
