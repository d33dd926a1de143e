//! The sorted walk of a local volume: objects are directories holding `tessera.meta`.
//!
//! Invariant: entries come out in ascending byte order of their keys. A directory `s` is two
//! events: the object `s` (at key `s`) and its children (at key `s/`); other siblings can sort
//! between the two (`s-x` < `s/`), so each directory's events are sorted before they are
//! visited. Only the directories the prefix and `start_after` can reach are read, so a
//! prefix listing never walks the whole volume. A client's listing page inspects the
//! directory's entries and reads their metadata headers on its own thread while the
//! kernel's caches answer, and with several threads once one waited for the disk (see
//! `parallel`); recursive walks read one entry after another. With [`WalkOptions::summaries`], an
//! object's listing summary (see `summary`) stands in for its header when it has one.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::drive::{
    BATCHED_WALK_LIMIT, DIR_MARKER, Drive, DriveError, OBJECT_META_FILE, RESERVED_PREFIX,
    WalkEntry, WalkMeta, WalkOptions, WalkPage, check_path, object_dir,
};

use super::parallel::parallel_map;
use super::read::{cached_dir, read_meta_header};
use super::{LocalDrive, io_err, summary};
use crate::sys::Cached;

impl LocalDrive {
    /// [`Drive::walk`](crate::drive::Drive::walk) of several local drives; results in the
    /// order of `drives`. Small pages ([`BATCHED_WALK_LIMIT`]) walk one drive after the other in
    /// one trip to the blocking pool, and a drive whose prefix directory the kernel's
    /// caches know to be absent answers at once (a mount's lookup of a new name, just after
    /// the HEAD that found nothing); larger pages walk the drives in parallel.
    pub async fn walk_of(
        drives: &[&LocalDrive],
        volume: &str,
        opts: &WalkOptions,
    ) -> Vec<Result<WalkPage, DriveError>> {
        if opts.limit > BATCHED_WALK_LIMIT {
            let walks = drives.iter().map(|d| d.walk(volume, opts));
            return futures::future::join_all(walks).await;
        }
        let (volume_owned, opts_owned) = (volume.to_string(), opts.clone());
        Self::each_of(
            drives,
            |d| {
                let dir = d.volume_path(volume).ok()?;
                cached_empty_walk(&dir, opts).map(Ok)
            },
            move |d| {
                walk(
                    &d.volume_path(&volume_owned)?,
                    &opts_owned,
                    d.keeps_summaries,
                )
            },
        )
        .await
    }
}

/// The directory part of a walk's prefix: "" or ending in `/`.
fn prefix_dir(prefix: &str) -> &str {
    prefix.rfind('/').map_or("", |i| &prefix[..=i])
}

/// The empty page [`walk`] would return when the kernel's caches know, without blocking,
/// that the volume is there and the prefix's directory is not; `None` when finding out
/// would take the disk.
pub(super) fn cached_empty_walk(volume_dir: &Path, opts: &WalkOptions) -> Option<WalkPage> {
    let dir = prefix_dir(&opts.prefix).strip_suffix('/')?;
    if opts.limit == 0 || check_path(dir).is_err() {
        return None;
    }
    let volume_there = matches!(cached_dir(volume_dir), Cached::Open(_));
    (volume_there && matches!(cached_dir(&volume_dir.join(dir)), Cached::Absent))
        .then(WalkPage::default)
}

/// Names in `dir`, sorted; directories end in `/`.
pub(super) fn read_dir_sorted(dir: &Path) -> Result<Vec<String>, DriveError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let Ok(mut name) = entry.file_name().into_string() else {
            continue;
        };
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            name.push('/');
        }
        names.push(name);
    }
    names.sort_unstable();
    Ok(names)
}

enum Event {
    Object(String),
    Children(String),
}

impl Event {
    fn key(&self) -> &str {
        match self {
            Event::Object(k) | Event::Children(k) => k,
        }
    }
}

