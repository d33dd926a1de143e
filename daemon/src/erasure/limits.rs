//! The fixed sizes of the erasure format and of multipart uploads.

/// Size of an erasure block.
pub const BLOCK_SIZE: usize = 1 << 20;
/// Objects up to this size are stored inline in `tessera.meta`.
pub const INLINE_LIMIT: usize = 128 << 10;
/// Smallest part of a multipart upload, except the last.
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// Highest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;
