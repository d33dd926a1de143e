//! Multipart uploads on the core: parts, ETag, validation, abort, listings.

use tessera_proto::client::part_requests;
use tessera_proto::object as pb;
use tessera_tests::{md5_hex, pattern};
use tonic::Code;

use crate::common::*;

const MIB: usize = 1 << 20;

async fn create(c: &mut tessera_proto::client::ObjectClient, key: &str) -> String {
    c.create_multipart_upload(pb::CreateMultipartUploadRequest {
        bucket: "multi".into(),
        key: key.into(),
        attributes: Some(pb::ObjectAttributes {
            content_type: "video/mp4".into(),
            ..Default::default()
        }),
    })
    .await
    .unwrap()
    .into_inner()
    .upload_id
}

async fn part(
    c: &mut tessera_proto::client::ObjectClient,
    key: &str,
    upload_id: &str,
    n: u32,
    data: &[u8],
) -> Result<pb::PartInfo, tonic::Status> {
    let header = pb::UploadPartHeader {
        bucket: "multi".into(),
        key: key.into(),
        upload_id: upload_id.into(),
        part_number: n,
        size: Some(data.len() as u64),
    };
    c.upload_part(part_requests(header, std::io::Cursor::new(data.to_vec())))
        .await
        .map(|r| r.into_inner())
}

fn listed(parts: &[(u32, &str)]) -> Vec<pb::CompletedPart> {
    parts
        .iter()
        .map(|(n, e)| pb::CompletedPart {
            part_number: *n,
            etag: format!("\"{e}\""),
        })
        .collect()
}

#[tokio::test]
async fn multipart_upload_assembles_parts_with_the_s3_etag() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "multi").await;
    let id = create(&mut c, "movie").await;
    let p1 = pattern(5 * MIB, 1);
    let p2 = pattern(5 * MIB + 3, 2);
    let p3 = pattern(1234, 3);
    // Parts arrive out of order, and part 2 is uploaded twice (the last one wins).
    let e3 = part(&mut c, "movie", &id, 3, &p3).await.unwrap().etag;
    let _ = part(&mut c, "movie", &id, 2, &pattern(5 * MIB, 9))
        .await
        .unwrap();
    let e2 = part(&mut c, "movie", &id, 2, &p2).await.unwrap().etag;
    let e1 = part(&mut c, "movie", &id, 1, &p1).await.unwrap().etag;
    assert_eq!(e1, md5_hex(&p1));

    let parts = c
        .list_parts(pb::ListPartsRequest {
            bucket: "multi".into(),
            key: "movie".into(),
            upload_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .parts;
    assert_eq!(
        parts
            .iter()
            .map(|p| (p.part_number, p.etag.clone()))
            .collect::<Vec<_>>(),
        [(1, e1.clone()), (2, e2.clone()), (3, e3.clone())]
    );
    let uploads = c
        .list_multipart_uploads(pb::ListMultipartUploadsRequest {
            bucket: "multi".into(),
            prefix: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .uploads;
    assert_eq!(uploads.len(), 1);
    assert_eq!(
        (uploads[0].key.as_str(), uploads[0].upload_id.as_str()),
        ("movie", id.as_str())
    );

    let done = c
        .complete_multipart_upload(pb::CompleteMultipartUploadRequest {
            bucket: "multi".into(),
            key: "movie".into(),
            upload_id: id.clone(),
            parts: listed(&[(1, &e1), (2, &e2), (3, &e3)]),
        })
        .await
        .unwrap()
        .into_inner();
    let mut raw = Vec::new();
    for e in [&e1, &e2, &e3] {
        raw.extend(hex::decode(e).unwrap());
    }
    assert_eq!(done.etag, format!("{}-3", md5_hex(&raw)));
    assert_eq!(done.content_type, "video/mp4");
    let whole = [p1.clone(), p2.clone(), p3.clone()].concat();
    assert_eq!(get(&mut c, "multi", "movie").await.unwrap(), whole);
    // A range across the part boundary.
    let (_, r) = get_range(
        &mut c,
        "multi",
        "movie",
        Some((5 * MIB as u64 - 10, Some(5 * MIB as u64 + 10))),
    )
    .await
    .unwrap();
    assert_eq!(r, &whole[5 * MIB - 10..5 * MIB + 10]);
    // The upload is gone.
    assert_code(part(&mut c, "movie", &id, 4, b"x").await, Code::NotFound);
    assert!(env.node.drives.iter().all(|d| {
        std::fs::read_dir(d.join(".tessera/multipart/multi"))
            .map_or(true, |mut e| e.next().is_none())
    }));
}

#[tokio::test]
async fn completing_with_bad_part_lists_fails_clearly_and_keeps_the_upload() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "multi").await;
    let id = create(&mut c, "k").await;
    let small = pattern(MIB, 1);
    let e1 = part(&mut c, "k", &id, 1, &small).await.unwrap().etag;
    let e2 = part(&mut c, "k", &id, 2, &small).await.unwrap().etag;
    let complete = |parts: Vec<pb::CompletedPart>| pb::CompleteMultipartUploadRequest {
        bucket: "multi".into(),
        key: "k".into(),
        upload_id: id.clone(),
        parts,
    };
    // Part 1 is under 5 MiB but not last.
    let s = assert_code(
        c.complete_multipart_upload(complete(listed(&[(1, &e1), (2, &e2)])))
            .await,
        Code::InvalidArgument,
    );
    assert!(s.message().contains("5 MiB"), "{}", s.message());
    // Wrong order, wrong ETag, missing part.
    assert_code(
        c.complete_multipart_upload(complete(listed(&[(2, &e2), (1, &e1)])))
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        c.complete_multipart_upload(complete(listed(&[(1, "00ff")])))
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        c.complete_multipart_upload(complete(listed(&[(7, &e1)])))
            .await,
        Code::InvalidArgument,
    );
    assert_code(head(&mut c, "multi", "k").await, Code::NotFound);
    // Part numbers above 10,000 are refused.
    assert_code(
        part(&mut c, "k", &id, 10_001, b"x").await,
        Code::InvalidArgument,
    );
    assert_code(part(&mut c, "k", &id, 0, b"x").await, Code::InvalidArgument);
    // A single small part completes.
    c.complete_multipart_upload(complete(listed(&[(2, &e2)])))
        .await
        .unwrap();
    assert_eq!(get(&mut c, "multi", "k").await.unwrap(), small);
}

#[tokio::test]
async fn abort_removes_the_upload_and_its_parts() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "multi").await;
    let id = create(&mut c, "gone").await;
    part(&mut c, "gone", &id, 1, &pattern(2 * MIB, 1))
        .await
        .unwrap();
    c.abort_multipart_upload(pb::AbortMultipartUploadRequest {
        bucket: "multi".into(),
        key: "gone".into(),
        upload_id: id.clone(),
    })
    .await
    .unwrap();
    assert_code(part(&mut c, "gone", &id, 2, b"x").await, Code::NotFound);
    for d in &env.node.drives {
        assert!(!d.join(".tessera/multipart/multi").join(&id).exists());
    }
    // Unknown or malformed upload ids are "no such upload", never a path.
    for bad in ["nope", "../../x", &uuid_like()] {
        assert_code(
            c.abort_multipart_upload(pb::AbortMultipartUploadRequest {
                bucket: "multi".into(),
                key: "gone".into(),
                upload_id: bad.into(),
            })
            .await,
            Code::NotFound,
        );
    }
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".into()
}
