//! A set's listing page: every drive walks, and the entries at least k drives agree on are
//! kept, up to the point every drive's page covers (a drive's page may stop earlier than
//! another's; nothing past the shortest truncated page is trusted).

use std::collections::BTreeMap;

use super::drives::SetDrives;
use super::error::ErasureError;
use super::meta::ObjectMeta;
use super::quorum::agreed;
use crate::drive::{WalkEntry, WalkMeta, WalkOptions, WalkPage};

/// One entry of a set's listing page.
#[derive(Debug, Clone)]
pub enum ListEntry {
    /// An object and its agreed metadata.
    Object(String, Box<ObjectMeta>),
    /// A common prefix (ends with `/`).
    Prefix(String),
}

impl ListEntry {
    /// The key or prefix.
    pub fn name(&self) -> &str {
        match self {
            ListEntry::Object(k, _) | ListEntry::Prefix(k) => k,
        }
    }
}

/// A sorted listing page of one set; `cutoff` is set when more entries may follow it.
#[derive(Debug, Default)]
pub struct ListPage {
    /// Entries in byte order.
    pub entries: Vec<ListEntry>,
    /// The last name this page is complete up to, when it was truncated.
    pub cutoff: Option<String>,
}

/// A listing page of `bucket` in one set: every drive walks, and entries at least k drives
/// agree on are kept, up to the point every drive's page covers.
pub async fn list_page(
    drives: &SetDrives,
    bucket: &str,
    opts: &WalkOptions,
) -> Result<ListPage, ErasureError> {
    let k = drives.data_shards();
    let pages = drives.walk(bucket, opts, "listing").await?;
    let cutoff = WalkPage::cutoff(pages.iter().flatten());
    let mut names: BTreeMap<&str, Vec<&WalkEntry>> = BTreeMap::new();
    for page in pages.iter().flatten() {
        for entry in &page.entries {
            if cutoff.as_deref().is_some_and(|c| entry.name.as_str() > c) {
                break;
            }
            names.entry(entry.name.as_str()).or_default().push(entry);
        }
    }
    let mut entries = Vec::with_capacity(names.len());
    for (name, seen) in names {
        if name.ends_with('/') && seen.iter().all(|e| e.meta.is_none()) {
            if seen.len() >= k {
                entries.push(ListEntry::Prefix(name.to_string()));
            }
            continue;
        }
        let found: Vec<&WalkMeta> = seen.iter().filter_map(|e| e.meta.as_ref()).collect();
        let decoded = decode_distinct(&found);
        let per_drive = (found.iter()).filter_map(|m| {
            let (_, meta) = decoded.iter().find(|(d, _)| d == m)?;
            meta.as_ref()
        });
        let best = agreed(per_drive, |m| m.version_id.as_str(), |m| m.mod_time_ns);
        if let Some(meta) = best.and_then(|b| b.reaching(k)) {
            entries.push(ListEntry::Object(name.to_string(), Box::new(meta.clone())));
        }
    }
    Ok(ListPage { entries, cutoff })
}

/// Each distinct metadata of `found` decoded once (`None`: it does not decode). Drives that
/// hold the same version hold the same listing summary, byte for byte (it leaves out the
/// drive's erasure geometry): a listing decodes it once, not once per drive.
fn decode_distinct<'a>(found: &[&'a WalkMeta]) -> Vec<(&'a WalkMeta, Option<ObjectMeta>)> {
    let mut decoded: Vec<(&WalkMeta, Option<ObjectMeta>)> = Vec::with_capacity(found.len());
    for &m in found {
        if !decoded.iter().any(|(d, _)| *d == m) {
            decoded.push((m, ObjectMeta::from_walk(m).ok()));
        }
    }
    decoded
}

#[cfg(test)]
mod tests;
