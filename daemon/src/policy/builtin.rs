//! The built-in policies every cluster has, named `readwrite`, `readonly`, `writeonly` and
//! `diagnostics` (MinIO's names and meanings). They cannot be replaced or removed; a test
//! checks that each compiles.

use super::PolicyError;
use super::document::{Kind, Policy};

/// Every S3 action on every bucket and object.
const READWRITE: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}"#;

/// List buckets and keys, read objects.
const READONLY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["s3:ListAllMyBuckets","s3:ListBucket","s3:GetBucketLocation","s3:GetObject"],
  "Resource":["arn:aws:s3:::*"]}]}"#;

/// Write objects (single and multipart), nothing else.
const WRITEONLY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::*"]}]}"#;

/// Read the cluster's state and metrics.
const DIAGNOSTICS: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["admin:ServerInfo","admin:Prometheus"],"Resource":["arn:aws:s3:::*"]}]}"#;

/// The built-in policies' names and documents.
pub const BUILTIN: &[(&str, &str)] = &[
    ("readwrite", READWRITE),
    ("readonly", READONLY),
    ("writeonly", WRITEONLY),
    ("diagnostics", DIAGNOSTICS),
];

/// Whether `name` is a built-in policy's.
pub fn is_builtin(name: &str) -> bool {
    BUILTIN.iter().any(|(n, _)| *n == name)
}

/// The built-in policies, compiled.
pub fn builtins() -> Result<Vec<(&'static str, Policy)>, PolicyError> {
    BUILTIN
        .iter()
        .map(|(name, text)| Ok((*name, Policy::parse(text, Kind::Identity)?)))
        .collect()
}
