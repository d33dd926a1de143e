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

use crate::api::ListObjectsResponse;
use crate::fs::attr::{Attr, Defaults, Kind};
use crate::fs::error::{Errno, FsError, FsResult};
use crate::fs::inode::{Inodes, join};
use crate::fs::open::{DirStream, Entry, Stage};
use crate::fs::state::{Inner, LIST_AHEAD_MAX, listed_prefix};

/// Names a listing call returns at most: the server's largest page (each page costs it a
/// read of the whole directory on every drive).
const PAGE: u32 = 10_000;
/// Lookups of names a directory's fresh attributes do not hold, within the TTL, after
/// which the directory is listed in one call instead (`stat` of many files, `git status`).
const MISSES_BEFORE_LISTING: u32 = 3;
/// How long a directory too big for that waits before it is tried again.
const BIG_DIRECTORY_WAIT: Duration = Duration::from_secs(60);

impl Inner {
    /// Opens the directory `ino`: a new stream, returned as its handle.
    pub async fn opendir(self: &Arc<Self>, ino: u64) -> FsResult<u64> {
        self.opendir_keeping(ino).await.map(|(fh, _)| fh)
    }

    /// [`Self::opendir`], and whether the kernel may keep the entries it cached of the
    /// directory: this mount listed all of it within the TTL (changes made through the
    /// mount since drop the kernel's copy themselves).
    pub async fn opendir_keeping(self: &Arc<Self>, ino: u64) -> FsResult<(u64, bool)> {
        // A listing shows what the server holds: the deletes queued here first.
        self.behind.settle().await;
        let attr = self.getattr(ino).await?;
        if attr.kind != Kind::Dir {
            return Err(FsError::posix(Errno::ENOTDIR, "not a directory"));
        }
        let keep = (self.inodes().get(ino)).is_some_and(|n| n.listed_until > Instant::now());
        let path = self.path_of(ino)?;
        self.walked_into(&path);
        let stream = DirStream::new(ino, path);
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.dirs()
            .insert(fh, (ino, Arc::new(tokio::sync::Mutex::new(stream))));
        Ok((fh, keep))
    }

