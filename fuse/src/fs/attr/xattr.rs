//! Extended attributes in object metadata, as s3fs keeps them: one user-metadata entry
//! `xattr` whose value is a JSON object of name → base64 of the value, percent-encoded
//! (every byte but `A–Z a–z 0–9 - . _ ~`), so the value is a valid HTTP header whatever
//! the names hold. Either client reads the other's attributes; a value that does not
//! parse reads as no attributes (and is replaced by the next change).
//!
//! Only the `user.` namespace is stored; [`Namespace`] says what the others answer.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// User-metadata key of the extended attributes.
pub const XATTR: &str = "xattr";

/// Extended attributes by name.
pub type Xattrs = BTreeMap<String, Vec<u8>>;

/// Bytes percent-encoding leaves as they are: RFC 3986's unreserved characters.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The stored form of `xattrs` (`None` when there are none: no entry is stored).
pub fn encode(xattrs: &Xattrs) -> Option<String> {
    if xattrs.is_empty() {
        return None;
    }
    let json: serde_json::Map<String, serde_json::Value> = xattrs
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(STANDARD.encode(v))))
        .collect();
    let json = serde_json::Value::Object(json).to_string();
    Some(utf8_percent_encode(&json, KEEP).to_string())
}

/// The attributes of a stored `xattr` value (s3fs's or ours); empty when it does not
/// parse.
pub fn decode(stored: &str) -> Xattrs {
    let Ok(json) = percent_decode_str(stored).decode_utf8() else {
        return Xattrs::new();
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&json) else {
        return Xattrs::new();
    };
    map.into_iter()
        .filter_map(|(k, v)| {
            let v = STANDARD.decode(v.as_str()?).ok()?;
            Some((k, v))
        })
        .collect()
}

/// What a name's namespace answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// `user.*`: stored with the object.
    User,
    /// Everything else (`security.*`, `trusted.*`, `system.posix_acl_*`, …): not
    /// supported, answered ENOTSUP without a word in the log.
    Unsupported,
}

/// The namespace of the attribute `name`.
pub fn namespace(name: &str) -> Namespace {
    match name.strip_prefix("user.") {
        Some(rest) if !rest.is_empty() => Namespace::User,
        _ => Namespace::Unsupported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_through_the_stored_form() {
        let mut x = Xattrs::new();
        x.insert("user.a".into(), b"value".to_vec());
        x.insert("user.\"odd\" name %".into(), vec![0, 255, b'\n']);
        x.insert("user.empty".into(), Vec::new());
        let stored = encode(&x).expect("some");
        assert!(
            stored
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "{stored}"
        );
        assert_eq!(decode(&stored), x);
        assert_eq!(encode(&Xattrs::new()), None);
    }

    #[test]
    fn s3fs_values_and_garbage_are_read() {
        // What s3fs writes for user.color=blue.
        let s3fs = "%7B%22user.color%22%3A%22Ymx1ZQ%3D%3D%22%7D";
        assert_eq!(
            decode(s3fs).get("user.color").map(Vec::as_slice),
            Some(&b"blue"[..])
        );
        assert_eq!(
            decode(r#"{"user.color":"Ymx1ZQ=="}"#).len(),
            1,
            "not encoded"
        );
        assert!(decode("%7Bnot json").is_empty());
        assert!(decode("%FF%FE").is_empty());
    }

    #[test]
    fn only_the_user_namespace_is_stored() {
        assert_eq!(namespace("user.x"), Namespace::User);
        for n in [
            "user.",
            "security.selinux",
            "trusted.x",
            "system.posix_acl_access",
            "x",
        ] {
            assert_eq!(namespace(n), Namespace::Unsupported, "{n}");
        }
    }
}
