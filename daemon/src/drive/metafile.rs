//! The container of `tessera.meta`: a fixed prefix, a header (the object's metadata, encoded
//! by the erasure layer) and the inline data of small objects.
//!
//! ```text
//! 0  magic "TSMF"      4  version u16 (1)   6  reserved u16
//! 8  header_len u32    12 header xxh3 u64
//! 20 inline_len u64    28 inline xxh3 u64
//! 36 header bytes, then inline bytes
//! ```
//! Invariant: a decoded header or inline payload has passed its checksum. The header comes
//! first so a listing reads only the start of the file. A new layout gets a new version
//! number and a decoder for the old one here.

use bytes::{BufMut, Bytes, BytesMut};
use xxhash_rust::xxh3::xxh3_64;

const MAGIC: &[u8; 4] = b"TSMF";
const VERSION: u16 = 1;
/// Bytes before the header.
pub const PREFIX_LEN: usize = 36;

/// Encodes a metadata file.
pub fn encode(header: &[u8], inline: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(PREFIX_LEN + header.len() + inline.len());
    out.put_slice(MAGIC);
    out.put_u16_le(VERSION);
    out.put_u16_le(0);
    out.put_u32_le(header.len() as u32);
    out.put_u64_le(xxh3_64(header));
    out.put_u64_le(inline.len() as u64);
    out.put_u64_le(xxh3_64(inline));
    out.put_slice(header);
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

/// How many bytes from the start hold the prefix and the header, once the prefix is known.
pub fn header_len(start: &[u8]) -> Option<usize> {
    (start.len() >= PREFIX_LEN).then(|| PREFIX_LEN + u32_at(start, 8) as usize)
}

fn check_prefix(b: &[u8]) -> Result<(), String> {
    if b.len() < PREFIX_LEN {
        return Err(format!("metadata file too short ({} bytes)", b.len()));
    }
    if &b[..4] != MAGIC {
        return Err("bad magic".into());
    }
    let version = u16::from_le_bytes([b[4], b[5]]);
    if version != VERSION {
        return Err(format!("unknown metadata version {version}"));
    }
    Ok(())
}

fn checked_header(file: &Bytes) -> Result<Bytes, String> {
    check_prefix(file)?;
    let len = u32_at(file, 8) as usize;
    let end = PREFIX_LEN + len;
    if file.len() < end {
        return Err("truncated header".into());
    }
    let header = file.slice(PREFIX_LEN..end);
    if xxh3_64(&header) != u64_at(file, 12) {
        return Err("header checksum mismatch".into());
    }
    Ok(header)
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
    checked_header(&start)
}

/// The verified header and inline data of a whole metadata file.
pub fn decode(file: Bytes) -> Result<(Bytes, Bytes), String> {
    let header = checked_header(&file)?;
    let start = PREFIX_LEN + header.len();
    let inline_len = usize::try_from(u64_at(&file, 20)).map_err(|_| "inline too large")?;
    if file.len() != start + inline_len {
        return Err("inline data length mismatch".into());
    }
    let inline = file.slice(start..);
    if xxh3_64(&inline) != u64_at(&file, 28) {
        return Err("inline data checksum mismatch".into());
    }
    Ok((header, inline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_flipped_bytes() {
        let file = encode(b"header", b"inline data");
        let (h, i) = decode(file.clone()).unwrap();
        assert_eq!((&h[..], &i[..]), (&b"header"[..], &b"inline data"[..]));
        assert_eq!(strip_inline(file.slice(..PREFIX_LEN + 6)).unwrap(), h);
        for at in [0, 13, PREFIX_LEN + 1, file.len() - 1] {
            let mut bad = file.to_vec();
            bad[at] ^= 0x40;
            assert!(decode(Bytes::from(bad)).is_err(), "flip at {at} undetected");
        }
        assert!(decode(file.slice(..file.len() - 1)).is_err());
    }

    #[test]
    fn only_empty_or_zero_filled_files_are_torn() {
        assert!(is_torn(b""));
        assert!(is_torn(&[0; 4096]));
        assert!(!is_torn(&encode(b"", b"")));
        let mut one_byte = [0; 64];
        one_byte[63] = 1;
        assert!(!is_torn(&one_byte));
    }
}
