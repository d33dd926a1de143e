//! The scanner: a background task per set, on the node of the set's first drive, that
//! walks every bucket of the set's drives at a gentle pace and queues for the healer each
//! object that not every drive holds at one version. It catches what no queue entry names any more: a write or delete that missed
//! a drive on a node that died before the drive came back, or a commit cut off by a crash.
//!
//! Invariants: a round runs only while every drive of the set is online (an offline drive
//! would make every object look damaged); it reads only the walk's metadata headers, never
//! shards, and takes no locks (the heal it queues does both); after each page it pauses for
//! `tranquility` times the page's own time, and while the heal queue is half full it waits
//! for the healer; stopping takes effect between pages. Memory: one page per drive.
//!
//! Tested by `heal/tests.rs` (a missed write found without a queue entry) and, end to end,
//! by the cluster heal tests.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::Healer;
use crate::drive::{DriveError, WalkOptions, WalkPage};
use crate::erasure::heal_queue::{HEAL_QUEUE_CAPACITY, HealScan};
use crate::erasure::meta::ObjectMeta;
use crate::metrics::HealFigures;

/// Names walked per drive and page.
const PAGE: usize = 1000;

/// How the scanner paces itself.
#[derive(Debug, Clone)]
pub struct ScannerConfig {
    /// Time from the start of one round over every bucket to the start of the next.
    pub interval: Duration,
    /// After each page, pause this many times as long as the page took.
    pub tranquility: u32,
    /// Pause while drives are offline or the heal queue is half full.
    pub retry_delay: Duration,
}

pub(super) struct Scanner {
    pub(super) healer: Arc<Healer>,
    pub(super) config: ScannerConfig,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) figures: HealFigures,
}

impl Scanner {
    pub(super) async fn run(mut self) {
        tracing::info!(set = ?self.healer.drives().position(), "background scanner started");
        loop {
            let started = Instant::now();
            if self.healer.drives().online() {
                let round = self.round().await;
                if round.is_some() {
                    self.figures.cycle(started.elapsed());
                }
                match round {
                    Some(queued) if queued > 0 => {
                        tracing::info!(
                            set = ?self.healer.drives().position(),
                            queued,
                            "scanner queued objects for healing"
                        );
                    }
                    Some(_) => {}
                    None => return,
                }
            }
            let rest = self.config.interval.saturating_sub(started.elapsed());
            if !self.pause(rest.max(self.config.retry_delay)).await {
                return;
            }
        }
    }

    /// One round over every bucket; the objects queued, or `None` when told to stop.
    async fn round(&mut self) -> Option<u64> {
        let mut queued = 0;
        for bucket in self.buckets().await {
            let mut opts = WalkOptions {
                recursive: true,
                limit: PAGE,
                ..Default::default()
            };
            loop {
                while !self.healer.drives().online()
                    || self.healer.queued_heals().await >= HEAL_QUEUE_CAPACITY / 2
                {
                    if !self.pause(self.config.retry_delay).await {
                        return None;
                    }
                }
                let started = Instant::now();
                let pages = self
                    .healer
                    .drives()
                    .each(|_, d| d.walk(&bucket, &opts))
                    .await;
                let Some(scanned) = suspects(&pages) else {
                    break; // a drive failed its walk: try this bucket next round
                };
                for key in &scanned.suspects {
                    self.healer
                        .queue()
                        .push(&bucket, key, HealScan::Normal)
                        .await;
                }
                queued += scanned.suspects.len() as u64;
                self.figures.scanned(scanned.checked);
                if !self
                    .pause(started.elapsed() * self.config.tranquility)
                    .await
                {
                    return None;
                }
                match scanned.cutoff {
                    Some(c) => opts.start_after = c,
                    None => break,
                }
            }
        }
        Some(queued)
    }

    /// The bucket volumes any drive of the set holds.
    async fn buckets(&self) -> BTreeSet<String> {
        (self.healer.drives())
            .each(|_, d| d.list_volumes())
            .await
            .into_iter()
            .flatten()
            .flatten()
            .map(|v| v.name)
            .collect()
    }

