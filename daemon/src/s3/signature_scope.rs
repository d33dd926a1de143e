//! What a request's signature covers, checked before s3s routes the request.
//!
//! s3s 0.14 verifies a SigV4 signature over the headers the request lists as signed, then
//! routes and obeys every header: an `x-amz-copy-source` added to a presigned PUT would turn
//! it into a copy of any object the signer can read. So, as AWS does, every `x-amz-*`
//! header of a signed request must be among its signed headers, except the envelope
//! headers clients add around a signed request ([`ENVELOPE`]). Signature Version 2 (boto3's
//! default presigned URLs) signs every `x-amz-*` header by construction; s3s checks no
//! time on its header form, so here its `Date` must lie within [`MAX_SKEW`] of the node's
//! clock. Presigned URLs of either version may be valid for at most
//! [`MAX_PRESIGNED_EXPIRY`].
//!
//! A `Range` header S3 cannot use (multi-range, another unit, out of bounds) is ignored by
//! S3, which answers with the whole object; s3s refuses it. Unless the range is signed
//! (then removing it would break the signature, and s3s's 400 stands), it is dropped here.
//!
//! Invariant: names compare case-insensitively; a request without a signature (anonymous)
//! passes untouched, as s3s refuses it on its own.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use http::header::{AUTHORIZATION, RANGE};
use percent_encoding::percent_decode_str;

/// The longest a presigned URL may stay valid: 7 days, as S3.
pub const MAX_PRESIGNED_EXPIRY: u64 = 7 * 24 * 3600;

/// How far a SigV2 request's date may be from the node's clock (SigV4's, in s3s: 15 min).
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// `x-amz-*` headers a client may add around a signed request without signing them: the
/// payload's hash and length and the names and values of its trailing checksums.
const ENVELOPE: &[&str] = &[
    "x-amz-content-sha256",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
];

/// Why a request is refused before routing; every one is the client's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeRefusal {
    /// An `x-amz-*` header outside the signature.
    #[error("There were headers present in the request which were not signed: {0}")]
    Unsigned(String),
    /// A SigV2 request without a date, or one too far from the node's clock.
    #[error("The difference between the request time and the server's time is too large.")]
    Skewed,
    /// A presigned URL valid for more than 7 days.
    #[error("X-Amz-Expires must be less than a week (in seconds) that is 604800")]
    Expiry,
}

impl ScopeRefusal {
    /// The HTTP status S3 answers with.
    pub fn status(&self) -> http::StatusCode {
        match self {
            ScopeRefusal::Unsigned(_) | ScopeRefusal::Skewed => http::StatusCode::FORBIDDEN,
            ScopeRefusal::Expiry => http::StatusCode::BAD_REQUEST,
        }
    }

    /// The S3 error code.
    pub fn code(&self) -> &'static str {
        match self {
            ScopeRefusal::Unsigned(_) => "AccessDenied",
            ScopeRefusal::Skewed => "RequestTimeTooSkewed",
            ScopeRefusal::Expiry => "AuthorizationQueryParametersError",
        }
    }
}

/// The value of query parameter `name` (percent-decoded), if present.
fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode_str(v).decode_utf8_lossy())
    })
}

/// The names of a SigV4 request's signed headers (`;`-separated); `None` for a request
/// whose signature, if any, covers every `x-amz-*` header (anonymous, SigV2). Read in the
/// order s3s checks: query before header, V2 before V4.
fn signed_headers<'a>(
    headers: &'a HeaderMap,
    query: Option<&'a str>,
) -> Result<Option<Cow<'a, str>>, ScopeRefusal> {
    if let Some(query) = query {
        if query_param(query, "Signature").is_some() {
            let expires = query_param(query, "Expires").and_then(|e| e.parse::<u64>().ok());
            let latest = unix_now() + MAX_PRESIGNED_EXPIRY;
            return match expires {
                Some(at) if at > latest => Err(ScopeRefusal::Expiry),
                _ => Ok(None),
            };
        }
        if query_param(query, "X-Amz-Signature").is_some() {
            if let Some(expires) = query_param(query, "X-Amz-Expires") {
                match expires.parse::<u64>() {
                    Ok(secs) if secs <= MAX_PRESIGNED_EXPIRY => {}
                    _ => return Err(ScopeRefusal::Expiry),
                }
            }
            let signed = query_param(query, "X-Amz-SignedHeaders").unwrap_or_default();
            return Ok(Some(signed));
        }
    }
    let Some(auth) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let auth = auth.to_str().unwrap_or_default().trim_start();
    if auth.starts_with("AWS ") {
        return check_v2_date(headers).map(|()| None);
    }
    // `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=a;b, Signature=…`; a malformed value
    // lists nothing signed, and s3s refuses it anyway.
    let signed = auth
        .split([',', ' '])
        .find_map(|part| part.trim().strip_prefix("SignedHeaders="))
        .unwrap_or_default();
    Ok(Some(signed.into()))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A SigV2 header-signed request's date (`x-amz-date`, else `Date`) lies within
/// [`MAX_SKEW`] of now.
fn check_v2_date(headers: &HeaderMap) -> Result<(), ScopeRefusal> {
    let date = headers
        .get("x-amz-date")
        .or_else(|| headers.get(http::header::DATE))
        .and_then(|v| v.to_str().ok())
        .ok_or(ScopeRefusal::Skewed)?;
    // RFC 1123 with a numeric zone, as some SigV2 clients write it.
    let date = date.trim().replace(" +0000", " GMT");
    let at = httpdate::parse_http_date(&date).map_err(|_| ScopeRefusal::Skewed)?;
    let now = SystemTime::now();
    let skew = now
        .duration_since(at)
        .or_else(|_| at.duration_since(now))
        .unwrap_or_default();
    if skew > MAX_SKEW {
        return Err(ScopeRefusal::Skewed);
    }
    Ok(())
}

