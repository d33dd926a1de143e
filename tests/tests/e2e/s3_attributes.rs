//! S3 cases: stored checksums — a PUT's verified checksums come back on GET and HEAD with
//! `x-amz-checksum-mode: ENABLED` (whole reads only), survive a copy, a multipart upload
//! keeps its parts' checksums and their COMPOSITE one, and GetObjectAttributes tells an
//! object's ETag, checksum, size, storage class and parts.

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
    MetadataDirective, ObjectAttributes,
};
use aws_sigv4::http_request::SignableBody;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::s3::*;
use crate::s3_multipart::{MIB, completed, create, part};
use crate::s3_objects::{CHECKS, algorithm};

fn stored(out: &HeadObjectOutput, name: &str) -> Option<String> {
    match name {
        "crc32" => out.checksum_crc32.clone(),
        "crc32c" => out.checksum_crc32_c.clone(),
        "crc64nvme" => out.checksum_crc64_nvme.clone(),
        "sha1" => out.checksum_sha1.clone(),
        _ => out.checksum_sha256.clone(),
    }
}

async fn head(t: &S3Env, key: &str, mode: bool) -> HeadObjectOutput {
    let mut req = t.s3.head_object().bucket("sums").key(key);
    if mode {
        req = req.checksum_mode(ChecksumMode::Enabled);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn checksums_of_a_put_are_stored_and_answered_when_asked_for() {
    let t = S3Env::start();
    t.mb("sums").await;
    let body = b"123456789";
    for (name, value) in CHECKS {
        // Sent by the SDK (its choice of header or trailer), and in an aws-chunked trailer.
        let sdk = format!("sdk/{name}");
        (t.s3.put_object().bucket("sums").key(&sdk))
            .body(ByteStream::from_static(body))
            .checksum_algorithm(algorithm(name))
            .send()
            .await
            .unwrap();
        let trailer = format!("trailer/{name}");
        let header = format!("x-amz-checksum-{name}");
        let resp = RawRequest::new("PUT", &t.addr().to_string(), &format!("/sums/{trailer}"))
            .header("content-encoding", "aws-chunked")
            .header("x-amz-decoded-content-length", "9")
            .header("x-amz-trailer", &header)
            .body(format!("9\r\n123456789\r\n0\r\n{header}:{value}\r\n\r\n"))
            .signed_as(SignableBody::StreamingUnsignedPayloadTrailer)
            .send(t.addr())
            .await
            .unwrap();
        assert_eq!(resp.status, 200, "{name}: {}", resp.text());
        for key in [&sdk, &trailer] {
            let out = head(&t, key, true).await;
            assert_eq!(stored(&out, name).as_deref(), Some(value), "{key}: {out:?}");
            assert_eq!(
                out.checksum_type(),
                Some(&ChecksumType::FullObject),
                "{key}"
            );
            // Not asked for: not answered.
            assert_eq!(stored(&head(&t, key, false).await, name), None, "{key}");
        }
        let got = (t.s3.get_object().bucket("sums").key(&trailer))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(
            [
                got.checksum_crc32(),
                got.checksum_crc32_c(),
                got.checksum_crc64_nvme(),
                got.checksum_sha1(),
                got.checksum_sha256()
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
            [value],
            "{name}"
        );
        // A range is not the object the checksum is of.
        let ranged = (t.s3.get_object().bucket("sums").key(&trailer))
            .range("bytes=0-3")
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(ranged.checksum_type(), None, "{name}");
    }
    // A PUT without a checksum stores none (the SDK may add CRC32 of its own accord: asked
    // for nothing, a raw request is the reliable case).
    let resp = (RawRequest::new("PUT", &t.addr().to_string(), "/sums/plain").body("plain"))
        .signed()
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(head(&t, "plain", true).await.checksum_type(), None);

    // A copy keeps the bytes, so their checksums, whatever the metadata directive.
    for (dst, directive) in [
        ("copied", MetadataDirective::Copy),
        ("replaced", MetadataDirective::Replace),
    ] {
        (t.s3
            .copy_object()
            .copy_source("sums/trailer/sha256")
            .bucket("sums")
            .key(dst))
        .metadata_directive(directive)
        .send()
        .await
        .unwrap();
        let out = head(&t, dst, true).await;
        assert_eq!(
            stored(&out, "sha256").as_deref(),
            Some(CHECKS[4].1),
            "{dst}"
        );
    }
}

#[tokio::test]
async fn get_object_attributes_tells_etag_checksum_size_and_parts() {
    let t = S3Env::start();
    t.mb("sums").await;
    (t.s3.put_object().bucket("sums").key("one"))
        .body(ByteStream::from_static(b"123456789"))
        .checksum_algorithm(algorithm("crc32c"))
        .send()
        .await
        .unwrap();
    let all = [
        ObjectAttributes::Etag,
        ObjectAttributes::Checksum,
        ObjectAttributes::ObjectParts,
        ObjectAttributes::ObjectSize,
        ObjectAttributes::StorageClass,
    ];
    let out = (t.s3.get_object_attributes().bucket("sums").key("one"))
        .set_object_attributes(Some(all.to_vec()))
        .send()
        .await
        .unwrap();
    let etag = out.e_tag().map(|e| e.trim_matches('"'));
    assert_eq!(etag, Some("25f9e794323b453885f5181f1b624d0b"));
    assert_eq!(out.object_size(), Some(9));
    let sum = out.checksum().expect("checksum");
    assert_eq!(sum.checksum_crc32_c(), Some(CHECKS[1].1));
    assert_eq!(sum.checksum_type(), Some(&ChecksumType::FullObject));
    assert!(
        out.object_parts().is_none(),
        "a single PUT has no parts: {out:?}"
    );
    assert_eq!(out.storage_class().map(|s| s.as_str()), Some("STANDARD"));
    // Only what is asked for.
    let out = (t.s3.get_object_attributes().bucket("sums").key("one"))
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap();
    assert!(out.e_tag().is_none() && out.checksum().is_none(), "{out:?}");
    assert_eq!(out.object_size(), Some(9));

    // A multipart object's parts, a page at a time.
    let id = create(&t, "sums", "mp").await;
    let mut etags = Vec::new();
    for (n, len) in [(1, 5 * MIB), (2, 5 * MIB), (3, 1000)] {
        etags.push((n, part(&t, "sums", "mp", &id, n, &vec![n as u8; len]).await));
    }
    let list: Vec<(i32, &str)> = etags.iter().map(|(n, e)| (*n, e.as_str())).collect();
    (t.s3
        .complete_multipart_upload()
        .bucket("sums")
        .key("mp")
        .upload_id(&id))
    .multipart_upload(completed(&list))
    .send()
    .await
    .unwrap();
    let page = |marker: i32| {
        (t.s3.get_object_attributes().bucket("sums").key("mp"))
            .object_attributes(ObjectAttributes::ObjectParts)
            .max_parts(2)
            .part_number_marker(marker.to_string())
            .send()
    };
    let first = page(0).await.unwrap();
    let parts = first.object_parts().expect("parts");
    assert_eq!(parts.total_parts_count(), Some(3));
    assert_eq!(parts.is_truncated(), Some(true));
    let sizes: Vec<_> = parts
        .parts()
        .iter()
        .map(|p| (p.part_number(), p.size()))
        .collect();
    assert_eq!(sizes, [(Some(1), Some(5 << 20)), (Some(2), Some(5 << 20))]);
    let next = parts.next_part_number_marker().unwrap();
    let second = page(next.parse().unwrap()).await.unwrap();
    let parts = second.object_parts().expect("parts");
    assert_eq!(parts.is_truncated(), Some(false));
    let sizes: Vec<_> = parts
        .parts()
        .iter()
        .map(|p| (p.part_number(), p.size()))
        .collect();
    assert_eq!(sizes, [(Some(3), Some(1000))]);

    let r = (t.s3.get_object_attributes().bucket("sums").key("missing"))
        .object_attributes(ObjectAttributes::Etag)
        .send()
        .await;
    assert_status(r, 404);
}

/// CRC-32 (IEEE), bit by bit: the reference the node's checksums are held against.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[tokio::test]
async fn a_multipart_upload_keeps_its_parts_checksums_and_their_composite() {
    let t = S3Env::start();
    t.mb("mpsums").await;
    let up = (t.s3.create_multipart_upload().bucket("mpsums").key("k"))
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let data = [
        tessera_tests::pattern(5 * MIB, 1),
        tessera_tests::pattern(1000, 2),
    ];
    let (mut listed, mut raw) = (Vec::new(), Vec::new());
    for (n, bytes) in data.iter().enumerate() {
        let out = (t.s3.upload_part().bucket("mpsums").key("k").upload_id(id))
            .part_number(n as i32 + 1)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(bytes.clone()))
            .send()
            .await
            .unwrap();
        let sum = crc32(bytes).to_be_bytes();
        assert_eq!(out.checksum_crc32(), Some(STANDARD.encode(sum).as_str()));
        raw.extend_from_slice(&sum);
        listed.push(
            CompletedPart::builder()
                .part_number(n as i32 + 1)
                .e_tag(out.e_tag().unwrap())
                .checksum_crc32(STANDARD.encode(sum))
                .build(),
        );
    }
    let complete = |parts: Vec<CompletedPart>| {
        (t.s3
            .complete_multipart_upload()
            .bucket("mpsums")
            .key("k")
            .upload_id(id))
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
    };
    // A part listed with a checksum that is not its own is refused; the upload stays.
    let mut wrong = listed.clone();
    wrong[1] = CompletedPart::builder()
        .part_number(2)
        .e_tag(listed[1].e_tag().unwrap())
        .checksum_crc32("AAAAAA==")
        .build();
    assert_s3_err(complete(wrong).await, 400, "InvalidPart");
    let done = complete(listed).await.unwrap();
    let want = format!("{}-2", STANDARD.encode(crc32(&raw).to_be_bytes()));
    assert_eq!(done.checksum_crc32(), Some(want.as_str()));
    let head = (t.s3.head_object().bucket("mpsums").key("k"))
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32(), Some(want.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::Composite));
    let attrs = (t.s3.get_object_attributes().bucket("mpsums").key("k"))
        .object_attributes(ObjectAttributes::ObjectParts)
        .object_attributes(ObjectAttributes::Checksum)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attrs.checksum().and_then(|c| c.checksum_crc32()),
        Some(want.as_str())
    );
    let parts = attrs.object_parts().map(|p| p.parts()).unwrap_or_default();
    let sums: Vec<_> = parts.iter().filter_map(|p| p.checksum_crc32()).collect();
    let each: Vec<_> = data
        .iter()
        .map(|d| STANDARD.encode(crc32(d).to_be_bytes()))
        .collect();
    assert_eq!(sums, each);
    // FULL_OBJECT: the whole object's CRC, combined from the parts'; a wrong one claimed at
    // the completion is refused; a SHA algorithm has no FULL_OBJECT kind.
    let r = (t.s3.create_multipart_upload().bucket("mpsums").key("full"))
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await;
    assert_s3_err(r, 400, "InvalidRequest");
    let up = (t.s3.create_multipart_upload().bucket("mpsums").key("full"))
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut listed = Vec::new();
    for (n, bytes) in data.iter().enumerate() {
        let out = (t
            .s3
            .upload_part()
            .bucket("mpsums")
            .key("full")
            .upload_id(id))
        .part_number(n as i32 + 1)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(ByteStream::from(bytes.clone()))
        .send()
        .await
        .unwrap();
        let part = CompletedPart::builder()
            .part_number(n as i32 + 1)
            .e_tag(out.e_tag().unwrap())
            .checksum_crc32(out.checksum_crc32().unwrap())
            .build();
        listed.push(part);
    }
    let whole: Vec<u8> = data.concat();
    let want = STANDARD.encode(crc32(&whole).to_be_bytes());
    let finish = |claim: &str| {
        (t.s3
            .complete_multipart_upload()
            .bucket("mpsums")
            .key("full")
            .upload_id(id))
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(listed.clone()))
                .build(),
        )
        .checksum_type(ChecksumType::FullObject)
        .checksum_crc32(claim)
        .send()
    };
    assert_s3_err(finish("AAAAAA==").await, 400, "BadDigest");
    let done = finish(&want).await.unwrap();
    assert_eq!(done.checksum_crc32(), Some(want.as_str()));
    let head = (t.s3.head_object().bucket("mpsums").key("full"))
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32(), Some(want.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::FullObject));
}
