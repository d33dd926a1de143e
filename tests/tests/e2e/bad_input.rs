//! Bad input gets a clear error and changes nothing: names, keys, missing buckets, ranges,
//! sizes, aborted streams, credentials.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use tessera_proto::auth::{Credentials, sign};
use tessera_proto::client::{Signed, connect, part_requests, put_requests};
use tessera_proto::first_message::digest_of;
use tessera_proto::object as pb;
use tessera_proto::object::object_service_client::ObjectServiceClient;
use tessera_tests::pattern;
use tessera_tests::wire::{Change, Replaying, Tampered};
use tokio::io::{AsyncRead, ReadBuf};
use tonic::Code;

use crate::common::*;

/// Every path under `dir`, sorted (to prove nothing was created).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if !p.to_string_lossy().contains(".tessera/tmp") {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn invalid_names_and_keys_are_refused_and_nothing_is_written() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "good").await;
    let before = tree(env.dir.path());
    for bucket in [
        "Bad",
        "ab",
        "../x",
        "a/b",
        ".tessera",
        "a..b",
        "-x-",
        "192.168.0.1",
        "",
    ] {
        assert_code(
            c.create_bucket(pb::CreateBucketRequest {
                bucket: bucket.into(),
            })
            .await,
            Code::InvalidArgument,
        );
        assert_code(put(&mut c, bucket, "k", b"x").await, Code::InvalidArgument);
    }
    let long_key = "k".repeat(1025);
    let long_segment = format!("a/{}", "s".repeat(256));
    for key in [
        "../x",
        "../../../../etc/passwd",
        "a/../../x",
        "a//b",
        "/abs",
        "a/./b",
        "",
        "a\0b",
        "x/tessera.meta",
        "x/.tessera.dir",
        long_key.as_str(),
        long_segment.as_str(),
    ] {
        let s = assert_code(
            put(&mut c, "good", key, b"payload").await,
            Code::InvalidArgument,
        );
        assert!(!s.message().is_empty());
        assert_code(get(&mut c, "good", key).await, Code::InvalidArgument);
        assert_code(
            c.rename_object(pb::RenameObjectRequest {
                bucket: "good".into(),
                src_key: "missing".into(),
                dst_key: key.into(),
            })
            .await,
            Code::InvalidArgument,
        );
    }
    let s = assert_code(
        put(&mut c, "good", &long_key, b"x").await,
        Code::InvalidArgument,
    );
    assert!(s.message().contains("1024"), "{}", s.message());
    let s = assert_code(
        put(&mut c, "good", &long_segment, b"x").await,
        Code::InvalidArgument,
    );
    assert_eq!(s.metadata().get("x-tessera-error").unwrap(), "NameTooLong");
    assert_eq!(
        tree(env.dir.path()),
        before,
        "refused requests changed the drives"
    );
    assert!(!env.dir.path().join("x").exists() && !Path::new("/etc/passwd/tessera.meta").exists());
}

#[tokio::test]
async fn list_prefixes_that_name_paths_outside_the_bucket_list_nothing() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "good").await;
    mb(&mut c, "other").await;
    put(&mut c, "good", "a/b", b"x").await.unwrap();
    put(&mut c, "other", "secret/key", b"x").await.unwrap();
    for prefix in [
        "../",
        "../other/",
        "/",
        "/etc/",
        "a//",
        "a/../",
        "./",
        "a/./",
    ] {
        for delimiter in ["", "/"] {
            let (keys, prefixes) = list(&mut c, "good", prefix, delimiter).await;
            assert!(
                keys.is_empty() && prefixes.is_empty(),
                "{prefix:?} {delimiter:?}: {keys:?} {prefixes:?}"
            );
        }
    }
    // The listing of the real prefix still works.
    assert_eq!(list(&mut c, "good", "a/", "/").await.0, ["a/b"]);
}

