//! Directory streams: `readdir` served page by page from delimiter listings (up to
//! 10,000 names a call), so a directory of any size costs memory for one page only. The
//! attributes the listing carries are kept for the lookups that follow (`ls -l`), and
//! `readdirplus` hands them to the kernel with the names, so `ls -l` costs no lookup per
//! file. Files created here and not uploaded yet are listed after the server's names.
//!
//! Entries go into a [`DirSink`] (the adapter's kernel reply); the sink says whether it
//! wants attributes with the names (`readdirplus`), and the core decides which.
//!
//! Invariants: entry `i` of a stream has offset `i` (0 = `.`, 1 = `..`); an offset before
//! the current page restarts the listing from the start; every entry but `.` and `..` that
//! a `readdirplus` sink takes counts one kernel lookup of its inode.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::fs::attr::{Attr, Kind};
use crate::fs::error::{Errno, FsError, FsResult};
use crate::fs::inode::join;
use crate::fs::open::{DirStream, Entry, Stage};
use crate::fs::state::{Inner, Place};

/// Names a listing call returns at most: the server's largest page (each page costs it a
/// read of the whole directory on every drive).
const PAGE: u32 = 10_000;

impl Inner {
    /// Opens the directory `ino`: a new stream, returned as its handle.
    pub async fn opendir(&self, ino: u64) -> FsResult<u64> {
        // A listing shows what the server holds: the deletes queued here first.
        self.behind.settle().await;
        let attr = self.getattr(ino).await?;
        if attr.kind != Kind::Dir {
            return Err(FsError::posix(Errno::ENOTDIR, "not a directory"));
        }
        let stream = DirStream::new(ino, self.path_of(ino)?);
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.dirs()
            .insert(fh, (ino, Arc::new(tokio::sync::Mutex::new(stream))));
        Ok(fh)
    }

    /// The open directory `fh`'s stream, `None` for an unknown handle.
    pub fn dir_stream(&self, fh: u64) -> Option<Arc<tokio::sync::Mutex<DirStream>>> {
        self.dirs().get(&fh).map(|(_, stream)| stream.clone())
    }

    /// Whether a handle of the directory `ino` is open (a tree walk such as `rm -r` holds
    /// one while it removes the entries).
    pub fn dir_is_open(&self, ino: u64) -> bool {
        self.dirs().values().any(|(dir, _)| *dir == ino)
    }

    /// fsync(2) of a directory: what was removed in it is removed on the cluster.
    pub async fn fsyncdir(&self) {
        self.behind.settle().await;
    }

    /// Closes the directory handle `fh`.
    pub fn releasedir(&self, fh: u64) {
        self.dirs().remove(&fh);
    }
}

/// An entry as the kernel is told it.
#[derive(Debug, Clone)]
pub struct DirEntry {
    /// Inode number.
    pub ino: u64,
    /// Name.
    pub name: String,
    /// Type.
    pub kind: Kind,
    /// Attributes (a plus sink's only; a plain sink's are the listing's or a directory's
    /// defaults, and unused).
    pub attr: Attr,
    /// How long the kernel may keep `attr`.
    pub ttl: Duration,
}

/// Where directory entries go: `readdir`'s names and types, or `readdirplus`'s names with
/// attributes.
pub trait DirSink {
    /// Whether entries carry attributes that count as lookups (`readdirplus`).
    fn plus(&self) -> bool;
    /// Adds `e`, whose successor is at offset `next`; true when the sink is full and `e`
    /// was not added.
    fn add(&mut self, e: &DirEntry, next: u64) -> bool;
}

impl Inner {
    /// Adds `e` (of the directory at `dir`) to `sink`; true when full. A plus sink gets
    /// the attributes a lookup would give, so the kernel needs none. A directory's come
    /// with a zero TTL unless this mount knows them: its mode and times are on its marker,
    /// which the listing does not read.
    fn add_entry(&self, sink: &mut impl DirSink, dir: &str, e: &Entry, next: u64) -> bool {
        let defaults = &self.settings.defaults;
        if !sink.plus() || e.name == "." || e.name == ".." {
            // The kernel takes no lookup for these, and ignores `.`'s and `..`'s attributes.
            let entry = DirEntry {
                ino: e.ino,
                name: e.name.clone(),
                kind: e.kind,
                attr: e
                    .attr
                    .clone()
                    .unwrap_or_else(|| Attr::implicit_dir(defaults)),
                ttl: Duration::ZERO,
            };
            return sink.add(&entry, next);
        }
        let path = join(dir, &e.name);
        let mut t = self.inodes();
        let (attr, until, ttl) = match self.known_attr(&t, &path) {
            Some((attr, until)) => (attr, until, self.settings.ttl),
            None => {
                let attr = e
                    .attr
                    .clone()
                    .unwrap_or_else(|| Attr::implicit_dir(defaults));
                (attr, Instant::now(), Duration::ZERO)
            }
        };
        let entry = DirEntry {
            ino: t.ino_for(&path),
            name: e.name.clone(),
            kind: e.kind,
            attr,
            ttl,
        };
        let full = sink.add(&entry, next);
        if !full {
            t.remember(&path, entry.attr, until);
        }
        full
    }
}

