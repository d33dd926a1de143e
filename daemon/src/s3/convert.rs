//! Conversions between s3s DTOs and the object core: times, ETags, metadata, stored
//! headers, ranges, version ids, and the evaluation of conditional headers.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;

use s3s::dto::{ETag, ETagCondition, Metadata, Timestamp, TimestampFormat};
use s3s::{S3Error, S3ErrorCode};

use super::error::s3_err;
use crate::object::{ETagMatch, NULL_VERSION, ObjectAttrs, ObjectInfo, RangeSpec, WriteCondition};

/// Stored header names (lowercase).
pub const CACHE_CONTROL: &str = "cache-control";
pub const CONTENT_DISPOSITION: &str = "content-disposition";
pub const CONTENT_ENCODING: &str = "content-encoding";
pub const CONTENT_LANGUAGE: &str = "content-language";
pub const EXPIRES: &str = "expires";

/// A timestamp from nanoseconds since the epoch.
pub fn timestamp(ns: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64))
}

/// Whole seconds of a timestamp (HTTP dates have no fraction).
pub fn seconds(t: &Timestamp) -> Option<i64> {
    let mut buf = Vec::new();
    t.format(TimestampFormat::EpochSeconds, &mut buf).ok()?;
    let s = String::from_utf8(buf).ok()?;
    s.split('.').next()?.parse().ok()
}

/// A strong ETag.
pub fn etag(s: &str) -> ETag {
    ETag::Strong(s.to_string())
}

/// The value of an ETag (quotes removed).
pub fn etag_value(e: &ETag) -> &str {
    match e {
        ETag::Strong(s) | ETag::Weak(s) => s,
    }
}

/// User metadata as S3 returns it. s3s sends a value that is not printable ASCII as an
/// RFC 2047 encoded word, as AWS does (and decodes those a client sends); a value with
/// spaces around it is sent encoded too, which s3s leaves alone, since HTTP would drop them.
pub fn metadata(m: &BTreeMap<String, String>) -> Option<Metadata> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), kept_whole(v))).collect())
}

fn kept_whole(value: &str) -> String {
    if value.trim() == value {
        return value.to_string();
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(value);
    format!("=?UTF-8?B?{encoded}?=")
}

/// Attributes from the headers of a write (PUT, CreateMultipartUpload, CopyObject REPLACE).
pub struct WriteHeaders {
    pub content_type: Option<String>,
    pub metadata: Option<Metadata>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<Timestamp>,
}

/// The write headers of a PutObject, CreateMultipartUpload or CopyObject input (they share
/// field names).
macro_rules! write_headers {
    ($input:ident) => {
        $crate::s3::convert::WriteHeaders {
            content_type: $input.content_type.map(|c| c.to_string()),
            metadata: $input.metadata,
            cache_control: $input.cache_control,
            content_disposition: $input.content_disposition,
            content_encoding: $input.content_encoding,
            content_language: $input.content_language,
            expires: $input.expires,
        }
    };
}
pub(super) use write_headers;

impl WriteHeaders {
    /// The object attributes these headers describe (the object layer checks their size).
    pub fn into_attrs(self) -> Result<ObjectAttrs, S3Error> {
        // `aws-chunked` describes the transfer, not the object.
        let encoding = self.content_encoding.map(|e| {
            e.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
                .collect::<Vec<_>>()
                .join(",")
        });
        let mut headers = BTreeMap::new();
        for (name, value) in [
            (CACHE_CONTROL, self.cache_control),
            (CONTENT_DISPOSITION, self.content_disposition),
            (CONTENT_ENCODING, encoding.filter(|e| !e.is_empty())),
            (CONTENT_LANGUAGE, self.content_language),
        ] {
            if let Some(v) = value {
                headers.insert(name.to_string(), v);
            }
        }
        if let Some(t) = self.expires {
            let mut buf = Vec::new();
            if t.format(TimestampFormat::HttpDate, &mut buf).is_ok() {
                headers.insert(
                    EXPIRES.to_string(),
                    String::from_utf8_lossy(&buf).into_owned(),
                );
            }
        }
        Ok(ObjectAttrs {
            content_type: self.content_type.unwrap_or_default(),
            user_metadata: self
                .metadata
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            headers,
            late: Default::default(),
            versioning: Default::default(),
        })
    }
}

/// A stored header.
pub fn header(info: &ObjectInfo, name: &str) -> Option<String> {
    info.headers.get(name).cloned()
}

/// The stored Expires header as a timestamp.
pub fn expires(info: &ObjectInfo) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, info.headers.get(EXPIRES)?).ok()
}

/// The object's Content-Type (a default for objects written without one).
pub fn content_type(info: &ObjectInfo) -> Option<s3s::dto::ContentType> {
    let ct = if info.content_type.is_empty() {
        "binary/octet-stream"
    } else {
        &info.content_type
    };
    ct.parse().ok()
}

