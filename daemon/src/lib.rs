//! The Tessera node: drives, erasure sets, the object layer, the gRPC services, the server
//! and the `tessera` CLI client.
//!
//! Layers, lowest first; nothing imports upward: `drive` → `erasure` → `object` → `rpc`
//! → `server`/`cli`. `layout` (sizing, placement) and `sync` (locks) serve all of them.

#![deny(missing_docs)]

pub mod auth;
pub mod drive;
pub mod erasure;
pub mod internode;
pub mod layout;
pub mod lock;
pub mod object;
pub mod rpc;
pub mod s3;
pub mod server;
pub mod sync;
pub(crate) mod sys;
pub mod traffic;
