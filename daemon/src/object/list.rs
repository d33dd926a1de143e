//! Listing across sets: every set lists a page, pages are merged in key byte order up to
//! the point all of them cover, and the delimiter folds keys into common prefixes.
//!
//! With delimiter `/` the drives walk one directory level (cost proportional to what is
//! listed); any other delimiter walks the prefix's subtree and folds here. The continuation
//! token is the hex of the last key or prefix returned.
//!
//! A listing of objects shows a common prefix only when a key under it is there: in a
//! bucket that has had versioning, a directory whose keys are all delete-marked is looked
//! into (one walk for its first live key) and left out when it has none.

use std::future::Future;
use std::pin::Pin;

use super::validate::{check_bucket_name, check_prefix};
use super::{ObjectError, ObjectInfo, ObjectLayer};
use crate::drive::WalkOptions;
use crate::erasure::{ErasureError, ListEntry, ObjectMeta, Versioning};

/// Most keys a listing returns at once (S3 asks for at most 1000; the mount, whose pages
/// each cost a read of the whole directory on every drive, asks for more).
pub const MAX_KEYS: usize = 10_000;
/// Entries a walk reads at least while keys fold under a delimiter other than `/`.
const FOLD_WALK: usize = 1000;

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Fold keys at the first occurrence of this after the prefix (empty: no folding).
    pub delimiter: String,
    /// Only keys after this.
    pub start_after: String,
    /// A token from a previous page.
    pub continuation: Option<String>,
    /// At most this many keys and prefixes (capped at [`MAX_KEYS`]).
    pub max_keys: usize,
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct ListResult {
    /// Objects, in key order.
    pub objects: Vec<ObjectInfo>,
    /// Common prefixes, in order.
    pub prefixes: Vec<String>,
    /// More follow.
    pub truncated: bool,
    /// Token for the next page.
    pub next_token: Option<String>,
}

/// What a key names in a file system's view (see [`ObjectLayer::lookup`]).
#[derive(Debug, Clone, Default)]
pub struct PathLookup {
    /// The object `key`.
    pub object: Option<ObjectInfo>,
    /// The directory marker `key/`.
    pub marker: Option<ObjectInfo>,
    /// Some key starts with `key/` (the marker counts).
    pub is_prefix: bool,
}

/// A listed key (with its agreed metadata file) or common prefix.
pub(super) enum Item {
    Object(String, Box<ObjectMeta>),
    Prefix(String),
}

impl Item {
    pub(super) fn name(&self) -> &str {
        match self {
            Item::Object(key, _) => key,
            Item::Prefix(p) => p,
        }
    }
}

/// Decodes a continuation token.
fn decode_token(token: &str) -> Result<String, ObjectError> {
    hex::decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ObjectError::InvalidArgument("invalid continuation token".into()))
}

