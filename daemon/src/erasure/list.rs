//! A set's listing page: every drive walks, and the entries at least k drives agree on are
//! kept, up to the point every drive's page covers (a drive's page may stop earlier than
//! another's; nothing past the shortest truncated page is trusted).

use std::collections::{BTreeMap, HashMap};

use super::ErasureError;
use super::meta::ObjectMeta;
use super::quorum::{Verdict, first_error, verdict};
use super::set::ErasureSet;
use crate::drive::group::{Walk, fan_out};
use crate::drive::{WalkEntry, WalkOptions, WalkPage};

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

impl ErasureSet {
    /// A listing page of `bucket`: every drive walks, and entries at least k drives agree
    /// on are kept, up to the point every drive's page covers.
    pub async fn list_page(
        &self,
        bucket: &str,
        opts: &WalkOptions,
    ) -> Result<ListPage, ErasureError> {
        let k = self.data_shards();
        let pages = fan_out(
            &self.drives,
            &Walk {
                volume: bucket,
                opts,
            },
        )
        .await;
        let answered = pages.iter().filter(|p| p.is_ok()).count();
        if answered < k {
            if verdict(&pages, k) == Verdict::VolumeNotFound {
                return Err(ErasureError::BucketNotFound {
                    bucket: bucket.into(),
                });
            }
            return Err(ErasureError::ReadQuorum {
                what: format!("listing of {bucket}"),
                detail: first_error(&pages),
            });
        }
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
            let metas: Vec<ObjectMeta> = seen
                .iter()
                .filter_map(|e| e.meta.as_ref())
                .filter_map(|m| ObjectMeta::from_walk(m).ok())
                .collect();
            let mut votes: HashMap<&str, (usize, &ObjectMeta)> = HashMap::new();
            for m in &metas {
                votes.entry(m.version_id.as_str()).or_insert((0, m)).0 += 1;
            }
            if let Some((count, meta)) =
                votes.into_values().max_by_key(|(c, m)| (*c, m.mod_time_ns))
                && count >= k
            {
                entries.push(ListEntry::Object(name.to_string(), Box::new(meta.clone())));
            }
        }
        Ok(ListPage { entries, cutoff })
    }
}

#[cfg(test)]
mod tests;
