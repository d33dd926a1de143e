//! The inode table: inode number ↔ path, the cached attributes of each inode, and a
//! bounded cache of the attributes the last listings carried (so `ls -l` after `readdir`
//! costs no call per file).
//!
//! With `--negative-ttl`, it also knows which directories it made and every name made in
//! them since, so a lookup of another name there needs no call.
//!
//! Invariants: the root is inode 1 with path `""`; a path maps to at most one inode and
//! back; an inode number is a hash of the path it was first given (so `readdir` can name
//! the number a later lookup will give), probed past collisions, and never reused while the
//! kernel remembers it. Paths have no leading or trailing `/`.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::fs::attr::Attr;

/// The root's inode number.
pub const ROOT: u64 = 1;
/// Listing attributes kept at most (older ones are dropped first when full).
const LISTED_MAX: usize = 100_000;
/// Complete directories kept at most.
const COMPLETE_MAX: usize = 10_000;

/// One inode the kernel knows.
#[derive(Debug)]
pub struct Node {
    /// Path under the mount root.
    pub path: String,
    /// Last known attributes.
    pub attr: Attr,
    /// Until when `attr` may be served without asking the server.
    pub fresh_until: Instant,
    /// Created here and not uploaded yet: the server does not know it.
    pub local: bool,
    /// Uploads of this inode committed from this mount: a server answer read across one
    /// may predate it and is not taken.
    pub commits: u64,
    /// The version of the object the kernel may hold pages of (0: none known): an open
    /// that finds the same version on the server keeps them.
    pub page_version: u64,
    /// A directory: until when a complete listing of it from here is fresh.
    pub listed_until: Instant,
    /// A directory: lookups in it that went to the server since `misses_since`.
    pub misses: u32,
    /// When `misses` started counting.
    pub misses_since: Instant,
    /// A directory: no listing for lookups before then.
    pub prefetch_after: Instant,
    /// A directory: the listing for lookups started last, which says `true` once in.
    pub listing_for_lookups: Option<Arc<watch::Sender<bool>>>,
    lookups: u64,
}

impl Node {
    /// A node the kernel has not looked up yet, fresh until `fresh_until`.
    fn new(path: String, attr: Attr, fresh_until: Instant) -> Self {
        let now = Instant::now();
        Self {
            path,
            attr,
            fresh_until,
            local: false,
            commits: 0,
            page_version: 0,
            listed_until: now,
            misses: 0,
            misses_since: now,
            prefetch_after: now,
            listing_for_lookups: None,
            lookups: 0,
        }
    }
}

/// All inodes.
#[derive(Debug)]
pub struct Inodes {
    nodes: HashMap<u64, Node>,
    by_path: HashMap<String, u64>,
    /// Attributes from listings, with the listing they came from.
    listed: HashMap<String, (Attr, u64)>,
    /// Listing → until when its attributes are fresh: the TTL counts from its latest page,
    /// so `ls -l` of a directory that takes longer than the TTL to list still finds them.
    listings: HashMap<u64, Instant>,
    next_listing: u64,
    /// Directories whose every name this mount knows, until when (`--negative-ttl`): made
    /// here, with the names made in them since.
    complete: HashMap<String, (HashSet<String>, Instant)>,
}

/// The path of `name` in the directory at `dir`.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The parent directory of `path` (the root's parent is the root).
pub fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn hash_ino(path: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    path.hash(&mut h);
    // Never 0 (invalid) nor 1 (the root).
    h.finish() | (1 << 63)
}

impl Inodes {
    /// A table holding the root with `attr`.
    pub fn new(root: Attr) -> Self {
        let mut nodes = HashMap::new();
        let mut root = Node::new(String::new(), root, Instant::now());
        root.lookups = 1;
        nodes.insert(ROOT, root);
        Self {
            nodes,
            by_path: HashMap::from([(String::new(), ROOT)]),
            listed: HashMap::new(),
            listings: HashMap::new(),
            next_listing: 0,
            complete: HashMap::new(),
        }
    }

