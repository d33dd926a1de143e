//! Work the mount answers before the cluster has done it, done behind the answers by one
//! task: deletes of unlinked files, sent in batches ([`ObjectApi::delete_many`]), and the
//! new mtime and ctime of directories whose entries changed, written to their markers once
//! per round however many entries changed.
//!
//! Why: `rm -r` unlinks one name at a time and waits for each; a round trip per name (and
//! another for the directory's times) is most of its cost. An unlink in a directory a
//! tree walk holds open returns once the delete is queued; the names that arrive while one
//! batch is on the wire go in the next. A lone `rm f` is not deferred (the caller's
//! choice, [`crate::fs::namespace`]).
//!
//! Invariants:
//! - a path whose delete is queued or on the wire is [`Behind::deleting`]: this mount
//!   answers ENOENT for it without asking the server;
//! - [`Behind::settle`] returns once everything queued before it is done (or has failed,
//!   logged): callers settle before anything whose outcome a pending delete could change
//!   (listing a directory, rmdir, rename, creating a name being deleted, unmount);
//! - the first delete in each bucket is not deferred (the caller makes it itself, so a key
//!   that may not delete gets its EACCES); later ones are. A deferred delete the server
//!   refuses is logged and its file reappears: the next listing shows it, and an rmdir of
//!   its directory answers ENOTEMPTY;
//! - other clients see a deferred delete within a round trip or two; a mount killed before
//!   its queue is sent loses those deletes (an unmount sends them first).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use tokio::sync::Notify;

use crate::api::{DELETE_BATCH, ObjectApi};
use crate::fs::attr::{CTIME, MTIME, format_time};

/// How long directory times wait for more changes when no delete is queued.
const TIMES_DELAY: Duration = Duration::from_millis(100);
/// Marker updates on the wire at once.
const TIMES_PARALLEL: usize = 8;

/// The queue and its task.
pub struct Behind {
    remote: Arc<dyn ObjectApi>,
    queue: Mutex<Queue>,
    /// Something was queued, or a caller waits.
    wake: Notify,
    /// A round ended.
    done: Notify,
}

#[derive(Default)]
struct Queue {
    /// Path → (bucket, key) of every delete not yet answered.
    deleting: HashMap<String, (String, String)>,
    /// Paths of deletes not yet sent, in order.
    unsent: Vec<String>,
    /// Directory path → (bucket, marker key, time) of times not yet written.
    times: HashMap<String, (String, String, SystemTime)>,
    /// Buckets where a delete of this mount succeeded.
    proven: HashSet<String>,
    /// A round is running.
    busy: bool,
    /// Someone waits: no delay.
    urgent: bool,
    /// The task was started.
    started: bool,
}

impl Queue {
    fn idle(&self) -> bool {
        !self.busy && self.unsent.is_empty() && self.times.is_empty()
    }
}

