//! tessera-fuse: `tessera-mount`, the FUSE client. It mounts a bucket (or every bucket) as
//! a directory and speaks to a node only through the gRPC `ObjectService`.
//!
//! Layers, top down: [`mount`] (the command) → [`adapter`] (fuser requests to tasks and
//! replies, the only module that knows fuser) → [`fs`] (the file-system core, which knows
//! neither fuser nor tonic) → [`api`] (the object API the core needs, a trait) ←
//! [`remote`] (its gRPC implementation, the only module that sees a `tonic::Status`).
//! Errors are one [`fs::error::FsError`] turned into an errno in one place.
//! [`mount_helper`] is the same command under the name mount(8) calls for fstab lines.
//! [`metrics`] holds the mount's Prometheus figures (the adapter and `remote` report);
//! [`log_file`] the background mount's bounded log.

#![deny(missing_docs)]

pub mod adapter;
pub mod api;
pub mod fs;
pub mod log_file;
pub mod metrics;
pub mod mount;
pub mod mount_helper;
pub mod remote;

/// The inode table's path helpers, where the e2e model tests find them.
pub use fs::inode;
