//! readdir and readdirplus: paging over several listing calls, resuming at an offset,
//! the attributes a plus listing hands out, and files not uploaded yet.

use std::collections::BTreeSet;

use super::*;
use crate::fs::dir::{DirEntry, DirSink};

/// A kernel reply that takes `room` entries.
struct Reply {
    plus: bool,
    room: usize,
    entries: Vec<(DirEntry, u64)>,
}

impl Reply {
    fn new(plus: bool, room: usize) -> Self {
        Self {
            plus,
            room,
            entries: Vec::new(),
        }
    }
}

impl DirSink for Reply {
    fn plus(&self) -> bool {
        self.plus
    }
    fn add(&mut self, e: &DirEntry, next: u64) -> bool {
        if self.entries.len() == self.room {
            return true;
        }
        self.entries.push((e.clone(), next));
        false
    }
}

impl Fixture {
    /// Lists the directory `ino` the way the kernel does: replies of `room` entries, each
    /// from the offset the last entry of the one before named.
    async fn readdir(&self, ino: u64, plus: bool, room: usize) -> Vec<DirEntry> {
        let fh = self.fs.opendir(ino).await.expect("opendir");
        let stream = self.fs.dir_stream(fh).expect("stream");
        let (mut all, mut offset) = (Vec::new(), 0);
        loop {
            let mut reply = Reply::new(plus, room);
            let mut s = stream.lock().await;
            s.fill(&self.fs, offset, &mut reply).await.expect("fill");
            let Some((_, next)) = reply.entries.last() else {
                break;
            };
            offset = *next;
            all.extend(reply.entries.into_iter().map(|(e, _)| e));
        }
        self.fs.releasedir(fh);
        all
    }
}

fn names(entries: &[DirEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.name.as_str()).collect()
}

/// A bucket with a marked directory `d` holding `files` files and two subdirectories.
fn directory(files: usize, page_cap: u32) -> Memory {
    let api = Memory::new(&["b"], page_cap);
    api.insert("b", "d/", b"");
    for i in 0..files {
        api.insert("b", &format!("d/f{i:03}"), &vec![b'x'; i]);
    }
    api.insert("b", "d/sub1/x", b"");
    api.insert("b", "d/sub2/", b"");
    api.insert("b", "d/sub2/y/z", b"");
    api
}

#[tokio::test]
async fn readdir_pages_through_a_directory_across_several_listing_calls() {
    let api = directory(10, 3);
    let f = mount(&api, Some("b"));
    let (d, _) = f.lookup("d").await.expect("d");
    let entries = f.readdir(d, false, 1000).await;
    let got = names(&entries);
    assert_eq!(&got[..2], [".", ".."]);
    let unique: BTreeSet<&str> = got[2..].iter().copied().collect();
    assert_eq!(unique.len(), got.len() - 2, "no name twice: {got:?}");
    let mut want: BTreeSet<String> = (0..10).map(|i| format!("f{i:03}")).collect();
    want.extend(["sub1".to_string(), "sub2".to_string()]);
    assert_eq!(unique, want.iter().map(String::as_str).collect());
    // 13 keys and prefixes under d/, 3 a page: 5 calls.
    assert_eq!(api.calls("list"), 5);
    let sub = entries.iter().find(|e| e.name == "sub2").expect("sub2");
    assert_eq!(sub.kind, Kind::Dir);
    assert_eq!(
        entries
            .iter()
            .find(|e| e.name == "f007")
            .expect("f007")
            .kind,
        Kind::File
    );
}

#[tokio::test]
async fn readdir_resumes_at_any_offset_with_small_replies() {
    let api = directory(25, 4);
    let f = mount(&api, Some("b"));
    let (d, _) = f.lookup("d").await.expect("d");
    let whole = f.readdir(d, false, 1000).await;
    let calls = api.calls("list");
    let bits = f.readdir(d, false, 3).await;
    assert_eq!(names(&whole), names(&bits));
    assert_eq!(
        api.calls("list"),
        2 * calls,
        "one pass over the listing each"
    );
    let inos: Vec<u64> = whole.iter().map(|e| e.ino).collect();
    assert_eq!(inos, bits.iter().map(|e| e.ino).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_offset_before_the_page_restarts_the_listing() {
    let api = directory(6, 2);
    let f = mount(&api, Some("b"));
    let (d, _) = f.lookup("d").await.expect("d");
    let fh = f.fs.opendir(d).await.expect("opendir");
    let stream = f.fs.dir_stream(fh).expect("stream");
    let mut s = stream.lock().await;
    let late = s.entry(&f.fs, 8).await.expect("entry 8").expect("present");
    let calls = api.calls("list");
    let first = s.entry(&f.fs, 2).await.expect("entry 2").expect("present");
    assert_eq!(api.calls("list"), calls + 1, "listed again from the start");
    assert_eq!(
        s.entry(&f.fs, 8).await.expect("again").map(|e| e.name),
        Some(late.name)
    );
    assert_eq!(
        first.name, "f000",
        "the first page: the marker (not shown) and f000"
    );
    assert_eq!(
        s.entry(&f.fs, 100)
            .await
            .expect("past the end")
            .map(|e| e.name),
        None
    );
}

#[tokio::test]
async fn readdirplus_hands_out_attributes_so_lookups_cost_no_call() {
    let api = directory(5, 0);
    let f = mount(&api, Some("b"));
    let (d, _) = f.lookup("d").await.expect("d");
    let entries = f.readdir(d, true, 1000).await;
    let f3 = entries.iter().find(|e| e.name == "f003").expect("f003");
    assert_eq!((f3.attr.size, f3.attr.kind), (3, Kind::File));
    assert_eq!(
        f3.ttl, f.fs.settings.ttl,
        "a file's attributes come with the listing"
    );
    let sub = entries.iter().find(|e| e.name == "sub2").expect("sub2");
    assert_eq!(
        sub.ttl,
        Duration::ZERO,
        "a directory's are on its marker, not read"
    );
    let lookups = api.calls("lookup");
    let (ino, attr) = f.fs.lookup(d, os("f004")).await.expect("lookup");
    assert_eq!(api.calls("lookup"), lookups, "answered from the listing");
    let listed = entries.iter().find(|e| e.name == "f004").expect("f004");
    assert_eq!((ino, attr.size), (listed.ino, 4));
}

#[tokio::test]
async fn files_not_uploaded_yet_are_listed_once() {
    let api = Memory::new(&["b"], 2);
    api.insert("b", "old", b"1");
    let f = mount(&api, Some("b"));
    let (_, fh) =
        f.fs.create(ROOT, os("new"), file_attr(), false)
            .await
            .expect("create");
    f.fs.write(fh, 0, b"12").await.expect("write");
    assert_eq!(
        names(&f.readdir(ROOT, false, 100).await),
        [".", "..", "old", "new"]
    );
    f.fs.flush(fh).await.expect("flush");
    assert_eq!(
        names(&f.readdir(ROOT, true, 100).await),
        [".", "..", "new", "old"]
    );
    f.fs.release(fh).await;
    let (_, fh) =
        f.fs.create(ROOT, os("old"), file_attr(), false)
            .await
            .expect("recreate");
    assert_eq!(
        names(&f.readdir(ROOT, false, 100).await),
        [".", "..", "new", "old"]
    );
    f.fs.release(fh).await;
    assert_eq!(
        api.object("b", "old").expect("old").data,
        "",
        "recreated empty"
    );
}
