//! The container of `tessera.meta`: a fixed prefix, a header (the object's metadata, encoded
//! by the erasure layer), an optional listing summary of the header, and the inline data of
//! small objects.
//!
//! ```text
//! 0  magic "TSMF"      4  version u16 (2)   6  summary_len u16 (version 1: reserved, 0)
//! 8  header_len u32    12 header+summary xxh3 u64
//! 20 inline_len u64    28 inline xxh3 u64
//! 36 header bytes, then summary bytes, then inline bytes
//! ```
//! Invariant: a decoded header, summary or inline payload has passed its checksum. The
//! header comes first so a listing reads only the start of the file. The summary (at most
//! [`SUMMARY_MAX`] bytes, opaque here like the header) is what a local drive keeps beside
//! the file in an extended attribute of the object's directory
//! (`drive::local::summary`). A new layout gets a new version number and a decoder for
//! the old one here.

use bytes::{BufMut, Bytes, BytesMut};
use xxhash_rust::xxh3::xxh3_64;

const MAGIC: &[u8; 4] = b"TSMF";
const VERSION: u16 = 2;
/// Bytes before the header.
pub const PREFIX_LEN: usize = 36;
/// The longest summary: with its checksum it fits in the room ext4 leaves for extended
/// attributes inside a 256-byte inode, so reading it costs no disk read of its own.
pub const SUMMARY_MAX: usize = 60;