impl Behind {
    /// A queue sending to `remote`; its task starts with the first work.
    pub fn new(remote: Arc<dyn ObjectApi>) -> Arc<Self> {
        Arc::new(Self {
            remote,
            queue: Mutex::default(),
            wake: Notify::new(),
            done: Notify::new(),
        })
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a delete of `path` is queued or on the wire.
    pub fn deleting(&self, path: &str) -> bool {
        self.queue().deleting.contains_key(path)
    }

    /// Whether a pending delete is of `path` or of a path under it.
    pub fn touches(&self, path: &str) -> bool {
        let q = self.queue();
        let under = format!("{path}/");
        (path.is_empty() && !q.deleting.is_empty())
            || (q.deleting.keys()).any(|p| p == path || p.starts_with(&under))
    }

    /// Whether deletes in `bucket` may be deferred (one succeeded here already).
    pub fn may_defer(&self, bucket: &str) -> bool {
        self.queue().proven.contains(bucket)
    }

    /// A delete in `bucket` succeeded: later ones may be deferred.
    pub fn proven(&self, bucket: &str) {
        self.queue().proven.insert(bucket.to_string());
    }

    /// Queues the delete of `bucket/key`, the file at `path`.
    pub fn delete(self: &Arc<Self>, path: &str, bucket: String, key: String) {
        let mut q = self.queue();
        q.deleting.insert(path.to_string(), (bucket, key));
        q.unsent.push(path.to_string());
        self.start(q);
    }

    /// The directory at `path`, whose marker is `bucket/marker`, changed at `time`.
    pub fn dir_changed(
        self: &Arc<Self>,
        path: &str,
        bucket: String,
        marker: String,
        time: SystemTime,
    ) {
        let mut q = self.queue();
        let waiting = !q.times.is_empty();
        q.times.insert(path.to_string(), (bucket, marker, time));
        if waiting {
            // The task was woken for the times already waiting: these join that round
            // (waking it for each would cost a thread wake-up per file `tar x` makes).
            return;
        }
        self.start(q);
    }

    /// Forgets the pending times of the directory at `path` (it is being removed).
    pub fn forget_times(&self, path: &str) {
        self.queue().times.remove(path);
    }

    fn start(self: &Arc<Self>, mut q: MutexGuard<'_, Queue>) {
        if !q.started {
            q.started = true;
            tokio::spawn(self.clone().run());
        }
        drop(q);
        self.wake.notify_one();
    }

    /// Returns once everything queued so far is done.
    pub async fn settle(&self) {
        loop {
            let done = self.done.notified();
            {
                let mut q = self.queue();
                if q.idle() {
                    return;
                }
                q.urgent = true;
            }
            self.wake.notify_one();
            done.await;
        }
    }

    async fn run(self: Arc<Self>) {
        loop {
            self.wake.notified().await;
            let only_times = {
                let q = self.queue();
                q.unsent.is_empty() && !q.urgent
            };
            if only_times {
                self.gather_times().await;
            }
            let (unsent, times) = {
                let mut q = self.queue();
                q.busy = true;
                q.urgent = false;
                let unsent: Vec<_> = std::mem::take(&mut q.unsent)
                    .into_iter()
                    .filter_map(|p| q.deleting.get(&p).cloned().map(|bk| (p, bk)))
                    .collect();
                (unsent, std::mem::take(&mut q.times))
            };
            self.send_deletes(unsent).await;
            self.write_times(times).await;
            let more = {
                let mut q = self.queue();
                q.busy = false;
                !q.idle()
            };
            self.done.notify_waiters();
            if more {
                self.wake.notify_one();
            }
        }
    }

    /// Lets more changes of the same directories come for [`TIMES_DELAY`], so a burst of
    /// creates in one directory costs one marker write; ends early only for a delete or a
    /// caller that waits (another directory change just joins this round).
    async fn gather_times(&self) {
        let deadline = tokio::time::Instant::now() + TIMES_DELAY;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return,
                () = self.wake.notified() => {
                    let q = self.queue();
                    if q.urgent || !q.unsent.is_empty() {
                        return;
                    }
                }
            }
        }
    }

    async fn send_deletes(&self, unsent: Vec<(String, (String, String))>) {
        let mut by_bucket: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (path, (bucket, key)) in unsent {
            by_bucket.entry(bucket).or_default().push((path, key));
        }
        for (bucket, entries) in by_bucket {
            for batch in entries.chunks(DELETE_BATCH) {
                let keys = batch.iter().map(|(_, k)| k.clone()).collect();
                let results = match self.remote.delete_many(&bucket, keys).await {
                    Ok(results) => results,
                    Err(e) => vec![Err(e); batch.len()],
                };
                let mut q = self.queue();
                for ((path, key), result) in batch.iter().zip(results) {
                    if let Err(e) = result {
                        tracing::warn!(bucket, key, "deferred delete failed: {e}");
                    }
                    q.deleting.remove(path);
                }
            }
        }
    }

    async fn write_times(&self, times: HashMap<String, (String, String, SystemTime)>) {
        let writes = times.into_iter().map(|(path, (bucket, marker, time))| {
            let time = format_time(time);
            let set = HashMap::from([(MTIME.to_string(), time.clone()), (CTIME.to_string(), time)]);
            async move {
                let result = self
                    .remote
                    .update_metadata(&bucket, &marker, set, Vec::new())
                    .await;
                match result {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => tracing::warn!(path, "directory times not updated: {e}"),
                }
            }
        });
        futures::stream::iter(writes)
            .buffer_unordered(TIMES_PARALLEL)
            .collect::<()>()
            .await;
    }
}
