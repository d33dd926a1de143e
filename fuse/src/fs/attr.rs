//! POSIX attributes of files, directories and symlinks, and how they live in object user
//! metadata. The keys are the ones s3fs uses (`mode` holds the whole `st_mode` in decimal,
//! `uid`, `gid`, `mtime` in seconds with an optional `.nanoseconds`), so objects written by
//! either client read back with their attributes. A symlink is an object whose content is
//! its target and whose `mode` says `S_IFLNK`; FIFOs, device and socket nodes are empty
//! objects whose `mode` carries their type (and `rdev` a device's number), as s3fs
//! keeps them.
//!
//! Times keep nanoseconds (`secs.nnnnnnnnn`). `atime` and `ctime` are stored only when
//! they differ from `mtime` (and read back as `mtime` when absent), so a file written and
//! never changed otherwise carries only s3fs's four keys, which the server's listing
//! summaries hold; metadata *updates* merge into what is stored, so they remove the keys
//! left out ([`Attr::metadata_update`]).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::api::{ObjectInfo, Timestamp};

pub mod xattr;

use xattr::{XATTR, Xattrs};

/// User-metadata key of `st_mode`.
pub const MODE: &str = "mode";
/// User-metadata key of the owner.
pub const UID: &str = "uid";
/// User-metadata key of the group.
pub const GID: &str = "gid";
/// User-metadata key of the modification time.
pub const MTIME: &str = "mtime";
/// User-metadata key of the access time.
pub const ATIME: &str = "atime";
/// User-metadata key of the status-change time.
pub const CTIME: &str = "ctime";
/// User-metadata key of a device node's number (`st_rdev`, decimal).
pub const RDEV: &str = "rdev";

/// What an inode is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file: one object.
    File,
    /// A directory: a `/`-delimited prefix, with an optional `dir/` marker object.
    Dir,
    /// A symbolic link: an object holding the target.
    Symlink,
    /// A named pipe: an empty object (the kernel runs the pipe, on this machine).
    Fifo,
    /// A character device node: an empty object with the device number.
    CharDevice,
    /// A block device node: an empty object with the device number.
    BlockDevice,
    /// A UNIX socket node: an empty object (the socket lives in the kernel).
    Socket,
}

impl Kind {
    /// The kind whose `S_IFMT` bits `mode` carries (`File` for unknown ones).
    pub fn of_mode(mode: u32) -> Self {
        match mode & libc::S_IFMT {
            libc::S_IFDIR => Self::Dir,
            libc::S_IFLNK => Self::Symlink,
            libc::S_IFIFO => Self::Fifo,
            libc::S_IFCHR => Self::CharDevice,
            libc::S_IFBLK => Self::BlockDevice,
            libc::S_IFSOCK => Self::Socket,
            _ => Self::File,
        }
    }

    /// The `S_IFMT` bits of this kind.
    pub fn type_bits(self) -> u32 {
        match self {
            Self::File => libc::S_IFREG,
            Self::Dir => libc::S_IFDIR,
            Self::Symlink => libc::S_IFLNK,
            Self::Fifo => libc::S_IFIFO,
            Self::CharDevice => libc::S_IFCHR,
            Self::BlockDevice => libc::S_IFBLK,
            Self::Socket => libc::S_IFSOCK,
        }
    }

    /// A FIFO, device or socket node: an empty object whose type is in its metadata.
    pub fn is_special(self) -> bool {
        matches!(
            self,
            Self::Fifo | Self::CharDevice | Self::BlockDevice | Self::Socket
        )
    }
}

/// The attributes the mount shows for one inode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    /// File, directory or symlink.
    pub kind: Kind,
    /// Size in bytes (a symlink: its target's length).
    pub size: u64,
    /// Modification time.
    pub mtime: SystemTime,
    /// Access time (set by utimensat only: the mount is `noatime`).
    pub atime: SystemTime,
    /// Status-change time: every change of data or attributes sets it.
    pub ctime: SystemTime,
    /// A directory with a `dir/` marker object, where its attributes are stored (false
    /// for an implicit prefix, a bucket and anything not a directory).
    pub stored: bool,
    /// Extended attributes (`user.*`).
    pub xattrs: Xattrs,
    /// Device number of a device node (0 otherwise).
    pub rdev: u32,
    /// Permission bits (`0o7777`).
    pub perm: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Which write of the object the data is ([`crate::api::version_of`]; 0: none known).
    pub version: u64,
}

/// Owner, group, permissions and time of what carries no attributes of its own (objects put
/// over S3, directories without a marker).
#[derive(Clone, Copy, Debug)]
pub struct Defaults {
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Permission bits of files (`0o644` unless the mount says otherwise).
    pub file_perm: u16,
    /// Permission bits of directories (`0o755` unless the mount says otherwise).
    pub dir_perm: u16,
    /// Modification time of implicit directories (the mount time).
    pub time: SystemTime,
}

