//! Drives: the storage layer under everything. A [`Drive`] is one directory of one node
//! (local) or of a peer (remote, over gRPC); it knows volumes, relative paths, byte streams,
//! renames, deletes and a sorted walk, and nothing of objects, S3 or erasure coding.
//!
//! Invariants:
//! - every path a drive is given is checked by [`check_path`]: relative, `/`-separated, no
//!   empty, `.` or `..` segment, so nothing can name a file outside the drive;
//! - `write_all` and `rename_data` are durable when they return (data durable, then the
//!   rename, then the rename durable); a `write_all` to a [`Target::Fresh`] path skips the
//!   first step, and a crash before it returns may leave that file torn (see
//!   [`metafile::is_torn`]);
//! - deleting a path removes the parent directories it leaves empty, up to the volume.
//!
//! Tested by the unit tests of `local` and, end to end, by every object test.

pub mod format;
pub mod group;
pub mod local;
pub mod metafile;
pub mod remote;
pub mod slot;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use local::LocalDrive;
use remote::RemoteDrive;

/// The volume that holds Tessera's own files on every drive (format, staging, multipart).
pub const META_VOLUME: &str = ".tessera";
/// Staging directory inside [`META_VOLUME`]; emptied at start.
pub const TMP_DIR: &str = "tmp";
/// Data directories of replaced and deleted multipart objects inside [`META_VOLUME`],
/// flat by their (unique) names: a GET opens a part's files only when it reaches the part,
/// so it finds them here ([`trashed_path`]) for [`TRASH_GRACE`]; emptied at start.
pub const TRASH_DIR: &str = "trash";
/// How long a trashed data directory stays readable.
pub const TRASH_GRACE: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// In-progress multipart uploads inside [`META_VOLUME`].
pub const MULTIPART_DIR: &str = "multipart";
/// Bucket metadata inside [`META_VOLUME`].
pub const BUCKETS_DIR: &str = "buckets";
/// Name of the object metadata file inside an object's directory.
pub const OBJECT_META_FILE: &str = "tessera.meta";
/// Prefix of the reserved names inside object directories (data directories).
pub const RESERVED_PREFIX: &str = ".tessera";
/// The directory that holds a key ending in `/` (a directory marker): key `a/b/` lives in
/// `a/b/.tessera.dir/`, so it never collides with the object `a/b`.
pub const DIR_MARKER: &str = ".tessera.dir";
/// Walks of pages up to this many entries are batched: several local drives one after the
/// other in one trip to the blocking pool, a peer's drives in one call. A mount's lookup
/// asks for one entry, and the trips and calls would cost more than the walks; larger
/// pages walk each drive on its own (on its own thread, in its own call), in parallel and
/// within one message each.
pub const BATCHED_WALK_LIMIT: usize = 16;

/// What a whole-file write may find at its path; it decides how many flushes the write
/// needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A committed file may be there. The new file is made durable before it replaces the
    /// old one, so a crash leaves one or the other: two flushes.
    Replace,
    /// Nothing committed is there (for an object, the caller saw no metadata on this drive
    /// while holding the object's write lock). The file is renamed into place and flushed
    /// once; a crash before the write returns may leave it empty or zero-filled, a torn
    /// file, which readers take for absent. The write was not acknowledged, so nothing is
    /// lost.
    Fresh,
}

