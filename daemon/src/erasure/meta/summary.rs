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
//! 0  format u8 (1 or 2)  1  content type u8 (index in CONTENT_TYPES)  2  attributes u8 (bits)
//! 3  version id: 16 bytes (UUID)    19 ETag: 16 bytes (MD5)    35 mod time ns: i64 LE
//! 43 size varint, then per attribute bit: mode, uid, gid varints; then the times mtime,
//!    ctime and atime; then rdev as mode (the mount's times and device numbers)
//! ```
//!
//! A time is `secs` or `secs.nnnnnnnnn` in the metadata. Format 1 stores it as a zigzag
//! varint of seconds after the mod time's, then a varint of nanoseconds + 1 (0: whole
//! seconds): short for whole seconds (s3fs, tar). Format 2 stores one zigzag varint of the
//! nanoseconds after a base, shifted left once with the low bit set for the `.nnnnnnnnn`
//! form; the base is the mod time for mtime and mtime (else the mod time) for ctime and
//! atime: short for the mount's files, whose times lie microseconds to milliseconds apart.
//! [`encode`] writes whichever is shorter.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut};
use prost::encoding::{decode_varint, encode_varint};

use super::{ObjectMeta, PartMeta};
use crate::drive::metafile::SUMMARY_MAX;

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

