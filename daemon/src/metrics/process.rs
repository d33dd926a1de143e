//! Figures read at scrape time: the process's resident memory and open files (from
//! `/proc/self`; absent where there is no procfs) and the internode byte counts of
//! [`Traffic`].

use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use crate::traffic::Traffic;

/// The process's own figures.
#[derive(Debug)]
pub(super) struct Process;

/// Resident set size in bytes, from `/proc/self/status` (`VmRSS: N kB`).
fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Open file descriptors: the entries of `/proc/self/fd`.
fn open_files() -> Option<i64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(entries.count() as i64)
}

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(rss) = resident_bytes() {
            let gauge = ConstGauge::new(rss);
            let metric = encoder.encode_descriptor(
                "process_resident_memory",
                "Resident memory of the node process",
                Some(&Unit::Bytes),
                gauge.metric_type(),
            )?;
            gauge.encode(metric)?;
        }
        if let Some(files) = open_files() {
            let gauge = ConstGauge::new(files);
            let metric = encoder.encode_descriptor(
                "process_open_fds",
                "Open file descriptors of the node process",
                None,
                gauge.metric_type(),
            )?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

/// The bytes peers moved through this node's StorageService.
#[derive(Debug)]
pub(super) struct TrafficCollector(pub(super) Arc<Traffic>);

impl Collector for TrafficCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let figures = [
            (
                "internode_storage_received",
                "Shard and metadata bytes peers wrote to this node's drives",
                &self.0.received,
            ),
            (
                "internode_storage_sent",
                "Shard bytes peers read from this node's drives",
                &self.0.sent,
            ),
        ];
        for (name, help, value) in figures {
            let counter = ConstCounter::new(value.load(Ordering::Relaxed));
            let metric =
                encoder.encode_descriptor(name, help, Some(&Unit::Bytes), counter.metric_type())?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}
