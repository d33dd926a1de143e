//! Validation of names at the edge (DESIGN.md "On-disk format"): S3 bucket-name rules,
//! the key rules that keep every key a path inside a drive, and the bounds of the
//! attributes stored with an object (every listing reads them, so they stay small, and
//! every S3 response carries them, so they are valid header names and values).

use std::collections::BTreeMap;

use crate::drive::{OBJECT_META_FILE, RESERVED_PREFIX};
use crate::erasure::ObjectAttrs;

use super::ObjectError;

/// Most bytes of user metadata (names and values together), as in S3.
pub const MAX_USER_METADATA: usize = 2048;
/// Most bytes of everything stored beside the data: content type, standard headers and
/// user metadata (S3 bounds a request's headers at 8 KB).
pub const MAX_ATTRIBUTES: usize = 8192;

/// Attribute rules: user-metadata names are HTTP tokens; every value is a valid HTTP
/// header value (no control characters but tab); user metadata ≤ 2 KiB and everything ≤
/// 8 KiB.
pub fn check_attrs(attrs: &ObjectAttrs) -> Result<(), ObjectError> {
    check_user_metadata(&attrs.user_metadata)?;
    let mut total = attrs.content_type.len();
    check_value("Content-Type", &attrs.content_type)?;
    for (name, value) in &attrs.headers {
        check_value(name, value)?;
        total += name.len() + value.len();
    }
    total += metadata_size(&attrs.user_metadata);
    if total > MAX_ATTRIBUTES {
        return Err(ObjectError::MetadataTooLarge {
            size: total,
            limit: MAX_ATTRIBUTES,
        });
    }
    Ok(())
}

/// User-metadata rules (see [`check_attrs`]).
pub fn check_user_metadata(metadata: &BTreeMap<String, String>) -> Result<(), ObjectError> {
    for (name, value) in metadata {
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(token) {
            return Err(ObjectError::InvalidArgument(format!(
                "metadata name {:?} is not an HTTP token",
                printable(name)
            )));
        }
        check_value(name, value)?;
    }
    let size = metadata_size(metadata);
    if size > MAX_USER_METADATA {
        return Err(ObjectError::MetadataTooLarge {
            size,
            limit: MAX_USER_METADATA,
        });
    }
    Ok(())
}

fn metadata_size(metadata: &BTreeMap<String, String>) -> usize {
    metadata.iter().map(|(k, v)| k.len() + v.len()).sum()
}

fn check_value(name: &str, value: &str) -> Result<(), ObjectError> {
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(ObjectError::InvalidArgument(format!(
            "the value of {:?} holds a control character",
            printable(name)
        )));
    }
    Ok(())
}

/// Longest key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// Longest segment of a key (between slashes), in bytes.
pub const MAX_SEGMENT_LEN: usize = 255;

/// S3 bucket-name rules: 3–63 characters of lowercase letters, digits, `.` and `-`,
/// starting and ending with a letter or digit, no `..`, not shaped like an IP address,
/// not starting with `xn--` nor ending with `-s3alias`.
pub fn check_bucket_name(bucket: &str) -> Result<(), ObjectError> {
    let bad = |reason: &str| ObjectError::InvalidBucketName {
        bucket: bucket.to_string(),
        reason: reason.to_string(),
    };
    if !(3..=63).contains(&bucket.len()) {
        return Err(bad("must be 3 to 63 characters long"));
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(bad(
            "only lowercase letters, digits, '.' and '-' are allowed",
        ));
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge_ok(bucket.as_bytes()[0]) || !edge_ok(bucket.as_bytes()[bucket.len() - 1]) {
        return Err(bad("must start and end with a letter or digit"));
    }
    if bucket.contains("..") || bucket.contains(".-") || bucket.contains("-.") {
        return Err(bad("no adjacent '.' and '-' characters"));
    }
    if bucket.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(bad("must not be formatted as an IP address"));
    }
    if bucket.starts_with("xn--") || bucket.ends_with("-s3alias") {
        return Err(bad("reserved prefix or suffix"));
    }
    Ok(())
}

/// Key rules: 1..=1024 bytes of UTF-8, no NUL, no empty, `.` or `..` segment (a trailing
/// `/` is allowed: a directory marker), segments ≤ 255 bytes, no reserved segment.
pub fn check_key(key: &str) -> Result<(), ObjectError> {
    let bad = |reason: &str| ObjectError::InvalidKey {
        key: printable(key),
        reason: reason.to_string(),
    };
    if key.is_empty() {
        return Err(bad("empty key"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(ObjectError::KeyTooLong { len: key.len() });
    }
    if key.contains('\0') {
        return Err(bad("NUL character"));
    }
    let body = key.strip_suffix('/').unwrap_or(key);
    for segment in body.split('/') {
        match segment {
            "" => return Err(bad("empty path segment")),
            "." | ".." => return Err(bad("'.' or '..' path segment")),
            s if s.len() > MAX_SEGMENT_LEN => {
                return Err(ObjectError::NameTooLong {
                    segment: printable(s),
                });
            }
            s if s == OBJECT_META_FILE || s.starts_with(RESERVED_PREFIX) => {
                return Err(bad("reserved name"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A prefix (for listing) need not be a valid key, but is bounded.
pub fn check_prefix(prefix: &str) -> Result<(), ObjectError> {
    if prefix.len() > MAX_KEY_LEN {
        return Err(ObjectError::KeyTooLong { len: prefix.len() });
    }
    Ok(())
}

/// A key shortened for messages (keys may be 1 KiB of anything).
fn printable(key: &str) -> String {
    let mut s: String = key.chars().take(80).collect();
    if s.len() < key.len() {
        s.push('…');
    }
    s.escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket", "a.b.c", "b00", "x".repeat(63).as_str()] {
            assert!(check_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "Upper",
            "-abc",
            "abc-",
            "a..b",
            "a_b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            ".tessera",
            &"x".repeat(64),
            "a/b",
            "../x",
        ] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_cannot_escape_or_collide_with_reserved_names() {
        for ok in [
            "a",
            "a/b",
            "dir/",
            "a b/ü/c.txt",
            "x".repeat(255).as_str(),
            "..a",
            "a..",
        ] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a/../b",
            "./a",
            "a//b",
            "/a",
            "a\0b",
            "a/tessera.meta",
            ".tessera.dir",
            "a/.tessera.123",
            "//",
            "a/./b",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            check_key(&"k".repeat(1025)),
            Err(ObjectError::KeyTooLong { .. })
        ));
        assert!(matches!(
            check_key(&"s".repeat(256)),
            Err(ObjectError::NameTooLong { .. })
        ));
        assert!(check_key(&"a/".repeat(512)).is_ok()); // 1024 bytes exactly
    }
}