/// What went wrong on one drive.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The file or directory does not exist.
    #[error("{path}: not found")]
    NotFound {
        /// The path, relative to the drive.
        path: String,
    },
    /// The volume (bucket directory) does not exist.
    #[error("volume {volume}: not found")]
    VolumeNotFound {
        /// The volume's name.
        volume: String,
    },
    /// The volume exists already.
    #[error("volume {volume}: exists")]
    VolumeExists {
        /// The volume's name.
        volume: String,
    },
    /// A path was refused before it touched the disk.
    #[error("invalid path {path:?}")]
    InvalidPath {
        /// The refused path.
        path: String,
    },
    /// A file's content failed its checks (bad magic, version, length or checksum).
    #[error("{path}: corrupt: {reason}")]
    Corrupt {
        /// The path, relative to the drive.
        path: String,
        /// What check failed.
        reason: String,
    },
    /// The drive carries no `format.json`.
    #[error("drive is not formatted")]
    Unformatted,
    /// The drive cannot be reached (a dead peer, an unmounted disk).
    #[error("drive offline: {reason}")]
    Offline {
        /// Why it is considered offline.
        reason: String,
    },
    /// The file system is full.
    #[error("{path}: no space left on drive")]
    NoSpace {
        /// The path being written.
        path: String,
    },
    /// Any other I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The path being accessed.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl DriveError {
    /// A copy for a second report (I/O errors keep kind and message).
    pub fn duplicate(&self) -> DriveError {
        match self {
            DriveError::NotFound { path } => DriveError::NotFound { path: path.clone() },
            DriveError::VolumeNotFound { volume } => DriveError::VolumeNotFound {
                volume: volume.clone(),
            },
            DriveError::VolumeExists { volume } => DriveError::VolumeExists {
                volume: volume.clone(),
            },
            DriveError::InvalidPath { path } => DriveError::InvalidPath { path: path.clone() },
            DriveError::Corrupt { path, reason } => DriveError::Corrupt {
                path: path.clone(),
                reason: reason.clone(),
            },
            DriveError::Unformatted => DriveError::Unformatted,
            DriveError::Offline { reason } => DriveError::Offline {
                reason: reason.clone(),
            },
            DriveError::NoSpace { path } => DriveError::NoSpace { path: path.clone() },
            DriveError::Io { path, source } => DriveError::Io {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
        }
    }

    /// True when the drive did not answer at all; such drives do not vote in a quorum.
    pub fn is_offline(&self) -> bool {
        matches!(self, DriveError::Offline { .. } | DriveError::Unformatted)
    }

    /// True for "this thing is not there" answers.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            DriveError::NotFound { .. } | DriveError::VolumeNotFound { .. }
        )
    }
}

/// Capacity of one drive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskInfo {
    /// Size of the file system.
    pub total: u64,
    /// Bytes free for this process.
    pub free: u64,
    /// Bytes in use.
    pub used: u64,
}

/// One entry of a [`Drive::walk`]: an object (with its metadata) or a common prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkEntry {
    /// The object key, or the prefix ending in `/` (non-recursive walks only).
    pub name: String,
    /// What the drive holds of an object; `None` for a prefix.
    pub meta: Option<WalkMeta>,
}

/// An object's metadata as a walk found it (both opaque here; see [`metafile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkMeta {
    /// The metadata header, read from `tessera.meta` and checked.
    Header(Bytes),
    /// The header's listing summary, kept beside the file (walks with
    /// [`WalkOptions::summaries`] only).
    Summary(Bytes),
}

/// What a [`Drive::walk`] looks for.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Only names starting with this.
    pub prefix: String,
    /// Only names strictly greater than this.
    pub start_after: String,
    /// Descend into sub-directories; otherwise they are returned as `name/` prefixes.
    pub recursive: bool,
    /// At most this many entries.
    pub limit: usize,
    /// Objects may come with their listing summary instead of their header: a client's
    /// listing, which needs only the listed fields. Walks that judge the drive's files
    /// (the scanner's, a heal's) read and check every header.
    pub summaries: bool,
}

/// A sorted page of a walk; `truncated` says the walk stopped at `limit`.
#[derive(Debug, Clone, Default)]
pub struct WalkPage {
    /// Entries in ascending byte order of their names.
    pub entries: Vec<WalkEntry>,
    /// More entries follow the last one.
    pub truncated: bool,
}

impl WalkPage {
    /// Where the union of several drives' pages of one walk can be trusted up to: the
    /// last name of the shortest truncated page (`None` when no page was truncated).
    pub fn cutoff<'a>(pages: impl IntoIterator<Item = &'a WalkPage>) -> Option<String> {
        pages
            .into_iter()
            .filter(|p| p.truncated)
            .filter_map(|p| p.entries.last().map(|e| e.name.clone()))
            .min()
    }
}

