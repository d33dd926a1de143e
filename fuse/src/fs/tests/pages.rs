//! Pushes to the kernel's page cache: a small file's whole stream and the read cache's
//! blocks arrive page-aligned and complete, of the version the open saw; nothing is pushed
//! while a handle may write the file; closing the gate waits for a push in flight; what
//! the mount committed goes over at the last close, never over newer data.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::memory::Memory;
use super::{Fixture, ROOT, file_attr, mount, mount_tuned, os};
use crate::fs::cache::BLOCK;
use crate::fs::pages::{PAGE, PageSink, Pages};

/// One store: inode, offset, bytes.
type Store = (u64, u64, Vec<u8>);

/// What a sink was given, in order.
#[derive(Default, Clone)]
struct Recorded(Arc<Mutex<Vec<Store>>>);

impl PageSink for Recorded {
    fn store(&self, ino: u64, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.lock().unwrap().push((ino, offset, data.to_vec()));
        Ok(())
    }
}

impl Recorded {
    /// The bytes stored for `ino`, laid out at their offsets (gaps: `None`).
    fn image(&self, ino: u64, len: usize) -> Vec<Option<u8>> {
        let mut out = vec![None; len];
        for (i, offset, data) in self.0.lock().unwrap().iter() {
            assert_eq!(offset % PAGE, 0, "pushes start on a page");
            if *i == ino {
                for (k, b) in data.iter().enumerate() {
                    out[*offset as usize + k] = Some(*b);
                }
            }
        }
        out
    }

