//! End-to-end tests: real `tessera` processes, drives in temp dirs, gRPC and the CLI.
//! One test binary (one link) with a module per concern.

mod common;

mod attribute_bounds;
mod bad_input;
mod cli;

// The web console: `console` (its API, no browser), `console_identities` (users and
// policies) and `console_browser` (headless Chromium).
mod console;
mod console_address;
mod console_browser;
mod console_cluster_browser;
mod console_identities;

// The cluster suite: `cluster` is the fixture, `cluster_*` the cases.
mod cluster;
mod cluster_faults;
mod cluster_heal;
mod cluster_history;
mod cluster_partition;
mod cluster_versions;
mod concurrency;
mod connections;
mod drive_faults;
mod faults;
mod format;
mod fuse_ops;

// Identities and policies: `iam` (single node, S3, gRPC, a mount), `iam_admin` (the admin
// API's refusals, bad input), `iam_cluster`.
mod iam;
mod iam_admin;
mod iam_cluster;

// The FUSE suite: `fuse` is the fixture, `fuse_*` the cases.
mod fuse;
mod fuse_caching;
mod fuse_fstab;
mod fuse_interop;
mod fuse_lifecycle;
mod fuse_metrics;
mod fuse_model;
mod fuse_posix;
mod fuse_semantics;
mod fuse_shared_writers;
mod fuse_shell;
mod fuse_special;
mod fuse_times;
mod fuse_xattr;
mod listing;
mod metrics;
mod multipart;
mod objects;

// The S3 suite: `s3` is the fixture, `s3_*` the cases by concern.
mod s3;
mod s3_acl;
mod s3_attributes;
mod s3_auth;
mod s3_bad_input;
mod s3_buckets;
mod s3_conditional;
mod s3_copy;
mod s3_corners;
mod s3_cors;
mod s3_edge;
mod s3_interop;
mod s3_lifecycle;
mod s3_list;
mod s3_multipart;
mod s3_node_faults;
mod s3_object_lock;
mod s3_objects;
mod s3_reads;
mod s3_streaming;
mod s3_tagging;
mod s3_tools;
mod s3_versioning;
mod service_units;

// The TLS suite: `tls` is the fixture and the single-node cases, `tls_cluster` a cluster's.
mod tls;
mod tls_cluster;
