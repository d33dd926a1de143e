//! End-to-end tests: real `tessera` processes, drives in temp dirs, gRPC and the CLI.
//! One test binary (one link) with a module per concern.

#[path = "e2e/common.rs"]
mod common;

#[path = "e2e/bad_input.rs"]
mod bad_input;
#[path = "e2e/cli.rs"]
mod cli;
#[path = "e2e/concurrency.rs"]
mod concurrency;
#[path = "e2e/faults.rs"]
mod faults;
#[path = "e2e/format.rs"]
mod format;
#[path = "e2e/listing.rs"]
mod listing;
#[path = "e2e/multipart.rs"]
mod multipart;
#[path = "e2e/objects.rs"]
mod objects;