    /// The inode.
    pub fn get(&self, ino: u64) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    /// The inode, to update.
    pub fn get_mut(&mut self, ino: u64) -> Option<&mut Node> {
        self.nodes.get_mut(&ino)
    }

    /// The inode at `path`, if the kernel knows one.
    pub fn at(&self, path: &str) -> Option<u64> {
        self.by_path.get(path).copied()
    }

    /// Whether this mount listed the directory at `path` whole within the TTL (the kernel
    /// keeps the entries it cached of it, see `opendir_keeping`).
    pub fn listed_fresh(&self, path: &str) -> bool {
        let node = self.at(path).and_then(|ino| self.get(ino));
        node.is_some_and(|n| n.listed_until > Instant::now())
    }

    /// The inode number `readdir` shows for `path`.
    pub fn ino_for(&self, path: &str) -> u64 {
        self.at(path).unwrap_or_else(|| self.free_ino(path))
    }

    fn free_ino(&self, path: &str) -> u64 {
        let mut ino = hash_ino(path);
        while self.nodes.contains_key(&ino) {
            ino = ino.wrapping_add(1) | (1 << 63);
        }
        ino
    }

    /// Records a lookup of `path` with `attr` fresh until `fresh_until`; returns its inode.
    pub fn remember(&mut self, path: &str, attr: Attr, fresh_until: Instant) -> u64 {
        let ino = self.ino_for(path);
        let node = (self.nodes.entry(ino))
            .or_insert_with(|| Node::new(path.to_string(), attr.clone(), fresh_until));
        node.attr = attr;
        node.fresh_until = fresh_until;
        node.lookups += 1;
        self.by_path.insert(path.to_string(), ino);
        self.named(path);
        ino
    }

    /// `path` exists: a complete directory holding it knows its name.
    fn named(&mut self, path: &str) {
        if let Some((names, _)) = self.complete.get_mut(parent_of(path)) {
            let name = path.rsplit('/').next().unwrap_or(path);
            names.insert(name.to_string());
        }
    }

    /// The directory at `dir` is empty (just made here): until `until`, a name in it
    /// this mount did not make does not exist.
    pub fn made_empty(&mut self, dir: &str, until: Instant) {
        let now = Instant::now();
        if self.complete.len() >= COMPLETE_MAX {
            self.complete.retain(|_, (_, t)| *t > now);
        }
        if self.complete.len() < COMPLETE_MAX {
            self.complete
                .insert(dir.to_string(), (HashSet::new(), until));
        }
    }

    /// Whether `path` is known not to exist: its directory is complete and does not name it.
    pub fn known_absent(&self, path: &str) -> bool {
        let Some((names, until)) = self.complete.get(parent_of(path)) else {
            return false;
        };
        let name = path.rsplit('/').next().unwrap_or(path);
        *until > Instant::now() && !names.contains(name) && !self.by_path.contains_key(path)
    }

    /// The kernel forgot `n` lookups of `ino`.
    pub fn forget(&mut self, ino: u64, n: u64) {
        if ino == ROOT {
            return;
        }
        let Some(node) = self.nodes.get_mut(&ino) else {
            return;
        };
        node.lookups = node.lookups.saturating_sub(n);
        if node.lookups == 0 {
            let node = self.nodes.remove(&ino).expect("present");
            if self.by_path.get(&node.path) == Some(&ino) {
                self.by_path.remove(&node.path);
            }
        }
    }

    /// `path` no longer exists: its inode (if any) keeps its number for the kernel but no
    /// longer answers for the path.
    pub fn unlink(&mut self, path: &str) {
        self.listed.remove(path);
        if let Some(ino) = self.by_path.remove(path)
            && let Some(node) = self.nodes.get_mut(&ino)
        {
            node.fresh_until = Instant::now();
            node.local = false;
        }
    }

