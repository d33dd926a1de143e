//! The file-system core: POSIX semantics over objects, with no fuser and no tonic in it.
//! It reaches the cluster only through [`crate::api::ObjectApi`] and answers with its own
//! types and [`error::FsError`]; the fuser adapter turns those into kernel replies. Its
//! unit tests run it against an in-memory object API.
//!
//! Modules, each importing only those below it: the operations [`namespace`] (mkdir,
//! rmdir, unlink, rename, symlink, special files, attributes and times, extended
//! attributes, statfs), [`dir`] (readdir paging), [`walk`] (listings fetched ahead of tree
//! walks) and [`file`] (open, write, truncate, uploads, reads), as `impl` blocks on
//! [`state::Inner`] (the shared state, lookup and stat, a directory's times) → [`ahead`]
//! (what walks fetched ahead) and [`behind`] (deletes and directory times sent behind the
//! answers) → [`open`] (what open files and directories hold) → [`read`] (read-ahead) →
//! [`cache`] (the local read cache), [`pages`] (data handed to the kernel's page cache),
//! [`inode`] (the inode table) and [`attr`] (POSIX attributes in object metadata), with
//! [`error`] beside them all.

pub mod ahead;
pub mod attr;
pub mod behind;
pub mod cache;
pub mod dir;
pub mod error;
pub mod file;
pub mod inode;
pub mod namespace;
pub mod open;
pub mod pages;
pub mod read;
pub mod state;
pub mod walk;

#[cfg(test)]
mod tests;
