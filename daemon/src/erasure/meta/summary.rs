//! The listing summary of an object version: the fields a listing returns, packed into at
//! most [`SUMMARY_MAX`] bytes so a drive can keep it in the object directory's inode (see
//! [`crate::drive::metafile`]) and answer a listing without opening `tessera.meta`.
//!
//! Invariant: a summary exists only when it decodes to exactly the listing view of its
//! metadata ([`listing_view`]); [`encode`] checks this itself, so a version whose fields do
//! not fit the compact form (a multipart ETag, custom metadata, a long Content-Type) simply
//! has no summary and is listed from its metadata file.
//!
//! ```text
//! 0  format u8 (1)     1  content type u8 (index in CONTENT_TYPES)   2  attributes u8 (bits)
//! 3  version id: 16 bytes (UUID)    19 ETag: 16 bytes (MD5)    35 mod time ns: i64 LE
//! 43 size varint, then per attribute bit: mode, uid, gid varints; mtime as a zigzag varint
//!    of seconds after the mod time's, then a varint of nanoseconds + 1 (0: whole seconds);
//!    then ctime and atime as mtime, rdev as mode (the mount's times and device numbers)
//! ```

use std::collections::BTreeMap;

use bytes::{Buf, BufMut};
use prost::encoding::{decode_varint, encode_varint};

use super::{ObjectMeta, PartMeta};
use crate::drive::metafile::SUMMARY_MAX;

const FORMAT: u8 = 1;
/// Content types a summary can name, by index.
const CONTENT_TYPES: [&str; 3] = ["", "binary/octet-stream", "application/octet-stream"];
/// The POSIX attributes of user metadata (the FUSE client's and s3fs's keys), by bit.
const ATTRS: [&str; 7] = ["mode", "uid", "gid", "mtime", "ctime", "atime", "rdev"];
/// The bits of `ATTRS` that are times (seconds with optional nanoseconds).
const TIME_BITS: u8 = 1 << 3 | 1 << 4 | 1 << 5;
const FIXED_LEN: usize = 43;

/// What a listing knows of `meta`: everything but the drive's erasure geometry, the name
/// of its data directory and the stored headers (checksums, `cache-control`…: no listing
/// answers them; a HEAD or GET does).
pub fn listing_view(meta: &ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        erasure: None,
        data_dir: String::new(),
        headers: BTreeMap::new(),
        ..meta.clone()
    }
}

/// The summary of `meta`, when its listing view fits one.
pub fn encode(meta: &ObjectMeta) -> Option<Vec<u8>> {
    let version = uuid::Uuid::try_parse(&meta.version_id).ok()?;
    let md5: [u8; 16] = hex::decode(&meta.etag).ok()?.try_into().ok()?;
    let content_type = CONTENT_TYPES.iter().position(|c| *c == meta.content_type)?;
    let mut attrs = 0u8;
    for key in meta.user_metadata.keys() {
        attrs |= 1 << ATTRS.iter().position(|a| a == key)?;
    }
    let mut out = Vec::with_capacity(SUMMARY_MAX);
    out.put_u8(FORMAT);
    out.put_u8(content_type as u8);
    out.put_u8(attrs);
    out.put_slice(version.as_bytes());
    out.put_slice(&md5);
    out.put_i64_le(meta.mod_time_ns);
    encode_varint(meta.size, &mut out);
    for (bit, key) in ATTRS.iter().enumerate() {
        let Some(value) = meta.user_metadata.get(*key) else {
            continue;
        };
        if (1 << bit) & TIME_BITS != 0 {
            let (secs, nanos) = match value.split_once('.') {
                Some((s, n)) => (s, n.parse::<u32>().ok()? as u64 + 1),
                None => (value.as_str(), 0),
            };
            let secs = secs
                .parse::<i64>()
                .ok()?
                .checked_sub(meta.mod_time_ns.div_euclid(1_000_000_000))?;
            encode_varint(((secs << 1) ^ (secs >> 63)) as u64, &mut out);
            encode_varint(nanos, &mut out);
        } else {
            encode_varint(value.parse::<u32>().ok()?.into(), &mut out);
        }
    }
    // Checked rather than trusted: any field the compact form would alter (a leading zero,
    // a second part, a header) makes the round trip differ.
    (out.len() <= SUMMARY_MAX && decode(&out).ok()? == listing_view(meta)).then_some(out)
}