/// The summary of `meta`, when its listing view fits one: the shorter of the two formats.
pub fn encode(meta: &ObjectMeta) -> Option<Vec<u8>> {
    let fits = |format| {
        let out = encode_as(meta, format)?;
        // Checked rather than trusted: any field the compact form would alter (a leading
        // zero, a second part, a header) makes the round trip differ.
        (out.len() <= SUMMARY_MAX && decode(&out).ok()? == listing_view(meta)).then_some(out)
    };
    match (fits(1), fits(2)) {
        (Some(a), Some(b)) => Some(if b.len() < a.len() { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// `meta` in summary format `format`, of any length.
fn encode_as(meta: &ObjectMeta, format: u8) -> Option<Vec<u8>> {
    let version = uuid::Uuid::try_parse(&meta.version_id).ok()?;
    let md5: [u8; 16] = hex::decode(&meta.etag).ok()?.try_into().ok()?;
    let content_type = CONTENT_TYPES.iter().position(|c| *c == meta.content_type)?;
    let mut attrs = 0u8;
    for key in meta.user_metadata.keys() {
        attrs |= 1 << ATTRS.iter().position(|a| a == key)?;
    }
    let mut out = Vec::with_capacity(SUMMARY_MAX);
    out.put_u8(format);
    out.put_u8(content_type as u8);
    out.put_u8(attrs);
    out.put_slice(version.as_bytes());
    out.put_slice(&md5);
    out.put_i64_le(meta.mod_time_ns);
    encode_varint(meta.size, &mut out);
    let mtime = meta.user_metadata.get("mtime").and_then(|t| time_ns(t));
    for (bit, key) in ATTRS.iter().enumerate() {
        let Some(value) = meta.user_metadata.get(*key) else {
            continue;
        };
        if (1 << bit) & TIME_BITS == 0 {
            encode_varint(value.parse::<u32>().ok()?.into(), &mut out);
        } else if format == 1 {
            let (secs, nanos) = match value.split_once('.') {
                Some((s, n)) => (s, n.parse::<u32>().ok()? as u64 + 1),
                None => (value.as_str(), 0),
            };
            let secs = secs
                .parse::<i64>()
                .ok()?
                .checked_sub(meta.mod_time_ns.div_euclid(1_000_000_000))?;
            encode_varint(zigzag(secs), &mut out);
            encode_varint(nanos, &mut out);
        } else {
            let base = time_base(key, meta.mod_time_ns, mtime);
            let after = i64::try_from(time_ns(value)? - i128::from(base)).ok()?;
            let fraction = u64::from(value.contains('.'));
            encode_varint(zigzag(after).checked_mul(2)? | fraction, &mut out);
        }
    }
    Some(out)
}

/// A time of the metadata (`secs` or `secs.nnnnnnnnn`) in nanoseconds.
fn time_ns(value: &str) -> Option<i128> {
    let (secs, nanos) = value.split_once('.').unwrap_or((value, "0"));
    Some(
        i128::from(secs.parse::<i64>().ok()?) * 1_000_000_000
            + i128::from(nanos.parse::<u32>().ok()?),
    )
}

/// What format 2 stores the time `key` after: the mod time for mtime, mtime (when there
/// is one) for the others.
fn time_base(key: &str, mod_time_ns: i64, mtime: Option<i128>) -> i64 {
    match (key, mtime.and_then(|m| i64::try_from(m).ok())) {
        ("mtime", _) | (_, None) => mod_time_ns,
        (_, Some(m)) => m,
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

/// The listing view of the metadata a summary was made from.
pub fn decode(summary: &[u8]) -> Result<ObjectMeta, String> {
    if summary.len() < FIXED_LEN || !(1..=2).contains(&summary[0]) {
        return Err("not a listing summary".into());
    }
    let mut b = summary;
    let format = b.get_u8();
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
        let value = if (1 << bit) & TIME_BITS == 0 {
            varint(&mut b)?.to_string()
        } else if format == 1 {
            let after = unzigzag(varint(&mut b)?);
            let secs = mod_time_ns.div_euclid(1_000_000_000).wrapping_add(after);
            match varint(&mut b)? {
                0 => secs.to_string(),
                n => format!("{secs}.{:09}", n - 1),
            }
        } else {
            let stored = varint(&mut b)?;
            let mtime = user_metadata.get("mtime").and_then(|t: &String| time_ns(t));
            let base = time_base(key, mod_time_ns, mtime);
            let t = i128::from(base) + i128::from(unzigzag(stored >> 1));
            let (secs, nanos) = (t.div_euclid(1_000_000_000), t.rem_euclid(1_000_000_000));
            match stored & 1 {
                1 => format!("{secs}.{nanos:09}"),
                _ if nanos == 0 => secs.to_string(),
                _ => return Err("a whole-second time with nanoseconds".into()),
            }
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
    fn a_file_the_mount_wrote_fits_with_its_atime_a_moment_before_its_mtime() {
        // Created, then written: atime is the create, mtime the last write, the mod time
        // the server's commit a little later.
        let mut m = meta(&[
            ("mode", "33188"),
            ("uid", "1000"),
            ("gid", "1000"),
            ("mtime", "1764000000.120456789"),
            ("atime", "1764000000.120356001"),
        ]);
        m.size = 900_000;
        m.parts[0].size = m.size;
        let summary = encode(&m).expect("fits");
        assert_eq!(summary[0], 2, "the nanosecond form is shorter");
        assert_eq!(decode(&summary).unwrap(), listing_view(&m));
        assert_eq!(encode_as(&m, 1).map(|s| s.len() > SUMMARY_MAX), Some(true));
        // Times far from the mod time in whole seconds (tar's): the seconds form.
        let m = meta(&[("mtime", "1500000000"), ("atime", "1500000007")]);
        let summary = encode(&m).expect("fits");
        assert_eq!(summary[0], 1);
        assert_eq!(decode(&summary).unwrap(), listing_view(&m));
        // Either form, any sign, whole or not: what decodes is what was stored.
        for (mtime, ctime) in [
            ("1764000000.123456789", "1763999999"),
            ("1764000001", "1764000001.000000000"),
            ("-3.5", "-3"),
            ("1764000000.999999999", "1764000001.000000001"),
        ] {
            let m = meta(&[("mtime", mtime), ("ctime", ctime)]);
            for format in [1, 2] {
                let Some(s) = encode_as(&m, format) else {
                    continue;
                };
                let back = decode(&s);
                if back.as_ref().is_ok_and(|b| *b == listing_view(&m)) {
                    continue;
                }
                // A form that cannot hold it must not be taken: encode checks.
                assert!(
                    encode(&m).is_none_or(|e| e != s),
                    "{mtime} {ctime} format {format}"
                );
            }
            if let Some(s) = encode(&m) {
                assert_eq!(decode(&s).unwrap(), listing_view(&m), "{mtime} {ctime}");
            }
        }
    }

    #[test]
    fn garbage_is_refused_not_misread() {
        let summary = encode(&meta(&[("mode", "33188")])).unwrap();
        assert!(decode(&summary[..summary.len() - 1]).is_err());
        let mut longer = summary.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut other = summary.clone();
        other[0] = 3;
        assert!(decode(&other).is_err());
        assert!(decode(b"").is_err());
    }
}
