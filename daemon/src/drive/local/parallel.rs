//! Blocking reads of many items (a walk's entries of a directory, one file on several
//! drives): on the calling thread while the kernel's caches answer, on up to
//! [`WALK_THREADS`] threads once one read waited for the disk. Results come back in the
//! order of the items.

/// Threads a walk reads a directory's entries with: on a cold disk, each read waits for
/// the disk, and a walk that waits for one at a time keeps the disk's queue nearly empty.
const WALK_THREADS: usize = 8;
/// Fewer items than this are read on the calling thread (threads would cost more).
const PARALLEL_MIN: usize = 32;
/// A read that takes longer waited for the disk: the rest are read by [`WALK_THREADS`]
/// threads. Reads the kernel's caches answer take a few microseconds, and starting the
/// threads would cost more than all of them.
const DISK_WAIT: std::time::Duration = std::time::Duration::from_micros(150);

/// `f` of every item, in the order of `items`: on the calling thread while each takes less
/// than [`DISK_WAIT`], then (once one waited for the disk, with [`PARALLEL_MIN`] or more
/// left) by up to [`WALK_THREADS`] threads.
pub(super) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_until_waited(items, PARALLEL_MIN, false, f)
}

/// [`parallel_map`] for a few items that each wait for a disk of their own (one file on
/// several drives): the rest go to threads, however few, once one item spent
/// [`DISK_WAIT`] off the CPU. An item that was slow computing (a walk of a large directory
/// the kernel's caches hold) keeps the rest on this thread: threads would only share the
/// same cores.
pub(super) fn parallel_map_blocked<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    map_until_waited(items, 1, true, f)
}

/// `f` of every item in order, on this thread until one waited for the disk (its time, or
/// with `off_cpu` its time off the CPU, past [`DISK_WAIT`]) with `min` or more left.
fn map_until_waited<T: Sync, R: Send>(
    items: &[T],
    min: usize,
    off_cpu: bool,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let rest = &items[i + 1..];
        let watch = (rest.len() >= min).then(|| Stopwatch::start(off_cpu));
        out.push(f(item));
        if watch.is_some_and(|w| w.waited()) {
            out.extend(on_threads(rest, &f));
            break;
        }
    }
    out
}

/// The time of one item: wall-clock, and the thread's CPU time when asked for.
#[derive(Clone, Copy)]
struct Stopwatch {
    wall: std::time::Instant,
    cpu: Option<std::time::Duration>,
}

impl Stopwatch {
    fn start(off_cpu: bool) -> Self {
        Self {
            wall: std::time::Instant::now(),
            cpu: off_cpu.then(crate::sys::thread_cpu_time),
        }
    }

    /// Whether the item waited for the disk: took longer than [`DISK_WAIT`], or with the
    /// CPU time, spent that long off the CPU.
    fn waited(self) -> bool {
        let wall = self.wall.elapsed();
        let computing = self.cpu.map_or(std::time::Duration::ZERO, |c| {
            crate::sys::thread_cpu_time().saturating_sub(c)
        });
        wall.saturating_sub(computing) > DISK_WAIT
    }
}

/// `f` of every item, in the order of `items`, computed by up to [`WALK_THREADS`] threads
/// (no more than there are items).
fn on_threads<T: Sync, R: Send>(items: &[T], f: &(impl Fn(&T) -> R + Sync)) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let threads = WALK_THREADS.min(items.len());
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mine = work();
        let theirs = helpers
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        for (i, r) in mine.into_iter().chain(theirs) {
            results[i] = Some(r);
        }
    });
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_one_waited_the_rest_are_read_at_once_in_order() {
        // One file on four drives: the first waits for its disk; the three others then
        // each wait until all three are being read at once (or give up after 10 s), which
        // only threads of their own can do.
        let in_flight = (std::sync::Mutex::new((0, 0)), std::sync::Condvar::new());
        let all: Vec<usize> = (0..4).collect();
        let out = parallel_map_blocked(&all, |&i| {
            if i == 0 {
                std::thread::sleep(DISK_WAIT * 4);
                return 0;
            }
            let (lock, cv) = &in_flight;
            let mut guard = lock.lock().unwrap();
            guard.0 += 1;
            guard.1 = guard.1.max(guard.0);
            cv.notify_all();
            let wait = std::time::Duration::from_secs(10);
            let (mut guard, _) = cv.wait_timeout_while(guard, wait, |g| g.1 < 3).unwrap();
            guard.0 -= 1;
            i * 10
        });
        assert_eq!(out, [0, 10, 20, 30]);
        assert_eq!(in_flight.0.into_inner().unwrap().1, 3, "read at once");
    }

    #[test]
    fn a_walk_keeps_few_items_on_its_own_thread() {
        let caller = std::thread::current().id();
        let all: Vec<usize> = (0..4).collect();
        let out = parallel_map(&all, |&i| {
            std::thread::sleep(DISK_WAIT * 4);
            (i, std::thread::current().id())
        });
        assert!(
            out.iter()
                .enumerate()
                .all(|(n, &(i, t))| n == i && t == caller)
        );
    }
}
