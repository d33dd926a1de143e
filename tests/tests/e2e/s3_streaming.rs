//! S3 cases: a 200 MiB object goes up and comes back through the server without being
//! buffered — the server's peak RSS (VmHWM) stays far below the object's size, for a
//! streamed aws-chunked PUT and for a GET whose reader stalls (DESIGN "Erasure coding":
//! memory per request is O(block size × set size)); and a GET of a multipart object
//! streams the version it began with to its end, though the object is overwritten or
//! deleted before the GET reaches the later parts.

use std::io::Write;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use md5::{Digest, Md5};
use tessera_tests::pattern;

use crate::s3::*;
use crate::s3_multipart::{completed, create, part};

const MIB: u64 = 1 << 20;
const SIZE: u64 = 200 * MIB;
/// Far below the object: the node's own footprint plus a few blocks per request.
const PEAK_LIMIT: u64 = 96 * MIB;

/// The server's peak resident set so far, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value");
    kb * 1024
}

#[tokio::test]
async fn a_200_mib_object_streams_through_without_the_server_buffering_it() {
    let t = S3Env::start();
    t.mb("stream").await;
    let pid = t.node().pid().expect("node pid");

    // The body is a file written block by block, so the test holds no copy either.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let mut md5 = Md5::new();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..SIZE / MIB {
            let block = pattern(MIB as usize, i);
            md5.update(&block);
            f.write_all(&block).unwrap();
        }
        f.flush().unwrap();
    }
    let want_md5 = hex::encode(md5.finalize());
    let before = peak_rss(pid);

    let put =
        t.s3.put_object()
            .bucket("stream")
            .key("big.bin")
            .body(ByteStream::from_path(&path).await.unwrap())
            .send()
            .await
            .unwrap();
    assert_eq!(put.e_tag(), Some(format!("\"{want_md5}\"").as_str()));
    let after_put = peak_rss(pid);
    assert!(
        after_put < PEAK_LIMIT,
        "server peak RSS {} MiB after a {} MiB PUT (was {} MiB before)",
        after_put / MIB,
        SIZE / MIB,
        before / MIB
    );

    let mut out =
        t.s3.get_object()
            .bucket("stream")
            .key("big.bin")
            .send()
            .await
            .unwrap();
    assert_eq!(out.content_length(), Some(SIZE as i64));
    let mut md5 = Md5::new();
    let mut got = 0u64;
    let mut stalled = false;
    while let Some(chunk) = out.body.try_next().await.unwrap() {
        md5.update(&chunk);
        got += chunk.len() as u64;
        if !stalled && got > 8 * MIB {
            // A slow reader: the server must wait, not read ahead into memory.
            stalled = true;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let during = peak_rss(pid);
            assert!(
                during < PEAK_LIMIT,
                "server peak RSS {} MiB while a GET reader stalls",
                during / MIB
            );
        }
    }
    assert_eq!(got, SIZE);
    assert_eq!(
        hex::encode(md5.finalize()),
        want_md5,
        "GET returned other bytes"
    );
    let after_get = peak_rss(pid);
    eprintln!(
        "server peak RSS: {} MiB at start, {} MiB after the PUT, {} MiB after the GET",
        before / MIB,
        after_put / MIB,
        after_get / MIB
    );
    assert!(
        after_get < PEAK_LIMIT,
        "server peak RSS {} MiB after a {} MiB GET",
        after_get / MIB,
        SIZE / MIB
    );
}

/// Uploads `parts` as one multipart object `stream/key`.
async fn put_multipart(t: &S3Env, key: &str, parts: &[Vec<u8>]) {
    let id = create(t, "stream", key).await;
    let mut etags = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        etags.push((n, part(t, "stream", key, &id, n, p).await));
    }
    let listed: Vec<(i32, &str)> = etags.iter().map(|(n, e)| (*n, e.as_str())).collect();
    let complete = t.s3.complete_multipart_upload().bucket("stream").key(key);
    let complete = complete.upload_id(&id).multipart_upload(completed(&listed));
    complete.send().await.expect("complete");
}

#[tokio::test]
async fn a_multipart_get_streams_its_version_through_an_overwrite_and_a_delete() {
    let t = S3Env::start();
    t.mb("stream").await;
    // A first part larger than the socket buffers, so the GET cannot have reached the
    // second part's files when the object changes.
    let old = [pattern(24 << 20, 1), pattern(1 << 20, 2)];
    for overwrite in [true, false] {
        put_multipart(&t, "mp", &old).await;
        let get = t.s3.get_object().bucket("stream").key("mp").send().await;
        let mut body = get.expect("get").body;
        let mut got = body
            .next()
            .await
            .expect("a first chunk")
            .expect("read")
            .to_vec();
        if overwrite {
            t.put("stream", "mp", b"the new version").await;
        } else {
            t.s3.delete_object()
                .bucket("stream")
                .key("mp")
                .send()
                .await
                .expect("delete");
        }
        while let Some(chunk) = body.next().await {
            got.extend_from_slice(&chunk.expect("the GET goes on to its end"));
        }
        assert!(
            got == old.concat(),
            "overwrite {overwrite}: the old version, whole"
        );
    }
}
