//! Objects, drives and sets: objects and bytes written and read (counted by the object
//! layer for S3 and gRPC alike), per-drive event counters (I/O errors, checksum mismatches
//! found by reads), and the gauges of drive and set state, which the server sets at each
//! scrape from what the node keeps ([`StorageGauges::observe`]).
//!
//! Invariants: drive labels are the endpoints of the deployment's drives (a fixed list);
//! a drive's state is one-hot over `online`, `offline`, `healing`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// Objects and bytes written and read.
#[derive(Debug, Clone, Default)]
pub struct ObjectFigures {
    written: Counter,
    written_bytes: Counter,
    read: Counter,
    read_bytes: Counter,
}

impl ObjectFigures {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let figures = Self::default();
        registry.register(
            "objects_written",
            "Objects written (PUT, copy, completed multipart upload)",
            figures.written.clone(),
        );
        registry.register_with_unit(
            "object_written",
            "Object bytes written",
            Unit::Bytes,
            figures.written_bytes.clone(),
        );
        registry.register(
            "objects_read",
            "Object reads opened (GET, ranged or whole)",
            figures.read.clone(),
        );
        registry.register_with_unit(
            "object_read",
            "Object bytes read and handed to a client",
            Unit::Bytes,
            figures.read_bytes.clone(),
        );
        figures
    }

    /// One object of `bytes` written at once (a PUT, a copy's write).
    pub fn wrote(&self, bytes: u64) {
        self.written.inc();
        self.written_bytes.inc_by(bytes);
    }

    /// `bytes` written as one part of a multipart upload.
    pub fn wrote_part(&self, bytes: u64) {
        self.written_bytes.inc_by(bytes);
    }

    /// A multipart upload completed: one object written (its bytes counted as parts).
    pub fn completed_upload(&self) {
        self.written.inc();
    }

    /// One object read opened.
    pub fn opened_read(&self) {
        self.read.inc();
    }

    /// `bytes` of object data read.
    pub fn read_bytes(&self, bytes: u64) {
        self.read_bytes.inc_by(bytes);
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DriveLabels {
    drive: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DriveStateLabels {
    drive: String,
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SetLabels {
    pool: u32,
    set: u32,
}

/// The event counters of one drive.
#[derive(Debug, Clone, Default)]
pub struct DriveCounters {
    io_errors: Counter,
    checksum_mismatches: Counter,
    healing: Arc<AtomicBool>,
}

impl DriveCounters {
    /// A drive operation failed with an I/O error (not "not found", not offline).
    pub fn io_error(&self) {
        self.io_errors.inc();
    }

    /// A read found a shard frame that fails its checksum.
    pub fn checksum_mismatch(&self) {
        self.checksum_mismatches.inc();
    }

    /// Marks the drive as being healed onto (a replacement, or back from offline).
    pub fn set_healing(&self, healing: bool) {
        self.healing.store(healing, Ordering::Relaxed);
    }

    fn healing(&self) -> bool {
        self.healing.load(Ordering::Relaxed)
    }
}

/// The counters of every drive, by endpoint.
#[derive(Debug)]
pub(super) struct DriveCounterFamily {
    io_errors: Family<DriveLabels, Counter>,
    checksum_mismatches: Family<DriveLabels, Counter>,
    healing: crate::sync::BlockingRwLock<std::collections::HashMap<String, Arc<AtomicBool>>>,
}

impl DriveCounterFamily {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let io_errors = Family::<DriveLabels, Counter>::default();
        let checksum_mismatches = Family::<DriveLabels, Counter>::default();
        registry.register(
            "drive_io_errors",
            "Drive operations that failed with an I/O error, by drive",
            io_errors.clone(),
        );
        registry.register(
            "drive_checksum_mismatches",
            "Shard frames that failed their checksum when read, by drive",
            checksum_mismatches.clone(),
        );
        Self {
            io_errors,
            checksum_mismatches,
            healing: Default::default(),
        }
    }

    pub(super) fn of(&self, endpoint: &str) -> DriveCounters {
        let labels = DriveLabels {
            drive: endpoint.to_owned(),
        };
        let mut healing = match self.healing.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        DriveCounters {
            io_errors: self.io_errors.get_or_create_owned(&labels),
            checksum_mismatches: self.checksum_mismatches.get_or_create_owned(&labels),
            healing: healing.entry(endpoint.to_owned()).or_default().clone(),
        }
    }
}

/// A drive's state as a scrape reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveState {
    /// Answering.
    Online,
    /// Not answering (or unformatted).
    Offline,
}

/// One drive at scrape time.
#[derive(Debug, Clone)]
pub struct DriveSample {
    /// Endpoint (the label).
    pub endpoint: String,
    /// Online or not.
    pub state: DriveState,
    /// Capacity, used and free bytes, for this node's own drives that answered.
    pub usage: Option<(u64, u64, u64)>,
}

/// One set at scrape time.
#[derive(Debug, Clone)]
pub struct SetSample {
    /// Pool index.
    pub pool: usize,
    /// Set index.
    pub set: usize,
    /// Its drives.
    pub drives: Vec<DriveSample>,
    /// Drives needed to write.
    pub write_quorum: usize,
}

/// Drive and set gauges, set at each scrape.
#[derive(Debug, Clone, Default)]
pub struct StorageGauges {
    drive_state: Family<DriveStateLabels, Gauge>,
    drive_total: Family<DriveLabels, Gauge>,
    drive_used: Family<DriveLabels, Gauge>,
    drive_free: Family<DriveLabels, Gauge>,
    set_online: Family<SetLabels, Gauge>,
    set_size: Family<SetLabels, Gauge>,
    set_quorum: Family<SetLabels, Gauge>,
    heal_queue: Gauge,
}

impl StorageGauges {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let g = Self::default();
        registry.register(
            "drive_state",
            "1 for the drive's state (online, offline, healing), 0 for the others",
            g.drive_state.clone(),
        );
        let bytes = [
            ("drive_total", "Drive capacity", &g.drive_total),
            ("drive_used", "Drive bytes used", &g.drive_used),
            ("drive_free", "Drive bytes free", &g.drive_free),
        ];
        for (name, help, family) in bytes {
            let help = format!("{help}, for this node's drives");
            registry.register_with_unit(name, help, Unit::Bytes, family.clone());
        }
        registry.register(
            "set_drives_online",
            "Drives of the set that answer",
            g.set_online.clone(),
        );
        registry.register("set_drives", "Drives in the set", g.set_size.clone());
        registry.register(
            "set_write_quorum",
            "Drives of the set a write needs",
            g.set_quorum.clone(),
        );
        registry.register(
            "heal_queue_depth",
            "Objects waiting in this node's heal queues",
            g.heal_queue.clone(),
        );
        g
    }

    /// Sets the drive and set gauges from `sets`; `drives` tells which are being healed.
    pub fn observe(&self, sets: &[SetSample], drives: &super::Metrics) {
        for set in sets {
            let labels = SetLabels {
                pool: set.pool as u32,
                set: set.set as u32,
            };
            let online = set
                .drives
                .iter()
                .filter(|d| d.state == DriveState::Online)
                .count();
            self.set_online.get_or_create(&labels).set(online as i64);
            self.set_size
                .get_or_create(&labels)
                .set(set.drives.len() as i64);
            self.set_quorum
                .get_or_create(&labels)
                .set(set.write_quorum as i64);
            for d in &set.drives {
                let healing = drives.drive(&d.endpoint).healing();
                let state = match d.state {
                    DriveState::Online if healing => "healing",
                    DriveState::Online => "online",
                    DriveState::Offline => "offline",
                };
                for s in ["online", "offline", "healing"] {
                    let labels = DriveStateLabels {
                        drive: d.endpoint.clone(),
                        state: s,
                    };
                    let gauge = self.drive_state.get_or_create(&labels);
                    gauge.set(i64::from(s == state));
                }
                if let Some((total, used, free)) = d.usage {
                    let labels = DriveLabels {
                        drive: d.endpoint.clone(),
                    };
                    let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                    self.drive_total.get_or_create(&labels).set(as_i64(total));
                    self.drive_used.get_or_create(&labels).set(as_i64(used));
                    self.drive_free.get_or_create(&labels).set(as_i64(free));
                }
            }
        }
    }

    /// Sets the heal queue depth.
    pub fn heal_queue(&self, depth: usize) {
        self.heal_queue
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }
}
