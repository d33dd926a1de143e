//! S3 cases: CORS (README "S3"): Put/Get/DeleteBucketCors, a browser's preflight `OPTIONS`
//! answered from the bucket's rules without a signature, and the CORS headers on the
//! answer to the upload that follows (a presigned PUT), errors included.

use std::time::Duration;

use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use crate::s3::*;

const APP: &str = "https://app.example";

fn rules() -> CorsConfiguration {
    CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .id("uploads")
                .allowed_origins(APP)
                .allowed_methods("PUT")
                .allowed_methods("GET")
                .allowed_headers("content-type")
                .allowed_headers("x-amz-*")
                .expose_headers("ETag")
                .max_age_seconds(600)
                .build()
                .unwrap(),
        )
        .cors_rules(
            CorsRule::builder()
                .allowed_origins("*")
                .allowed_methods("GET")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_browser_preflight_is_answered_from_the_buckets_cors_rules() {
    let t = S3Env::start();
    t.mb("web").await;
    let (host, addr) = (t.addr().to_string(), t.addr());
    let preflight = |origin: &str, method: &str, headers: &str| {
        let mut req = RawRequest::new("OPTIONS", &host, "/web/upload.bin")
            .header("origin", origin)
            .header("access-control-request-method", method);
        if !headers.is_empty() {
            req = req.header("access-control-request-headers", headers);
        }
        async move { req.send(addr).await.unwrap() }
    };
    // No rules yet: refused, as for a missing bucket.
    preflight(APP, "PUT", "")
        .await
        .assert_error(403, "AccessForbidden");
    assert_s3_err(
        t.s3.get_bucket_cors().bucket("web").send().await,
        404,
        "NoSuchCORSConfiguration",
    );

    (t.s3.put_bucket_cors().bucket("web"))
        .cors_configuration(rules())
        .send()
        .await
        .unwrap();
    let got = t.s3.get_bucket_cors().bucket("web").send().await.unwrap();
    assert_eq!(got.cors_rules().len(), 2);
    let first = &got.cors_rules()[0];
    assert_eq!(first.id(), Some("uploads"));
    assert_eq!(first.allowed_methods(), ["PUT", "GET"]);
    assert_eq!(first.allowed_headers(), ["content-type", "x-amz-*"]);
    assert_eq!(first.expose_headers(), ["ETag"]);
    assert_eq!(first.max_age_seconds(), Some(600));

    let ok = preflight(APP, "PUT", "Content-Type, X-Amz-Date").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("access-control-allow-origin"), Some(APP));
    assert_eq!(ok.header("access-control-allow-methods"), Some("PUT, GET"));
    assert_eq!(
        ok.header("access-control-allow-headers"),
        Some("Content-Type, X-Amz-Date")
    );
    assert_eq!(ok.header("access-control-max-age"), Some("600"));
    assert!(ok.header("x-amz-request-id").is_some());
    // Any origin may GET (the second rule), but not PUT or send other headers.
    let any = preflight("https://other.test", "GET", "").await;
    assert_eq!(any.status, 200);
    assert_eq!(any.header("access-control-allow-origin"), Some("*"));
    for (origin, method, headers) in [
        ("https://other.test", "PUT", ""),
        (APP, "DELETE", ""),
        (APP, "PUT", "x-custom"),
    ] {
        preflight(origin, method, headers)
            .await
            .assert_error(403, "AccessForbidden");
    }
    let no_method = RawRequest::new("OPTIONS", &host, "/web/x")
        .header("origin", APP)
        .send(t.addr())
        .await
        .unwrap();
    no_method.assert_error(400, "BadRequest");

    // The upload itself, and its errors, carry the headers the page needs.
    let day = Duration::from_secs(24 * 3600);
    let put = RawRequest::new("PUT", &host, "/web/upload.bin")
        .presigned(day)
        .header("origin", APP)
        .body(&b"from the browser"[..])
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.header("access-control-allow-origin"), Some(APP));
    assert_eq!(put.header("access-control-expose-headers"), Some("ETag"));
    assert_eq!(t.get("web", "upload.bin").await, b"from the browser");
    let missing = RawRequest::new("GET", &host, "/web/missing")
        .presigned(day)
        .header("origin", APP)
        .send(t.addr())
        .await
        .unwrap();
    missing.assert_error(404, "NoSuchKey");
    assert_eq!(missing.header("access-control-allow-origin"), Some(APP));
    // Without an Origin, or from one no rule names for the method: no CORS headers.
    let plain = RawRequest::new("GET", &host, "/web/upload.bin")
        .presigned(day)
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!(plain.header("access-control-allow-origin"), None);
    let stranger = RawRequest::new("DELETE", &host, "/web/x")
        .presigned(day)
        .header("origin", "https://other.test")
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!(stranger.header("access-control-allow-origin"), None);

    // Rules S3 refuses are refused and change nothing.
    let bad = CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .allowed_origins("*")
                .allowed_methods("PATCH")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert_s3_err(
        (t.s3.put_bucket_cors().bucket("web"))
            .cors_configuration(bad)
            .send()
            .await,
        400,
        "InvalidRequest",
    );
    assert_eq!(preflight(APP, "PUT", "").await.status, 200);

    t.s3.delete_bucket_cors()
        .bucket("web")
        .send()
        .await
        .unwrap();
    preflight(APP, "PUT", "")
        .await
        .assert_error(403, "AccessForbidden");
    assert_s3_err(
        t.s3.get_bucket_cors().bucket("web").send().await,
        404,
        "NoSuchCORSConfiguration",
    );
    assert_s3_err(
        (t.s3.put_bucket_cors().bucket("missing"))
            .cors_configuration(rules())
            .send()
            .await,
        404,
        "NoSuchBucket",
    );

    // A bucket made again under a deleted one's name starts without its rules.
    (t.s3.put_bucket_cors().bucket("web"))
        .cors_configuration(rules())
        .send()
        .await
        .unwrap();
    t.s3.delete_object()
        .bucket("web")
        .key("upload.bin")
        .send()
        .await
        .unwrap();
    t.s3.delete_bucket().bucket("web").send().await.unwrap();
    t.mb("web").await;
    preflight(APP, "PUT", "")
        .await
        .assert_error(403, "AccessForbidden");
}