impl Attr {
    /// A directory with the default attributes.
    pub fn implicit_dir(d: &Defaults) -> Self {
        Self {
            kind: Kind::Dir,
            size: 0,
            mtime: d.time,
            atime: d.time,
            ctime: d.time,
            stored: false,
            xattrs: Xattrs::new(),
            rdev: 0,
            perm: d.dir_perm,
            uid: d.uid,
            gid: d.gid,
            version: 0,
        }
    }

    /// A new, empty inode of `kind` created by `uid:gid` with `mode` (umask applied).
    pub fn new(kind: Kind, mode: u32, uid: u32, gid: u32) -> Self {
        let now = SystemTime::now();
        Self {
            kind,
            size: 0,
            mtime: now,
            atime: now,
            ctime: now,
            stored: kind == Kind::Dir,
            xattrs: Xattrs::new(),
            rdev: 0,
            perm: (mode & 0o7777) as u16,
            uid,
            gid,
            version: 0,
        }
    }

    /// The attributes of an object: a file or symlink, or a directory when `key` is a
    /// `dir/` marker.
    pub fn of_object(info: &ObjectInfo, d: &Defaults) -> Self {
        let meta = &info.user_metadata;
        let mode = meta.get(MODE).and_then(|m| m.parse::<u32>().ok());
        let kind = if info.key.ends_with('/') {
            Kind::Dir
        } else {
            match mode.map(Kind::of_mode) {
                // A directory is a prefix: an object whose mode says one is a file.
                None | Some(Kind::Dir) => Kind::File,
                Some(kind) => kind,
            }
        };
        let default_perm = match kind {
            Kind::Dir => d.dir_perm,
            Kind::Symlink => 0o777,
            _ => d.file_perm,
        };
        let mtime = meta
            .get(MTIME)
            .and_then(|t| parse_time(t))
            .or_else(|| info.modified.as_ref().map(time_of))
            .unwrap_or(d.time);
        let time = |key| meta.get(key).and_then(|t| parse_time(t)).unwrap_or(mtime);
        Self {
            kind,
            size: if kind == Kind::Dir || kind.is_special() {
                0
            } else {
                info.size
            },
            mtime,
            atime: time(ATIME),
            ctime: time(CTIME),
            stored: kind == Kind::Dir,
            xattrs: meta
                .get(XATTR)
                .map(|x| xattr::decode(x))
                .unwrap_or_default(),
            rdev: match kind {
                Kind::CharDevice | Kind::BlockDevice => {
                    meta.get(RDEV).and_then(|v| v.parse().ok()).unwrap_or(0)
                }
                _ => 0,
            },
            perm: mode.map_or(default_perm, |m| (m & 0o7777) as u16),
            uid: meta.get(UID).and_then(|v| v.parse().ok()).unwrap_or(d.uid),
            gid: meta.get(GID).and_then(|v| v.parse().ok()).unwrap_or(d.gid),
            version: crate::api::version_of(info),
        }
    }

    /// `st_mode`: type and permission bits.
    pub fn mode(&self) -> u32 {
        self.kind.type_bits() | u32::from(self.perm)
    }

    /// The user metadata that stores these attributes in a new object (times equal to
    /// `mtime` left out).
    pub fn metadata(&self) -> HashMap<String, String> {
        let mut meta = HashMap::from([
            (MODE.to_string(), self.mode().to_string()),
            (UID.to_string(), self.uid.to_string()),
            (GID.to_string(), self.gid.to_string()),
            (MTIME.to_string(), format_time(self.mtime)),
        ]);
        for (key, t) in [(ATIME, self.atime), (CTIME, self.ctime)] {
            if t != self.mtime {
                meta.insert(key.to_string(), format_time(t));
            }
        }
        if self.rdev != 0 {
            meta.insert(RDEV.to_string(), self.rdev.to_string());
        }
        if let Some(x) = xattr::encode(&self.xattrs) {
            meta.insert(XATTR.to_string(), x);
        }
        meta
    }

    /// The user metadata that sets these attributes over stored ones: the entries to
    /// set, and those to remove (an update keeps the entries it does not name).
    pub fn metadata_update(&self) -> (HashMap<String, String>, Vec<String>) {
        let set = self.metadata();
        let remove = [ATIME, CTIME, RDEV, XATTR]
            .into_iter()
            .filter(|k| !set.contains_key(*k))
            .map(str::to_string)
            .collect();
        (set, remove)
    }

    /// Data or attributes changed at `now`: ctime follows (and mtime with `data`).
    pub fn changed(&mut self, now: SystemTime, data: bool) {
        if data {
            self.mtime = now;
        }
        self.ctime = now;
    }
}

/// A protocol timestamp as a `SystemTime`.
pub fn time_of(ts: &Timestamp) -> SystemTime {
    let secs = Duration::from_secs(ts.seconds.unsigned_abs());
    let t = if ts.seconds >= 0 {
        UNIX_EPOCH + secs
    } else {
        UNIX_EPOCH - secs
    };
    t + Duration::from_nanos(u64::from(ts.nanos))
}