/// Bytes of names and metadata one page holds at most. The page is cut before the entry
/// that would pass it, as by its limit (it always holds one). A header carries the
/// object's part list (10,000 parts are about 450 KB), so a page of 10,000 such headers
/// would fill gigabytes; and a page sent to a peer must fit in one 8 MiB message.
const PAGE_BYTES: usize = 4 << 20;

struct Walker<'a> {
    volume_dir: &'a Path,
    opts: &'a WalkOptions,
    /// Summaries are looked for: the walk accepts them and the drive keeps them.
    summaries: bool,
    page: WalkPage,
    /// Bytes of names and metadata in the page.
    bytes: usize,
}

/// Walks `volume_dir` per `opts`, on a drive that `keeps_summaries` or not (one that
/// keeps none is not asked for them).
pub(super) fn walk(
    volume_dir: &Path,
    opts: &WalkOptions,
    keeps_summaries: bool,
) -> Result<WalkPage, DriveError> {
    if !volume_dir.is_dir() {
        return Err(DriveError::VolumeNotFound {
            volume: volume_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        });
    }
    let base = prefix_dir(&opts.prefix);
    // The directory part of the prefix is the one piece of a walk that comes from a client.
    // No key can start with an invalid path (`../`, `/x/`, `a//`), so such a prefix lists
    // nothing, and nothing outside the volume is ever read.
    if let Some(dir) = base.strip_suffix('/')
        && check_path(dir).is_err()
    {
        return Ok(WalkPage::default());
    }
    let mut walker = Walker {
        volume_dir,
        opts,
        summaries: opts.summaries && keeps_summaries,
        page: WalkPage::default(),
        bytes: 0,
    };
    if opts.limit > 0 {
        walker.visit(base)?;
    } else {
        walker.page.truncated = true;
    }
    Ok(walker.page)
}

