//! End-to-end tests: real `tessera` processes, drives in temp dirs, gRPC and the CLI.
//! One test binary (one link) with a module per concern.

#[path = "e2e/common.rs"]
mod common;

#[path = "e2e/attribute_bounds.rs"]
mod attribute_bounds;
#[path = "e2e/bad_input.rs"]
mod bad_input;
#[path = "e2e/cli.rs"]
mod cli;

// The cluster suite: `cluster` is the fixture, `cluster_*` the cases.
#[path = "e2e/cluster.rs"]
mod cluster;
#[path = "e2e/cluster_faults.rs"]
mod cluster_faults;
#[path = "e2e/cluster_heal.rs"]
mod cluster_heal;
#[path = "e2e/cluster_history.rs"]
mod cluster_history;
#[path = "e2e/cluster_partition.rs"]
mod cluster_partition;
#[path = "e2e/concurrency.rs"]
mod concurrency;
#[path = "e2e/connections.rs"]
mod connections;
#[path = "e2e/drive_faults.rs"]
mod drive_faults;
#[path = "e2e/faults.rs"]
mod faults;
#[path = "e2e/format.rs"]
mod format;
#[path = "e2e/fuse_ops.rs"]
mod fuse_ops;

// The FUSE suite: `fuse` is the fixture, `fuse_*` the cases.
#[path = "e2e/fuse.rs"]
mod fuse;
#[path = "e2e/fuse_interop.rs"]
mod fuse_interop;
#[path = "e2e/fuse_lifecycle.rs"]
mod fuse_lifecycle;
#[path = "e2e/fuse_model.rs"]
mod fuse_model;
#[path = "e2e/fuse_semantics.rs"]
mod fuse_semantics;
#[path = "e2e/fuse_shell.rs"]
mod fuse_shell;
#[path = "e2e/listing.rs"]
mod listing;
#[path = "e2e/multipart.rs"]
mod multipart;
#[path = "e2e/objects.rs"]
mod objects;

// The S3 suite: `s3` is the fixture, `s3_*` the cases by concern.
#[path = "e2e/s3.rs"]
mod s3;
#[path = "e2e/s3_auth.rs"]
mod s3_auth;
#[path = "e2e/s3_bad_input.rs"]
mod s3_bad_input;
#[path = "e2e/s3_buckets.rs"]
mod s3_buckets;
#[path = "e2e/s3_conditional.rs"]
mod s3_conditional;
#[path = "e2e/s3_copy.rs"]
mod s3_copy;
#[path = "e2e/s3_edge.rs"]
mod s3_edge;
#[path = "e2e/s3_interop.rs"]
mod s3_interop;
#[path = "e2e/s3_list.rs"]
mod s3_list;
#[path = "e2e/s3_multipart.rs"]
mod s3_multipart;
#[path = "e2e/s3_node_faults.rs"]
mod s3_node_faults;
#[path = "e2e/s3_objects.rs"]
mod s3_objects;
#[path = "e2e/s3_reads.rs"]
mod s3_reads;
#[path = "e2e/s3_streaming.rs"]
mod s3_streaming;
#[path = "e2e/s3_tools.rs"]
mod s3_tools;
