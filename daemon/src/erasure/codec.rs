//! Reed-Solomon coding of one block into framed shards, and back.
//!
//! A block of `len` bytes becomes k data shards of `len.div_ceil(k)` bytes (the last one
//! zero-padded) and m parity shards of the same length. Every shard travels as a *frame*:
//! an 8-byte little-endian xxh3-64 checksum of the shard, then the shard. A frame whose
//! checksum fails is a lost shard, never data. Memory: one block's frames.

use bytes::{BufMut, Bytes, BytesMut};
use reed_solomon_erasure::galois_8::ReedSolomon;
use xxhash_rust::xxh3::xxh3_64;

use super::error::ErasureError;

/// Bytes of checksum in front of every shard.
pub const CHECKSUM_LEN: usize = 8;
/// Bytes of each shard encoded at a time (keeps k+m slices within the L2 cache).
const ENCODE_SLICE: usize = 8 << 10;
/// The checksum algorithm recorded in object metadata.
pub const CHECKSUM_ALGORITHM: &str = "xxh3-64";

/// Encoder and decoder for one k+m geometry.
pub struct Codec {
    data: usize,
    parity: usize,
    rs: Option<ReedSolomon>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Codec({}+{})", self.data, self.parity)
    }
}

impl Codec {
    /// A codec for `data` + `parity` shards (parity may be 0: plain striping).
    pub fn new(data: usize, parity: usize) -> Result<Self, ErasureError> {
        let rs = if parity == 0 {
            None
        } else {
            Some(
                ReedSolomon::new(data, parity).map_err(|e| ErasureError::Geometry {
                    reason: format!("{data}+{parity}: {e:?}"),
                })?,
            )
        };
        if data == 0 {
            return Err(ErasureError::Geometry {
                reason: "no data shards".into(),
            });
        }
        Ok(Self { data, parity, rs })
    }

    /// Data shards per block.
    pub fn data_shards(&self) -> usize {
        self.data
    }

    /// Parity shards per block.
    pub fn parity_shards(&self) -> usize {
        self.parity
    }

    /// All shards per block.
    pub fn total_shards(&self) -> usize {
        self.data + self.parity
    }

    /// Length of each shard of a block of `block_len` bytes.
    pub fn shard_len(&self, block_len: usize) -> usize {
        block_len.div_ceil(self.data)
    }

    /// Encodes a block into k+m frames.
    pub fn encode_block(&self, block: &[u8]) -> Result<Vec<Bytes>, ErasureError> {
        let shard_len = self.shard_len(block.len());
        let frame_len = CHECKSUM_LEN + shard_len;
        // Data is copied in once; only checksum slots, padding and parity are zeroed.
        let mut buf = BytesMut::with_capacity(frame_len * self.total_shards());
        for i in 0..self.data {
            let from = (i * shard_len).min(block.len());
            let to = ((i + 1) * shard_len).min(block.len());
            buf.put_bytes(0, CHECKSUM_LEN);
            buf.put_slice(&block[from..to]);
            buf.put_bytes(0, shard_len - (to - from));
        }
        buf.put_bytes(0, frame_len * self.parity);
        let mut frames: Vec<&mut [u8]> = buf.chunks_mut(frame_len).collect();
        if let Some(rs) = self.rs.as_ref().filter(|_| shard_len > 0) {
            // The code works byte position by byte position, so encoding column slices of
            // every shard gives the same parity while the working set stays in L2.
            let mut at = CHECKSUM_LEN;
            while at < frame_len {
                let end = (at + ENCODE_SLICE).min(frame_len);
                let mut columns: Vec<&mut [u8]> =
                    frames.iter_mut().map(|f| &mut f[at..end]).collect();
                rs.encode(&mut columns)
                    .map_err(|e| ErasureError::Geometry {
                        reason: format!("encode: {e:?}"),
                    })?;
                at = end;
            }
        }
        for frame in &mut frames {
            let sum = xxh3_64(&frame[CHECKSUM_LEN..]);
            frame[..CHECKSUM_LEN].copy_from_slice(&sum.to_le_bytes());
        }
        let mut buf = buf.freeze();
        let mut out = Vec::with_capacity(self.total_shards());
        for _ in 0..self.total_shards() {
            out.push(buf.split_to(frame_len));
        }
        Ok(out)
    }

