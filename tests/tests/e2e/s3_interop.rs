//! S3 cases: interop both ways (DESIGN "Data flow": one object core behind both front
//! ends). What S3 writes, gRPC and the `tessera` CLI read identically — bytes, size, ETag,
//! content type, user metadata, part count — and what gRPC and the CLI write, S3 reads
//! identically; deletes and copies through one are seen through the others.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tessera_proto::client::part_requests;
use tessera_proto::object as pb;
use tessera_tests::{md5_hex, pattern};
use tonic::Code;

use crate::common::*;
use crate::s3::*;

const MIB: usize = 1 << 20;

/// What every front end must agree on for one object.
#[derive(Debug, PartialEq)]
struct Seen {
    size: u64,
    /// Unquoted.
    etag: String,
    content_type: String,
    metadata: HashMap<String, String>,
}

async fn seen_by_s3(t: &S3Env, bucket: &str, key: &str) -> (Seen, Option<i32>) {
    let h =
        t.s3.head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("S3 HEAD {key}: {e:?}"));
    let seen = Seen {
        size: h.content_length().unwrap() as u64,
        etag: h.e_tag().unwrap().trim_matches('"').to_string(),
        content_type: h.content_type().unwrap_or_default().to_string(),
        metadata: h.metadata().cloned().unwrap_or_default(),
    };
    // S3 reports the part count only to a request for a part.
    let part1 =
        t.s3.head_object()
            .bucket(bucket)
            .key(key)
            .part_number(1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("S3 HEAD {key} part 1: {e:?}"));
    (seen, part1.parts_count())
}

/// S3 shows an object stored without a type as `binary/octet-stream` (S3's default); the
/// gRPC API shows the stored (empty) type.
const S3_DEFAULT_TYPE: &str = "binary/octet-stream";

fn seen_by_grpc(o: &pb::ObjectInfo) -> Seen {
    Seen {
        size: o.size,
        etag: o.etag.trim_matches('"').to_string(),
        content_type: if o.content_type.is_empty() {
            S3_DEFAULT_TYPE.to_string()
        } else {
            o.content_type.clone()
        },
        metadata: o.user_metadata.clone().into_iter().collect(),
    }
}