impl Walker<'_> {
    /// Visits the directory of keys starting with `dir_key` ("" or ending in `/`).
    /// Returns false once the page is full.
    fn visit(&mut self, dir_key: &str) -> Result<bool, DriveError> {
        let dir = self.volume_dir.join(dir_key);
        let names = match read_dir_sorted(&dir) {
            Ok(names) => names,
            Err(DriveError::NotFound { .. }) => return Ok(true),
            Err(e) => return Err(e),
        };
        // Opened once, so each entry's stat and summary resolve one name, not the path. Not
        // for a recursive walk: it would hold one descriptor per level while it descends.
        let opts = self.opts;
        let at = (!opts.recursive)
            .then(|| fs::File::open(&dir).ok())
            .flatten();
        let at = at.as_ref();
        let mut events = Vec::new();
        // A flat listing needs only the first `limit + 1` events: names are inspected in
        // order until that many are settled (an event `s/` is settled once a later name
        // sorts after it), so a page costs O(page), not O(directory).
        let mut settled = 0;
        let mut pending_children = std::collections::VecDeque::new();
        let mut cut = false;
        // In key order (`a` before `a-b`, whereas `a-b/` sorts before `a/`).
        let mut subs: Vec<&str> = names
            .iter()
            .filter_map(|name| name.strip_suffix('/'))
            .filter(|sub| !sub.starts_with(RESERVED_PREFIX))
            .collect();
        subs.sort_unstable();
        // About the first `limit + 1` listable subdirectories get inspected below: for a
        // client's page, inspect them in parallel first (on a cold disk each waits for the
        // disk). A recursive walk (the background scanner's, which keeps a gentle pace on
        // the disk, or a listing without a delimiter) takes one after the other.
        let ahead = if opts.recursive {
            0
        } else {
            opts.limit.saturating_add(1)
        };
        let wanted: Vec<&str> = subs
            .iter()
            .copied()
            .filter(|sub| {
                let key = format!("{dir_key}{sub}");
                let (object, children) = self.listable(&key, &format!("{key}/"));
                object || children
            })
            .take(ahead)
            .collect();
        // In the order the loop below meets the listable subdirectories: it takes them one
        // by one, and inspects the ones past `ahead` itself.
        let mut inspected = parallel_map(&wanted, |sub| self.inspect(at, &dir, sub)).into_iter();
        for sub in subs {
            let key = format!("{dir_key}{sub}");
            let children = format!("{key}/");
            let (object_listed, children_listed) = self.listable(&key, &children);
            if !object_listed && !children_listed {
                continue;
            }
            if !opts.recursive {
                while pending_children.front().is_some_and(|c: &String| *c < key) {
                    pending_children.pop_front();
                    settled += 1;
                }
                if settled > opts.limit {
                    cut = true;
                    break;
                }
            }
            let (is_object, has_children) = match inspected.next() {
                Some(found) => found?,
                None => self.inspect(at, &dir, sub)?,
            };
            if is_object && object_listed {
                events.push(Event::Object(key));
                settled += 1;
            }
            if has_children && children_listed {
                if !opts.recursive {
                    pending_children.push_back(children.clone());
                }
                events.push(Event::Children(children));
            }
        }
        events.sort_unstable_by(|a, b| a.key().cmp(b.key()));
        // The directory marker `dir_key` itself sorts before everything under it.
        if !dir_key.is_empty() && dir.join(DIR_MARKER).join(OBJECT_META_FILE).is_file() {
            events.insert(0, Event::Object(dir_key.to_string()));
        }

        // The metadata of the objects this page can still take, likewise.
        let room = if opts.recursive {
            0
        } else {
            opts.limit.saturating_sub(self.page.entries.len())
        };
        let listed = |key: &str| key.starts_with(&opts.prefix) && key > opts.start_after.as_str();
        let readable: Vec<&str> = events
            .iter()
            .filter_map(|event| match event {
                Event::Object(key) if listed(key) => Some(key.as_str()),
                _ => None,
            })
            .take(room)
            .collect();
        let (volume_dir, summaries) = (self.volume_dir, self.summaries);
        let read = |key: &&str| {
            let object = object_dir(key);
            if summaries {
                // Every object of this directory's events lies in it: `dir_key` starts its key.
                let found = match (at, object.get(dir_key.len()..)) {
                    (Some(at), Some(rel)) => summary::read_at(at, &dir, rel),
                    _ => summary::read(&volume_dir.join(object.as_ref())),
                };
                if let Some(summary) = found {
                    return Ok(WalkMeta::Summary(summary));
                }
            }
            read_meta_header(&volume_dir.join(object.as_ref()).join(OBJECT_META_FILE))
                .map(WalkMeta::Header)
        };
        // In the order the loop below meets the listed objects, as above.
        let mut metas = parallel_map(&readable, read).into_iter();
        for event in events {
            match event {
                Event::Object(key) => {
                    if !listed(&key) {
                        continue;
                    }
                    let found = match metas.next() {
                        Some(found) => found,
                        None => read(&key.as_str()),
                    };
                    let meta = match found {
                        Ok(meta) => meta,
                        // Deleted or replaced under us, or damaged: not part of this drive's view.
                        Err(DriveError::NotFound { .. } | DriveError::Corrupt { .. }) => continue,
                        Err(e) => return Err(e),
                    };
                    if !self.emit(key, Some(meta)) {
                        return Ok(false);
                    }
                }
                Event::Children(child) => {
                    let reachable =
                        child.starts_with(&opts.prefix) || opts.prefix.starts_with(&child);
                    let passed = opts.start_after.as_str() >= child.as_str()
                        && !opts.start_after.starts_with(&child);
                    if !reachable || passed {
                        continue;
                    }
                    if opts.recursive {
                        if !self.visit(&child)? {
                            return Ok(false);
                        }
                    } else if child.as_str() > opts.start_after.as_str() && !self.emit(child, None)
                    {
                        return Ok(false);
                    }
                }
            }
        }
        if cut {
            // Names were left uninspected: more may follow even if this page is short.
            self.page.truncated = true;
            return Ok(false);
        }
        Ok(true)
    }

    /// Whether the object `key`, and the children `children` (`key/`), can still be listed
    /// on this page: they match the prefix and sort after `start_after`.
    fn listable(&self, key: &str, children: &str) -> (bool, bool) {
        let opts = self.opts;
        let object = key.starts_with(&opts.prefix) && key > opts.start_after.as_str();
        let reachable = children.starts_with(&opts.prefix) || opts.prefix.starts_with(children);
        let passed =
            opts.start_after.as_str() >= children && !opts.start_after.starts_with(children);
        let children_listed = if opts.recursive {
            reachable && !passed
        } else {
            reachable && !passed && children > opts.start_after.as_str()
        };
        (object, children_listed)
    }

    /// Whether the directory `sub` of `parent` (open as `at`) is an object, and whether it
    /// has key children.
    fn inspect(
        &self,
        at: Option<&fs::File>,
        parent: &Path,
        sub: &str,
    ) -> Result<(bool, bool), DriveError> {
        // A directory with two links (ext4, xfs, tmpfs) has no subdirectory: no key below
        // it, no marker, no data directory; it is taken for an object, whose metadata the
        // caller reads anyway (and skips when there is none). Any other count (btrfs says 1)
        // takes a full read. One stat instead of reading each object's directory.
        let leaf = match (at, std::ffi::CString::new(sub)) {
            (Some(at), Ok(name)) => crate::sys::lstat_at(at, &name)
                .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR && st.st_nlink == 2),
            _ => fs::symlink_metadata(parent.join(sub)).map(|m| m.is_dir() && m.nlink() == 2),
        };
        match leaf {
            Ok(true) => return Ok((true, false)),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok((false, false)),
            Err(e) => return Err(io_err(&parent.join(sub), e)),
        }
        let dir = parent.join(sub);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok((false, false)),
            Err(e) => return Err(io_err(&dir, e)),
        };
        let (mut is_object, mut has_children) = (false, false);
        for entry in entries {
            let entry = entry.map_err(|e| io_err(&dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == OBJECT_META_FILE {
                is_object = true;
            } else if name == DIR_MARKER
                || (!name.starts_with(RESERVED_PREFIX)
                    && entry.file_type().is_ok_and(|t| t.is_dir()))
            {
                // A key directory below, or the marker object `<this>/`.
                has_children = true;
            }
        }
        Ok((is_object, has_children))
    }

    /// Adds an entry; false (and `truncated`) when the page is already full: it holds
    /// `limit` entries, or this one would take it past [`PAGE_BYTES`].
    fn emit(&mut self, name: String, meta: Option<WalkMeta>) -> bool {
        let bytes = name.len()
            + match &meta {
                Some(WalkMeta::Header(b) | WalkMeta::Summary(b)) => b.len(),
                None => 0,
            };
        let full = self.page.entries.len() >= self.opts.limit
            || (!self.page.entries.is_empty() && self.bytes + bytes > PAGE_BYTES);
        if full {
            self.page.truncated = true;
            return false;
        }
        self.bytes += bytes;
        self.page.entries.push(WalkEntry { name, meta });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drive::local::tests::{drive, put_object_with_header};

    #[tokio::test]
    async fn pages_stop_before_their_bytes_pass_the_budget() {
        let (_t, d) = drive();
        d.make_volume("b").await.unwrap();
        let big = vec![7u8; PAGE_BYTES / 2];
        for key in ["a", "b", "c"] {
            put_object_with_header(&d, key, &big).await;
        }
        put_object_with_header(&d, "d", b"small").await;
        let mut opts = WalkOptions {
            recursive: true,
            limit: 100,
            ..Default::default()
        };
        let mut pages = Vec::new();
        loop {
            let page = d.walk("b", &opts).await.unwrap();
            let names: Vec<_> = page.entries.iter().map(|e| e.name.clone()).collect();
            pages.push(names.clone());
            if !page.truncated {
                break;
            }
            opts.start_after = names.last().unwrap().clone();
        }
        // Two halves and a name pass the budget; one entry always fits.
        assert_eq!(pages, [vec!["a"], vec!["b"], vec!["c", "d"]]);
    }
}