fn is_signed(signed: &str, name: &str) -> bool {
    signed
        .split(';')
        .any(|s| s.trim().eq_ignore_ascii_case(name))
}

/// Checks what the signature of a request covers, and drops an unusable unsigned `Range`.
pub fn check(headers: &mut HeaderMap, query: Option<&str>) -> Result<(), ScopeRefusal> {
    let Some(signed) = signed_headers(headers, query)? else {
        return Ok(());
    };
    let unsigned = headers.keys().find(|name| {
        let name = name.as_str();
        name.get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"))
            && !ENVELOPE.iter().any(|e| e.eq_ignore_ascii_case(name))
            && !is_signed(&signed, name)
    });
    if let Some(name) = unsigned {
        return Err(ScopeRefusal::Unsigned(name.as_str().to_string()));
    }
    let range_signed = is_signed(&signed, RANGE.as_str());
    drop(signed);
    if !range_signed && !range_is_usable(headers) {
        headers.remove(RANGE);
    }
    Ok(())
}

/// True unless the request has a `Range` header that S3 would ignore.
fn range_is_usable(headers: &HeaderMap) -> bool {
    let mut ranges = headers.get_all(RANGE).iter();
    match (ranges.next(), ranges.next()) {
        (None, _) => true,
        (Some(range), None) => range
            .to_str()
            .is_ok_and(|r| s3s::dto::Range::parse(r).is_ok()),
        (Some(_), Some(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    const V4: &str = "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/s3/aws4_request, \
                      SignedHeaders=host;x-amz-content-sha256;x-amz-date;X-Amz-Meta-A, \
                      Signature=abc";

    #[test]
    fn header_signed_requests_need_every_amz_header_signed() {
        let mut ok = headers(&[
            ("authorization", V4),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-meta-a", "1"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-decoded-content-length", "5"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ]);
        assert_eq!(check(&mut ok, None), Ok(()));
        let mut extra = ok.clone();
        extra.insert("x-amz-meta-b", "2".parse().unwrap());
        assert_eq!(
            check(&mut extra, None),
            Err(ScopeRefusal::Unsigned("x-amz-meta-b".into()))
        );
    }

    #[test]
    fn presigned_urls_list_their_signed_headers_in_the_query() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=300\
                 &X-Amz-SignedHeaders=host%3Bx-amz-meta-a&X-Amz-Signature=abc";
        let mut ok = headers(&[("x-amz-meta-a", "1")]);
        assert_eq!(check(&mut ok, Some(q)), Ok(()));
        let mut copy = headers(&[("x-amz-copy-source", "/private/secret.txt")]);
        assert_eq!(
            check(&mut copy, Some(q)),
            Err(ScopeRefusal::Unsigned("x-amz-copy-source".into()))
        );
        let week = q.replace("X-Amz-Expires=300", "X-Amz-Expires=604801");
        assert_eq!(
            check(&mut HeaderMap::new(), Some(&week)),
            Err(ScopeRefusal::Expiry)
        );
    }

    #[test]
    fn sigv2_needs_a_current_date_and_a_week_at_most_anonymous_passes() {
        let mut undated = headers(&[("authorization", "AWS key:sig")]);
        assert_eq!(check(&mut undated, None), Err(ScopeRefusal::Skewed));
        let old = "Tue, 27 Mar 2007 21:20:26 +0000";
        let mut stale = headers(&[("authorization", "AWS key:sig"), ("date", old)]);
        assert_eq!(check(&mut stale, None), Err(ScopeRefusal::Skewed));
        let now = httpdate::fmt_http_date(SystemTime::now());
        let mut fresh = headers(&[("authorization", "AWS key:sig"), ("x-amz-date", &now)]);
        assert_eq!(check(&mut fresh, None), Ok(()));
        let in_a_day = format!(
            "AWSAccessKeyId=k&Expires={}&Signature=a",
            unix_now() + 86400
        );
        assert_eq!(check(&mut HeaderMap::new(), Some(&in_a_day)), Ok(()));
        let in_8_days = format!(
            "AWSAccessKeyId=k&Expires={}&Signature=a",
            unix_now() + 8 * 86400
        );
        assert_eq!(
            check(&mut HeaderMap::new(), Some(&in_8_days)),
            Err(ScopeRefusal::Expiry)
        );
        let mut anon = headers(&[("x-amz-copy-source", "/a/b")]);
        assert_eq!(check(&mut anon, Some("list-type=2")), Ok(()));
    }

    #[test]
    fn unusable_unsigned_ranges_are_dropped_signed_ones_kept() {
        let q = "X-Amz-SignedHeaders=host&X-Amz-Signature=abc";
        for bad in ["bytes=0-1,5-6", "items=0-5", "bytes=0-9223372036854775808"] {
            let mut h = headers(&[("range", bad)]);
            check(&mut h, Some(q)).unwrap();
            assert!(h.get(RANGE).is_none(), "{bad}");
        }
        let mut good = headers(&[("range", "bytes=0-5")]);
        check(&mut good, Some(q)).unwrap();
        assert!(good.get(RANGE).is_some());
        let signed = "X-Amz-SignedHeaders=host%3Brange&X-Amz-Signature=abc";
        let mut kept = headers(&[("range", "bytes=0-1,5-6")]);
        check(&mut kept, Some(signed)).unwrap();
        assert!(kept.get(RANGE).is_some());
    }
}