    /// Sleeps `d`; false (at once) when the scanner is told to stop.
    async fn pause(&mut self, d: Duration) -> bool {
        unless_stopped(&mut self.stop, tokio::time::sleep(d)).await
    }
}

/// The objects of one page that need a heal, and where the page stops.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Scanned {
    /// Names judged (up to the cutoff).
    pub(super) checked: u64,
    pub(super) suspects: Vec<String>,
    pub(super) cutoff: Option<String>,
}

/// Suspects among the drives' pages: names that some drive lacks, or holds at another
/// version than the others (or unreadably). `None` when a drive's walk failed. Nothing
/// past the shortest truncated page is judged.
pub(super) fn suspects(pages: &[Result<WalkPage, DriveError>]) -> Option<Scanned> {
    let pages: Vec<&WalkPage> = pages
        .iter()
        .map(|p| p.as_ref().ok())
        .collect::<Option<_>>()?;
    let cutoff = WalkPage::cutoff(pages.iter().copied());
    let mut versions: BTreeMap<&str, HashMap<Option<String>, usize>> = BTreeMap::new();
    for page in &pages {
        for entry in &page.entries {
            if cutoff.as_deref().is_some_and(|c| entry.name.as_str() > c) {
                break;
            }
            let version = entry
                .meta
                .as_ref()
                .and_then(|m| ObjectMeta::from_walk(m).ok())
                .map(|m| m.version_id);
            *versions
                .entry(entry.name.as_str())
                .or_default()
                .entry(version)
                .or_default() += 1;
        }
    }
    let drives = pages.len();
    let checked = versions.len() as u64;
    let suspects = versions
        .into_iter()
        .filter(|(_, seen)| {
            seen.len() != 1 || seen.contains_key(&None) || seen.values().sum::<usize>() != drives
        })
        .map(|(name, _)| name.to_string())
        .collect();
    Some(Scanned {
        checked,
        suspects,
        cutoff,
    })
}

/// Runs `fut` to its end; false (at once) when `stop` says to stop (the healer's and the
/// scanner's one way to wait).
pub(super) async fn unless_stopped(
    stop: &mut watch::Receiver<bool>,
    fut: impl Future<Output = ()>,
) -> bool {
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        _ = stop.changed() => false,
        () = fut => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drive::{WalkEntry, WalkMeta};

    fn page(entries: &[(&str, &str)], truncated: bool) -> Result<WalkPage, DriveError> {
        let entries = entries
            .iter()
            .map(|(name, version)| {
                let meta = ObjectMeta {
                    version_id: (*version).to_string(),
                    ..Default::default()
                };
                WalkEntry {
                    name: (*name).to_string(),
                    meta: Some(WalkMeta::Header(
                        prost::Message::encode_to_vec(&meta).into(),
                    )),
                }
            })
            .collect();
        Ok(WalkPage { entries, truncated })
    }

    #[test]
    fn names_missing_on_a_drive_or_at_another_version_are_suspects() {
        let pages = [
            page(&[("a", "1"), ("b", "1"), ("c", "1"), ("d", "1")], false),
            page(&[("a", "1"), ("b", "2"), ("c", "1")], false),
            page(&[("a", "1"), ("b", "1"), ("c", "1"), ("e", "1")], false),
        ];
        let s = suspects(&pages).unwrap();
        assert_eq!(s.suspects, ["b", "d", "e"]);
        assert_eq!(s.cutoff, None);
    }

    #[test]
    fn nothing_past_the_shortest_truncated_page_is_judged_and_failed_walks_judge_nothing() {
        let pages = [
            page(&[("a", "1"), ("b", "1")], true),
            page(&[("a", "1"), ("b", "1"), ("c", "1")], false),
        ];
        let s = suspects(&pages).unwrap();
        assert!(s.suspects.is_empty(), "{:?}", s.suspects);
        assert_eq!(s.cutoff.as_deref(), Some("b"));
        let failed = [
            page(&[("a", "1")], false),
            Err(DriveError::Offline {
                reason: "test".into(),
            }),
        ];
        assert_eq!(suspects(&failed), None);
    }
}