    /// A lookup in the directory `dir` is going to the server: after a few within the
    /// TTL, lists the directory in one call (when it is small enough for one page), so
    /// the lookups that follow are answered from the listing. A lookup that comes while
    /// that listing is on its way waits for it.
    pub(crate) async fn lookup_missed(&self, dir: u64) {
        let now = Instant::now();
        let missed = {
            let mut t = self.inodes();
            let Some(node) = t.get_mut(dir) else {
                return;
            };
            if node.listed_until > now {
                return;
            }
            if node.prefetch_after > now {
                // Tried within the TTL: wait for that listing if it is on its way.
                match &node.listing_for_lookups {
                    Some(listing) => Missed::Wait(listing.subscribe()),
                    None => return,
                }
            } else {
                if node.misses_since + self.settings.ttl < now {
                    (node.misses, node.misses_since) = (0, now);
                }
                node.misses += 1;
                if node.misses < MISSES_BEFORE_LISTING {
                    return;
                }
                node.misses = 0;
                // One try per TTL (a big directory: a minute) whatever comes of it.
                node.prefetch_after = now + self.settings.ttl;
                let listing = Arc::new(tokio::sync::watch::Sender::new(false));
                node.listing_for_lookups = Some(listing.clone());
                Missed::List(node.path.clone(), SaysDone(listing))
            }
        };
        let (path, _done) = match missed {
            Missed::Wait(mut listing) => {
                let _ = listing.wait_for(|done| *done).await;
                return;
            }
            Missed::List(path, done) => (path, done),
        };
        let Some((bucket, prefix)) = listed_prefix(self.place(&path)) else {
            return;
        };
        // The directory's readdir within the TTL takes this listing too (see `ahead`).
        let kept = self.ahead.expect(&path);
        let list = match self
            .remote
            .list(&bucket, &prefix, true, "", LIST_AHEAD_MAX)
            .await
        {
            Ok(list) => list,
            // Left unset: a readdir that takes the cell lists the directory itself.
            Err(e) => return tracing::debug!(path, "listing for lookups: {e}"),
        };
        let _ = kept.set((!list.truncated).then(|| list.clone()));
        let until = self.fresh_until();
        let mut t = self.inodes();
        let local = t.local_names(&path);
        let Some(node) = t.get_mut(dir) else {
            return;
        };
        if list.truncated {
            node.prefetch_after = now + BIG_DIRECTORY_WAIT;
            return;
        }
        let listing = t.start_listing(until);
        let defaults = &self.settings.defaults;
        entries_of(&mut t, &path, &prefix, &list, listing, &local, defaults);
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

/// What a lookup that missed goes on to do, once the inode table is unlocked.
enum Missed {
    /// Wait for the directory's listing for lookups, on its way.
    Wait(tokio::sync::watch::Receiver<bool>),
    /// List the directory at this path, saying so when done.
    List(String, SaysDone),
}

/// Says a listing for lookups is in (or given up) when dropped.
struct SaysDone(Arc<tokio::sync::watch::Sender<bool>>);

impl Drop for SaysDone {
    fn drop(&mut self) {
        self.0.send_replace(true);
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
        let Some((bucket, prefix)) = listed_prefix(inner.place(&self.path)) else {
            // The root of a mount without `--bucket`: its entries are the buckets.
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
        };
        let first = self.token.is_empty();
        let ahead = match first {
            true => inner.take_fetched_ahead(&self.path).await,
            false => None,
        };
        let list = match ahead {
            Some(list) => list,
            None => {
                let list = inner.remote.list(&bucket, &prefix, true, &self.token, PAGE);
                list.await?
            }
        };
        if list.truncated && !list.next_continuation_token.is_empty() {
            self.token = list.next_continuation_token.clone();
        } else {
            self.state = Stage::Local;
        }
        let until = inner.fresh_until();
        let defaults = &inner.settings.defaults;
        let mut t = inner.inodes();
        let local = t.local_names(&self.path);
        let listing = match self.listing {
            Some(id) => {
                t.extend_listing(id, until);
                id
            }
            None => *self.listing.insert(t.start_listing(until)),
        };
        let page = entries_of(
            &mut t, &self.path, &prefix, &list, listing, &local, defaults,
        );
        if self.state == Stage::Local
            && let Some(node) = t.get_mut(self.ino)
        {
            node.listed_until = until;
        }
        drop(t);
        if first && self.state == Stage::Local {
            // Listed whole: a walk entering one of its subdirectories fetches ahead.
            let subdirs = page
                .iter()
                .filter(|e| e.kind == Kind::Dir && e.attr.is_none());
            let names = subdirs.map(|e| e.name.clone()).collect();
            inner.ahead.listed(&self.path, names);
        }
        for e in &page {
            if local.contains(&e.name) {
                self.local_seen.insert(e.name.clone());
            }
        }
        Ok(page)
    }
}

/// The entries of `list`, a page of the directory at `path` (the keys under `prefix`),
/// numbered in `t`; the attributes of its files go into `t` as listing `listing` says,
/// except those of the names in `local` (what this mount is writing is newer).
fn entries_of(
    t: &mut Inodes,
    path: &str,
    prefix: &str,
    list: &ListObjectsResponse,
    listing: u64,
    local: &HashSet<String>,
    defaults: &Defaults,
) -> Vec<Entry> {
    let mut page = Vec::with_capacity(list.objects.len() + list.common_prefixes.len());
    let mut dirs = HashSet::new();
    for p in &list.common_prefixes {
        let Some(name) = p.strip_prefix(prefix).and_then(|n| n.strip_suffix('/')) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        dirs.insert(name.to_string());
        page.push(Entry {
            ino: t.ino_for(&join(path, name)),
            name: name.to_string(),
            kind: Kind::Dir,
            attr: None,
        });
    }
    for o in &list.objects {
        let Some(name) = o.key.strip_prefix(prefix) else {
            continue;
        };
        // The directory's own marker, and a file shadowed by a directory.
        if name.is_empty() || name.contains('/') || dirs.contains(name) {
            continue;
        }
        let path = join(path, name);
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
    page
}
