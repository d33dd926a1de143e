//! S3 cases: multipart uploads — a 64 MiB upload with the SDK's default checksums and
//! concurrent parts, reads by part number, UploadPartCopy with ranges, ListParts and
//! ListMultipartUploads paging, abort, and every CompleteMultipartUpload error.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures::future::join_all;
use md5::{Digest, Md5};
use tessera_tests::{md5_hex, pattern};

use crate::s3::*;

pub(crate) const MIB: usize = 1 << 20;

/// The ETag S3 gives a multipart object: MD5 of the parts' MD5s, then `-N`.
fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut all = Md5::new();
    for p in parts {
        all.update(Md5::digest(p));
    }
    format!("\"{}-{}\"", hex::encode(all.finalize()), parts.len())
}

pub(crate) fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build())
                .collect(),
        ))
        .build()
}

pub(crate) async fn create(t: &S3Env, bucket: &str, key: &str) -> String {
    t.s3.create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .upload_id
        .expect("upload id")
}

pub(crate) async fn part(
    t: &S3Env,
    bucket: &str,
    key: &str,
    id: &str,
    n: i32,
    data: &[u8],
) -> String {
    t.s3.upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("part {n}: {e:?}"))
        .e_tag
        .expect("part ETag")
}

#[tokio::test]
async fn a_64_mib_multipart_upload_with_default_checksums_reads_back_identically() {
    let t = S3Env::start();
    t.mb("big").await;
    let part_size = 8 * MIB;
    let data = pattern(64 * MIB, 64);
    let id =
        t.s3.create_multipart_upload()
            .bucket("big")
            .key("video.bin")
            .content_type("video/mp4")
            .metadata("kind", "multipart")
            .send()
            .await
            .unwrap()
            .upload_id
            .unwrap();

    // Eight parts at once, each with whatever checksum the SDK sends by default.
    let uploads = data.chunks(part_size).enumerate().map(|(i, chunk)| {
        t.s3.upload_part()
            .bucket("big")
            .key("video.bin")
            .upload_id(&id)
            .part_number(i as i32 + 1)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
    });
    let outs = join_all(uploads).await;
    let mut parts = Vec::new();
    for (i, out) in outs.into_iter().enumerate() {
        let out = out.unwrap_or_else(|e| panic!("part {}: {e:?}", i + 1));
        let chunk = &data[i * part_size..(i + 1) * part_size];
        assert_eq!(
            out.e_tag(),
            Some(format!("\"{}\"", md5_hex(chunk)).as_str())
        );
        assert!(
            out.checksum_crc32().is_some() || out.checksum_crc64_nvme().is_some(),
            "the default checksum is verified and returned: {out:?}"
        );
        parts.push(
            CompletedPart::builder()
                .part_number(i as i32 + 1)
                .set_e_tag(out.e_tag)
                .set_checksum_crc32(out.checksum_crc32)
                .set_checksum_crc64_nvme(out.checksum_crc64_nvme)
                .build(),
        );
    }
    let done =
        t.s3.complete_multipart_upload()
            .bucket("big")
            .key("video.bin")
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    let chunks: Vec<&[u8]> = data.chunks(part_size).collect();
    let etag = multipart_etag(&chunks);
    assert_eq!(done.e_tag(), Some(etag.as_str()));

    let head =
        t.s3.head_object()
            .bucket("big")
            .key("video.bin")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_length(), Some(data.len() as i64));
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    // S3 reports the part count only to a request for a part.
    let part1 =
        t.s3.head_object()
            .bucket("big")
            .key("video.bin")
            .part_number(1)
            .send()
            .await
            .unwrap();
    assert_eq!(part1.parts_count(), Some(8));
    assert_eq!(head.content_type(), Some("video/mp4"));
    let meta: HashMap<String, String> = [("kind".into(), "multipart".into())].into();
    assert_eq!(head.metadata(), Some(&meta));
    assert!(t.get("big", "video.bin").await == data, "bytes differ");

    // By part number: that part's bytes, and the part count.
    let p3 =
        t.s3.get_object()
            .bucket("big")
            .key("video.bin")
            .part_number(3)
            .send()
            .await
            .unwrap();
    assert_eq!(p3.parts_count(), Some(8));
    assert_eq!(p3.content_length(), Some(part_size as i64));
    let want = format!(
        "bytes {}-{}/{}",
        2 * part_size,
        3 * part_size - 1,
        data.len()
    );
    assert_eq!(p3.content_range(), Some(want.as_str()));
    assert!(p3.body.collect().await.unwrap().to_vec() == chunks[2]);
    let h8 =
        t.s3.head_object()
            .bucket("big")
            .key("video.bin")
            .part_number(8)
            .send()
            .await
            .unwrap();
    assert_eq!(h8.content_length(), Some(part_size as i64));
    // Past the last part: 400 InvalidPart, as S3.
    assert_s3_err(
        t.s3.get_object()
            .bucket("big")
            .key("video.bin")
            .part_number(9)
            .send()
            .await,
        400,
        "InvalidPart",
    );
    // Finished: the upload is gone.
    let uploads =
        t.s3.list_multipart_uploads()
            .bucket("big")
            .send()
            .await
            .unwrap();
    assert!(uploads.uploads().is_empty(), "{uploads:?}");
}

