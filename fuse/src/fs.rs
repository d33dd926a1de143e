//! The file-system core: POSIX semantics over objects, with no fuser and no tonic in it.
//! It reaches the cluster only through [`crate::api::ObjectApi`] and answers with its own
//! types and [`error::FsError`]; the fuser adapter turns those into kernel replies. Its
//! unit tests run it against an in-memory object API.
//!
//! Modules: [`namespace`] (the shared state and lookup, mkdir, rmdir, unlink, rename,
//! symlink, attributes, statfs), [`dir`] (readdir paging), [`file`] (open files: streamed
//! uploads and staging), [`read`] (read-ahead), over [`inode`] (the inode table) and
//! [`attr`] (POSIX attributes in object metadata).

pub mod attr;
pub mod dir;
pub mod error;
pub mod file;
pub mod inode;
pub mod namespace;
pub mod read;

#[cfg(test)]
mod tests;
