//! The Tessera FUSE client: mounts buckets as directories over the gRPC `ObjectService`.
//!
//! Not built yet: the FUSE issue fills this crate (see DESIGN.md, "The FUSE client").