    /// Waits until the pushes of `ino` cover `len` bytes, or a few seconds pass.
    async fn settle(&self, ino: u64, len: usize) -> Vec<Option<u8>> {
        for _ in 0..200 {
            let image = self.image(ino, len);
            if image.iter().all(Option::is_some) {
                return image;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.image(ino, len)
    }
}

fn data(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ salt).collect()
}

#[tokio::test]
async fn a_small_file_read_once_is_pushed_whole_and_page_aligned() {
    let api = Memory::new(&["b"], 0);
    // Not a whole number of pages: the last push ends at the end of the file.
    let bytes = data((3 << 20) + 1234, 0);
    api.insert("b", "small", &bytes);
    let f = mount(&api, Some("b"));
    let sink = Recorded::default();
    f.fs.pages.connect(Box::new(sink.clone()));
    let (ino, _) = f.lookup("small").await.expect("small");
    let fh = f.fs.open(ino, libc::O_RDONLY).await.expect("open");
    let got = f.fs.read(fh, 4096 * 100, 4096).await.expect("read");
    assert_eq!(&got[..], &bytes[4096 * 100..][..4096]);
    let image = sink.settle(ino, bytes.len()).await;
    let pushed: Vec<u8> = image
        .iter()
        .map(|b| b.expect("every byte pushed"))
        .collect();
    assert_eq!(pushed, bytes, "the pushed pages are the file's bytes");
    for (_, offset, data) in sink.0.lock().unwrap().iter() {
        let end = offset + data.len() as u64;
        assert!(
            end.is_multiple_of(PAGE) || end == bytes.len() as u64,
            "push ends on a page"
        );
    }
    f.fs.release(fh).await;
}

#[tokio::test]
async fn a_pushed_stream_keeps_only_its_tail_and_a_read_behind_it_fetches_its_range() {
    const MIB: usize = 1 << 20;
    let api = Memory::new(&["b"], 0);
    let bytes = data(12 * MIB, 3);
    api.insert("b", "f", &bytes);
    let read_at = |f: &Fixture, fh, at: usize| {
        let (fs, want) = (f.fs.clone(), bytes[at..at + 4096].to_vec());
        async move {
            let got = fs.read(fh, at as u64, 4096).await.expect("read");
            assert_eq!(&got[..], &want[..], "the bytes at {at}");
        }
    };
    // Not pushed: the handle keeps all it took, and any read comes from it.
    let f = mount(&api, Some("b"));
    let (ino, _) = f.lookup("f").await.expect("f");
    let fh = f.fs.open(ino, libc::O_RDONLY).await.expect("open");
    read_at(&f, fh, 11 * MIB).await;
    read_at(&f, fh, 0).await;
    assert_eq!(api.calls("get"), 1, "one stream, nothing fetched");
    f.fs.release(fh).await;
    // Pushed: the kernel holds the bytes; the handle keeps the last few MiB.
    let f = mount(&api, Some("b"));
    f.fs.pages.connect(Box::new(Recorded::default()));
    let (ino, _) = f.lookup("f").await.expect("f");
    let fh = f.fs.open(ino, libc::O_RDONLY).await.expect("open");
    read_at(&f, fh, 11 * MIB).await;
    read_at(&f, fh, 8 * MIB).await;
    assert_eq!(api.calls("get"), 2, "a read just behind the stream: kept");
    read_at(&f, fh, 0).await;
    assert_eq!(api.calls("get"), 3, "a read far behind: its own range");
    read_at(&f, fh, 12 * MIB - 4096).await;
    assert_eq!(api.calls("get"), 3, "the stream goes on");
    f.fs.release(fh).await;
}

#[tokio::test]
async fn nothing_is_pushed_while_a_handle_may_write_the_file() {
    let api = Memory::new(&["b"], 0);
    let bytes = data(1 << 20, 7);
    api.insert("b", "f", &bytes);
    let f = mount(&api, Some("b"));
    let sink = Recorded::default();
    f.fs.pages.connect(Box::new(sink.clone()));
    let (ino, _) = f.lookup("f").await.expect("f");
    let writer = f.fs.open(ino, libc::O_WRONLY).await.expect("open to write");
    let reader = f.fs.open(ino, libc::O_RDONLY).await.expect("open to read");
    let got = f.fs.read(reader, 0, 4096).await.expect("read");
    assert_eq!(&got[..], &bytes[..4096]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sink.0.lock().unwrap().is_empty(), "no push beside a writer");
    f.fs.release(writer).await;
    f.fs.release(reader).await;
    // Without the writer, a new open pushes again.
    let reader = f.fs.open(ino, libc::O_RDONLY).await.expect("open again");
    f.fs.read(reader, 0, 4096).await.expect("read");
    let image = sink.settle(ino, bytes.len()).await;
    assert!(image.iter().all(Option::is_some), "pushed once alone");
    f.fs.release(reader).await;
}

#[tokio::test]
async fn read_cache_blocks_are_pushed_whole() {
    let api = Memory::new(&["b"], 0);
    // Larger than a whole stream: reads that jump go to the read cache.
    let bytes = data(40 << 20, 3);
    api.insert("b", "big", &bytes);
    let f = mount_tuned(&api, Some("b"), |s| s.cache_size = 64 * BLOCK);
    let sink = Recorded::default();
    f.fs.pages.connect(Box::new(sink.clone()));
    let (ino, _) = f.lookup("big").await.expect("big");
    let fh = f.fs.open(ino, libc::O_RDONLY).await.expect("open");
    let at = 5 * BLOCK + 3 * PAGE;
    let got = f.fs.read(fh, at, 4096).await.expect("read");
    assert_eq!(&got[..], &bytes[at as usize..][..4096]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pushes = sink.0.lock().unwrap().clone();
    let block: Vec<(u64, usize)> = pushes.iter().map(|p| (p.1, p.2.len())).collect();
    assert_eq!(
        block,
        [(5 * BLOCK, BLOCK as usize)],
        "the block read, whole"
    );
    assert_eq!(
        &pushes[0].2[..],
        &bytes[5 * BLOCK as usize..][..BLOCK as usize]
    );
    f.fs.release(fh).await;
}

/// A sink whose stores wait until released, counting them.
struct Blocking {
    started: tokio::sync::mpsc::UnboundedSender<()>,
    release: Mutex<std::sync::mpsc::Receiver<()>>,
}

impl PageSink for Blocking {
    fn store(&self, _ino: u64, _offset: u64, _data: &[u8]) -> std::io::Result<()> {
        let _ = self.started.send(());
        let _ = self.release.lock().unwrap().recv();
        Ok(())
    }
}

#[tokio::test]
async fn a_writer_waits_for_a_push_in_flight_and_later_pushes_are_refused() {
    let pages = Pages::default();
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    pages.connect(Box::new(Blocking {
        started: started_tx,
        release: Mutex::new(release_rx),
    }));
    pages.allow(9, 1);
    pages.push(9, 1, 0, vec![1u8; PAGE as usize].into());
    started.recv().await.expect("the push is being sent");
    let pages = Arc::new(pages);
    let writer = {
        let pages = pages.clone();
        tokio::spawn(async move { pages.writing(9).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!writer.is_finished(), "the writer waits for the push");
    release_tx.send(()).expect("release");
    let hold = writer.await.expect("the writer goes on");
    // The gate is closed: a push of the old version, and a read's allow, do nothing.
    pages.allow(9, 1);
    pages.push(9, 1, 0, vec![2u8; PAGE as usize].into());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        started.try_recv().is_err(),
        "no push while a writer holds the file"
    );
    drop(hold);
    pages.allow(9, 2);
    pages.push(9, 1, 0, vec![3u8; PAGE as usize].into());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(started.try_recv().is_err(), "no push of another version");
    let _ = release_tx.send(());
}

/// A mount of `api` whose pushes `sink` records, with `name` created at its root, written
/// with `bytes` and flushed (uploaded), its handle still open; the mount, inode and handle.
async fn written_here(
    api: &Memory,
    sink: &Recorded,
    name: &str,
    bytes: &[u8],
) -> (Fixture, u64, u64) {
    let f = mount(api, Some("b"));
    f.fs.pages.connect(Box::new(sink.clone()));
    let (ino, fh) = (f.fs.create(ROOT, os(name), file_attr(), false))
        .await
        .expect("create");
    f.fs.write(fh, 0, bytes).await.expect("write");
    f.fs.flush(fh).await.expect("close: uploaded");
    (f, ino, fh)
}

#[tokio::test]
async fn a_file_written_here_goes_to_the_kernel_at_its_last_close_and_the_next_open_keeps_it() {
    let api = Memory::new(&["b"], 0);
    let sink = Recorded::default();
    let bytes = data(10_000, 5);
    let (f, ino, fh) = written_here(&api, &sink, "new", &bytes).await;
    // Another handle still open: not yet (it hands them over when it closes last).
    let reader = f.fs.open(ino, libc::O_RDONLY).await.expect("open");
    f.fs.release(fh).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(sink.0.lock().unwrap().is_empty(), "no push beside a handle");
    f.fs.release(reader).await;
    let image = sink.settle(ino, bytes.len()).await;
    let pushed: Vec<u8> = image.iter().map(|b| b.expect("pushed whole")).collect();
    assert_eq!(pushed, bytes);
    let (fh, keep) = f.fs.open_keeping(ino, libc::O_RDONLY).await.expect("open");
    assert!(
        keep,
        "the next open keeps the pages: the server has that version"
    );
    f.fs.release(fh).await;
    // Replaced by another client: the next open drops them, and nothing is handed over.
    api.insert("b", "new", b"theirs");
    let (fh, keep) = f.fs.open_keeping(ino, libc::O_RDONLY).await.expect("open");
    assert!(!keep, "another version: the pages go");
    let pushes = sink.0.lock().unwrap().len();
    f.fs.release(fh).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        sink.0.lock().unwrap().len(),
        pushes,
        "nothing more handed over"
    );
}

#[tokio::test]
async fn a_writer_that_opens_first_keeps_the_committed_data_out_of_the_kernel() {
    let api = Memory::new(&["b"], 0);
    let sink = Recorded::default();
    let (f, ino, fh) = written_here(&api, &sink, "f", &data(5000, 1)).await;
    // A writer opens before the last close: the next data is not the committed one yet.
    let writer = f.fs.open(ino, libc::O_WRONLY).await.expect("open to write");
    f.fs.release(fh).await;
    f.fs.write(writer, 0, &data(5000, 2)).await.expect("write");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        sink.0.lock().unwrap().is_empty(),
        "nothing while a writer holds it"
    );
    f.fs.flush(writer).await.expect("upload");
    f.fs.release(writer).await;
    // Whatever was handed over, the last bytes the kernel got are the newest.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let last = sink.0.lock().unwrap().last().cloned();
    if let Some((i, offset, bytes)) = last {
        assert_eq!((i, offset), (ino, 0));
        assert_eq!(bytes, data(5000, 2), "never the older data after the newer");
    }
}