#[tokio::test]
async fn missing_buckets_ranges_and_sizes_get_clear_errors() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    let s = assert_code(put(&mut c, "nobucket", "k", b"x").await, Code::NotFound);
    assert!(s.message().contains("no such bucket"), "{}", s.message());
    assert_code(get(&mut c, "nobucket", "k").await, Code::NotFound);
    assert_code(
        c.list_objects(pb::ListObjectsRequest {
            bucket: "nobucket".into(),
            ..Default::default()
        })
        .await,
        Code::NotFound,
    );
    assert!(!env.node.drives[0].join("nobucket").exists());

    mb(&mut c, "bkt").await;
    let s = assert_code(get(&mut c, "bkt", "missing").await, Code::NotFound);
    assert!(s.message().contains("no such key"), "{}", s.message());
    put(&mut c, "bkt", "k", &pattern(1000, 1)).await.unwrap();
    assert_code(
        get_range(&mut c, "bkt", "k", Some((1000, None))).await,
        Code::OutOfRange,
    );
    assert_code(
        get_range(&mut c, "bkt", "k", Some((5000, Some(6000)))).await,
        Code::OutOfRange,
    );
    // A body shorter or longer than declared is refused and not stored.
    assert_code(
        put_with(&mut c, "bkt", "short", b"12345", Some(10), None).await,
        Code::InvalidArgument,
    );
    assert_code(
        put_with(&mut c, "bkt", "long", &pattern(3 << 20, 1), Some(10), None).await,
        Code::InvalidArgument,
    );
    assert_code(head(&mut c, "bkt", "short").await, Code::NotFound);
    assert_code(head(&mut c, "bkt", "long").await, Code::NotFound);
    // A stream that does not start with a header.
    let data_first = futures::stream::iter([pb::PutObjectRequest {
        msg: Some(pb::put_object_request::Msg::Data(
            bytes::Bytes::from_static(b"x"),
        )),
    }]);
    assert_code(c.put_object(data_first).await, Code::InvalidArgument);
    // Continuation tokens that are not ours.
    assert_code(
        c.list_objects(pb::ListObjectsRequest {
            bucket: "bkt".into(),
            continuation_token: "not-hex!".into(),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
    );
}

/// Yields `ok` bytes, then fails: a client whose file read breaks mid-upload.
struct Breaking {
    left: usize,
}

impl AsyncRead for Breaking {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.left == 0 {
            return Poll::Ready(Err(std::io::Error::other("disk read failed")));
        }
        let n = self.left.min(buf.remaining()).min(64 * 1024);
        buf.put_slice(&vec![7u8; n]);
        self.left -= n;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn an_upload_aborted_by_the_client_stores_nothing() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "bkt").await;
    for ok in [1000, 3 << 20] {
        let header = pb::PutObjectHeader {
            bucket: "bkt".into(),
            key: "partial".into(),
            attributes: None,
            size: None,
        };
        let r = c
            .put_object(put_requests(header, Breaking { left: ok }))
            .await;
        assert!(r.is_err(), "an aborted upload of {ok} bytes was stored");
        assert_code(head(&mut c, "bkt", "partial").await, Code::NotFound);
    }
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_unauthenticated_and_change_nothing() {
    let env = Env::start(4);
    let wrong = Credentials {
        access_key: tessera_tests::USER.into(),
        secret_key: "not-the-password".into(),
    };
    let mut c = connect(&env.node.endpoint, wrong).await.unwrap();
    let s = assert_code(
        c.create_bucket(pb::CreateBucketRequest {
            bucket: "nope".into(),
        })
        .await,
        Code::Unauthenticated,
    );
    assert!(s.message().contains("signature"), "{}", s.message());
    let unknown = Credentials {
        access_key: "someone".into(),
        secret_key: tessera_tests::PASSWORD.into(),
    };
    let mut c = connect(&env.node.endpoint, unknown).await.unwrap();
    assert_code(
        c.list_buckets(pb::ListBucketsRequest {}).await,
        Code::Unauthenticated,
    );
    let mut anonymous = ObjectServiceClient::connect(env.node.endpoint.clone())
        .await
        .unwrap();
    assert_code(
        anonymous.list_buckets(pb::ListBucketsRequest {}).await,
        Code::Unauthenticated,
    );
    assert_code(
        anonymous
            .create_bucket(pb::CreateBucketRequest {
                bucket: "nope".into(),
            })
            .await,
        Code::Unauthenticated,
    );
    assert!(!env.node.drives[0].join("nope").exists());
}

#[tokio::test]
async fn a_signature_calls_only_the_method_and_arguments_it_was_made_for() {
    // A signature seen on the wire must not open any other method, nor the same method on
    // another bucket or key, during its validity.
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "kept").await;
    mb(&mut c, "other").await;
    put(&mut c, "kept", "a", b"1").await.unwrap();
    put(&mut c, "kept", "b", b"2").await.unwrap();
    let creds = Credentials {
        access_key: tessera_tests::USER.into(),
        secret_key: tessera_tests::PASSWORD.into(),
    };
    let channel = tonic::transport::Endpoint::from_shared(env.node.endpoint.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    // A client that sends the captured entries of a call made for `path` and `first`.
    let replaying = |path: &str, first: &dyn Fn() -> String| {
        let captured = sign(&creds, path, &first());
        ObjectServiceClient::new(Replaying::new(channel.clone(), captured, &creds.secret_key))
    };
    let head = |bucket: &str| pb::HeadBucketRequest {
        bucket: bucket.into(),
    };
    let mut replayed = replaying("/tessera.object.v1.ObjectService/HeadBucket", &|| {
        digest_of(&head("kept"))
    });
    replayed
        .head_bucket(head("kept"))
        .await
        .expect("the call it was made for");
    let s = assert_code(
        replayed.head_bucket(head("other")).await,
        Code::Unauthenticated,
    );
    assert!(s.message().contains("signature"), "{}", s.message());
    let delete_kept = pb::DeleteBucketRequest {
        bucket: "kept".into(),
    };
    assert_code(
        replayed.delete_bucket(delete_kept).await,
        Code::Unauthenticated,
    );
    assert_code(
        replayed.list_buckets(pb::ListBucketsRequest {}).await,
        Code::Unauthenticated,
    );

    // A DELETE of one key deletes no other.
    let delete = |key: &str| pb::DeleteObjectRequest {
        bucket: "kept".into(),
        key: key.into(),
    };
    let mut replayed = replaying("/tessera.object.v1.ObjectService/DeleteObject", &|| {
        digest_of(&delete("a"))
    });
    assert_code(
        replayed.delete_object(delete("b")).await,
        Code::Unauthenticated,
    );
    replayed
        .delete_object(delete("a"))
        .await
        .expect("its own key");
    assert!(env.node.drives[0].join("kept").exists());
    assert_eq!(get(&mut c, "kept", "b").await.unwrap(), b"2");
}

#[tokio::test]
async fn an_upload_signed_for_some_data_stores_no_other() {
    // A signed upload whose data is changed, cut short or stripped of its end signature on
    // the wire is refused as unauthenticated, and stores nothing: the object keeps its bytes.
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "bkt").await;
    put(&mut c, "bkt", "kept", b"old").await.unwrap();
    let channel = tonic::transport::Endpoint::from_shared(env.node.endpoint.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let body = pattern(3 << 20, 7);
    for change in [
        Change::FlipByte,
        Change::DropLastMessage,
        Change::DropEndSignature,
    ] {
        let tampered = Signed::new(
            Tampered::new(channel.clone(), change),
            tessera_tests::creds(),
        );
        let mut attacker = ObjectServiceClient::new(tampered);
        for key in ["kept", "new"] {
            let header = pb::PutObjectHeader {
                bucket: "bkt".into(),
                key: key.into(),
                attributes: None,
                size: None,
            };
            let data = std::io::Cursor::new(body.clone());
            let s = assert_code(
                attacker.put_object(put_requests(header, data)).await,
                Code::Unauthenticated,
            );
            assert!(
                s.message().contains("not as signed"),
                "{change:?}: {}",
                s.message()
            );
        }
        assert_eq!(get(&mut c, "bkt", "kept").await.unwrap(), b"old");
        assert_code(head(&mut c, "bkt", "new").await, Code::NotFound);
        // A multipart part likewise.
        let upload = c
            .create_multipart_upload(pb::CreateMultipartUploadRequest {
                bucket: "bkt".into(),
                key: "parts".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .upload_id;
        let header = pb::UploadPartHeader {
            bucket: "bkt".into(),
            key: "parts".into(),
            upload_id: upload.clone(),
            part_number: 1,
            ..Default::default()
        };
        let data = std::io::Cursor::new(body.clone());
        assert_code(
            attacker.upload_part(part_requests(header, data)).await,
            Code::Unauthenticated,
        );
        let parts = c
            .list_parts(pb::ListPartsRequest {
                bucket: "bkt".into(),
                key: "parts".into(),
                upload_id: upload,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(parts.parts.is_empty(), "{change:?}: {parts:?}");
    }
    // Untouched, the same client stores it.
    put(&mut c, "bkt", "new", &body).await.unwrap();
    assert_eq!(get(&mut c, "bkt", "new").await.unwrap(), body);
}
