//! Request ids: every S3 answer, errors included, carries `x-amz-request-id` (new per
//! request: 16 uppercase hex digits, as S3's) and `x-amz-id-2` (the node's host id, fixed for
//! the process), and an error's XML body names the same two in `<RequestId>` and
//! `<HostId>`, so a client's report of an error can be found in the node's log.
//!
//! s3s renders errors without a request id and has no hook to give it one, so the router
//! stamps every S3 answer on its way out ([`RequestIds::stamp`]); an error body is small
//! (s3s renders it whole into memory), so inserting the id rewrites a few hundred bytes.
//! Tested end to end: `s3_corners` reads both headers and the XML of s3s's errors, the
//! edge's refusals and successes.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response};

/// The request id header.
pub const REQUEST_ID: &str = "x-amz-request-id";
/// The host id header.
pub const HOST_ID: &str = "x-amz-id-2";
const REQUEST_ID_NAME: HeaderName = HeaderName::from_static(REQUEST_ID);
const HOST_ID_NAME: HeaderName = HeaderName::from_static(HOST_ID);

/// Makes request ids and stamps answers with them.
#[derive(Debug)]
pub struct RequestIds {
    host_id: String,
    host_value: HeaderValue,
    /// A random start, then one more per request: ids never repeat within the process,
    /// and the mixing in [`Self::next`] keeps them from looking sequential.
    counter: AtomicU64,
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestIds {
    /// Ids of a node whose host id is new (random) for this process.
    pub fn new() -> Self {
        let mut raw = [0u8; 32];
        raw[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        raw[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        let host_id = base64::engine::general_purpose::STANDARD.encode(raw);
        Self {
            host_value: HeaderValue::from_str(&host_id).expect("base64 is a header value"),
            host_id,
            counter: AtomicU64::new(uuid::Uuid::new_v4().as_u64_pair().0),
        }
    }

    /// A new request id: 16 uppercase hex digits, unique in this process (a bijective mix
    /// of a counter, so no two requests share one).
    pub fn next(&self) -> String {
        let mut z = self.counter.fetch_add(1, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        (0..16)
            .map(|i| HEX[(z >> (60 - 4 * i) & 0xf) as usize] as char)
            .collect()
    }

    /// Sets both headers on `resp`, and names the ids in the XML of an error body.
    pub fn stamp(&self, resp: &mut Response<s3s::Body>, id: &str) {
        if resp.status().as_u16() >= 400
            && let Some(xml) = resp.body().bytes()
            && let Some(stamped) = with_ids(&xml, id, &self.host_id)
        {
            let length = stamped.len();
            *resp.body_mut() = s3s::Body::from(stamped);
            resp.headers_mut()
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        self.stamp_headers(resp.headers_mut(), id);
    }

    /// Sets both headers.
    pub fn stamp_headers(&self, headers: &mut http::HeaderMap, id: &str) {
        if let Ok(v) = HeaderValue::from_str(id) {
            headers.insert(REQUEST_ID_NAME, v);
        }
        headers.insert(HOST_ID_NAME, self.host_value.clone());
    }

    /// The host id.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }
}

/// An S3 error document with `<RequestId>` and `<HostId>` before its `</Error>`; `None` for
/// a body that is no error document or already names a request id.
fn with_ids(xml: &[u8], id: &str, host_id: &str) -> Option<Bytes> {
    const END: &[u8] = b"</Error>";
    let text = std::str::from_utf8(xml).ok()?;
    if text.contains("<RequestId>") {
        return None;
    }
    let at = text.rfind(std::str::from_utf8(END).ok()?)?;
    let mut out = String::with_capacity(xml.len() + 96);
    out.push_str(&text[..at]);
    out.push_str(&format!(
        "<RequestId>{id}</RequestId><HostId>{host_id}</HostId>"
    ));
    out.push_str(&text[at..]);
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_documents_gain_both_ids_before_their_end() {
        let xml = b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code></Error>";
        let out = with_ids(xml, "ABC", "h+/=").unwrap();
        assert_eq!(
            &out[..],
            &b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code>\
               <RequestId>ABC</RequestId><HostId>h+/=</HostId></Error>"[..]
        );
        assert_eq!(
            with_ids(&out, "DEF", "h"),
            None,
            "an id is never added twice"
        );
        assert_eq!(with_ids(b"<ListBucketResult/>", "A", "h"), None);
        assert_eq!(with_ids(b"\xff</Error>", "A", "h"), None);
    }

    #[test]
    fn request_ids_are_sixteen_uppercase_hex_digits_and_differ() {
        let ids = RequestIds::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        for id in [a, b] {
            assert_eq!(id.len(), 16);
            assert!(
                id.bytes()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            );
        }
        assert!(!ids.host_id().is_empty());
    }
}
