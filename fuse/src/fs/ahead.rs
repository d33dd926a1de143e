//! Listings fetched ahead of a tree walk (`find`, `ls -R`, `du`, `git status`, `rsync`): when
//! a walk enters a subdirectory of a directory it just listed, the listings of the next
//! few sibling subdirectories are fetched at once, several in parallel, so the walk finds
//! each ready when it gets there (its entries and its own attributes, from its marker).
//! A directory listed whole for its lookups is kept the same way, for the readdir that
//! often follows (`git status` stats every file, then reads every directory).
//!
//! This module keeps the bookkeeping only: which directories' subdirectories are known,
//! which listings are in flight or done, and for how long each may be used. The fetching
//! is `Inner`'s (`dir::walk`).
//!
//! Invariants: a listing fetched ahead is used at most once, within the TTL from when it
//! was asked for, and is dropped as soon as this mount changes the directory
//! ([`Ahead::changed`]); directories with deletes queued are never fetched ahead; at most
//! [`WINDOW`] siblings past the one entered are fetched, [`PARALLEL`] at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{OnceCell, Semaphore};

use crate::api::ListObjectsResponse;

/// Siblings past the one a walk entered whose listings are fetched ahead.
pub const WINDOW: usize = 16;
/// Listings fetched ahead at once.
pub const PARALLEL: usize = 6;
/// Directories with more subdirectories than this are not walked ahead.
const SUBDIRS_MAX: usize = 4_096;

/// A listing fetched ahead: `None` once it failed or was too big for one page.
pub type Fetched = Arc<OnceCell<Option<ListObjectsResponse>>>;

/// The walks ahead of one mount.
pub struct Ahead {
    state: Mutex<State>,
    /// Fetches running at once.
    pub slots: Arc<Semaphore>,
    ttl: Duration,
}

#[derive(Default)]
struct State {
    /// Directory → the names of its subdirectories, in order, from a whole listing, and
    /// until when they are fresh.
    subdirs: HashMap<String, (Arc<Vec<String>>, Instant)>,
    /// Directory → its listing fetched ahead, and until when it may be used.
    fetched: HashMap<String, (Fetched, Instant)>,
}

impl Ahead {
    /// Walks ahead whose listings are fresh for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            state: Mutex::new(State::default()),
            slots: Arc::new(Semaphore::new(PARALLEL)),
            ttl,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `dir` was just listed whole: these are its subdirectories.
    pub fn listed(&self, dir: &str, subdirs: Vec<String>) {
        let now = Instant::now();
        let mut s = self.state();
        s.subdirs.retain(|_, (_, until)| *until > now);
        if subdirs.is_empty() || subdirs.len() > SUBDIRS_MAX {
            s.subdirs.remove(dir);
            return;
        }
        s.subdirs
            .insert(dir.to_string(), (Arc::new(subdirs), now + self.ttl));
    }

    /// A walk entered `name` in `dir`: the paths of the [`WINDOW`] siblings after it, to
    /// be fetched ahead (see [`Ahead::claim`]).
    pub fn entered(&self, dir: &str, name: &str) -> Vec<String> {
        let s = self.state();
        let Some((subdirs, until)) = s.subdirs.get(dir) else {
            return Vec::new();
        };
        if *until <= Instant::now() {
            return Vec::new();
        }
        let Ok(at) = subdirs.binary_search_by(|n| n.as_str().cmp(name)) else {
            return Vec::new();
        };
        (subdirs.iter().skip(at + 1).take(WINDOW))
            .map(|sibling| crate::fs::inode::join(dir, sibling))
            .collect()
    }

    /// The directories of `paths` to fetch now, each with the cell its listing goes into
    /// (those fetched or in flight already are left out).
    pub fn claim(&self, paths: Vec<String>) -> Vec<(String, Fetched)> {
        let now = Instant::now();
        let mut s = self.state();
        s.fetched.retain(|_, (_, until)| *until > now);
        let mut out = Vec::new();
        for path in paths {
            if s.fetched.contains_key(&path) {
                continue;
            }
            let cell = Fetched::default();
            s.fetched
                .insert(path.clone(), (cell.clone(), now + self.ttl));
            out.push((path, cell));
        }
        out
    }

    /// `dir` is being listed whole for its lookups: the cell that listing goes into, kept
    /// as a listing fetched ahead (in place of one fetched before).
    pub fn expect(&self, dir: &str) -> Fetched {
        let now = Instant::now();
        let cell = Fetched::default();
        let mut s = self.state();
        s.fetched.retain(|_, (_, until)| *until > now);
        s.fetched
            .insert(dir.to_string(), (cell.clone(), now + self.ttl));
        cell
    }

    /// The listing of `dir` fetched ahead, if there is one still fresh; it is used up.
    pub fn take(&self, dir: &str) -> Option<Fetched> {
        let mut s = self.state();
        let (cell, until) = s.fetched.remove(dir)?;
        (until > Instant::now()).then_some(cell)
    }

    /// The listing of `dir` fetched ahead or in flight, still fresh (not used up: a
    /// lookup of the directory waits for it, and the walk's readdir takes it).
    pub fn pending(&self, dir: &str) -> Option<Fetched> {
        let s = self.state();
        let (cell, until) = s.fetched.get(dir)?;
        (*until > Instant::now()).then(|| cell.clone())
    }

    /// This mount changed the entries of `dir`: what was fetched of it, or of anything
    /// under it (a directory renamed or removed there), is stale.
    pub fn changed(&self, dir: &str) {
        let under = |path: &str| {
            dir.is_empty()
                || path
                    .strip_prefix(dir)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        let mut s = self.state();
        s.fetched.retain(|path, _| !under(path));
        s.subdirs.retain(|path, _| !under(path));
    }
}
