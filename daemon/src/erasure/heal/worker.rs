//! The healer: one background task per set that drains the set's heal queue (and starts
//! the set's scanner beside it, see `scanner`).
//!
//! Each step heals one queued object. The worker pauses after each step for a multiple of
//! the step's own time (its tranquility), waits without polling while the queue is empty,
//! and does not touch the queue while a drive of its set reports offline
//! ([`crate::drive::Drive::is_online`]): entries wait until every drive is back. An entry
//! whose heal still finds offline drives is requeued as is; one whose heal fails is retried
//! after a delay, at most `max_attempts` times. Stopping takes effect between steps.
//!
//! Tested by `heal/tests.rs` (heal on read, writes while a drive is offline).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Healer;
use super::scanner::{Scanner, ScannerConfig, unless_stopped};
use crate::metrics::HealFigures;

/// How the healer paces itself.
#[derive(Debug, Clone)]
pub struct HealerConfig {
    /// Pause before looking again while a drive is offline, and after a failed heal.
    pub retry_delay: Duration,
    /// After each heal, pause this many times as long as the heal took (0: no pause).
    pub tranquility: u32,
    /// Failed heals of one object before it leaves the queue (the scanner and
    /// `tessera admin heal` find it again).
    pub max_attempts: u32,
    /// The background scanner's pace; `None` runs no scanner.
    pub scanner: Option<ScannerConfig>,
    /// Where heals and scans are counted.
    pub figures: HealFigures,
}

impl Default for HealerConfig {
    fn default() -> Self {
        Self {
            retry_delay: Duration::from_secs(5),
            tranquility: 1,
            max_attempts: 10,
            scanner: None,
            figures: HealFigures::default(),
        }
    }
}

/// The running healers; dropping the handle stops them too (between steps).
#[must_use = "dropping the handle stops the healers"]
pub struct HealerHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl HealerHandle {
    /// Starts one heal worker per set (given its healer), and when configured one scanner
    /// per set this node scans ([`crate::erasure::SetDrives::scans_here`]); call from within a tokio
    /// runtime.
    pub fn start(healers: impl IntoIterator<Item = Arc<Healer>>, config: HealerConfig) -> Self {
        let (stop, watch) = watch::channel(false);
        let mut tasks = Vec::new();
        for healer in healers {
            if let Some(scanner) = &config.scanner
                && healer.drives().scans_here()
            {
                let scanner = Scanner {
                    healer: healer.clone(),
                    config: scanner.clone(),
                    stop: watch.clone(),
                    figures: config.figures.clone(),
                };
                tasks.push(tokio::spawn(scanner.run()));
            }
            let worker = Worker {
                healer,
                config: config.clone(),
                stop: watch.clone(),
            };
            tasks.push(tokio::spawn(worker.run()));
        }
        Self { stop, tasks }
    }

    /// Stops the healers after their current step and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// What the healer does after a step.
enum Next {
    /// Pause, then take the next entry.
    Pause(Duration),
    /// Wait for a push.
    WaitForWork,
    /// Wait until every drive of the set is online.
    WaitForDrives,
}

struct Worker {
    healer: Arc<Healer>,
    config: HealerConfig,
    stop: watch::Receiver<bool>,
}

impl Worker {
    async fn run(mut self) {
        loop {
            let next = self.step().await;
            let go_on = match next {
                Next::Pause(d) => self.unless_stopped(tokio::time::sleep(d)).await,
                Next::WaitForWork => {
                    let healer = self.healer.clone();
                    self.unless_stopped(healer.queue().pushed()).await
                }
                Next::WaitForDrives => loop {
                    let delay = self.config.retry_delay;
                    if !self.unless_stopped(tokio::time::sleep(delay)).await {
                        break false;
                    }
                    if self.healer.drives().online() {
                        break true;
                    }
                },
            };
            if !go_on {
                return;
            }
        }
    }

    /// Runs `fut` to its end; false (at once) when the healer is told to stop.
    async fn unless_stopped(&mut self, fut: impl Future<Output = ()>) -> bool {
        unless_stopped(&mut self.stop, fut).await
    }

    /// Heals the oldest queued object.
    async fn step(&mut self) -> Next {
        let queue = self.healer.queue();
        if !self.healer.drives().online() {
            return if queue.len().await == 0 {
                Next::WaitForWork
            } else {
                Next::WaitForDrives
            };
        }
        let Some(mut entry) = queue.pop().await else {
            return Next::WaitForWork;
        };
        let started = Instant::now();
        let result = (self.healer)
            .heal_object_with(&entry.bucket, &entry.key, entry.scan)
            .await;
        let (bucket, key) = (entry.bucket.as_str(), entry.key.as_str());
        match result {
            Ok(o) if o.is_complete() => {
                if !o.repaired.is_empty() {
                    self.config.figures.healed();
                    tracing::info!(bucket, key, drives = ?o.repaired, "healed");
                }
                Next::Pause(started.elapsed() * self.config.tranquility)
            }
            Ok(o) if o.failed.is_empty() => {
                tracing::debug!(bucket, key, offline = ?o.offline, "heal waits for offline drives");
                queue.requeue(entry).await;
                Next::WaitForDrives
            }
            other => {
                self.config.figures.failed();
                entry.attempts += 1;
                let error = match other {
                    Ok(o) => format!("{:?}", o.failed),
                    Err(e) => e.to_string(),
                };
                if entry.attempts >= self.config.max_attempts {
                    tracing::warn!(bucket, key, %error, attempts = entry.attempts, "heal failed; giving up");
                } else {
                    tracing::warn!(bucket, key, %error, attempts = entry.attempts, "heal failed; will retry");
                    queue.requeue(entry).await;
                }
                Next::Pause(self.config.retry_delay)
            }
        }
    }
}
