//! Tree walks fetched ahead (see [`crate::fs::ahead`]): entering a subdirectory starts
//! the listings of the next siblings; a lookup of a directory fetched ahead takes its
//! attributes from that listing (its marker, or an implicit directory), and its `readdir`
//! takes the listing itself (in `dir`).

use std::sync::Arc;

use crate::api::ListObjectsResponse;
use crate::fs::ahead::Fetched;
use crate::fs::attr::Attr;
use crate::fs::inode::parent_of;
use crate::fs::state::{Inner, LIST_AHEAD_MAX, listed_prefix};

impl Inner {
    /// A walk opened the directory at `path`: fetch the listings of the siblings after it,
    /// but of those this mount listed whole within the TTL (the kernel keeps their entries
    /// and asks for none: a walk again at once, such as a second `find`, lists nothing).
    pub(crate) fn walked_into(self: &Arc<Self>, path: &str) {
        if path.is_empty() {
            return;
        }
        let dir = parent_of(path);
        let name = &path[if dir.is_empty() { 0 } else { dir.len() + 1 }..];
        let mut siblings = self.ahead.entered(dir, name);
        if siblings.is_empty() {
            return;
        }
        // Two steps around the inodes' lock, never taken under the ahead's (a directory
        // change takes them the other way round).
        {
            let t = self.inodes();
            siblings.retain(|sibling| !t.listed_fresh(sibling));
        }
        for (sibling, cell) in self.ahead.claim(siblings) {
            if self.behind.touches(&sibling) {
                // Deletes queued under it: what the server lists is not what is there.
                self.ahead.changed(&sibling);
                continue;
            }
            let inner = self.clone();
            tokio::spawn(async move {
                (cell.get_or_init(|| async {
                    let _slot = inner.ahead.slots.clone().acquire_owned().await.ok()?;
                    inner.list_ahead(&sibling).await
                }))
                .await;
            });
        }
    }

    /// One page of the directory at `path`, when it holds the whole directory.
    async fn list_ahead(&self, path: &str) -> Option<ListObjectsResponse> {
        let (bucket, prefix) = listed_prefix(self.place(path))?;
        match self
            .remote
            .list(&bucket, &prefix, true, "", LIST_AHEAD_MAX)
            .await
        {
            Ok(list) if !list.truncated => Some(list),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(path, "listing ahead: {e}");
                None
            }
        }
    }

    /// What `cell`, the listing of `path` fetched ahead, holds once in (fetched here if
    /// its task has not started yet).
    async fn wait<'a>(&self, cell: &'a Fetched, path: &str) -> Option<&'a ListObjectsResponse> {
        cell.get_or_init(|| self.list_ahead(path)).await.as_ref()
    }

    /// The attributes of the directory at `path` from its listing fetched ahead, once it
    /// is in (waiting for it when it is in flight); `None` without one, or when it shows
    /// nothing there.
    pub(crate) async fn attr_fetched_ahead(&self, path: &str) -> Option<Attr> {
        let cell = self.ahead.pending(path)?;
        let list = self.wait(&cell, path).await?;
        let (_, prefix) = listed_prefix(self.place(path))?;
        let d = &self.settings.defaults;
        if let Some(marker) = list.objects.iter().find(|o| o.key == prefix) {
            return Some(Attr::of_object(marker, d));
        }
        let empty = list.objects.is_empty() && list.common_prefixes.is_empty();
        (!empty).then(|| Attr::implicit_dir(d))
    }

    /// The listing of the directory at `path` fetched ahead, used up, if there is one.
    pub(crate) async fn take_fetched_ahead(&self, path: &str) -> Option<ListObjectsResponse> {
        let cell = self.ahead.take(path)?;
        self.wait(&cell, path).await.cloned()
    }
}