#[tokio::test]
async fn complete_multipart_upload_reports_invalid_parts_order_and_sizes() {
    let t = S3Env::start();
    t.mb("multi").await;
    let id = create(&t, "multi", "obj").await;
    let p1 = pattern(5 * MIB, 1);
    let e1 = part(&t, "multi", "obj", &id, 1, &p1).await;
    let e2 = part(&t, "multi", "obj", &id, 2, b"small middle part").await;
    let e3 = part(&t, "multi", "obj", &id, 3, b"last").await;
    let complete = |parts: CompletedMultipartUpload| {
        t.s3.complete_multipart_upload()
            .bucket("multi")
            .key("obj")
            .upload_id(&id)
            .multipart_upload(parts)
            .send()
    };
    let wrong = "\"00000000000000000000000000000000\"";
    assert_s3_err(complete(completed(&[(1, wrong)])).await, 400, "InvalidPart");
    assert_s3_err(
        complete(completed(&[(1, &e1), (4, &e3)])).await,
        400,
        "InvalidPart",
    );
    assert_s3_err(
        complete(completed(&[(2, &e2), (1, &e1)])).await,
        400,
        "InvalidPartOrder",
    );
    assert_s3_err(
        complete(completed(&[(1, &e1), (2, &e2), (3, &e3)])).await,
        400,
        "EntityTooSmall",
    );
    assert_s3_err(
        complete(CompletedMultipartUpload::builder().build()).await,
        400,
        "MalformedXML",
    );
    assert!(
        !t.exists("multi", "obj").await,
        "failed completions wrote nothing"
    );

    // Part numbers may skip; only the last part may be small.
    let done = complete(completed(&[(1, &e1), (3, &e3)])).await.unwrap();
    assert_eq!(done.e_tag(), Some(multipart_etag(&[&p1, b"last"]).as_str()));
    let mut want = p1.clone();
    want.extend_from_slice(b"last");
    assert!(t.get("multi", "obj").await == want);

    // The finished upload, and one that never existed, are NoSuchUpload everywhere.
    for id in [id.as_str(), "bogus-upload-id"] {
        assert_s3_err(
            t.s3.upload_part()
                .bucket("multi")
                .key("obj")
                .upload_id(id)
                .part_number(1)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await,
            404,
            "NoSuchUpload",
        );
        assert_s3_err(
            t.s3.list_parts()
                .bucket("multi")
                .key("obj")
                .upload_id(id)
                .send()
                .await,
            404,
            "NoSuchUpload",
        );
        assert_s3_err(
            t.s3.abort_multipart_upload()
                .bucket("multi")
                .key("obj")
                .upload_id(id)
                .send()
                .await,
            404,
            "NoSuchUpload",
        );
        assert_s3_err(
            t.s3.complete_multipart_upload()
                .bucket("multi")
                .key("obj")
                .upload_id(id)
                .multipart_upload(completed(&[(1, &e1)]))
                .send()
                .await,
            404,
            "NoSuchUpload",
        );
    }
    assert!(
        t.get("multi", "obj").await == want,
        "the object is unchanged"
    );

    let id = create(&t, "multi", "numbers").await;
    for n in [0, 10_001] {
        assert_s3_err(
            t.s3.upload_part()
                .bucket("multi")
                .key("numbers")
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await,
            400,
            "InvalidArgument",
        );
    }
}

