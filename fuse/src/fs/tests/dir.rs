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

/// Waits until `api` answered `n` listing calls, or a few seconds pass.
async fn lists_reach(api: &Memory, n: usize) {
    for _ in 0..300 {
        if api.calls("list") >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_walk_into_a_subdirectory_lists_the_next_siblings_ahead() {
    let api = Memory::new(&["b"], 0);
    for i in 0..30 {
        for j in 0..3 {
            api.insert("b", &format!("t/d{i:02}/f{j}"), b"x");
        }
    }
    // One subdirectory has a marker with its own mode, made by another mount.
    let other = mount(&api, Some("b"));
    let (t, _) = other.lookup("t").await.expect("t");
    let marked = Attr::new(Kind::Dir, 0o700, 7, 7);
    other.fs.mkdir(t, os("d03m"), marked).await.expect("mkdir");
    api.insert("b", "t/d03m/f", b"y");

    let f = mount(&api, Some("b"));
    let (t, _) = f.lookup("t").await.expect("t");
    assert_eq!(f.readdir(t, false, 100).await.len(), 2 + 31);
    let (lists, lookups) = (api.calls("list"), api.calls("lookup"));
    // The walk enters the first subdirectory: the next WINDOW are listed ahead.
    let (d00, _) = f.fs.lookup(t, os("d00")).await.expect("d00");
    assert_eq!(f.readdir(d00, true, 100).await.len(), 2 + 3);
    lists_reach(&api, lists + 1 + crate::fs::ahead::WINDOW).await;
    let lists = api.calls("list");
    let mut names: Vec<String> = (0..30).map(|i| format!("d{i:02}")).collect();
    names.push("d03m".into());
    names.sort();
    let names = &names[1..=crate::fs::ahead::WINDOW];
    for name in &names[..4] {
        let (d, attr) = f.fs.lookup(t, os(name)).await.expect("subdirectory");
        assert_eq!(attr.kind, Kind::Dir);
        if name == "d03m" {
            assert_eq!((attr.perm, attr.uid), (0o700, 7), "from its marker");
        }
        let entries = f.readdir(d, true, 100).await;
        assert_eq!(entries.len(), if name == "d03m" { 3 } else { 5 }, "{name}");
    }
    assert_eq!(api.calls("lookup"), lookups + 1, "only d00 was looked up");
    // Entering them listed the ones after the window ahead too, and nothing twice.
    lists_reach(&api, lists + 4).await;
    assert_eq!(api.calls("list"), lists + 4);
}

#[tokio::test]
async fn a_walk_again_within_the_ttl_lists_nothing_ahead() {
    let api = Memory::new(&["b"], 0);
    for i in 0..8 {
        api.insert("b", &format!("t/d{i}/f"), b"x");
    }
    let f = mount(&api, Some("b"));
    let (t, _) = f.lookup("t").await.expect("t");
    f.readdir(t, false, 100).await;
    let mut dirs = Vec::new();
    for i in 0..8 {
        let (d, _) = f.fs.lookup(t, os(&format!("d{i}"))).await.expect("d");
        f.readdir(d, false, 100).await;
        dirs.push(d);
    }
    let lists = api.calls("list");
    // The walk again at once (a second `find`): the kernel keeps every directory's
    // entries and only opens each one.
    for d in dirs {
        let (fh, keep) = f.fs.opendir_keeping(d).await.expect("opendir");
        assert!(keep, "the kernel keeps the entries");
        f.fs.releasedir(fh);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(api.calls("list"), lists, "nothing listed ahead");
}

#[tokio::test]
async fn a_directory_changed_here_is_not_served_from_its_listing_ahead() {
    let api = Memory::new(&["b"], 0);
    for i in 0..4 {
        api.insert("b", &format!("t/d{i}/f"), b"x");
    }
    let f = mount(&api, Some("b"));
    let (t, _) = f.lookup("t").await.expect("t");
    f.readdir(t, false, 100).await;
    let lists = api.calls("list");
    let (d0, _) = f.fs.lookup(t, os("d0")).await.expect("d0");
    f.readdir(d0, false, 100).await;
    lists_reach(&api, lists + 4).await;
    // d1 changes here after it was listed ahead: its readdir asks the server again.
    let (d1, _) = f.fs.lookup(t, os("d1")).await.expect("d1");
    f.fs.unlink(d1, os("f")).await.expect("unlink");
    let (_, fh) = (f.fs.create(d1, os("g"), file_attr(), false))
        .await
        .expect("create");
    f.fs.flush(fh).await.expect("flush");
    f.fs.release(fh).await;
    let listed = f.readdir(d1, false, 100).await;
    let names: BTreeSet<String> = listed.into_iter().map(|e| e.name).collect();
    assert_eq!(names, BTreeSet::from([".".into(), "..".into(), "g".into()]));
    assert_eq!(api.calls("list"), lists + 5, "d1 listed again");
}

/// A directory `d` of 10 files, each looked up once on a fresh mount (which lists `d` for
/// those lookups); the mount and `d`'s inode.
async fn looked_up_directory(api: &Memory) -> (Fixture, u64) {
    let (f, d) = mount_over_files(api, 10).await;
    for i in 0..10 {
        f.fs.lookup(d, os(&format!("f{i}"))).await.expect("file");
    }
    (f, d)
}

#[tokio::test]
async fn a_directory_listed_for_its_lookups_is_read_from_that_listing_once() {
    let api = Memory::new(&["b"], 0);
    let (f, d) = looked_up_directory(&api).await;
    let lists = api.calls("list");
    assert!(lists >= 1, "listed for the lookups");
    assert_eq!(f.readdir(d, false, 100).await.len(), 2 + 10);
    assert_eq!(api.calls("list"), lists, "readdir took that listing");
    // Used once: the next readdir asks the server.
    f.readdir(d, false, 100).await;
    assert_eq!(api.calls("list"), lists + 1);
}

#[tokio::test]
async fn a_listing_for_lookups_is_not_read_after_a_change_here() {
    let api = Memory::new(&["b"], 0);
    let (f, d) = looked_up_directory(&api).await;
    let lists = api.calls("list");
    f.fs.unlink(d, os("f0")).await.expect("unlink");
    let listed = f.readdir(d, false, 100).await;
    assert!(!names(&listed).contains(&"f0"), "{:?}", names(&listed));
    assert_eq!(listed.len(), 2 + 9);
    assert_eq!(api.calls("list"), lists + 1, "listed again");
}
