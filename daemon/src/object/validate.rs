//! Validation of names at the edge (DESIGN.md "On-disk format"): S3 bucket-name rules and
//! the key rules that keep every key a path inside a drive.

use crate::drive::{OBJECT_META_FILE, RESERVED_PREFIX};

use super::ObjectError;

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