/// `secs[.nanos]` since the epoch (s3fs writes whole seconds).
fn parse_time(s: &str) -> Option<SystemTime> {
    let (secs, nanos) = s.split_once('.').unwrap_or((s, "0"));
    let secs: u64 = secs.parse().ok()?;
    let digits = nanos.len().min(9);
    let nanos: u32 = nanos.get(..digits)?.parse().ok()?;
    let nanos = nanos * 10u32.pow(9 - digits as u32);
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// `secs.nanos` since the epoch, as stored.
pub fn format_time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            uid: 7,
            gid: 8,
            file_perm: 0o644,
            dir_perm: 0o755,
            time: UNIX_EPOCH + Duration::from_secs(100),
        }
    }

    fn object(key: &str, meta: &[(&str, &str)]) -> ObjectInfo {
        ObjectInfo {
            key: key.into(),
            size: 42,
            modified: Some(Timestamp {
                seconds: 1_000,
                nanos: 5,
            }),
            user_metadata: meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn attributes_round_trip_through_metadata() {
        let mut a = Attr::new(Kind::File, 0o100640, 1000, 100);
        a.size = 42;
        a.mtime = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        a.atime = UNIX_EPOCH + Duration::new(1_600_000_000, 1);
        a.ctime = UNIX_EPOCH + Duration::new(1_800_000_000, 999_999_999);
        let meta: Vec<(String, String)> = a.metadata().into_iter().collect();
        let pairs: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (&**k, &**v)).collect();
        let info = object("f", &pairs);
        // The version is the object's, not a stored attribute.
        a.version = crate::api::version_of(&info);
        assert_ne!(a.version, 0);
        assert_eq!(Attr::of_object(&info, &defaults()), a);
    }

    #[test]
    fn objects_without_metadata_get_the_defaults() {
        let a = Attr::of_object(&object("f", &[]), &defaults());
        assert_eq!(
            (a.kind, a.perm, a.uid, a.gid, a.size),
            (Kind::File, 0o644, 7, 8, 42)
        );
        assert_eq!(a.mtime, UNIX_EPOCH + Duration::new(1_000, 5));
        let d = Attr::of_object(&object("d/", &[]), &defaults());
        assert_eq!((d.kind, d.perm, d.size), (Kind::Dir, 0o755, 0));
    }

    #[test]
    fn symlinks_and_s3fs_times_are_recognised() {
        let l = Attr::of_object(&object("l", &[("mode", "41471")]), &defaults());
        assert_eq!((l.kind, l.perm), (Kind::Symlink, 0o777));
        let f = Attr::of_object(&object("f", &[("mtime", "1700000000")]), &defaults());
        assert_eq!(f.mtime, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let bad = Attr::of_object(&object("f", &[("mtime", "x"), ("uid", "-1")]), &defaults());
        assert_eq!(
            (bad.uid, bad.mtime),
            (7, UNIX_EPOCH + Duration::new(1_000, 5))
        );
    }

    #[test]
    fn times_equal_to_mtime_are_not_stored_and_updates_remove_them() {
        let a = Attr::new(Kind::File, 0o644, 0, 0);
        let meta = a.metadata();
        assert!(!meta.contains_key(ATIME) && !meta.contains_key(CTIME));
        let (set, remove) = a.metadata_update();
        assert_eq!(set, meta);
        assert_eq!(remove, [ATIME, CTIME, RDEV, XATTR]);
        let mut b = a.clone();
        b.changed(a.mtime + Duration::from_secs(1), false);
        assert_eq!(b.mtime, a.mtime, "an attribute change keeps mtime");
        let (set, remove) = b.metadata_update();
        assert!(set.contains_key(CTIME) && !remove.contains(&CTIME.to_string()));
        let back = Attr::of_object(&object("f", &[(MTIME, &set[MTIME])]), &defaults());
        assert_eq!(
            (back.atime, back.ctime),
            (back.mtime, back.mtime),
            "absent: mtime"
        );
    }

    #[test]
    fn special_files_keep_their_type_and_device_number() {
        for (kind, bits) in [
            (Kind::Fifo, libc::S_IFIFO),
            (Kind::CharDevice, libc::S_IFCHR),
            (Kind::BlockDevice, libc::S_IFBLK),
            (Kind::Socket, libc::S_IFSOCK),
        ] {
            let mut a = Attr::new(kind, bits | 0o640, 1, 2);
            if matches!(kind, Kind::CharDevice | Kind::BlockDevice) {
                a.rdev = 0x0801;
            }
            let meta: Vec<(String, String)> = a.metadata().into_iter().collect();
            let pairs: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (&**k, &**v)).collect();
            let back = Attr::of_object(&object("n", &pairs), &defaults());
            assert_eq!(back.mode(), bits | 0o640);
            assert_eq!((back.kind, back.rdev, back.size), (kind, a.rdev, 0));
        }
        let dir_mode = (libc::S_IFDIR | 0o755).to_string();
        let odd = Attr::of_object(&object("f", &[(MODE, &dir_mode)]), &defaults());
        assert_eq!(odd.kind, Kind::File, "a key without / is no directory");
    }
}