/// The byte range of an HTTP Range header, or of part `number` of the object. A part past
/// the last is InvalidPart (400, as S3); an object written by one PUT is its own part 1,
/// answered whole.
pub fn range_spec(
    range: Option<&s3s::dto::Range>,
    part_number: Option<i32>,
    info: Option<&ObjectInfo>,
) -> Result<RangeSpec, S3Error> {
    if let Some(n) = part_number {
        if range.is_some() {
            return Err(s3_err(
                S3ErrorCode::InvalidRequest,
                "Range and partNumber cannot be combined",
            ));
        }
        if !(1..=MAX_PART_NUMBER).contains(&n) {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                format!(
                    "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
                ),
            ));
        }
        let Some(info) = info else {
            return Ok(RangeSpec::Full);
        };
        let n = n as usize;
        if !is_multipart(info) && n == 1 {
            return Ok(RangeSpec::Full);
        }
        if n > info.part_sizes.len() || !is_multipart(info) {
            return Err(s3_err(
                S3ErrorCode::InvalidPart,
                format!("The object has no part {n}."),
            ));
        }
        let start: u64 = info.part_sizes[..n - 1].iter().sum();
        return Ok(RangeSpec::Bounded(start, start + info.part_sizes[n - 1]));
    }
    Ok(match range {
        None => RangeSpec::Full,
        Some(s3s::dto::Range::Int {
            first,
            last: Some(last),
        }) => RangeSpec::Bounded(*first, last.saturating_add(1)),
        Some(s3s::dto::Range::Int { first, last: None }) => RangeSpec::From(*first),
        Some(s3s::dto::Range::Suffix { length }) => RangeSpec::Suffix(*length),
    })
}

/// The most parts an object has (S3's limit).
const MAX_PART_NUMBER: i32 = 10_000;

/// Whether the object was written by a multipart upload (its ETag ends in `-N`).
pub fn is_multipart(info: &ObjectInfo) -> bool {
    info.etag.contains('-')
}

/// The `x-amz-mp-parts-count` of a read by part: multipart objects only, as S3.
pub fn parts_count(info: &ObjectInfo, part_number: Option<i32>) -> Option<i32> {
    part_number
        .filter(|_| is_multipart(info))
        .map(|_| info.parts() as i32)
}

fn matches(cond: &ETagCondition, etag: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => etag_value(e) == etag,
    }
}

/// The condition of a write's `If-Match` / `If-None-Match` headers.
pub fn write_condition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> WriteCondition {
    let to_match = |c: &ETagCondition| match c {
        ETagCondition::Any => ETagMatch::Any,
        ETagCondition::ETag(e) => ETagMatch::ETag(etag_value(e).to_string()),
    };
    WriteCondition {
        if_match: if_match.map(to_match),
        if_none_match: if_none_match.map(to_match),
    }
}

/// Conditional headers of a read.
pub struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

impl Conditions<'_> {
    /// RFC 9110 evaluation as S3 does it: If-Match / If-Unmodified-Since failing → 412;
    /// If-None-Match / If-Modified-Since failing → `Ok(false)` (a read answers 304), or 412
    /// when `on_read` is false (copy sources). `Ok(true)`: go ahead.
    pub fn check(&self, info: &ObjectInfo, on_read: bool) -> Result<bool, S3Error> {
        let mtime = info.mod_time_ns.div_euclid(1_000_000_000);
        let failed = || {
            Err(s3_err(
                S3ErrorCode::PreconditionFailed,
                "the object does not meet the request's conditions",
            ))
        };
        if let Some(c) = self.if_match {
            if !matches(c, &info.etag) {
                return failed();
            }
        } else if let Some(t) = self.if_unmodified_since.and_then(seconds)
            && mtime > t
        {
            return failed();
        }
        let unchanged = match self.if_none_match {
            Some(c) => matches(c, &info.etag),
            None => self
                .if_modified_since
                .and_then(seconds)
                .is_some_and(|t| mtime <= t),
        };
        match (unchanged, on_read) {
            (false, _) => Ok(true),
            (true, true) => Ok(false),
            (true, false) => failed(),
        }
    }
}

/// A 304 Not Modified, with the validators RFC 9110 §15.4.5 asks for.
pub fn not_modified(info: &ObjectInfo) -> S3Error {
    let mut e = S3Error::new(S3ErrorCode::NotModified);
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = format!("\"{}\"", info.etag).parse() {
        headers.insert(http::header::ETAG, v);
    }
    let mut date = Vec::new();
    if timestamp(info.mod_time_ns)
        .format(TimestampFormat::HttpDate, &mut date)
        .is_ok()
        && let Ok(v) = http::HeaderValue::from_bytes(&date)
    {
        headers.insert(http::header::LAST_MODIFIED, v);
    }
    e.set_headers(headers);
    e
}

/// Buckets are unversioned: only the version `null` exists.
pub fn check_version(version_id: Option<&str>) -> Result<(), S3Error> {
    match version_id {
        None | Some("null") => Ok(()),
        Some(_) => Err(s3_err(
            S3ErrorCode::InvalidArgument,
            "Invalid version id specified",
        )),
    }
}

/// Percent-encodes a key for `encoding-type=url` (everything but unreserved characters and `/`).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `x-amz-version-id` of an answer about `info` (none for the `null` version).
pub(super) fn version_id(info: &ObjectInfo) -> Option<String> {
    (info.version_id != NULL_VERSION).then(|| info.version_id.clone())
}
