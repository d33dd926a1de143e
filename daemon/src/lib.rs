//! The Tessera node: drives, erasure sets, the object layer, the gRPC services, the server
//! and the `tessera` CLI client.
//!
//! Layers, lowest first; nothing imports upward: `drive` (and `lock`) → `erasure` →
//! `object` → the front ends `rpc` (gRPC object API), `s3` and `console` (the web console, over
//! S3 presigned for its sessions), beside them `internode` (the
//! services for peers, over `drive` and `lock`) → `server`/`cli`. Below `drive` and `lock`:
//! `peer` (the internode client, used by `drive::remote` and `lock::distributed`); below
//! the front ends: `auth` (verification of every gRPC call), `policy` (IAM documents, their
//! evaluation, the table of what each operation needs) and `traffic`. `metrics` (the
//! Prometheus figures) is a leaf every layer reports into. `layout`
//! (sizing, placement), `sync` (locks) and `calendar` (civil dates) serve all of them.

#![deny(missing_docs)]

pub mod auth;
pub mod calendar;
pub mod console;
pub mod drive;
pub mod erasure;
pub mod iam;
pub mod internode;
pub mod layout;
pub mod lock;
pub mod metrics;
pub mod object;
pub mod peer;
pub mod policy;
pub mod rpc;
pub mod s3;
pub mod server;
pub mod sync;
pub(crate) mod sys;
pub mod traffic;
