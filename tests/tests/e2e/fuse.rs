//! The FUSE suite fixture: a node with an S3 client, a bucket, and the real
//! `tessera-mount` on it (a kernel mount; the guard unmounts and kills on drop). Every
//! test of the suite has `fuse_` in its path: `cargo test -p tessera-tests --test e2e fuse_`.
//! Tests fail when /dev/fuse is missing unless TESSERA_SKIP_FUSE=1 (then [`FuseEnv::start`]
//! returns `None` and the test returns on purpose).

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use tempfile::TempDir;
use tessera_tests::{Mount, fuse_available};

use crate::s3::S3Env;

/// The client binary under test (always freshly built by cargo).
pub fn mount_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tessera-test-mount"))
}

/// A node, a bucket `fuse-test`, and a mount of it.
pub struct FuseEnv {
    /// Dropped first: unmount before the node stops.
    pub mount: Mount,
    pub s3: S3Env,
    pub dir: TempDir,
    pub bucket: String,
}

impl FuseEnv {
    /// A 4-drive node with bucket `fuse-test` mounted with `args`.
    pub async fn start(args: &[&str]) -> Option<FuseEnv> {
        Self::start_on(&[], args).await
    }

    /// [`Self::start`] with `--allow-other`, its mount point reachable by every user (tests
    /// that run commands [`as_nobody`]).
    pub async fn start_for_all_users() -> Option<FuseEnv> {
        let fx = Self::start(&["--allow-other"]).await?;
        let reachable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        fs::set_permissions(fx.dir.path(), reachable).expect("chmod the temp dir");
        Some(fx)
    }

    /// [`Self::start`] on a node started with `node_args`.
    pub async fn start_on(node_args: &[&str], args: &[&str]) -> Option<FuseEnv> {
        if !fuse_available() {
            return None;
        }
        let s3 = S3Env::start_with(4, node_args);
        let bucket = "fuse-test".to_string();
        s3.mb(&bucket).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut all = vec!["--bucket", "fuse-test", "--cache-dir"];
        let cache = dir.path().join("cache");
        all.push(cache.to_str().expect("utf-8 path"));
        all.extend_from_slice(args);
        let mount = Mount::start(
            mount_bin(),
            &s3.node().endpoint,
            &dir.path().join("mnt"),
            &all,
        );
        Some(FuseEnv {
            mount,
            s3,
            dir,
            bucket,
        })
    }

    /// The mount point.
    pub fn root(&self) -> &Path {
        &self.mount.path
    }

    /// `rel` under the mount point.
    pub fn at(&self, rel: &str) -> PathBuf {
        self.mount.path.join(rel)
    }

