//! S3 cases: ranged reads (206 + Content-Range, 416 InvalidRange), conditional reads
//! (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since → 304 / 412 as S3
//! answers them) and `response-*` overrides.

use aws_sdk_s3::primitives::DateTime;
use tessera_tests::pattern;

use crate::s3::*;

/// 3 MiB + a bit: several 1 MiB erasure blocks, so ranges cross block edges.
const SIZE: usize = (3 << 20) + 12345;

#[tokio::test]
async fn ranged_gets_answer_206_with_content_range_and_unsatisfiable_ones_416() {
    let t = S3Env::start();
    t.mb("ranges").await;
    let data = pattern(SIZE, 3);
    t.put("ranges", "obj", &data).await;
    let n = SIZE as u64;
    let block = 1u64 << 20;
    let cases: Vec<(String, u64, u64)> = vec![
        ("bytes=0-0".into(), 0, 1),
        ("bytes=10-19".into(), 10, 20),
        (
            format!("bytes={}-{}", block - 5, block + 4),
            block - 5,
            block + 5,
        ),
        (format!("bytes={}-", 2 * block + 7), 2 * block + 7, n),
        ("bytes=-100".into(), n - 100, n),
        // Past the end: clamped to the object, as S3 does.
        (format!("bytes={}-{}", n - 10, n + 1000), n - 10, n),
        (format!("bytes=-{}", n + 5), 0, n),
    ];
    for (range, start, end) in cases {
        let out =
            t.s3.get_object()
                .bucket("ranges")
                .key("obj")
                .range(&range)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{range}: {e:?}"));
        let want_range = format!("bytes {start}-{}/{n}", end - 1);
        assert_eq!(out.content_range(), Some(want_range.as_str()), "{range}");
        assert_eq!(out.content_length(), Some((end - start) as i64), "{range}");
        let got = out.body.collect().await.unwrap().to_vec();
        assert!(
            got == data[start as usize..end as usize],
            "{range}: other bytes"
        );

        let head =
            t.s3.head_object()
                .bucket("ranges")
                .key("obj")
                .range(&range)
                .send()
                .await
                .unwrap_or_else(|e| panic!("HEAD {range}: {e:?}"));
        assert_eq!(
            head.content_range(),
            Some(want_range.as_str()),
            "HEAD {range}"
        );
        assert_eq!(head.content_length(), Some((end - start) as i64));
    }

    // The status itself is 206 (raw, since the SDK hides it).
    let raw = RawRequest::new("GET", &t.addr().to_string(), "/ranges/obj")
        .header("range", "bytes=5-9")
        .signed()
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!(raw.status, 206, "{raw:?}");
    assert!(raw.body == data[5..10]);

    for range in [format!("bytes={n}-"), format!("bytes={}-{}", n + 1, n + 9)] {
        assert_s3_err(
            t.s3.get_object()
                .bucket("ranges")
                .key("obj")
                .range(&range)
                .send()
                .await,
            416,
            "InvalidRange",
        );
        assert_status(
            t.s3.head_object()
                .bucket("ranges")
                .key("obj")
                .range(&range)
                .send()
                .await,
            416,
        );
    }
    // An empty object has no satisfiable range.
    t.put("ranges", "empty", b"").await;
    assert_s3_err(
        t.s3.get_object()
            .bucket("ranges")
            .key("empty")
            .range("bytes=0-0")
            .send()
            .await,
        416,
        "InvalidRange",
    );
}

