//! The vocabulary a set's callers speak: what a writer sets on an object, the bytes a read
//! asks for, a metadata update, the parts of a multipart upload and its ETag. The object
//! layer re-exports these for the front ends.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use md5::{Digest, Md5};

use super::meta::{ObjectMeta, UploadMeta};
use super::versions::Versioning;

/// What a writer sets on a new object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectAttrs {
    /// Content-Type.
    pub content_type: String,
    /// User metadata.
    pub user_metadata: BTreeMap<String, String>,
    /// Standard headers and checksums (see [`ObjectMeta::headers`]).
    pub headers: BTreeMap<String, String>,
    /// Headers the body supplies at its end, merged into `headers` when the object is
    /// committed (a checksum sent in a trailer, or computed while the body streamed).
    pub late: LateHeaders,
    /// How the bucket keeps versions (set by the object layer, not by front ends).
    pub versioning: Versioning,
}

/// The stored header saying what kind of checksum the object's `x-amz-checksum-*` is
/// (`FULL_OBJECT`, `COMPOSITE`): an object's, never a part's.
pub const CHECKSUM_TYPE: &str = "x-amz-checksum-type";

/// Stored headers known only once a body has been read whole: whoever reads the body sets
/// them, the commit (after the body's end) takes them. Inert unless made [`shared`].
///
/// [`shared`]: LateHeaders::shared
#[derive(Debug, Clone, Default)]
pub struct LateHeaders(Option<Arc<Mutex<BTreeMap<String, String>>>>);

impl LateHeaders {
    /// Headers a body's reader can set.
    pub fn shared() -> Self {
        Self(Some(Arc::default()))
    }

    /// Sets `name` (ignored when not shared).
    pub fn set(&self, name: &str, value: String) {
        if let Some(m) = &self.0 {
            let mut m = m.lock().unwrap_or_else(|e| e.into_inner());
            m.insert(name.to_string(), value);
        }
    }

    /// The headers set so far.
    pub fn get(&self) -> BTreeMap<String, String> {
        self.0
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }
}

impl PartialEq for LateHeaders {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for LateHeaders {}

/// The bytes a read asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RangeSpec {
    /// The whole object.
    #[default]
    Full,
    /// `[start, end)`; `end` past the object is clamped.
    Bounded(u64, u64),
    /// From `start` to the end.
    From(u64),
    /// The last n bytes.
    Suffix(u64),
}

impl RangeSpec {
    /// `[start, end)` within an object of `size` bytes, or `None` when unsatisfiable.
    pub fn resolve(self, size: u64) -> Option<(u64, u64)> {
        match self {
            RangeSpec::Full => Some((0, size)),
            RangeSpec::Bounded(s, e) if s < size && s < e => Some((s, e.min(size))),
            RangeSpec::From(s) if s < size => Some((s, size)),
            RangeSpec::Suffix(n) if n > 0 && size > 0 => Some((size - n.min(size), size)),
            _ => None,
        }
    }
}

/// Hex MD5 ETag of a multipart object: MD5 of the parts' MD5s, then `-N`.
pub fn multipart_etag(part_etags: &[String]) -> String {
    let mut h = Md5::new();
    for e in part_etags {
        if let Ok(raw) = hex::decode(e) {
            h.update(raw);
        }
    }
    format!("{}-{}", hex::encode(h.finalize()), part_etags.len())
}

/// A multipart upload in progress.
#[derive(Debug, Clone)]
pub struct UploadInfo {
    /// The upload id.
    pub upload_id: String,
    /// Its metadata.
    pub meta: UploadMeta,
}

/// A part a client lists when completing an upload.
#[derive(Debug, Clone, Default)]
pub struct CompletePart {
    /// Part number.
    pub number: u32,
    /// The ETag the client got for it (quotes allowed).
    pub etag: String,
    /// The checksums the client lists for it (by stored header name); each must be the
    /// part's own.
    pub checksums: BTreeMap<String, String>,
}

/// Changes to an object's user metadata and stored headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataUpdate {
    /// Entries to add or overwrite.
    pub set: BTreeMap<String, String>,
    /// Names of entries to remove (absent ones are ignored).
    pub remove: Vec<String>,
    /// Stored headers to set (`Some`) or remove (`None`), such as the tag set.
    pub headers: BTreeMap<String, Option<String>>,
}

impl MetadataUpdate {
    /// Applies the update: removals, then additions.
    pub fn apply(&self, user_metadata: &mut BTreeMap<String, String>) {
        for name in &self.remove {
            user_metadata.remove(name);
        }
        user_metadata.extend(self.set.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    /// Bytes of user metadata (names and values) after applying the update to `current`.
    pub fn size_after(&self, current: &BTreeMap<String, String>) -> usize {
        let mut m = current.clone();
        self.apply(&mut m);
        m.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// The metadata of the version this update makes from `meta`.
    pub(super) fn updated(&self, meta: &ObjectMeta, version_id: &str) -> ObjectMeta {
        let mut m = meta.clone();
        self.apply(&mut m.user_metadata);
        for (name, value) in &self.headers {
            match value {
                Some(v) => m.headers.insert(name.clone(), v.clone()),
                None => m.headers.remove(name),
            };
        }
        m.version_id = version_id.to_string();
        m
    }
}