    /// Moves `from` and everything under it to `to`, replacing what `to` named.
    pub fn rename(&mut self, from: &str, to: &str) {
        self.unlink(to);
        self.listed.clear();
        let under = format!("{from}/");
        self.complete
            .retain(|dir, _| dir != from && !dir.starts_with(&under));
        self.named(to);
        let under = format!("{from}/");
        let moved: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.path == from || n.path.starts_with(&under))
            .map(|(ino, _)| *ino)
            .collect();
        for ino in moved {
            let node = self.nodes.get_mut(&ino).expect("listed above");
            if self.by_path.get(&node.path) == Some(&ino) {
                self.by_path.remove(&node.path);
            }
            node.path = format!("{to}{}", &node.path[from.len()..]);
            self.by_path.insert(node.path.clone(), ino);
        }
    }

    /// The names of the local (not yet uploaded) children of the directory `dir`.
    pub fn local_names(&self, dir: &str) -> HashSet<String> {
        (self.local_children(dir).into_iter())
            .map(|(name, _, _)| name)
            .collect()
    }

    /// The local (not yet uploaded) children of the directory `dir`.
    pub fn local_children(&self, dir: &str) -> Vec<(String, u64, Attr)> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.local && !n.path.is_empty() && parent_of(&n.path) == dir)
            .filter(|(ino, n)| self.by_path.get(&n.path) == Some(ino))
            .map(|(ino, n)| {
                let name = n.path.rsplit('/').next().unwrap_or(&n.path).to_string();
                (name, *ino, n.attr.clone())
            })
            .collect()
    }

    /// A new listing, fresh until `until`.
    pub fn start_listing(&mut self, until: Instant) -> u64 {
        let now = Instant::now();
        self.listings.retain(|_, t| *t > now);
        self.next_listing += 1;
        self.listings.insert(self.next_listing, until);
        self.next_listing
    }

    /// Listing `id` read another page: everything it listed is fresh until `until`.
    pub fn extend_listing(&mut self, id: u64, until: Instant) {
        self.listings.insert(id, until);
    }

    /// Keeps the attributes listing `id` carried for `path`.
    pub fn listed(&mut self, path: String, attr: Attr, id: u64) {
        if self.listed.len() >= LISTED_MAX {
            let now = Instant::now();
            let listings = &self.listings;
            self.listed
                .retain(|_, (_, l)| listings.get(l).is_some_and(|t| *t > now));
            if self.listed.len() >= LISTED_MAX {
                self.listed.clear();
            }
        }
        self.listed.insert(path, (attr, id));
    }

    /// Fresh listing attributes of `path`.
    pub fn listed_attr(&self, path: &str) -> Option<Attr> {
        let (attr, id) = self.listed.get(path)?;
        let until = self.listings.get(id)?;
        (*until > Instant::now()).then(|| attr.clone())
    }

    /// Drops what a listing said about `path` (it changed here).
    pub fn invalidate(&mut self, path: &str) {
        self.listed.remove(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::attr::Kind;

    fn attr() -> Attr {
        Attr::new(Kind::File, 0o644, 0, 0)
    }

    #[test]
    fn lookups_forget_and_rename() {
        let mut t = Inodes::new(Attr::new(Kind::Dir, 0o755, 0, 0));
        let now = Instant::now();
        let a = t.remember("d", Attr::new(Kind::Dir, 0o755, 0, 0), now);
        let f = t.remember("d/f", attr(), now);
        assert_eq!(t.ino_for("d/f"), f);
        assert_eq!(t.remember("d/f", attr(), now), f, "same path, same inode");
        t.rename("d", "e");
        assert_eq!((t.at("e"), t.at("e/f")), (Some(a), Some(f)));
        assert_eq!(t.at("d/f"), None);
        assert_eq!(t.get(f).map(|n| n.path.as_str()), Some("e/f"));
        t.forget(f, 1);
        assert!(t.get(f).is_some(), "two lookups, one forgotten");
        t.forget(f, 1);
        assert!(t.get(f).is_none());
        assert_eq!(t.at("e/f"), None);
    }

    #[test]
    fn paths_join_and_split() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a/b", "c"), "a/b/c");
        assert_eq!(parent_of("a/b/c"), "a/b");
        assert_eq!(parent_of("a"), "");
    }
}