    /// Rebuilds the missing data shards (unframed) of a block; at least k must be present.
    pub fn reconstruct_data(&self, shards: &mut [Option<Vec<u8>>]) -> Result<(), ErasureError> {
        let present = shards.iter().filter(|s| s.is_some()).count();
        if present < self.data {
            return Err(ErasureError::TooFewShards {
                have: present,
                need: self.data,
            });
        }
        match &self.rs {
            Some(rs) => rs
                .reconstruct_data(shards)
                .map_err(|e| ErasureError::Geometry {
                    reason: format!("reconstruct: {e:?}"),
                }),
            None => Ok(()),
        }
    }
}

/// The shard inside a frame when its checksum holds.
pub fn verify_frame(frame: &[u8]) -> Option<&[u8]> {
    if frame.len() < CHECKSUM_LEN {
        return None;
    }
    let (sum, shard) = frame.split_at(CHECKSUM_LEN);
    let mut expected = [0u8; 8];
    expected.copy_from_slice(sum);
    (xxh3_64(shard) == u64::from_le_bytes(expected)).then_some(shard)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn decode(codec: &Codec, frames: &[Option<Bytes>], len: usize) -> Vec<u8> {
        let mut shards: Vec<Option<Vec<u8>>> = frames
            .iter()
            .map(|f| f.as_ref().and_then(|f| verify_frame(f)).map(<[u8]>::to_vec))
            .collect();
        codec.reconstruct_data(&mut shards).unwrap();
        let mut out: Vec<u8> = shards[..codec.data_shards()]
            .iter()
            .flat_map(|s| s.clone().unwrap())
            .collect();
        out.truncate(len);
        out
    }

    #[test]
    fn blocks_round_trip_with_parity_shards_lost() {
        for (k, m) in [(1, 0), (2, 2), (4, 2), (8, 4), (12, 4)] {
            let codec = Codec::new(k, m).unwrap();
            for len in [1, k - 1, k, k + 1, 1000, 1 << 20]
                .into_iter()
                .filter(|&l| l > 0)
            {
                let block = pattern(len);
                let mut frames: Vec<Option<Bytes>> = codec
                    .encode_block(&block)
                    .unwrap()
                    .into_iter()
                    .map(Some)
                    .collect();
                // Lose the first m shards (data shards: the hard case).
                for f in frames.iter_mut().take(m) {
                    *f = None;
                }
                assert_eq!(decode(&codec, &frames, len), block, "{k}+{m} len {len}");
            }
        }
    }

    #[test]
    fn an_empty_block_encodes_to_empty_frames() {
        let frames = Codec::new(2, 2).unwrap().encode_block(&[]).unwrap();
        assert_eq!(frames.len(), 4);
        assert!(frames.iter().all(|f| verify_frame(f) == Some(&[][..])));
    }

    #[test]
    fn checksum_mismatch_is_detected() {
        let codec = Codec::new(2, 2).unwrap();
        let frames = codec.encode_block(&pattern(4096)).unwrap();
        assert!(verify_frame(&frames[0]).is_some());
        let mut bad = frames[0].to_vec();
        bad[100] ^= 1;
        assert!(verify_frame(&bad).is_none());
        let mut bad_sum = frames[1].to_vec();
        bad_sum[0] ^= 1;
        assert!(verify_frame(&bad_sum).is_none());
    }

    #[test]
    fn too_few_shards_is_an_error_not_data() {
        let codec = Codec::new(2, 2).unwrap();
        let frames = codec.encode_block(&pattern(100)).unwrap();
        let mut shards: Vec<Option<Vec<u8>>> =
            vec![None, None, None, Some(frames[3][8..].to_vec())];
        assert!(matches!(
            codec.reconstruct_data(&mut shards),
            Err(ErasureError::TooFewShards { have: 1, need: 2 })
        ));
    }
}