#[tokio::test]
async fn list_parts_and_list_multipart_uploads_page_until_the_upload_is_aborted() {
    let t = S3Env::start();
    t.mb("multi").await;
    let a = create(&t, "multi", "up/a").await;
    let b = create(&t, "multi", "up/b").await;
    let _other = create(&t, "multi", "other").await;

    let all =
        t.s3.list_multipart_uploads()
            .bucket("multi")
            .prefix("up/")
            .send()
            .await
            .unwrap();
    let listed: Vec<(&str, &str)> = all
        .uploads()
        .iter()
        .map(|u| (u.key().unwrap(), u.upload_id().unwrap()))
        .collect();
    assert_eq!(listed, [("up/a", a.as_str()), ("up/b", b.as_str())]);
    assert!(all.uploads().iter().all(|u| u.initiated().is_some()));

    let first =
        t.s3.list_multipart_uploads()
            .bucket("multi")
            .prefix("up/")
            .max_uploads(1)
            .send()
            .await
            .unwrap();
    assert_eq!(first.is_truncated(), Some(true));
    assert_eq!(first.uploads().len(), 1);
    let second =
        t.s3.list_multipart_uploads()
            .bucket("multi")
            .prefix("up/")
            .max_uploads(1)
            .set_key_marker(first.next_key_marker.clone())
            .set_upload_id_marker(first.next_upload_id_marker.clone())
            .send()
            .await
            .unwrap();
    assert_eq!(second.uploads()[0].key(), Some("up/b"));
    assert_ne!(second.is_truncated(), Some(true));

    let bodies = [b"one".as_slice(), b"two two", b"three three three"];
    let mut etags = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        etags.push(part(&t, "multi", "up/a", &a, i as i32 + 1, body).await);
    }
    let page =
        t.s3.list_parts()
            .bucket("multi")
            .key("up/a")
            .upload_id(&a)
            .max_parts(2)
            .send()
            .await
            .unwrap();
    assert_eq!(page.is_truncated(), Some(true));
    assert_eq!(page.next_part_number_marker(), Some("2"));
    let got: Vec<(i32, i64, &str)> = page
        .parts()
        .iter()
        .map(|p| {
            (
                p.part_number().unwrap(),
                p.size().unwrap(),
                p.e_tag().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(1, 3, etags[0].as_str()), (2, 7, etags[1].as_str())]);
    let rest =
        t.s3.list_parts()
            .bucket("multi")
            .key("up/a")
            .upload_id(&a)
            .part_number_marker("2")
            .send()
            .await
            .unwrap();
    assert_ne!(rest.is_truncated(), Some(true));
    assert_eq!(rest.parts().len(), 1);
    assert_eq!(rest.parts()[0].part_number(), Some(3));
    assert_eq!(rest.parts()[0].size(), Some(17));

    t.s3.abort_multipart_upload()
        .bucket("multi")
        .key("up/a")
        .upload_id(&a)
        .send()
        .await
        .unwrap();
    assert_s3_err(
        t.s3.list_parts()
            .bucket("multi")
            .key("up/a")
            .upload_id(&a)
            .send()
            .await,
        404,
        "NoSuchUpload",
    );
    let left =
        t.s3.list_multipart_uploads()
            .bucket("multi")
            .send()
            .await
            .unwrap();
    let keys: Vec<&str> = left.uploads().iter().filter_map(|u| u.key()).collect();
    assert_eq!(keys, ["other", "up/b"]);
    assert!(
        !t.exists("multi", "up/a").await,
        "an aborted upload leaves no object"
    );
}
