//! tessera-fuse: `tessera-mount`, the FUSE client. It mounts a bucket (or every bucket) as
//! a directory and speaks to a node only through the gRPC `ObjectService`.
//!
//! Layers, top down: [`mount`] (the command) → [`adapter`] (fuser requests to tasks) →
//! [`namespace`], [`file`], [`dir`], [`read`] (the filesystem's operations over
//! [`inode`] and [`attr`]) → [`remote`] (the gRPC client). Errors are one [`error::FsError`]
//! turned into an errno in one place.

#![deny(missing_docs)]

pub mod adapter;
pub mod attr;
pub mod dir;
pub mod error;
pub mod file;
pub mod inode;
pub mod mount;
pub mod namespace;
pub mod read;
pub mod remote;
