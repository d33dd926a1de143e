//! The write paths: a file written from its start streams up (or goes up in one call when
//! small); anything else (overwrite, append, truncate) goes through a staging file; every
//! upload lands on flush or the last close, with the attributes.

use super::*;
use crate::api::{ApiError, ServiceError};
use crate::fs::open::UPLOAD_CHUNK;

/// `n` bytes of a pattern.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn a_small_new_file_goes_up_in_one_call_at_close() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let (ino, fh) =
        f.fs.create(ROOT, os("f"), file_attr(), false)
            .await
            .expect("create");
    f.fs.write(fh, 0, b"hello ").await.expect("write");
    f.fs.write(fh, 6, b"world").await.expect("write");
    assert!(api.object("b", "f").is_none(), "nothing before close");
    assert_eq!(f.fs.getattr(ino).await.expect("local size").size, 11);
    f.fs.flush(fh).await.expect("flush");
    let object = api.object("b", "f").expect("uploaded at close");
    assert_eq!(object.data, "hello world");
    assert_eq!(
        object.meta.get("mode").map(String::as_str),
        Some("33184"),
        "S_IFREG|0640"
    );
    assert_eq!((api.calls("put_bytes"), api.calls("upload")), (1, 0));
    f.fs.release(fh).await;
    assert_eq!(api.calls("put_bytes"), 1, "nothing changed since the flush");
}

#[tokio::test]
async fn a_large_new_file_streams_up_in_one_put_as_it_is_written() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let data = pattern(2 * UPLOAD_CHUNK + 12_345);
    let (_, fh) =
        f.fs.create(ROOT, os("big"), file_attr(), false)
            .await
            .expect("create");
    let mut at = 0;
    for piece in data.chunks(128 << 10) {
        f.fs.write(fh, at, piece).await.expect("write");
        at += piece.len() as u64;
    }
    assert_eq!(api.calls("upload"), 1, "started with the first full chunk");
    f.fs.flush(fh).await.expect("flush");
    f.fs.release(fh).await;
    assert_eq!(api.object("b", "big").expect("big").data, data);
    assert_eq!(
        (api.calls("upload"), api.calls("get")),
        (1, 0),
        "no staging"
    );
}

#[tokio::test]
async fn an_overwrite_in_the_middle_edits_a_staged_copy() {
    let api = Memory::new(&["b"], 0);
    api.insert("b", "f", b"hello world");
    let f = mount(&api, Some("b"));
    let (ino, _) = f.lookup("f").await.expect("f");
    let fh = f.fs.open(ino, libc::O_RDWR).await.expect("open");
    f.fs.write(fh, 6, b"WORLD").await.expect("write");
    assert_eq!(f.fs.read(fh, 0, 100).await.expect("read"), "hello WORLD");
    assert_eq!(
        api.object("b", "f").expect("f").data,
        "hello world",
        "not yet"
    );
    f.fs.flush(fh).await.expect("flush");
    f.fs.release(fh).await;
    assert_eq!(api.object("b", "f").expect("f").data, "hello WORLD");
    assert_eq!(api.calls("get"), 1, "the object was copied down once");
}

#[tokio::test]
async fn an_append_lands_at_the_end_whatever_the_offset() {
    let api = Memory::new(&["b"], 0);
    api.insert("b", "log", b"one\n");
    let f = mount(&api, Some("b"));
    let (ino, _) = f.lookup("log").await.expect("log");
    f.write_at(ino, libc::O_WRONLY | libc::O_APPEND, 0, b"two\n")
        .await
        .expect("append");
    f.write_at(ino, libc::O_WRONLY | libc::O_APPEND, 0, b"three\n")
        .await
        .expect("append");
    assert_eq!(
        api.object("b", "log").expect("log").data,
        "one\ntwo\nthree\n"
    );
}

#[tokio::test]
async fn truncate_shrinks_and_extends_and_o_trunc_replaces() {
    let api = Memory::new(&["b"], 0);
    api.insert("b", "f", b"hello world");
    let f = mount(&api, Some("b"));
    let (ino, _) = f.lookup("f").await.expect("f");
    f.fs.truncate(ino, 5).await.expect("shrink");
    assert_eq!(api.object("b", "f").expect("f").data, "hello");
    f.fs.truncate(ino, 8).await.expect("extend");
    assert_eq!(api.object("b", "f").expect("f").data, "hello\0\0\0");
    f.write_at(ino, libc::O_WRONLY | libc::O_TRUNC, 0, b"new")
        .await
        .expect("O_TRUNC");
    assert_eq!(api.object("b", "f").expect("f").data, "new");
    assert_eq!(f.fs.getattr(ino).await.expect("attr").size, 3);
}

