//! S3 answers for the node's own faults: full drives answer 507 `XMinioStorageFull` (not a
//! 503 that SDKs retry) and no message a client sees names a server path; an object whose
//! metadata was emptied on three of four drives is either listed and unreadable, or
//! neither listed nor found: GET and LIST follow one rule.

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

#[tokio::test]
async fn metadata_emptied_on_most_drives_reads_and_lists_alike() {
    let t = S3Env::start();
    t.mb("bkt").await;
    t.put("bkt", "small", b"inline bytes").await;
    t.put("bkt", "large", &pattern(2 << 20, 9)).await;
    t.put("bkt", "intact", b"still here").await;
    for key in ["small", "large"] {
        for i in 0..3 {
            std::fs::write(t.node().meta_file(i, "bkt", key), b"").expect("empty it");
        }
    }
    let listed = t.keys("bkt").await;
    assert!(listed.contains(&"intact".to_string()), "{listed:?}");
    for key in ["small", "large"] {
        let got = t.s3.get_object().bucket("bkt").key(key).send().await;
        let head = t.s3.head_object().bucket("bkt").key(key).send().await;
        let is_listed = listed.iter().any(|k| k == key);
        let Err(err) = got else {
            panic!("{key}: read with one good copy of two needed");
        };
        let status = status_of(&err);
        assert_eq!(
            status == 404,
            !is_listed,
            "{key}: GET {status}, listed {is_listed}"
        );
        let head_status = head.as_ref().map_or_else(status_of, |_| 200);
        assert_eq!(head_status, status, "HEAD and GET agree on {key}");
        let text = format!("{err:?}");
        assert!(
            !text.contains("/tmp"),
            "a server path in the answer: {text}"
        );
    }
    assert_eq!(t.get("bkt", "intact").await, b"still here");
}