/// Encodes a metadata file; `summary` is empty or at most [`SUMMARY_MAX`] bytes.
pub fn encode(header: &[u8], summary: &[u8], inline: &[u8]) -> Bytes {
    assert!(
        summary.len() <= SUMMARY_MAX,
        "summary of {} bytes",
        summary.len()
    );
    let len = PREFIX_LEN + header.len() + summary.len() + inline.len();
    let mut out = BytesMut::with_capacity(len);
    out.put_slice(MAGIC);
    out.put_u16_le(VERSION);
    out.put_u16_le(summary.len() as u16);
    out.put_u32_le(header.len() as u32);
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(header);
    hasher.update(summary);
    out.put_u64_le(hasher.digest());
    out.put_u64_le(inline.len() as u64);
    out.put_u64_le(xxh3_64(inline));
    out.put_slice(header);
    out.put_slice(summary);
    out.put_slice(inline);
    out.freeze()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Length of the summary, from a prefix of a known version (version 1 has none).
fn summary_len(prefix: &[u8]) -> usize {
    match u16::from_le_bytes([prefix[4], prefix[5]]) {
        1 => 0,
        _ => u16::from_le_bytes([prefix[6], prefix[7]]) as usize,
    }
}

/// How many bytes from the start hold the prefix, the header and the summary, once the
/// prefix is known.
pub fn header_len(start: &[u8]) -> Option<usize> {
    (start.len() >= PREFIX_LEN).then(|| PREFIX_LEN + u32_at(start, 8) as usize + summary_len(start))
}

fn check_prefix(b: &[u8]) -> Result<(), String> {
    if b.len() < PREFIX_LEN {
        return Err(format!("metadata file too short ({} bytes)", b.len()));
    }
    if &b[..4] != MAGIC {
        return Err("bad magic".into());
    }
    let version = u16::from_le_bytes([b[4], b[5]]);
    if version != 1 && version != VERSION {
        return Err(format!("unknown metadata version {version}"));
    }
    if summary_len(b) > SUMMARY_MAX {
        return Err("summary too long".into());
    }
    Ok(())
}

/// The verified header and summary (empty when there is none) of a file's start.
fn checked_header(file: &Bytes) -> Result<(Bytes, Bytes), String> {
    check_prefix(file)?;
    let len = u32_at(file, 8) as usize;
    let end = PREFIX_LEN + len + summary_len(file);
    if file.len() < end {
        return Err("truncated header".into());
    }
    if xxh3_64(&file[PREFIX_LEN..end]) != u64_at(file, 12) {
        return Err("header checksum mismatch".into());
    }
    Ok((
        file.slice(PREFIX_LEN..PREFIX_LEN + len),
        file.slice(PREFIX_LEN + len..end),
    ))
}

/// True for a torn file: empty or all zeros, what a crash leaves of a file renamed into
/// place before its data reached the disk (a [`super::Target::Fresh`] write that never
/// returned). It stands for no file at all; a file that fails its checks otherwise is
/// corrupt.
pub fn is_torn(file: &[u8]) -> bool {
    file.iter().all(|&b| b == 0)
}

/// The verified header from (at least) the start of a metadata file.
pub fn strip_inline(start: Bytes) -> Result<Bytes, String> {
    checked_header(&start).map(|(header, _)| header)
}

/// The verified summary of a metadata file, from (at least) its start; `None` for a file
/// without one.
pub fn summary(start: &Bytes) -> Result<Option<Bytes>, String> {
    let (_, summary) = checked_header(start)?;
    Ok((!summary.is_empty()).then_some(summary))
}

/// The verified header and inline data of a whole metadata file.
pub fn decode(file: Bytes) -> Result<(Bytes, Bytes), String> {
    let (header, inline) = decode_for_frames(file.clone())?;
    if xxh3_64(&inline) != u64_at(&file, 28) {
        return Err("inline data checksum mismatch".into());
    }
    Ok((header, inline))
}

/// The verified header and the inline data of its length, unhashed: for reads of objects,
/// whose inline frames each carry a checksum the erasure decode checks (a frame that fails
/// it is a lost shard, and its object is healed), so hashing every drive's whole inline
/// section again would only repeat that for the frames read.
pub fn decode_for_frames(file: Bytes) -> Result<(Bytes, Bytes), String> {
    let (header, summary) = checked_header(&file)?;
    let start = PREFIX_LEN + header.len() + summary.len();
    let inline_len = usize::try_from(u64_at(&file, 20)).map_err(|_| "inline too large")?;
    if file.len() != start + inline_len {
        return Err("inline data length mismatch".into());
    }
    Ok((header, file.slice(start..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_flipped_bytes() {
        let file = encode(b"header", b"sum", b"inline data");
        let (h, i) = decode(file.clone()).unwrap();
        assert_eq!((&h[..], &i[..]), (&b"header"[..], &b"inline data"[..]));
        let start = file.slice(..PREFIX_LEN + 9);
        assert_eq!(strip_inline(start.clone()).unwrap(), h);
        assert_eq!(summary(&start).unwrap().as_deref(), Some(&b"sum"[..]));
        assert_eq!(header_len(&file), Some(PREFIX_LEN + 9));
        for at in [0, 4, 6, 13, PREFIX_LEN + 1, PREFIX_LEN + 7, file.len() - 1] {
            let mut bad = file.to_vec();
            bad[at] ^= 0x40;
            assert!(decode(Bytes::from(bad)).is_err(), "flip at {at} undetected");
        }
        assert!(decode(file.slice(..file.len() - 1)).is_err());
        assert_eq!(summary(&encode(b"header", b"", b"x")).unwrap(), None);
    }

    #[test]
    fn version_1_files_still_decode() {
        let (header, inline) = (&b"old header"[..], &b"inline"[..]);
        let mut v1 = Vec::new();
        v1.extend_from_slice(b"TSMF\x01\x00\x00\x00");
        v1.extend_from_slice(&(header.len() as u32).to_le_bytes());
        v1.extend_from_slice(&xxh3_64(header).to_le_bytes());
        v1.extend_from_slice(&(inline.len() as u64).to_le_bytes());
        v1.extend_from_slice(&xxh3_64(inline).to_le_bytes());
        v1.extend_from_slice(header);
        v1.extend_from_slice(inline);
        let v1 = Bytes::from(v1);
        let (h, i) = decode(v1.clone()).unwrap();
        assert_eq!((&h[..], &i[..]), (header, inline));
        assert_eq!(summary(&v1).unwrap(), None);
    }

    #[test]
    fn only_empty_or_zero_filled_files_are_torn() {
        assert!(is_torn(b""));
        assert!(is_torn(&[0; 4096]));
        assert!(!is_torn(&encode(b"", b"", b"")));
        let mut one_byte = [0; 64];
        one_byte[63] = 1;
        assert!(!is_torn(&one_byte));
    }
}
