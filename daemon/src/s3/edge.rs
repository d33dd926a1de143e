//! The HTTP edge of S3: how the Host header names a
//! bucket (virtual-host style under `--domain`, the port ignored), what is refused before
//! s3s reads a request ([`admit`]), the normalisation of headers clients legitimately
//! send twice, and plain chunked uploads ([`UnknownLength`]).

use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, StatusCode};
use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

use super::signature_scope::{self, ScopeRefusal};

/// `BUCKET.DOMAIN[:port]` names a bucket; any other host is path style.
pub struct DomainHost {
    domain: String,
}

impl DomainHost {
    /// Virtual hosts under `domain`.
    pub fn new(domain: &str) -> Self {
        Self {
            domain: domain.trim_end_matches('.').to_ascii_lowercase(),
        }
    }
}

/// The host without its port (`[v6]:port` too).
fn without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

impl S3Host for DomainHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = without_port(host);
        let bucket = name
            .len()
            .checked_sub(self.domain.len() + 1)
            .filter(|&at| {
                name.is_char_boundary(at)
                    && name[at + 1..].eq_ignore_ascii_case(&self.domain)
                    && name.as_bytes()[at] == b'.'
            })
            .map(|at| &name[..at]);
        Ok(match bucket {
            Some(bucket) if !bucket.is_empty() => {
                VirtualHost::new(self.domain.as_str()).with_bucket(bucket.to_ascii_lowercase())
            }
            _ => VirtualHost::new(name),
        })
    }
}

/// An S3 error answered at the edge, before s3s reads the request; always the client's
/// fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: StatusCode,
    /// S3 error code.
    pub code: &'static str,
    /// What is wrong, for the client (nothing of the server's).
    pub message: String,
}

impl From<ScopeRefusal> for Refusal {
    fn from(r: ScopeRefusal) -> Self {
        Refusal {
            status: r.status(),
            code: r.code(),
            message: r.to_string(),
        }
    }
}

/// Checks a request before s3s reads it, and normalises its headers: browser forms are
/// not implemented (s3s would read the form into memory before checking who sent it),
/// every `x-amz-*` header must be signed (`signature_scope`), and an XML body (every
/// `POST` S3 has: DeleteObjects, CompleteMultipartUpload) must declare a length within
/// s3s's limit, which s3s would otherwise report as its own internal error.
pub fn admit(parts: &mut http::request::Parts) -> Result<(), Refusal> {
    if is_form_post(&parts.method, &parts.headers) {
        return Err(Refusal {
            status: StatusCode::NOT_IMPLEMENTED,
            code: "NotImplemented",
            message: "browser form uploads (PostObject) are not supported".into(),
        });
    }
    signature_scope::check(&mut parts.headers, parts.uri.query())?;
    if parts.method == http::Method::POST {
        check_xml_length(&parts.headers)?;
    }
    normalize_headers(&mut parts.headers);
    admit_chunked_upload(parts);
    Ok(())
}

/// Marks an upload whose body came `Transfer-Encoding: chunked` without a length: the
/// object layer streams it to its end (PutObject, UploadPart read it as "size unknown").
#[derive(Debug, Clone, Copy)]
pub struct UnknownLength;

/// Lets a header-signed, `UNSIGNED-PAYLOAD` `PUT` whose body is plain chunked HTTP/1.1
/// (no Content-Length, not aws-chunked) through s3s 0.14, which refuses such a body with
/// MissingContentLength before routing (as MinIO does). hyper has already framed the body
/// by its chunks, so a placeholder `Content-Length: 0` (never among the signed headers:
/// the request had none) satisfies that check and nothing else reads it: the request is
/// marked [`UnknownLength`], and the operation streams the body whatever its length.
/// Presigned and anonymous uploads pass s3s without a length already; a body signed by
/// its SHA-256 needs its length for s3s to verify it, so it keeps the 411.
fn admit_chunked_upload(parts: &mut http::request::Parts) {
    let h = &parts.headers;
    let chunked = h
        .get(TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let unsigned = h
        .get("x-amz-content-sha256")
        .is_some_and(|v| v.as_bytes() == b"UNSIGNED-PAYLOAD");
    if parts.method == http::Method::PUT
        && chunked
        && unsigned
        && !h.contains_key(CONTENT_LENGTH)
        && !h.contains_key("x-amz-decoded-content-length")
    {
        parts
            .headers
            .insert(CONTENT_LENGTH, http::HeaderValue::from_static("0"));
        parts.extensions.insert(UnknownLength);
    }
}

/// An XML body's declared length, within [`super::XML_MAX_BODY`].
fn check_xml_length(headers: &HeaderMap) -> Result<(), Refusal> {
    let length = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match length {
        Some(n) if n > super::XML_MAX_BODY as u64 => Err(Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "MaxMessageLengthExceeded",
            message: format!(
                "Your request was too big: an XML body of {n} bytes, at most {} allowed.",
                super::XML_MAX_BODY
            ),
        }),
        None if headers.contains_key(TRANSFER_ENCODING) => Err(Refusal {
            status: StatusCode::LENGTH_REQUIRED,
            code: "MissingContentLength",
            message: "You must provide the Content-Length HTTP header.".into(),
        }),
        _ => Ok(()),
    }
}

