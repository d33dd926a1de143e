//! Group commit for local drives: one `syncfs(2)` makes durable every write that finished
//! before it started, for all the writers waiting on the same file system.
//!
//! A small PUT used to fsync a file and a directory on each of its drives; sixteen
//! concurrent PUTs on four drives meant 128 flushes of the device. Now each waits for a
//! barrier: a caller that finds no leader becomes one, waits a moment ([`GATHER`]) for
//! others to join when the last sync had company, then runs the sync; every caller that
//! arrived before the sync started is covered by it. A lone writer (`tar x` through a
//! mount) thus never waits for company that does not come. One [`GroupSync`] serves every
//! drive on one file system (drives under one data directory share it), found by device
//! id.
//!
//! Invariants: [`GroupSync::barrier`] returns `Ok` only after a `syncfs` that *started*
//! after the call began has succeeded; at most one sync runs at a time; a failed `syncfs`
//! fails every caller it was meant to cover (the error is not retried away: the kernel may
//! have dropped the dirty pages).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// The group commit of one file system.
#[derive(Debug)]
pub(crate) struct GroupSync {
    /// Any directory of the file system, to name it to `syncfs`.
    handle: File,
    state: Mutex<State>,
    done: Condvar,
}

/// How long a new leader waits for others to join before it starts a sync, when the last
/// sync covered more than one caller: concurrent PUTs arrive within microseconds of each
/// other, and without the wait all but the first would need a second sync.
const GATHER: Duration = Duration::from_micros(200);

#[derive(Debug, Default)]
struct State {
    /// Generations of syncs started and finished.
    started: u64,
    finished: u64,
    /// A leader is gathering callers for, or running, the next sync.
    leading: bool,
    /// Calls of [`GroupSync::barrier`] so far, and that count when the last sync started.
    arrived: u64,
    arrived_by_last_start: u64,
    /// The last sync covered more than one caller: the next leader gathers.
    had_company: bool,
    /// The latest generation whose sync failed, and how.
    failed: Option<(u64, io::ErrorKind)>,
}

impl GroupSync {
    /// The group commit of the file system that holds `dir` (shared with every other
    /// drive on it).
    pub(crate) fn for_dir(dir: &Path) -> io::Result<Arc<GroupSync>> {
        static BY_DEVICE: OnceLock<Mutex<HashMap<u64, Arc<GroupSync>>>> = OnceLock::new();
        let handle = File::open(dir)?;
        let device = handle.metadata()?.dev();
        let mut map = BY_DEVICE
            .get_or_init(Default::default)
            .lock()
            .expect("poisoned");
        let sync = map.entry(device).or_insert_with(|| {
            Arc::new(GroupSync {
                handle,
                state: Mutex::default(),
                done: Condvar::new(),
            })
        });
        Ok(sync.clone())
    }

    /// Blocks until everything written before this call is on stable storage.
    pub(crate) fn barrier(&self) -> io::Result<()> {
        let mut state = self.state.lock().expect("poisoned");
        // A sync running now may have started before our writes: we need the next one to
        // start (which may be the one a leader is gathering callers for).
        let needed = state.started + 1;
        state.arrived += 1;
        loop {
            if state.finished >= needed {
                return match state.failed {
                    Some((generation, kind)) if generation >= needed => Err(kind.into()),
                    _ => Ok(()),
                };
            }
            if !state.leading {
                state.leading = true;
                if state.had_company {
                    drop(state);
                    std::thread::sleep(GATHER);
                    state = self.state.lock().expect("poisoned");
                }
                state.had_company = state.arrived - state.arrived_by_last_start > 1;
                state.arrived_by_last_start = state.arrived;
                state.started += 1;
                let generation = state.started;
                drop(state);
                let result = crate::sys::syncfs(&self.handle);
                state = self.state.lock().expect("poisoned");
                state.finished = generation;
                state.leading = false;
                if let Err(e) = &result {
                    state.failed = Some((generation, e.kind()));
                }
                self.done.notify_all();
                continue;
            }
            state = self.done.wait(state).expect("poisoned");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drives_on_one_file_system_share_one_group() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let a = GroupSync::for_dir(&dir.path().join("a")).unwrap();
        let b = GroupSync::for_dir(dir.path()).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn concurrent_barriers_all_return_and_share_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let sync = GroupSync::for_dir(dir.path()).unwrap();
        let before = sync.state.lock().unwrap().finished;
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    for _ in 0..8 {
                        sync.barrier().unwrap();
                    }
                });
            }
        });
        let state = sync.state.lock().unwrap();
        assert_eq!(state.started, state.finished, "no sync left running");
        assert!(state.finished > before, "the barriers ran syncfs");
        assert!(state.failed.is_none());
    }

    #[test]
    fn a_leader_gathers_only_after_a_sync_that_had_company() {
        let dir = tempfile::tempdir().unwrap();
        // Its own group: other tests' syncs on this file system would be company.
        let sync = GroupSync {
            handle: File::open(dir.path()).unwrap(),
            state: Mutex::default(),
            done: Condvar::new(),
        };
        // While a sync runs, three callers arrive and wait for the next one.
        sync.state.lock().unwrap().leading = true;
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| sync.barrier().unwrap());
            }
            while sync.state.lock().unwrap().arrived < 3 {
                std::thread::yield_now();
            }
            sync.state.lock().unwrap().leading = false;
            sync.done.notify_all();
        });
        {
            let state = sync.state.lock().unwrap();
            assert_eq!(
                (state.started, state.finished),
                (1, 1),
                "one sync for all three"
            );
            assert!(state.had_company);
        }
        sync.barrier().unwrap();
        assert!(
            !sync.state.lock().unwrap().had_company,
            "one caller is no company"
        );
        sync.barrier().unwrap();
        let state = sync.state.lock().unwrap();
        assert_eq!((state.started, state.finished), (3, 3));
        assert!(state.failed.is_none());
    }
}