/// A volume (bucket directory) on a drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    /// The volume's name.
    pub name: String,
}

/// A range of a drive file, read front to back in pieces of the caller's choosing.
#[async_trait]
pub trait FileReader: Send {
    /// The next `len` bytes; an error if the range ends (or the file is shorter) first.
    async fn read_exact(&mut self, len: usize) -> Result<Bytes, DriveError>;
}

/// A file being written on a drive; durable once `finish` returns.
#[async_trait]
pub trait FileWriter: Send {
    /// Appends `data`.
    async fn write(&mut self, data: Bytes) -> Result<(), DriveError>;
    /// Flushes and fsyncs the file.
    async fn finish(self: Box<Self>) -> Result<(), DriveError>;
}

/// One drive, local or remote. See the module doc for the contract.
#[async_trait]
pub trait Drive: Send + Sync + 'static {
    /// Where the drive lives: a path for a local drive, `http://host:port/path` for a remote.
    fn endpoint(&self) -> &str;
    /// False while the drive is known to be unreachable (a remote drive whose node stopped
    /// answering, a local drive found damaged at start: see [`slot::LocalSlot`]); calls
    /// then fail fast with `Offline`.
    fn is_online(&self) -> bool {
        true
    }
    /// Whether the drive lives on another node (reached through its `StorageService`).
    fn is_remote(&self) -> bool {
        false
    }
    /// Joins the group of drives this drive answers batched calls with, at `place` (see
    /// [`group`]); false (the default) when it answers every call on its own.
    fn join<'a>(&'a self, place: usize, groups: &mut Groups<'a>) -> bool {
        let _ = (place, groups);
        false
    }
    /// Capacity of the drive's file system.
    async fn disk_info(&self) -> Result<DiskInfo, DriveError>;

    /// Creates a volume.
    async fn make_volume(&self, volume: &str) -> Result<(), DriveError>;
    /// Removes a volume and everything left in it (callers check it holds no object).
    async fn delete_volume(&self, volume: &str) -> Result<(), DriveError>;
    /// Fails with `VolumeNotFound` when the volume is missing.
    async fn stat_volume(&self, volume: &str) -> Result<(), DriveError>;
    /// Every volume except the meta volume.
    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>, DriveError>;

    /// Reads a whole (small) file.
    async fn read_all(&self, volume: &str, path: &str) -> Result<Bytes, DriveError>;
    /// Writes a whole (small) file durably and atomically, replacing any old one (see
    /// [`Target`] for what a crash may leave).
    async fn write_all(
        &self,
        volume: &str,
        path: &str,
        data: Bytes,
        target: Target,
    ) -> Result<(), DriveError>;
    /// Creates (truncating) a file for streaming writes; parent directories are created.
    async fn create_file(
        &self,
        volume: &str,
        path: &str,
    ) -> Result<Box<dyn FileWriter>, DriveError>;
    /// Streams `len` bytes of a file from `offset`.
    async fn read_file(
        &self,
        volume: &str,
        path: &str,
        offset: u64,
        len: u64,
    ) -> Result<Box<dyn FileReader>, DriveError>;
    /// Names in a directory, sorted; directories end in `/`.
    async fn list_dir(&self, volume: &str, dir: &str) -> Result<Vec<String>, DriveError>;
    /// Renames a file or directory, creating the target's parents; replaces a target file.
    async fn rename(
        &self,
        src_volume: &str,
        src: &str,
        dst_volume: &str,
        dst: &str,
    ) -> Result<(), DriveError>;
    /// Deletes a file (or a directory tree when `recursive`), then empty parents.
    async fn delete(&self, volume: &str, path: &str, recursive: bool) -> Result<(), DriveError>;

    /// Moves an object into place: `src_dir/<data_dir>` to `dst_dir/<data_dir>` (when
    /// given), then `src_dir/tessera.meta` over `dst_dir/tessera.meta`, atomically. The
    /// source directory is removed if left empty. Durable when it returns.
    async fn rename_data(
        &self,
        src_volume: &str,
        src_dir: &str,
        data_dir: Option<&str>,
        dst_volume: &str,
        dst_dir: &str,
    ) -> Result<(), DriveError>;

    /// A sorted page of the objects (directories holding `tessera.meta`) of a volume.
    async fn walk(&self, volume: &str, opts: &WalkOptions) -> Result<WalkPage, DriveError>;
}