#[tokio::test]
async fn a_file_unlinked_while_open_is_not_uploaded() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let (_, fh) =
        f.fs.create(ROOT, os("tmp"), file_attr(), false)
            .await
            .expect("create");
    f.fs.write(fh, 0, b"scratch").await.expect("write");
    f.fs.unlink(ROOT, os("tmp")).await.expect("unlink");
    f.fs.write(fh, 7, b" more")
        .await
        .expect("writes still succeed");
    f.fs.flush(fh).await.expect("flush");
    f.fs.release(fh).await;
    assert!(api.keys("b").is_empty());
}

#[tokio::test]
async fn reads_stream_in_order_and_fetch_what_a_random_read_needs() {
    let api = Memory::new(&["b"], 0);
    let data = pattern(3 << 20);
    api.insert("b", "f", &data);
    let f = mount(&api, Some("b"));
    let (ino, _) = f.lookup("f").await.expect("f");
    let fh = f.fs.open(ino, libc::O_RDONLY).await.expect("open");
    let mut got = Vec::new();
    while got.len() < data.len() {
        let piece =
            f.fs.read(fh, got.len() as u64, 128 << 10)
                .await
                .expect("read");
        got.extend_from_slice(&piece);
    }
    assert_eq!(got, data);
    assert_eq!(api.calls("get"), 1, "one stream for the whole file");
    let far = f.fs.read(fh, 100, 10).await.expect("random read");
    assert_eq!(far, data[100..110]);
    assert!(
        f.fs.read(fh, 4 << 20, 10)
            .await
            .expect("past the end")
            .is_empty()
    );
    f.fs.release(fh).await;
}

#[tokio::test]
async fn a_failed_upload_is_reported_by_every_later_write_and_flush() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let (_, fh) =
        f.fs.create(ROOT, os("f"), file_attr(), false)
            .await
            .expect("create");
    f.fs.write(fh, 0, b"data").await.expect("write");
    api.fail_next(
        "put_bytes",
        ApiError::service(ServiceError::StorageFull, "full"),
    );
    assert_eq!(errno(f.fs.flush(fh).await), Errno::ENOSPC);
    assert_eq!(errno(f.fs.write(fh, 4, b"more").await), Errno::ENOSPC);
    assert_eq!(errno(f.fs.flush(fh).await), Errno::ENOSPC);
    f.fs.release(fh).await;
    assert!(api.object("b", "f").is_none());
}

#[tokio::test]
async fn a_streamed_upload_that_fails_reports_the_servers_errno() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let (_, fh) =
        f.fs.create(ROOT, os("big"), file_attr(), false)
            .await
            .expect("create");
    api.fail_next(
        "upload",
        ApiError::service(ServiceError::StorageFull, "full"),
    );
    let data = pattern(6 * UPLOAD_CHUNK);
    let mut result = Ok(0);
    for (i, piece) in data.chunks(UPLOAD_CHUNK).enumerate() {
        result = f.fs.write(fh, (i * UPLOAD_CHUNK) as u64, piece).await;
        if result.is_err() {
            break;
        }
    }
    let flushed = f.fs.flush(fh).await;
    assert_eq!(errno(result.map(drop).and(flushed)), Errno::ENOSPC);
    f.fs.release(fh).await;
    assert!(api.object("b", "big").is_none(), "nothing committed");
}

#[tokio::test]
async fn an_append_after_another_client_replaced_the_file_lands_after_its_new_end() {
    let api = Memory::new(&["b"], 0);
    api.insert("b", "log", b"one\n");
    let f = mount(&api, Some("b"));
    let (ino, _) = f.lookup("log").await.expect("log");
    let fh =
        f.fs.open(ino, libc::O_WRONLY | libc::O_APPEND)
            .await
            .expect("open");
    // Another mount's close lands between this open and its first write.
    api.insert("b", "log", b"one\ntwo\n");
    f.fs.write(fh, 0, b"three\n").await.expect("append");
    f.fs.flush(fh).await.expect("flush");
    f.fs.release(fh).await;
    assert_eq!(
        &api.object("b", "log").expect("log").data[..],
        b"one\ntwo\nthree\n"
    );
}