/// The listing view of the metadata a summary was made from.
pub fn decode(summary: &[u8]) -> Result<ObjectMeta, String> {
    if summary.len() < FIXED_LEN || summary[0] != FORMAT {
        return Err("not a listing summary".into());
    }
    let mut b = summary;
    let _format = b.get_u8();
    let content_type = CONTENT_TYPES
        .get(b.get_u8() as usize)
        .ok_or("unknown content type")?;
    let attrs = b.get_u8();
    let version = uuid::Uuid::from_slice(&b[..16]).map_err(|e| e.to_string())?;
    let etag = hex::encode(&b[16..32]);
    b.advance(32);
    let mod_time_ns = b.get_i64_le();
    let varint = |b: &mut &[u8]| decode_varint(b).map_err(|e| e.to_string());
    let size = varint(&mut b)?;
    let mut user_metadata = BTreeMap::new();
    for (bit, key) in ATTRS.iter().enumerate() {
        if attrs & (1 << bit) == 0 {
            continue;
        }
        let value = if (1 << bit) & TIME_BITS != 0 {
            let zigzag = varint(&mut b)?;
            let after = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
            let secs = mod_time_ns.div_euclid(1_000_000_000).wrapping_add(after);
            match varint(&mut b)? {
                0 => secs.to_string(),
                n => format!("{secs}.{:09}", n - 1),
            }
        } else {
            varint(&mut b)?.to_string()
        };
        user_metadata.insert(key.to_string(), value);
    }
    if !b.is_empty() || attrs >> ATTRS.len() != 0 {
        return Err("malformed listing summary".into());
    }
    Ok(ObjectMeta {
        version_id: version.hyphenated().to_string(),
        size,
        mod_time_ns,
        parts: vec![PartMeta {
            number: 1,
            size,
            etag: etag.clone(),
            ..Default::default()
        }],
        etag,
        content_type: content_type.to_string(),
        user_metadata,
        headers: BTreeMap::new(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(user: &[(&str, &str)]) -> ObjectMeta {
        let etag = "9e107d9d372bb6826bd81d3542a419d6".to_string();
        ObjectMeta {
            version_id: uuid::Uuid::new_v4().to_string(),
            size: 1234,
            mod_time_ns: 1_764_000_000_123_456_789,
            parts: vec![PartMeta {
                number: 1,
                size: 1234,
                etag: etag.clone(),
                ..Default::default()
            }],
            etag,
            user_metadata: user
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            data_dir: "d".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_file_of_the_mount_round_trips_within_the_budget() {
        let attrs = [
            ("mode", "33188"),
            ("uid", "65534"),
            ("gid", "1000"),
            ("mtime", "1763999999.000000001"),
        ];
        let mut m = meta(&attrs);
        m.size = 5 << 30;
        m.parts[0].size = m.size;
        m.content_type = "binary/octet-stream".into();
        let summary = encode(&m).expect("fits");
        assert!(summary.len() <= SUMMARY_MAX, "{} bytes", summary.len());
        assert_eq!(decode(&summary).unwrap(), listing_view(&m));
        m.size = u64::MAX;
        m.parts[0].size = m.size;
        assert_eq!(encode(&m), None, "over the budget: no summary");
        for mtime in ["1764000000", "-5", "1764000000.5", "0.000000000"] {
            let m = meta(&[("mtime", mtime)]);
            let back = encode(&m).map(|s| decode(&s).unwrap());
            match mtime {
                // Not in the `.{nanoseconds:09}` form: no summary rather than another value.
                "1764000000.5" => assert_eq!(back, None),
                _ => assert_eq!(back, Some(listing_view(&m)), "{mtime}"),
            }
        }
    }

    #[test]
    fn what_the_compact_form_cannot_hold_gets_no_summary() {
        let plain = meta(&[]);
        assert!(encode(&plain).is_some());
        let mut cases = Vec::new();
        cases.push(meta(&[("color", "red")]));
        cases.push(meta(&[("mode", "0644")]));
        cases.push(meta(&[("uid", "-1")]));
        let mut m = plain.clone();
        m.content_type = "text/plain".into();
        cases.push(m);
        let mut m = plain.clone();
        m.etag = format!("{}-2", plain.etag);
        cases.push(m);
        let mut m = plain.clone();
        m.parts[0].number = 2;
        cases.push(m);
        let mut m = plain.clone();
        m.version_id = "v1".into();
        cases.push(m);
        for m in cases {
            assert_eq!(encode(&m), None, "{m:?}");
        }
        // Stored headers (an SDK's default checksum) are no listing's business: the
        // summary leaves them out.
        let mut m = plain.clone();
        m.headers
            .insert("x-amz-checksum-crc32".into(), "AAAAAA==".into());
        let summary = encode(&m).expect("a summary");
        assert_eq!(decode(&summary).unwrap(), listing_view(&plain));
    }

    #[test]
    fn the_mounts_times_and_device_numbers_fit_when_small() {
        let attrs = [
            ("mode", "8630"),
            ("mtime", "1764000000"),
            ("ctime", "1764000001"),
            ("atime", "1764000000.500000000"),
            ("rdev", "2049"),
        ];
        let m = meta(&attrs);
        let summary = encode(&m).expect("fits");
        assert_eq!(decode(&summary).unwrap(), listing_view(&m));
    }

    #[test]
    fn garbage_is_refused_not_misread() {
        let summary = encode(&meta(&[("mode", "33188")])).unwrap();
        assert!(decode(&summary[..summary.len() - 1]).is_err());
        let mut longer = summary.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut other = summary.clone();
        other[0] = 2;
        assert!(decode(&other).is_err());
        assert!(decode(b"").is_err());
    }
}