#[tokio::test]
async fn conditional_gets_and_heads_answer_304_and_412_as_s3_does() {
    let t = S3Env::start();
    t.mb("cond").await;
    let data = pattern(5000, 4);
    let etag = t.put("cond", "obj", &data).await;
    let other = "\"0123456789abcdef0123456789abcdef\"";
    let past = DateTime::from_secs(1_000_000_000);
    let future = DateTime::from_secs(4_000_000_000);

    // (if-match, if-none-match, if-modified-since, if-unmodified-since) → status.
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<DateTime>,
        Option<DateTime>,
        u16,
    );
    let cases: Vec<Case> = vec![
        (Some(&etag), None, None, None, 200),
        (Some("*"), None, None, None, 200),
        (Some(other), None, None, None, 412),
        (None, Some(&etag), None, None, 304),
        (None, Some("*"), None, None, 304),
        (None, Some(other), None, None, 200),
        (None, None, Some(past), None, 200),
        (None, None, Some(future), None, 304),
        (None, None, None, Some(future), 200),
        (None, None, None, Some(past), 412),
        // RFC 9110 §13.2.2 (and S3): If-Match that passes overrides If-Unmodified-Since,
        // If-None-Match that passes overrides If-Modified-Since.
        (Some(&etag), None, None, Some(past), 200),
        (None, Some(other), Some(future), None, 200),
        // 412 wins over 304.
        (Some(other), Some(&etag), None, None, 412),
    ];
    for (i, (im, inm, ims, ius, want)) in cases.into_iter().enumerate() {
        let get =
            t.s3.get_object()
                .bucket("cond")
                .key("obj")
                .set_if_match(im.map(str::to_string))
                .set_if_none_match(inm.map(str::to_string))
                .set_if_modified_since(ims)
                .set_if_unmodified_since(ius)
                .send()
                .await;
        let head =
            t.s3.head_object()
                .bucket("cond")
                .key("obj")
                .set_if_match(im.map(str::to_string))
                .set_if_none_match(inm.map(str::to_string))
                .set_if_modified_since(ims)
                .set_if_unmodified_since(ius)
                .send()
                .await;
        match want {
            200 => {
                let out = get.unwrap_or_else(|e| panic!("case {i}: {e:?}"));
                assert!(out.body.collect().await.unwrap().to_vec() == data);
                head.unwrap_or_else(|e| panic!("HEAD case {i}: {e:?}"));
            }
            412 => {
                assert_s3_err(get, 412, "PreconditionFailed");
                assert_status(head, 412);
            }
            _ => {
                assert_status(get, want);
                assert_status(head, want);
            }
        }
    }
}

#[tokio::test]
async fn a_304_not_modified_carries_the_etag_and_last_modified_and_no_body() {
    // RFC 9110 §15.4.5: a 304 sends the ETag (and the validators a 200 would), as S3 does;
    // caches use them to refresh what they hold.
    let t = S3Env::start();
    t.mb("cond").await;
    let etag = t.put("cond", "obj", b"cached").await;
    // Raw, as the SDK reports a 304 as an error without headers.
    let raw = RawRequest::new("GET", &t.addr().to_string(), "/cond/obj")
        .header("if-none-match", &etag)
        .signed()
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!(raw.status, 304);
    assert!(raw.body.is_empty(), "{raw:?}");
    assert_eq!(raw.header("etag"), Some(etag.as_str()), "{raw:?}");
    assert!(raw.header("last-modified").is_some(), "{raw:?}");
}

#[tokio::test]
async fn response_overrides_replace_the_stored_headers_of_a_get() {
    let t = S3Env::start();
    t.mb("over").await;
    t.s3.put_object()
        .bucket("over")
        .key("file.bin")
        .body(b"payload".to_vec().into())
        .content_type("application/octet-stream")
        .cache_control("no-cache")
        .send()
        .await
        .unwrap();
    let out =
        t.s3.get_object()
            .bucket("over")
            .key("file.bin")
            .response_content_type("text/plain")
            .response_cache_control("max-age=5")
            .response_content_disposition("attachment; filename=\"x.txt\"")
            .response_content_encoding("identity")
            .response_content_language("fr")
            .response_expires(DateTime::from_secs(2_000_000_000))
            .send()
            .await
            .unwrap();
    assert_eq!(out.content_type(), Some("text/plain"));
    assert_eq!(out.cache_control(), Some("max-age=5"));
    assert_eq!(
        out.content_disposition(),
        Some("attachment; filename=\"x.txt\"")
    );
    assert_eq!(out.content_encoding(), Some("identity"));
    assert_eq!(out.content_language(), Some("fr"));
    assert_eq!(out.expires_string(), Some("Wed, 18 May 2033 03:33:20 GMT"));
    assert_eq!(out.body.collect().await.unwrap().to_vec(), b"payload");
    // Overrides change the answer, not the object.
    let head =
        t.s3.head_object()
            .bucket("over")
            .key("file.bin")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_type(), Some("application/octet-stream"));
    assert_eq!(head.cache_control(), Some("no-cache"));
}