impl ObjectLayer {
    /// The object `key`, the directory marker `key/` and whether any key lies under
    /// `key/`: a HEAD, then a one-key listing. A listing error wins (it says what a HEAD's
    /// "not found" would hide, such as a missing bucket).
    ///
    /// One after the other, not at once: a new name (a mount's lookup before it creates
    /// the file) is known to no cache, and its HEAD goes to the drives on the blocking
    /// pool; that trip leaves the kernel knowing the name's directory absent, so the
    /// listing that follows answers at once instead of making a second trip.
    pub async fn lookup(&self, bucket: &str, key: &str) -> Result<PathLookup, ObjectError> {
        let dir = format!("{key}/");
        let q = ListQuery {
            prefix: dir.clone(),
            delimiter: "/".into(),
            max_keys: 1,
            ..Default::default()
        };
        // The listing checks the bucket: the HEAD need not check it again, and its answer
        // is read only once the listing found the bucket.
        let object = self.head_unexplained(bucket, key, None).await;
        let listed = self.list_objects(bucket, &q).await?;
        let object = match object? {
            Ok(info) => Some(info),
            Err(ErasureError::ObjectNotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let is_prefix = !listed.objects.is_empty() || !listed.prefixes.is_empty();
        let marker = listed.objects.into_iter().find(|o| o.key == dir);
        Ok(PathLookup {
            object,
            marker,
            is_prefix,
        })
    }

    /// One page of the objects of `bucket` (keys whose current version is a delete marker
    /// are left out).
    pub async fn list_objects(
        &self,
        bucket: &str,
        q: &ListQuery,
    ) -> Result<ListResult, ObjectError> {
        let (items, truncated) = self.list_items(bucket, q, false).await?;
        let next_token = truncated.then(|| hex::encode(items.last().map_or("", |i| i.name())));
        let mut result = ListResult {
            truncated,
            next_token,
            ..Default::default()
        };
        for item in items {
            match item {
                Item::Object(key, meta) => {
                    result
                        .objects
                        .push(ObjectInfo::from_meta(bucket, &key, &meta));
                }
                Item::Prefix(p) => result.prefixes.push(p),
            }
        }
        Ok(result)
    }

    /// At most `q.max_keys` keys and prefixes of `bucket` in order, and whether more follow;
    /// with `markers`, keys whose current version is a delete marker too.
    pub(super) async fn list_items(
        &self,
        bucket: &str,
        q: &ListQuery,
        markers: bool,
    ) -> Result<(Vec<Item>, bool), ObjectError> {
        check_bucket_name(bucket)?;
        check_prefix(&q.prefix)?;
        check_prefix(&q.start_after)?;
        self.check_bucket(bucket).await?;
        let max_keys = q.max_keys.min(MAX_KEYS);
        let mut marker = q.start_after.clone();
        if let Some(token) = q.continuation.as_deref().filter(|t| !t.is_empty()) {
            marker = marker.max(decode_token(token)?);
        }
        if max_keys == 0 {
            return Ok((Vec::new(), false));
        }
        // Whether delete markers may stand behind a prefix, asked at the first prefix.
        let mut markers_in_bucket = None;
        let folding = !q.delimiter.is_empty() && q.delimiter != "/";
        // The common prefix a key folds into under a delimiter other than `/`.
        let fold = |key: &str| -> Option<String> {
            if !folding {
                return None;
            }
            let rest = key.get(q.prefix.len()..)?;
            rest.find(&q.delimiter)
                .map(|i| format!("{}{}", q.prefix, &rest[..i + q.delimiter.len()]))
        };
        let mut items: Vec<Item> = Vec::new();
        let mut resume = marker.clone();
        loop {
            let want = max_keys + 1 - items.len();
            let opts = WalkOptions {
                prefix: q.prefix.clone(),
                start_after: resume.clone(),
                recursive: q.delimiter != "/",
                // Folded keys list nothing: walk a full page even for a small max-keys.
                limit: if folding { want.max(FOLD_WALK) } else { want },
                summaries: true,
            };
            let pages =
                futures::future::join_all(self.sets().map(|s| s.list_page(bucket, &opts))).await;
            let mut entries = Vec::new();
            let mut cutoff: Option<String> = None;
            for page in pages {
                let page = page?;
                if let Some(c) = page.cutoff {
                    cutoff = Some(cutoff.map_or(c.clone(), |old: String| old.min(c)));
                }
                entries.extend(page.entries);
            }
            entries.sort_by(|a, b| a.name().cmp(b.name()));
            entries.dedup_by(|a, b| a.name() == b.name());
            for entry in entries {
                if cutoff.as_deref().is_some_and(|c| entry.name() > c) {
                    break;
                }
                let item = match entry {
                    ListEntry::Prefix(p)
                        if !markers
                            && self.holds_markers(bucket, &mut markers_in_bucket).await?
                            && !self.holds_a_live_key(bucket, &p).await? =>
                    {
                        continue;
                    }
                    ListEntry::Prefix(p) => Item::Prefix(p),
                    ListEntry::Object(_, meta) if meta.delete_marker && !markers => continue,
                    ListEntry::Object(key, meta) => match fold(&key) {
                        Some(p) if p.as_str() <= marker.as_str() => continue,
                        Some(p) if items.last().is_some_and(|l| l.name() == p) => continue,
                        Some(p) => Item::Prefix(p),
                        None => Item::Object(key, meta),
                    },
                };
                items.push(item);
                if items.len() > max_keys {
                    break;
                }
            }
            match cutoff {
                // When the cutoff folds into a prefix listed already (on this page or an
                // earlier one), every key under that prefix folds into it too: the next
                // walk starts past all of them.
                Some(c) if items.len() <= max_keys => match fold(&c) {
                    Some(p)
                        if p.as_str() <= marker.as_str()
                            || items.last().is_some_and(|l| l.name() == p) =>
                    {
                        resume = format!("{p}{}", char::MAX);
                    }
                    _ => resume = c,
                },
                _ => break,
            }
        }
        let truncated = items.len() > max_keys;
        items.truncate(max_keys);
        Ok((items, truncated))
    }

    /// Whether `bucket` may hold delete markers (it has had versioning), from `known` once
    /// asked.
    async fn holds_markers(
        &self,
        bucket: &str,
        known: &mut Option<bool>,
    ) -> Result<bool, ObjectError> {
        if let Some(holds) = *known {
            return Ok(holds);
        }
        let holds = self.bucket_state(bucket).await?.versioning != Versioning::Unversioned;
        *known = Some(holds);
        Ok(holds)
    }

    /// Whether a key under `prefix` has a current version that is not a delete marker.
    fn holds_a_live_key<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<bool, ObjectError>> + Send + 'a>> {
        Box::pin(async move {
            // One key would answer; a page of them lets the walk skip delete-marked keys
            // a page at a time rather than two by two.
            let q = ListQuery {
                prefix: prefix.to_string(),
                max_keys: 100,
                ..Default::default()
            };
            Ok(!self.list_items(bucket, &q, false).await?.0.is_empty())
        })
    }
}