fn cli_ok(out: std::process::Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn objects_written_over_s3_read_identically_over_grpc_and_the_cli() {
    let t = S3Env::start();
    t.mb("interop").await;
    let mut c = t.node().client().await;
    let small = pattern(1000, 1);
    let large = pattern(5 * MIB + 3, 2);
    for (key, data) in [("s3/small.txt", &small), ("s3/large.bin", &large)] {
        t.s3.put_object()
            .bucket("interop")
            .key(key)
            .body(ByteStream::from(data.clone()))
            .content_type("application/x-interop")
            .metadata("origin", "s3")
            .metadata("Mixed-Case", "Value Kept")
            .send()
            .await
            .unwrap();
    }
    let id =
        t.s3.create_multipart_upload()
            .bucket("interop")
            .key("s3/multi.bin")
            .content_type("video/mp4")
            .metadata("origin", "s3-multipart")
            .send()
            .await
            .unwrap()
            .upload_id
            .unwrap();
    let (p1, p2) = (pattern(5 * MIB, 3), pattern(MIB, 4));
    let mut parts = Vec::new();
    for (n, body) in [(1, &p1), (2, &p2)] {
        let out =
            t.s3.upload_part()
                .bucket("interop")
                .key("s3/multi.bin")
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(out.e_tag)
                .build(),
        );
    }
    t.s3.complete_multipart_upload()
        .bucket("interop")
        .key("s3/multi.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut multi = p1.clone();
    multi.extend_from_slice(&p2);

    for (key, data, parts) in [
        ("s3/small.txt", &small, 1),
        ("s3/large.bin", &large, 1),
        ("s3/multi.bin", &multi, 2),
    ] {
        let (s3_seen, s3_parts) = seen_by_s3(&t, "interop", key).await;
        assert_eq!(s3_parts.unwrap_or(1), parts, "{key}");
        let info = head(&mut c, "interop", key).await.unwrap();
        assert_eq!(
            seen_by_grpc(&info),
            s3_seen,
            "{key}: gRPC sees other attributes"
        );
        assert_eq!(info.parts, parts as u32, "{key}");
        assert!(
            get(&mut c, "interop", key).await.unwrap() == *data,
            "{key}: gRPC bytes"
        );

        let object = format!("interop/{key}");
        let cat = cli_ok(t.node().cli(&["cat", &object], None), "cli cat");
        assert!(cat == *data, "{key}: CLI bytes");
        let stat =
            String::from_utf8(cli_ok(t.node().cli(&["stat", &object], None), "stat")).unwrap();
        for want in [
            format!("ETag      : {}", s3_seen.etag),
            format!("({} bytes)", data.len()),
            format!("Type      : {}", s3_seen.content_type),
            format!("Parts     : {parts}"),
        ] {
            assert!(stat.contains(&want), "{key}: {want:?} not in\n{stat}");
        }
        for (k, v) in &s3_seen.metadata {
            assert!(stat.contains(&format!("Metadata  : {k}: {v}")), "{stat}");
        }
    }
    let (small_seen, _) = seen_by_s3(&t, "interop", "s3/small.txt").await;
    let want_meta: HashMap<String, String> = [
        ("origin".to_string(), "s3".to_string()),
        ("mixed-case".to_string(), "Value Kept".to_string()),
    ]
    .into();
    assert_eq!(small_seen.metadata, want_meta);
    assert_eq!(small_seen.etag, md5_hex(&small));

    let (grpc_keys, _) = list(&mut c, "interop", "", "").await;
    assert_eq!(grpc_keys, t.keys("interop").await);
    let ls = String::from_utf8(cli_ok(t.node().cli(&["ls", "-r", "interop"], None), "ls")).unwrap();
    for key in ["s3/small.txt", "s3/large.bin", "s3/multi.bin"] {
        assert!(ls.contains(key), "{ls}");
    }

    // A delete over S3 is seen by gRPC at once.
    t.s3.delete_object()
        .bucket("interop")
        .key("s3/small.txt")
        .send()
        .await
        .unwrap();
    assert_code(
        head(&mut c, "interop", "s3/small.txt").await,
        Code::NotFound,
    );
}

#[tokio::test]
async fn objects_written_over_grpc_and_the_cli_read_identically_over_s3() {
    let t = S3Env::start();
    let mut c = t.node().client().await;
    mb(&mut c, "interop").await;
    let data = pattern(2 * MIB + 5, 5);
    let attrs = pb::ObjectAttributes {
        content_type: "text/csv".into(),
        user_metadata: [("origin".to_string(), "grpc".to_string())].into(),
    };
    let info = put_with(
        &mut c,
        "interop",
        "grpc/data.csv",
        &data,
        Some(data.len() as u64),
        Some(attrs),
    )
    .await
    .unwrap();
    let (s3_seen, _) = seen_by_s3(&t, "interop", "grpc/data.csv").await;
    assert_eq!(s3_seen, seen_by_grpc(&info));
    assert_eq!(
        s3_seen.metadata.get("origin").map(String::as_str),
        Some("grpc")
    );
    assert!(t.get("interop", "grpc/data.csv").await == data);

    // gRPC multipart: S3 sees the multipart ETag and part count.
    let id = c
        .create_multipart_upload(pb::CreateMultipartUploadRequest {
            bucket: "interop".into(),
            key: "grpc/multi.bin".into(),
            attributes: None,
        })
        .await
        .unwrap()
        .into_inner()
        .upload_id;
    let (p1, p2) = (pattern(5 * MIB, 6), pattern(1234, 7));
    let mut completed = Vec::new();
    for (n, body) in [(1u32, &p1), (2, &p2)] {
        let header = pb::UploadPartHeader {
            bucket: "interop".into(),
            key: "grpc/multi.bin".into(),
            upload_id: id.clone(),
            part_number: n,
            size: Some(body.len() as u64),
        };
        let part = c
            .upload_part(part_requests(header, std::io::Cursor::new(body.clone())))
            .await
            .unwrap()
            .into_inner();
        completed.push(pb::CompletedPart {
            part_number: n,
            etag: part.etag,
        });
    }
    let info = c
        .complete_multipart_upload(pb::CompleteMultipartUploadRequest {
            bucket: "interop".into(),
            key: "grpc/multi.bin".into(),
            upload_id: id,
            parts: completed,
        })
        .await
        .unwrap()
        .into_inner();
    let (s3_seen, parts) = seen_by_s3(&t, "interop", "grpc/multi.bin").await;
    assert_eq!(s3_seen, seen_by_grpc(&info));
    assert!(s3_seen.etag.ends_with("-2"), "{s3_seen:?}");
    assert_eq!(parts, Some(2));
    let mut multi = p1.clone();
    multi.extend_from_slice(&p2);
    assert!(t.get("interop", "grpc/multi.bin").await == multi);

    // The CLI: a local file and stdin.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local.bin");
    let file = pattern(3 * MIB + 1, 8);
    std::fs::write(&local, &file).unwrap();
    cli_ok(
        t.node().cli(
            &["cp", local.to_str().unwrap(), "interop/cli/local.bin"],
            None,
        ),
        "cli cp",
    );
    cli_ok(
        t.node().cli(
            &["cp", "-", "interop/cli/stdin.txt"],
            Some(b"from the cli\n"),
        ),
        "cli cp -",
    );
    let out =
        t.s3.get_object()
            .bucket("interop")
            .key("cli/local.bin")
            .send()
            .await
            .unwrap();
    assert_eq!(
        out.e_tag(),
        Some(format!("\"{}\"", md5_hex(&file)).as_str())
    );
    assert_eq!(out.content_length(), Some(file.len() as i64));
    assert!(out.body.collect().await.unwrap().to_vec() == file);
    assert_eq!(t.get("interop", "cli/stdin.txt").await, b"from the cli\n");

    // A server-side copy over gRPC and a delete by the CLI are seen over S3.
    c.copy_object(pb::CopyObjectRequest {
        src_bucket: "interop".into(),
        src_key: "grpc/data.csv".into(),
        dst_bucket: "interop".into(),
        dst_key: "grpc/copy.csv".into(),
        attributes: None,
    })
    .await
    .unwrap();
    let (copy_seen, _) = seen_by_s3(&t, "interop", "grpc/copy.csv").await;
    assert_eq!(copy_seen.content_type, "text/csv");
    cli_ok(
        t.node().cli(&["rm", "interop/cli/stdin.txt"], None),
        "cli rm",
    );
    assert!(!t.exists("interop", "cli/stdin.txt").await);
    let mut want = vec![
        "cli/local.bin",
        "grpc/copy.csv",
        "grpc/data.csv",
        "grpc/multi.bin",
    ];
    want.sort();
    assert_eq!(t.keys("interop").await, want);
    // Buckets made over gRPC are listed over S3.
    let buckets = t.s3.list_buckets().send().await.unwrap();
    let names: Vec<&str> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["interop"]);
}
