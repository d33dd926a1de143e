//! A walk's reads of a directory's entries: on the calling thread while the kernel's
//! caches answer, on [`WALK_THREADS`] threads once one read waited for the disk. Results
//! come back in the order of the items.

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
/// than [`DISK_WAIT`], then (once one waited for the disk) by up to [`WALK_THREADS`]
/// threads.
pub(super) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let started = std::time::Instant::now();
        out.push(f(item));
        let rest = &items[i + 1..];
        if rest.len() >= PARALLEL_MIN && started.elapsed() > DISK_WAIT {
            out.extend(on_threads(rest, &f));
            break;
        }
    }
    out
}

/// `f` of every item, in the order of `items`, computed by [`WALK_THREADS`] threads.
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
        let helpers: Vec<_> = (1..WALK_THREADS).map(|_| scope.spawn(work)).collect();
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