/// Checks that `path` is a relative path inside a volume: non-empty `/`-separated segments,
/// none `.` or `..`, no NUL. Volumes are checked the same way (one segment).
pub fn check_path(path: &str) -> Result<(), DriveError> {
    let bad = path.is_empty()
        || path.contains('\0')
        || path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        return Err(DriveError::InvalidPath {
            path: path.to_string(),
        });
    }
    Ok(())
}

/// The directory of an object's files for `key` (see [`DIR_MARKER`]).
pub fn object_dir(key: &str) -> std::borrow::Cow<'_, str> {
    if key.ends_with('/') {
        std::borrow::Cow::Owned(format!("{key}{DIR_MARKER}"))
    } else {
        std::borrow::Cow::Borrowed(key)
    }
}

/// Where [`TRASH_DIR`] keeps the data directory `data_dir`.
pub fn trash_path(data_dir: &str) -> String {
    join(TRASH_DIR, data_dir)
}

/// Where a shard file `<object dir>/<data dir>/<file>` of a bucket lives once its data
/// directory was trashed; `None` for a path that names no data directory.
pub fn trashed_path(path: &str) -> Option<String> {
    let (dir, file) = path.rsplit_once('/')?;
    let data_dir = dir.rsplit('/').next()?;
    let is_data_dir = data_dir.len() > RESERVED_PREFIX.len() + 1
        && data_dir.starts_with(RESERVED_PREFIX)
        && data_dir[RESERVED_PREFIX.len()..].starts_with('.')
        && data_dir != DIR_MARKER;
    is_data_dir.then(|| join(&trash_path(data_dir), file))
}

/// Joins directory and name with one `/`.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{}/{}", dir.trim_end_matches('/'), name)
    }
}

/// The drives of one call, by how they answer together; each with its place in the call.
#[derive(Default)]
pub struct Groups<'a> {
    local: Vec<(usize, &'a LocalDrive)>,
    peers: Vec<Vec<(usize, &'a RemoteDrive)>>,
    single: Vec<(usize, &'a dyn Drive)>,
}

impl<'a> Groups<'a> {
    /// Groups those of `drives` that `takes_part` names, each at its index.
    pub fn of<D: AsRef<dyn Drive> + 'a>(
        drives: impl IntoIterator<Item = &'a D>,
        takes_part: impl Fn(usize) -> bool,
    ) -> Self {
        let mut groups = Groups::default();
        for (place, d) in drives.into_iter().enumerate() {
            if !takes_part(place) {
                continue;
            }
            let d: &'a dyn Drive = d.as_ref();
            if !d.join(place, &mut groups) {
                groups.single.push((place, d));
            }
        }
        groups
    }

    /// Adds one of this node's local drives.
    pub fn local(&mut self, place: usize, drive: &'a LocalDrive) {
        self.local.push((place, drive));
    }

    /// Adds a peer's drive, to the group of that peer's drives.
    pub fn peer(&mut self, place: usize, drive: &'a RemoteDrive) {
        match (self.peers.iter_mut()).find(|g| Arc::ptr_eq(g[0].1.peer(), drive.peer())) {
            Some(group) => group.push((place, drive)),
            None => self.peers.push(vec![(place, drive)]),
        }
    }

    /// This node's local drives (with their places).
    pub fn locals(&self) -> &[(usize, &'a LocalDrive)] {
        &self.local
    }
}
