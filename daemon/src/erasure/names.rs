//! How an object's files and locks are named: its metadata file, its staging directory,
//! its data directories and the namespace lock its reads and writes take.

use crate::drive::{OBJECT_META_FILE, RESERVED_PREFIX, TMP_DIR, join, object_dir};

/// The object's metadata file, in its bucket's volume.
pub(super) fn meta_path(key: &str) -> String {
    join(&object_dir(key), OBJECT_META_FILE)
}

/// A write's staging directory, in the meta volume.
pub(super) fn tmp_path(id: &str) -> String {
    join(TMP_DIR, id)
}

/// A new data directory name (reserved: keys cannot name it).
pub(super) fn new_data_dir() -> String {
    format!("{RESERVED_PREFIX}.{}", uuid::Uuid::new_v4().as_simple())
}

/// The lock an object's reads and writes take.
pub(super) fn lock_name(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}
