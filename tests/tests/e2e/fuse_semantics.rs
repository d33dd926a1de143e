//! FUSE semantics (being written).