/// True for a browser-form upload (PostObject: `POST` with a `multipart/form-data` body).
/// Tessera does not implement it, and s3s reads such a form into memory before it checks
/// who sent it, so the router refuses it before s3s sees it.
pub fn is_form_post(method: &http::Method, headers: &HeaderMap) -> bool {
    method == http::Method::POST
        && headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .get(..19)
                    .is_some_and(|t| t.eq_ignore_ascii_case("multipart/form-data"))
            })
}

/// Joins repeated Content-Encoding headers into one (an aws-chunked upload of a gzip body
/// sends `gzip` and `aws-chunked` separately), so the request parses.
pub fn normalize_headers(headers: &mut HeaderMap) {
    let values: Vec<String> = headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    if values.len() > 1
        && let Ok(joined) = values.join(",").parse()
    {
        headers.insert(CONTENT_ENCODING, joined);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_ports_name_their_bucket() {
        let h = DomainHost::new("s3.test");
        let vh = h.parse_host_header("photos.s3.test:9000").unwrap();
        assert_eq!(vh.bucket(), Some("photos"));
        assert_eq!(h.parse_host_header("s3.test:9000").unwrap().bucket(), None);
        assert_eq!(
            h.parse_host_header("127.0.0.1:9000").unwrap().bucket(),
            None
        );
        assert_eq!(h.parse_host_header("[::1]:9000").unwrap().bucket(), None);
        assert_eq!(h.parse_host_header("xs3.test").unwrap().bucket(), None);
        assert_eq!(without_port("[::1]:80"), "::1");
    }

    #[test]
    fn only_form_posts_are_form_posts() {
        let form = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
            h
        };
        let post = http::Method::POST;
        assert!(is_form_post(
            &post,
            &form("multipart/form-data; boundary=x")
        ));
        assert!(is_form_post(&post, &form("Multipart/Form-Data;boundary=x")));
        assert!(!is_form_post(
            &http::Method::PUT,
            &form("multipart/form-data")
        ));
        assert!(!is_form_post(&post, &form("application/xml")));
        assert!(!is_form_post(&post, &HeaderMap::new()));
    }

    #[test]
    fn only_unsigned_plain_chunked_puts_are_marked_of_unknown_length() {
        let parts = |method: &str, headers: &[(&str, &str)]| {
            let mut b = http::Request::builder().method(method).uri("/b/k");
            for (n, v) in headers {
                b = b.header(*n, *v);
            }
            let mut parts = b.body(()).unwrap().into_parts().0;
            admit_chunked_upload(&mut parts);
            parts
        };
        let plain = [
            ("transfer-encoding", "chunked"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ];
        let p = parts("PUT", &plain);
        assert!(p.extensions.get::<UnknownLength>().is_some());
        assert_eq!(p.headers.get(CONTENT_LENGTH).unwrap(), "0");
        for other in [
            parts("POST", &plain),
            parts("PUT", &[("transfer-encoding", "chunked")]),
            parts("PUT", &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]),
            parts("PUT", &[plain[0], plain[1], ("content-length", "3")]),
            parts(
                "PUT",
                &[plain[0], plain[1], ("x-amz-decoded-content-length", "3")],
            ),
        ] {
            assert!(other.extensions.get::<UnknownLength>().is_none());
        }
    }

    #[test]
    fn repeated_content_encodings_are_joined() {
        let mut h = HeaderMap::new();
        h.append(CONTENT_ENCODING, "gzip".parse().unwrap());
        h.append(CONTENT_ENCODING, "aws-chunked".parse().unwrap());
        normalize_headers(&mut h);
        assert_eq!(h.get_all(CONTENT_ENCODING).iter().count(), 1);
        assert_eq!(h.get(CONTENT_ENCODING).unwrap(), "gzip,aws-chunked");
    }
}
