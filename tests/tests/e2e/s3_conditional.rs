//! S3 conditional writes: `If-None-Match: *` and `If-Match: ETAG` on PutObject and
//! CompleteMultipartUpload answer as S3 does (412, or 404 for If-Match on a missing key),
//! and hold under races: of writers that all require a new key, or all the same ETag,
//! exactly one commits.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::CompletedMultipartUpload;
use tessera_tests::pattern;

use crate::s3::*;
use crate::s3_multipart::{completed, create, part};

/// A PutObject with optional `If-Match` / `If-None-Match`; the status and the new ETag.
async fn put_if(
    t: &S3Env,
    key: &str,
    body: Vec<u8>,
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<String, u16> {
    t.s3.put_object()
        .bucket("cond")
        .key(key)
        .set_if_match(if_match.map(str::to_string))
        .set_if_none_match(if_none_match.map(str::to_string))
        .body(ByteStream::from(body))
        .send()
        .await
        .map(|out| out.e_tag().unwrap_or_default().to_string())
        .map_err(|e| status_of(&e))
}

/// A new multipart upload of `key` with one part of `body`; its id and part list.
async fn upload_of(t: &S3Env, key: &str, body: Vec<u8>) -> (String, CompletedMultipartUpload) {
    let id = create(t, "cond", key).await;
    let etag = part(t, "cond", key, &id, 1, &body).await;
    (id, completed(&[(1, &etag)]))
}

/// CompleteMultipartUpload with optional `If-None-Match`; the status and the new ETag.
async fn complete_if(
    t: &S3Env,
    key: &str,
    (id, parts): &(String, CompletedMultipartUpload),
    if_none_match: Option<&str>,
) -> Result<String, u16> {
    t.s3.complete_multipart_upload()
        .bucket("cond")
        .key(key)
        .upload_id(id)
        .multipart_upload(parts.clone())
        .set_if_none_match(if_none_match.map(str::to_string))
        .send()
        .await
        .map(|out| out.e_tag().unwrap_or_default().to_string())
        .map_err(|e| status_of(&e))
}

#[tokio::test]
async fn conditional_puts_answer_as_s3_does_and_never_overwrite_when_refused() {
    let t = S3Env::start();
    t.mb("cond").await;
    let v1 = t.put("cond", "k", b"original").await;
    let put = |body: &'static [u8], if_match, if_none_match| {
        put_if(&t, "k", body.to_vec(), if_match, if_none_match)
    };
    assert_eq!(
        put(b"x", None, Some("*")).await,
        Err(412),
        "If-None-Match: * over a key"
    );
    assert_eq!(
        put(b"x", None, Some(&v1)).await,
        Err(412),
        "If-None-Match: its ETag"
    );
    assert_eq!(
        put(b"x", Some("\"0123\""), None).await,
        Err(412),
        "If-Match: another ETag"
    );
    assert_eq!(
        t.get("cond", "k").await,
        b"original",
        "refused writes changed nothing"
    );
    let v2 = put(b"second", Some(&v1), None)
        .await
        .expect("If-Match: its ETag");
    assert_eq!(t.get("cond", "k").await, b"second");
    assert!(
        put(b"third", None, Some(&v1)).await.is_ok(),
        "If-None-Match: an old ETag"
    );
    assert_ne!(v1, v2);
    let missing = put_if(&t, "new", b"x".to_vec(), Some("*"), None).await;
    assert_eq!(missing, Err(404), "If-Match on a missing key is NoSuchKey");
    assert!(!t.exists("cond", "new").await);
    let created = put_if(&t, "new", b"created".to_vec(), None, Some("*")).await;
    assert!(
        created.is_ok(),
        "If-None-Match: * on a new key: {created:?}"
    );
    assert_eq!(t.get("cond", "new").await, b"created");
}

#[tokio::test]
async fn a_refused_conditional_completion_keeps_its_upload() {
    let t = S3Env::start();
    t.mb("cond").await;
    t.put("cond", "k", b"original").await;
    let upload = upload_of(&t, "k", b"from the upload".to_vec()).await;
    assert_eq!(complete_if(&t, "k", &upload, Some("*")).await, Err(412));
    assert_eq!(t.get("cond", "k").await, b"original");
    // The upload and its part are still there: completing it without the condition works.
    assert!(complete_if(&t, "k", &upload, None).await.is_ok());
    assert_eq!(t.get("cond", "k").await, b"from the upload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_conditional_writes_commit_exactly_once() {
    // Every commit holds its lock 300 ms (a testing flag), so all writers pass the early
    // check before the first commits: only the check under the lock can refuse them.
    let t = S3Env::start_with(4, &["--test-commit-pause-ms", "300"]);
    t.mb("cond").await;
    // Inline (small) and streamed (large) bodies commit by different paths: race both.
    let bodies: Vec<Vec<u8>> = (0..6u64)
        .map(|i| pattern(if i % 2 == 0 { 3000 } else { (2 << 20) + 5 }, i))
        .collect();
    let winners = |results: &[Result<String, u16>], what: &str| -> Vec<usize> {
        for r in results {
            assert!(matches!(r, Ok(_) | Err(412)), "{what}: {r:?}\n{}", t.log());
        }
        let won: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
        assert_eq!(won.len(), 1, "{what}: one writer commits: {results:?}");
        won
    };

    let new_key = bodies
        .iter()
        .map(|b| put_if(&t, "new", b.clone(), None, Some("*")));
    let results = futures::future::join_all(new_key).await;
    let won = winners(&results, "If-None-Match: *")[0];
    assert!(
        t.get("cond", "new").await == bodies[won],
        "the winner's bytes"
    );

    // Compare-and-swap: every writer names the ETag the key has now (with bodies of
    // their own: rewriting the current bytes would leave the ETag as it is).
    let current = results[won].clone().expect("winner");
    let bodies: Vec<Vec<u8>> = bodies
        .iter()
        .map(|b| b.iter().map(|x| !x).collect())
        .collect();
    let swaps = bodies
        .iter()
        .map(|b| put_if(&t, "new", b.clone(), Some(&current), None));
    let results = futures::future::join_all(swaps).await;
    let won = winners(&results, "If-Match")[0];
    assert!(
        t.get("cond", "new").await == bodies[won],
        "the swapper's bytes"
    );

    // Completions of uploads of one new key.
    let mut uploads = Vec::new();
    for b in &bodies[..3] {
        uploads.push(upload_of(&t, "mp", b.clone()).await);
    }
    let completions = uploads.iter().map(|u| complete_if(&t, "mp", u, Some("*")));
    let results = futures::future::join_all(completions).await;
    let won = winners(&results, "CompleteMultipartUpload If-None-Match: *")[0];
    assert!(
        t.get("cond", "mp").await == bodies[won],
        "the completed upload's bytes"
    );
}
