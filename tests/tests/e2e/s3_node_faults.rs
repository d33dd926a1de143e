//! S3 answers for the node's own faults: full drives answer 507 `XMinioStorageFull` (not a
//! 503 that SDKs retry) and no message a client sees names a server path; an object whose
//! metadata was emptied on three of four drives after it was durable is listed and
//! unreadable (503), not listed and "no such key": GET and LIST follow one rule.

use std::path::PathBuf;
use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use tessera_tests::{Node, pattern};

use crate::common::{bin, mb, put};

use crate::s3::*;

/// tmpfs mounts, unmounted on drop (after the node that uses them, declared later, is
/// gone).
struct Tmpfs(Vec<PathBuf>);

impl Tmpfs {
    fn mount(dirs: &[PathBuf], size: &str) -> Tmpfs {
        let mut mounted = Tmpfs(Vec::new());
        for d in dirs {
            std::fs::create_dir_all(d).expect("mount point");
            let ok = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(d)
                .status()
                .expect("run mount");
            assert!(
                ok.success(),
                "mount tmpfs on {} (this test runs as root)",
                d.display()
            );
            mounted.0.push(d.clone());
        }
        mounted
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = Command::new("umount").arg("-l").arg(d).status();
        }
    }
}

#[tokio::test]
async fn full_drives_answer_507_storage_full_without_server_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let drives = Node::drive_paths(dir.path(), 4);
    let _tmpfs = Tmpfs::mount(&drives, "2m");
    let node = Node::start(bin(), drives, &[]);
    let s3 = client(&node.endpoint, tessera_tests::USER, tessera_tests::PASSWORD);
    s3.create_bucket().bucket("full").send().await.unwrap();

    // 8 MiB over 2 data drives is 4 MiB a drive: more than any has.
    let big = pattern(8 << 20, 3);
    let err = s3
        .put_object()
        .bucket("full")
        .key("big")
        .body(ByteStream::from(big))
        .send()
        .await
        .expect_err("no room");
    assert_eq!(status_of(&err), 507, "{err:?}");
    let text = format!("{err:?}");
    assert!(text.contains("XMinioStorageFull"), "{text}");
    let root = dir.path().display().to_string();
    assert!(!text.contains(&root), "a server path in the answer: {text}");
    assert!(
        node.log_text().contains("no space"),
        "the log has the details"
    );

    // gRPC: RESOURCE_EXHAUSTED, "storage full", no path either.
    let mut c = node.client().await;
    let status = put(&mut c, "full", "big-grpc", &pattern(8 << 20, 4))
        .await
        .expect_err("no room");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(!status.message().contains(&root), "{status:?}");

    // Nothing of the failed writes stays behind: a small object still fits.
    s3.put_object()
        .bucket("full")
        .key("small")
        .body(ByteStream::from_static(b"fits"))
        .send()
        .await
        .expect("a small object fits");
    mb(&mut c, "another").await;
}

/// On tmpfs (user attributes in memory, Linux 6.6+) the drives keep listing summaries, so
/// a listing reads the summaries, not the emptied files: the case where GET and LIST could
/// part ways.
#[tokio::test]
async fn metadata_emptied_on_most_drives_is_listed_and_unreadable_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let drives = Node::drive_paths(dir.path(), 4);
    let _tmpfs = Tmpfs::mount(&drives, "64m");
    let node = Node::start(bin(), drives, &[]);
    let s3 = client(&node.endpoint, tessera_tests::USER, tessera_tests::PASSWORD);
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let put = |key: &'static str, data: Vec<u8>| {
        s3.put_object()
            .bucket("bkt")
            .key(key)
            .body(ByteStream::from(data))
            .send()
    };
    put("small", b"inline bytes".to_vec()).await.unwrap();
    put("large", pattern(2 << 20, 9)).await.unwrap();
    put("intact", b"still here".to_vec()).await.unwrap();
    for key in ["small", "large"] {
        for i in 0..3 {
            std::fs::write(node.meta_file(i, "bkt", key), b"").expect("empty it");
        }
    }
    let listing = s3.list_objects_v2().bucket("bkt").send().await.unwrap();
    let listed: Vec<&str> = listing.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(listed, ["intact", "large", "small"], "summaries list them");
    for key in ["small", "large"] {
        let err = s3
            .get_object()
            .bucket("bkt")
            .key(key)
            .send()
            .await
            .expect_err("one good copy of two needed");
        // Listed, so not "no such key": there, but unreadable.
        assert_eq!(status_of(&err), 503, "{key}: {err:?}");
        let head = s3.head_object().bucket("bkt").key(key).send().await;
        assert_eq!(
            head.as_ref().map_or_else(status_of, |_| 200),
            503,
            "HEAD {key}"
        );
        let text = format!("{err:?}");
        assert!(!text.contains(&dir.path().display().to_string()), "{text}");
    }
    let intact = s3
        .get_object()
        .bucket("bkt")
        .key("intact")
        .send()
        .await
        .unwrap();
    let body = intact.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"still here");
}