    /// Another mount of the same node at `name` under the temp dir.
    pub fn mount_another(&self, name: &str, args: &[&str]) -> Mount {
        let path = self.dir.path().join(name);
        let cache = self.dir.path().join(format!("{name}.cache"));
        let mut all = vec!["--cache-dir", cache.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        Mount::start(mount_bin(), &self.s3.node().endpoint, &path, &all)
    }
}

/// `program` run as the nobody user, without groups or capabilities (`setpriv`); the
/// caller adds its arguments.
pub fn as_nobody(program: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", program]);
    cmd
}

/// A file open on a thread with a descriptor table of its own.
///
/// Every close(2) of a descriptor of a mounted file sends the mount a FLUSH, and a flush
/// uploads the file (close-to-open). A child that any test of this process spawns copies
/// the process's descriptors and closes the copies at exec, so a file open in the shared
/// table can be uploaded at any moment. A test that asserts an open file is *not* on the
/// cluster yet keeps it here.
pub struct PrivateFile {
    jobs: Option<mpsc::Sender<FileJob>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Work for a [`PrivateFile`]'s thread.
type FileJob = Box<dyn FnOnce(&mut fs::File) + Send>;

impl PrivateFile {
    /// Creates (or truncates) `path` for writing.
    #[allow(unsafe_code)] // close_range(2): the one way to a descriptor table of one's own
    pub fn create(path: &Path) -> PrivateFile {
        let path = path.to_owned();
        let (jobs, queue) = mpsc::channel::<FileJob>();
        let (opened, ready) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            // SAFETY: unshares this thread's descriptor table, then closes (in the private
            // copy only) every descriptor but stdin, stdout and stderr; no Rust object of
            // this thread owns one of them.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_close_range,
                    3u32,
                    u32::MAX,
                    libc::CLOSE_RANGE_UNSHARE,
                )
            };
            assert_eq!(rc, 0, "close_range: {}", std::io::Error::last_os_error());
            let mut file = fs::File::create(&path).expect("create");
            opened.send(()).expect("the test waits");
            for job in queue {
                job(&mut file);
            }
        });
        ready.recv().expect("the private file's thread failed");
        PrivateFile {
            jobs: Some(jobs),
            thread: Some(thread),
        }
    }

    /// Runs `f` on the file, on its thread.
    pub fn run<R: Send + 'static>(&self, f: impl FnOnce(&mut fs::File) -> R + Send + 'static) -> R {
        let (tx, rx) = mpsc::channel();
        let job = Box::new(move |file: &mut fs::File| {
            let _ = tx.send(f(file));
        });
        let jobs = self.jobs.as_ref().expect("open until dropped");
        jobs.send(job).expect("the private file's thread failed");
        rx.recv().expect("the private file's thread failed")
    }
}

impl Drop for PrivateFile {
    /// Closes the file (a FLUSH, then a RELEASE) and returns once close(2) has.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The errno of an I/O result that must have failed.
pub fn errno<T: std::fmt::Debug>(r: std::io::Result<T>) -> i32 {
    r.expect_err("the call should fail")
        .raw_os_error()
        .expect("an OS error")
}

/// One entry of a tree as `ls -lR` would compare it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TreeEntry {
    pub path: String,
    pub kind: char,
    pub mode: u32,
    pub size: u64,
    /// A file's MD5, a symlink's target.
    pub content: String,
}

/// Every entry under `root`, sorted, except those `skip` names (relative paths); files
/// whose content differs by nature (like `.git/index`) are compared by size only when
/// listed in `size_only`.
pub fn tree(root: &Path, skip: &[&str], size_only: &[&str]) -> Vec<TreeEntry> {
    fn walk(root: &Path, dir: &Path, skip: &[&str], size_only: &[&str], out: &mut Vec<TreeEntry>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .to_string();
            if skip.contains(&rel.as_str()) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).expect("lstat");
            let ft = meta.file_type();
            let (kind, content) = if ft.is_fifo() {
                ('p', String::new())
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&path).expect("readlink");
                ('l', target.to_string_lossy().to_string())
            } else if ft.is_dir() {
                ('d', String::new())
            } else if size_only.contains(&rel.as_str()) {
                ('f', String::new())
            } else {
                let data = std::fs::read(&path).unwrap_or_else(|e| panic!("read {rel}: {e}"));
                ('f', tessera_tests::md5_hex(&data))
            };
            out.push(TreeEntry {
                path: rel,
                kind,
                mode: meta.mode() & 0o7777,
                size: if kind == 'd' { 0 } else { meta.len() },
                content,
            });
            if kind == 'd' {
                walk(root, &path, skip, size_only, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, skip, size_only, &mut out);
    out
}

/// Asserts two trees are the same, naming the first differences.
pub fn assert_same_tree(mount: &[TreeEntry], local: &[TreeEntry]) {
    if mount == local {
        return;
    }
    let only_mount: Vec<_> = mount
        .iter()
        .filter(|e| !local.contains(e))
        .take(10)
        .collect();
    let only_local: Vec<_> = local
        .iter()
        .filter(|e| !mount.contains(e))
        .take(10)
        .collect();
    panic!(
        "trees differ ({} entries on the mount, {} locally)\non the mount only: {only_mount:#?}\nlocally only: {only_local:#?}",
        mount.len(),
        local.len()
    );
}