impl DirStream {
    /// Adds entries from `offset` on to `sink` until it is full or the listing ends.
    pub async fn fill(
        &mut self,
        inner: &Inner,
        offset: u64,
        sink: &mut impl DirSink,
    ) -> FsResult<()> {
        let mut at = offset;
        while let Some(e) = self.entry(inner, at).await? {
            if inner.add_entry(sink, &self.path, &e, at + 1) {
                break;
            }
            at += 1;
        }
        Ok(())
    }

    /// Entry number `offset`, `None` past the end.
    pub async fn entry(&mut self, inner: &Inner, offset: u64) -> FsResult<Option<Entry>> {
        if offset < self.page_start {
            *self = Self::new(self.ino, std::mem::take(&mut self.path));
        }
        while offset >= self.page_start + self.page.len() as u64 {
            if self.state == Stage::Done {
                return Ok(None);
            }
            self.page_start += self.page.len() as u64;
            self.page = self.next_page(inner).await?;
        }
        Ok(self.page.get((offset - self.page_start) as usize).cloned())
    }

    async fn next_page(&mut self, inner: &Inner) -> FsResult<Vec<Entry>> {
        match self.state {
            Stage::Start => {
                let parent = if self.path.is_empty() {
                    self.ino
                } else {
                    inner
                        .inodes()
                        .ino_for(crate::fs::inode::parent_of(&self.path))
                };
                self.state = Stage::Server;
                Ok(vec![
                    Entry {
                        ino: self.ino,
                        name: ".".into(),
                        kind: Kind::Dir,
                        attr: None,
                    },
                    Entry {
                        ino: parent,
                        name: "..".into(),
                        kind: Kind::Dir,
                        attr: None,
                    },
                ])
            }
            Stage::Server => self.server_page(inner).await,
            Stage::Local => {
                self.state = Stage::Done;
                let local = inner.inodes().local_children(&self.path);
                Ok(local
                    .into_iter()
                    .filter(|(name, _, _)| !self.local_seen.contains(name))
                    .map(|(name, ino, attr)| Entry {
                        ino,
                        name,
                        kind: attr.kind,
                        attr: Some(attr),
                    })
                    .collect())
            }
            Stage::Done => Ok(Vec::new()),
        }
    }

    async fn server_page(&mut self, inner: &Inner) -> FsResult<Vec<Entry>> {
        let (bucket, prefix) = match inner.place(&self.path) {
            Place::Buckets => {
                let buckets = inner.remote.list_buckets().await?;
                self.state = Stage::Local;
                let t = inner.inodes();
                return Ok(buckets
                    .into_iter()
                    .map(|b| Entry {
                        ino: t.ino_for(&b.name),
                        name: b.name,
                        kind: Kind::Dir,
                        attr: None,
                    })
                    .collect());
            }
            Place::Bucket(b) => (b, String::new()),
            Place::Key(b, k) => (b, format!("{k}/")),
        };
        let list = inner
            .remote
            .list(&bucket, &prefix, true, &self.token, PAGE)
            .await?;
        if list.truncated && !list.next_continuation_token.is_empty() {
            self.token = list.next_continuation_token;
        } else {
            self.state = Stage::Local;
        }
        let local: HashSet<String> = inner
            .inodes()
            .local_children(&self.path)
            .into_iter()
            .map(|(name, _, _)| name)
            .collect();
        let until = inner.fresh_until();
        let defaults = &inner.settings.defaults;
        let mut t = inner.inodes();
        let listing = match self.listing {
            Some(id) => {
                t.extend_listing(id, until);
                id
            }
            None => *self.listing.insert(t.start_listing(until)),
        };
        let mut page = Vec::with_capacity(list.objects.len() + list.common_prefixes.len());
        let mut dirs = HashSet::new();
        for p in &list.common_prefixes {
            let Some(name) = p.strip_prefix(&prefix).and_then(|n| n.strip_suffix('/')) else {
                continue;
            };
            if name.is_empty() {
                continue;
            }
            dirs.insert(name.to_string());
            page.push(Entry {
                ino: t.ino_for(&join(&self.path, name)),
                name: name.to_string(),
                kind: Kind::Dir,
                attr: None,
            });
        }
        for o in &list.objects {
            let Some(name) = o.key.strip_prefix(&prefix) else {
                continue;
            };
            // The directory's own marker, and a file shadowed by a directory.
            if name.is_empty() || name.contains('/') || dirs.contains(name) {
                continue;
            }
            let path = join(&self.path, name);
            let attr = Attr::of_object(o, defaults);
            page.push(Entry {
                ino: t.ino_for(&path),
                name: name.to_string(),
                kind: attr.kind,
                attr: Some(attr.clone()),
            });
            // What this mount is writing is newer than the listing.
            if !local.contains(name) {
                t.listed(path, attr, listing);
            }
        }
        for e in &page {
            if local.contains(&e.name) {
                self.local_seen.insert(e.name.clone());
            }
        }
        Ok(page)
    }
}
