//! SigV4 query presigning (AWS "Authenticating Requests: Using Query Parameters"): the
//! console hands the browser S3 URLs signed for the session's access key, so every action
//! the browser takes is authorized by the S3 front end itself with that key's policies.
//!
//! Invariants: `host` is signed, and the `x-amz-*` headers the browser will send (a copy's
//! source, say), since the S3 edge refuses unsigned ones, with the values given (so the URL
//! is good for that copy source only); the payload is `UNSIGNED-PAYLOAD`; the path is
//! `/bucket/key` encoded exactly as s3s encodes the decoded path when it verifies (every
//! byte but `A-Za-z0-9-._~` and `/`), so any UTF-8 key round-trips; the expiry is within
//! 1 s ..= 7 days (`s3::MAX_PRESIGNED_EXPIRY`).
//!
//! Tested against the example of AWS's documentation and end to end by the e2e `console`
//! tests (the URLs are used by a real browser and a plain HTTP client).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::calendar::civil_from_days;

/// What to presign.
#[derive(Debug, Clone)]
pub struct Presign<'a> {
    /// `GET`, `PUT`, `POST`, `DELETE` or `HEAD`.
    pub method: &'a str,
    /// The `Host` the browser sends (the console's own origin).
    pub host: &'a str,
    /// The bucket (empty: the service, as ListBuckets).
    pub bucket: &'a str,
    /// The key (empty: the bucket).
    pub key: &'a str,
    /// Query parameters besides the signature's, decoded.
    pub query: &'a [(String, String)],
    /// Headers to sign besides `host`: lower-case `x-amz-*` names (see [`signable`]).
    pub headers: &'a [(String, String)],
    /// Seconds the URL stays valid.
    pub expires: u64,
    /// Unix seconds of the signature's date.
    pub now: i64,
}

/// The credentials and region a URL is signed for.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    /// Access key id.
    pub access_key: &'a str,
    /// Its secret.
    pub secret_key: &'a str,
    /// The node's region.
    pub region: &'a str,
}

/// Appends `input` URI-encoded as SigV4 wants: unreserved bytes as they are, `/` kept
/// unless `encode_slash`, every other byte `%XX` (upper case).
fn uri_encode(out: &mut String, input: &str, encode_slash: bool) {
    for &b in input.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// The request path of `bucket`/`key`, encoded (see the module doc).
pub fn path(bucket: &str, key: &str) -> String {
    let mut p = String::from("/");
    uri_encode(&mut p, bucket, true);
    if !key.is_empty() {
        p.push('/');
        uri_encode(&mut p, key, false);
    }
    p
}

/// `20130524T000000Z` and `20130524` of Unix seconds `t`.
fn amz_date(t: i64) -> (String, String) {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let date = format!("{y:04}{m:02}{d:02}");
    let time = format!(
        "{date}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    );
    (time, date)
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Whether a header may be signed into a URL: a lower-case `x-amz-*` name other than the
/// signature's own, and a visible ASCII value.
pub fn signable(name: &str, value: &str) -> bool {
    name.starts_with("x-amz-")
        && name.len() <= 64
        && (name.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !matches!(
            name,
            "x-amz-date" | "x-amz-content-sha256" | "x-amz-security-token"
        )
        && value.len() <= 2048
        && value.bytes().all(|b| (b' '..0x7f).contains(&b))
}

/// The path and query (`/bucket/key?...&X-Amz-Signature=...`) of the presigned request.
pub fn presign(signer: Signer<'_>, req: &Presign<'_>) -> String {
    let (time, date) = amz_date(req.now);
    let scope = format!("{date}/{}/s3/aws4_request", signer.region);
    let mut headers: Vec<(String, String)> = vec![("host".into(), req.host.to_owned())];
    headers
        .extend((req.headers.iter()).map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned())));
    headers.sort();
    let signed = (headers.iter())
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = (headers.iter())
        .map(|(n, v)| format!("{n}:{v}\n"))
        .collect();
    let mut params: Vec<(String, String)> = req.query.to_vec();
    params.extend([
        ("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()),
        (
            "X-Amz-Credential".into(),
            format!("{}/{scope}", signer.access_key),
        ),
        ("X-Amz-Date".into(), time.clone()),
        ("X-Amz-Expires".into(), req.expires.to_string()),
        ("X-Amz-SignedHeaders".into(), signed.clone()),
    ]);
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| {
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&mut ek, k, true);
            uri_encode(&mut ev, v, true);
            (ek, ev)
        })
        .collect();
    encoded.sort();
    let query = (encoded.iter())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let path = path(req.bucket, req.key);
    let canonical = format!(
        "{}\n{path}\n{query}\n{canonical_headers}\n{signed}\nUNSIGNED-PAYLOAD",
        req.method
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{time}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{}", signer.secret_key).as_bytes(), &date);
    for part in [signer.region, "s3", "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex::encode(hmac(&key, &to_sign));
    format!("{path}?{query}&X-Amz-Signature={signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presigned_get_matches_the_aws_documentation_example() {
        // "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)".
        let signer = Signer {
            access_key: "AKIAIOSFODNN7EXAMPLE",
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
        };
        let now = days_from(2013, 5, 24);
        let url = presign_raw(signer, "/test.txt", now);
        assert!(
            url.ends_with(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            ),
            "{url}"
        );
    }

    fn days_from(y: i64, m: i64, d: i64) -> i64 {
        crate::calendar::days_from_civil(y, m, d) * 86_400
    }

    /// The documentation's request: a virtual-host path, so the bucket is the host's.
    fn presign_raw(signer: Signer<'_>, key_path: &str, now: i64) -> String {
        // `path("", "test.txt")` would give `//test.txt`; encode the key as a bucket-less
        // path by presigning a "bucket" named like the key (no slash in it).
        let key = key_path.trim_start_matches('/');
        presign(
            signer,
            &Presign {
                method: "GET",
                host: "examplebucket.s3.amazonaws.com",
                bucket: key,
                key: "",
                query: &[],
                headers: &[],
                expires: 86_400,
                now,
            },
        )
    }

    #[test]
    fn only_amz_headers_of_plain_values_are_signable() {
        assert!(signable("x-amz-copy-source", "/b/a%20b"));
        assert!(signable("x-amz-metadata-directive", "COPY"));
        for (name, value) in [
            ("content-type", "text/plain"),
            ("X-Amz-Copy-Source", "/b/k"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-copy-source", "/b/k\r\nx: y"),
        ] {
            assert!(!signable(name, value), "{name}: {value}");
        }
    }

    #[test]
    fn keys_are_encoded_as_s3s_decodes_them() {
        assert_eq!(path("b", "a b/c+d/é"), "/b/a%20b/c%2Bd/%C3%A9");
        assert_eq!(path("b", ""), "/b");
        assert_eq!(path("", ""), "/");
    }

    #[test]
    fn dates_are_formatted_in_utc() {
        assert_eq!(
            amz_date(1_369_353_600),
            ("20130524T000000Z".into(), "20130524".into())
        );
        assert_eq!(amz_date(1_369_357_261).0, "20130524T010101Z");
    }
}
