//! Streaming decode: an object's byte range, block by block, from the shards of its drives.
//!
//! Reads the k data shards first and touches parity only when a shard is missing, fails
//! to open, fails to read or fails its checksum; such a shard is dropped for the rest of
//! the part and the next unused shard is opened at the current block. With fewer than k
//! good shards a block fails with `TooFewShards`: wrong bytes are never returned.
//! Range reads open files at the first block they need and read only up to the last.
//! Memory: one block's k frames, plus what the drives read ahead (a local drive keeps up to
//! four frames of each open shard file in flight); the output are slices of them (no copy).

use std::sync::Arc;

use std::collections::VecDeque;

use bytes::Bytes;

use super::codec::Codec;
use super::codec::{CHECKSUM_LEN, verify_frame};
use super::drives::note_fault;
use super::error::ErasureError;
use super::heal_queue::HealHint;
use super::meta::ObjectMeta;
use crate::drive::{Drive, FileReader};
use crate::metrics::DriveCounters;

/// Where each shard of an object is.
pub(crate) enum Sources {
    /// Small objects: each shard's single frame, from its drive's metadata file.
    Inline(Vec<Option<Bytes>>),
    /// Shard files `<volume>/<dir>/part.N` on the drive holding each shard.
    Files {
        drives: Vec<Option<Arc<dyn Drive>>>,
        volume: String,
        dir: String,
    },
}

impl Sources {
    fn available(&self, shard: usize) -> bool {
        match self {
            Sources::Inline(frames) => frames[shard].is_some(),
            Sources::Files { drives, .. } => drives[shard].is_some(),
        }
    }
}

/// Reads a byte range of one object. Create with [`ObjectReader::new`], then call
/// [`ObjectReader::open`] while the object's read lock is held.
pub struct ObjectReader {
    codec: Arc<Codec>,
    meta: ObjectMeta,
    sources: Sources,
    pos: u64,
    end: u64,
    part: usize,
    part_start: u64,
    current: Option<PartReader>,
    /// Decoded chunks not yet handed out (one block's data-shard slices).
    ready: VecDeque<Bytes>,
    /// Queues a heal of the object the first time a shard turns out lost or corrupt.
    heal: Option<HealHint>,
    /// Where a shard's drive fault is counted.
    faults: Option<Faults>,
}

/// Each shard's drive's fault counters: the set's counters and the drive of each shard.
pub(crate) struct Faults {
    counters: Arc<[DriveCounters]>,
    holders: Vec<Option<usize>>,
}

impl Faults {
    /// `counters` of the set's drives; `holders[shard]` is the drive holding the shard.
    pub(crate) fn new(counters: Arc<[DriveCounters]>, holders: Vec<Option<usize>>) -> Self {
        Self { counters, holders }
    }

    /// Counts the loss of `shard` against its drive when it is a fault of the drive.
    fn note(&self, shard: usize, lost: &FrameLost) {
        let Some(Some(d)) = self.holders.get(shard) else {
            return;
        };
        match lost {
            FrameLost::Corrupt => {
                if let Some(c) = self.counters.get(*d) {
                    c.checksum_mismatch();
                }
            }
            FrameLost::Read(e) => note_fault::<()>(self.counters.get(*d), &Err(e.duplicate())),
            FrameLost::Missing => {}
        }
    }
}

struct Slot {
    reader: Option<Box<dyn FileReader>>,
    failed: bool,
}

struct PartReader {
    number: u32,
    size: u64,
    pos: u64,
    end: u64,
    slots: Vec<Slot>,
    active: Vec<usize>,
    /// Block index the open readers are positioned at.
    next_block: u64,
    /// A shard of an answering drive was missing or failed its checksum.
    lost: bool,
}

impl ObjectReader {
    pub(crate) fn new(
        codec: Arc<Codec>,
        meta: ObjectMeta,
        sources: Sources,
        start: u64,
        end: u64,
    ) -> Self {
        Self {
            codec,
            meta,
            sources,
            pos: start,
            end,
            part: 0,
            part_start: 0,
            current: None,
            ready: VecDeque::new(),
            heal: None,
            faults: None,
        }
    }

    /// Counts drive faults the read meets (checksum mismatches, I/O errors) in `faults`.
    pub(crate) fn report_faults(&mut self, faults: Faults) {
        self.faults = Some(faults);
    }

    /// Queues a heal through `hint` if a shard turns out missing or corrupt while reading.
    pub(crate) fn heal_on_loss(&mut self, hint: HealHint) {
        self.heal = Some(hint);
    }

    /// Fires the heal hint (once) when the current part lost a shard.
    async fn report_loss(&mut self) {
        if self.current.as_ref().is_some_and(|pr| pr.lost)
            && let Some(hint) = self.heal.take()
        {
            hint.fire().await;
        }
    }

    /// Data shards per block (chunks per block a read yields at most).
    pub fn data_shards(&self) -> usize {
        self.codec.data_shards()
    }

    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        &self.meta
    }

    /// The byte range this reader yields, `[start, end)`.
    pub fn remaining(&self) -> (u64, u64) {
        (self.pos, self.end)
    }

    /// Opens the shards of the first part to read (call under the object's read lock, so a
    /// concurrent overwrite cannot remove them first).
    pub async fn open(&mut self) -> Result<(), ErasureError> {
        self.ensure_part().await
    }

    /// The next chunk of data (a data shard's part of a block); `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, ErasureError> {
        loop {
            if let Some(chunk) = self.ready.pop_front() {
                return Ok(Some(chunk));
            }
            if self.pos >= self.end {
                return Ok(None);
            }
            self.ensure_part().await?;
            let Some(pr) = self.current.as_mut() else {
                return Ok(None);
            };
            if pr.pos >= pr.end {
                self.part_start += pr.size;
                self.part += 1;
                self.current = None;
                continue;
            }
            let faults = self.faults.as_ref();
            let chunks = read_block(&self.codec, &self.meta, &self.sources, pr, faults).await;
            self.report_loss().await;
            let chunks = chunks?;
            self.pos += chunks.iter().map(|c| c.len() as u64).sum::<u64>();
            self.ready.extend(chunks);
        }
    }

    /// Positions `current` on the part holding `pos`.
    async fn ensure_part(&mut self) -> Result<(), ErasureError> {
        if self.current.is_some() || self.pos >= self.end {
            return Ok(());
        }
        while let Some(part) = self.meta.parts.get(self.part) {
            if self.pos < self.part_start + part.size {
                break;
            }
            self.part_start += part.size;
            self.part += 1;
        }
        let Some(part) = self.meta.parts.get(self.part) else {
            return Ok(());
        };
        let start = self.pos - self.part_start;
        let end = (self.end - self.part_start).min(part.size);
        let mut pr = PartReader {
            number: part.number,
            size: part.size,
            pos: start,
            end,
            slots: (0..self.codec.total_shards())
                .map(|s| Slot {
                    reader: None,
                    failed: !self.sources.available(s),
                })
                .collect(),
            active: Vec::new(),
            next_block: start / block_size(&self.meta),
            lost: false,
        };
        let block = pr.next_block;
        let want = self.codec.data_shards();
        activate(&self.codec, &self.meta, &self.sources, &mut pr, block, want).await?;
        self.current = Some(pr);
        self.report_loss().await;
        Ok(())
    }
}

pub(super) fn block_size(meta: &ObjectMeta) -> u64 {
    meta.erasure
        .as_ref()
        .map_or(super::limits::BLOCK_SIZE as u64, |e| {
            u64::from(e.block_size.max(1))
        })
}

/// Length of block `b` of a part of `size` bytes.
pub(super) fn block_len(meta: &ObjectMeta, size: u64, b: u64) -> usize {
    let bs = block_size(meta);
    (size.saturating_sub(b * bs)).min(bs) as usize
}

/// Byte offset of block `b`'s frame in a shard file.
pub(super) fn frame_offset(codec: &Codec, meta: &ObjectMeta, b: u64) -> u64 {
    b * (CHECKSUM_LEN + codec.shard_len(block_size(meta) as usize)) as u64
}

/// Adds unused, unfailed shards to `active` (opening their files at block `b`) until
/// `want` more are active.
async fn activate(
    codec: &Codec,
    meta: &ObjectMeta,
    sources: &Sources,
    pr: &mut PartReader,
    b: u64,
    mut want: usize,
) -> Result<(), ErasureError> {
    for s in 0..pr.slots.len() {
        if want == 0 {
            break;
        }
        if pr.slots[s].failed || pr.active.contains(&s) {
            continue;
        }
        if let Sources::Files {
            drives,
            volume,
            dir,
        } = sources
        {
            let Some(drive) = &drives[s] else { continue };
            let last = (pr.end.max(1) - 1) / block_size(meta);
            let from = frame_offset(codec, meta, b);
            let to = frame_offset(codec, meta, last)
                + (CHECKSUM_LEN + codec.shard_len(block_len(meta, pr.size, last))) as u64;
            let path = format!("{dir}/part.{}", pr.number);
            match drive
                .read_file(volume, &path, from, to.saturating_sub(from))
                .await
            {
                Ok(r) => pr.slots[s].reader = Some(r),
                Err(e) => {
                    tracing::warn!(drive = drive.endpoint(), %path, error = %e, "shard unavailable");
                    pr.lost |= !e.is_offline();
                    pr.slots[s].failed = true;
                    continue;
                }
            }
        }
        pr.active.push(s);
        want -= 1;
    }
    if want > 0 {
        let have = pr.active.len();
        return Err(ErasureError::TooFewShards {
            have,
            need: codec.data_shards(),
        });
    }
    Ok(())
}

/// Why a shard's frame could not be used.
#[derive(Debug, thiserror::Error)]
enum FrameLost {
    #[error("the shard has no frame here")]
    Missing,
    #[error("{0}")]
    Read(crate::drive::DriveError),
    #[error("the frame fails its checksum")]
    Corrupt,
}

/// Reads one frame of shard `s` and verifies it.
async fn read_frame(
    sources: &Sources,
    s: usize,
    slot: &mut Slot,
    frame_len: usize,
) -> Result<Bytes, FrameLost> {
    let frame = match sources {
        Sources::Inline(frames) => match &frames[s] {
            Some(frame) if frame.len() == frame_len => frame.clone(),
            _ => return Err(FrameLost::Missing),
        },
        Sources::Files { .. } => {
            let reader = slot.reader.as_mut().ok_or(FrameLost::Missing)?;
            reader
                .read_exact(frame_len)
                .await
                .map_err(FrameLost::Read)?
        }
    };
    verify_frame(&frame).ok_or(FrameLost::Corrupt)?;
    Ok(frame.slice(CHECKSUM_LEN..))
}

/// Reads, verifies and decodes the next block of `pr`; returns its requested bytes.
async fn read_block(
    codec: &Codec,
    meta: &ObjectMeta,
    sources: &Sources,
    pr: &mut PartReader,
    faults: Option<&Faults>,
) -> Result<Vec<Bytes>, ErasureError> {
    let bs = block_size(meta);
    let b = pr.next_block;
    let len = block_len(meta, pr.size, b);
    let frame_len = CHECKSUM_LEN + codec.shard_len(len);
    let k = codec.data_shards();
    let mut shards: Vec<Option<Bytes>> = vec![None; pr.slots.len()];
    let mut todo = pr.active.clone();
    loop {
        let reads = pr
            .slots
            .iter_mut()
            .enumerate()
            .filter(|(s, _)| todo.contains(s))
            .map(|(s, slot)| async move { (s, read_frame(sources, s, slot, frame_len).await) });
        for (s, frame) in futures::future::join_all(reads).await {
            match frame {
                Ok(f) => shards[s] = Some(f),
                Err(e) => {
                    if let Some(faults) = faults {
                        faults.note(s, &e);
                    }
                    tracing::warn!(
                        shard = s,
                        block = b,
                        error = %e,
                        "shard lost or corrupt; reading parity"
                    );
                    pr.lost = true;
                    pr.slots[s].failed = true;
                    pr.slots[s].reader = None;
                    pr.active.retain(|&a| a != s);
                }
            }
        }
        let good = shards.iter().filter(|s| s.is_some()).count();
        if good >= k {
            break;
        }
        let before: Vec<usize> = pr.active.clone();
        activate(codec, meta, sources, pr, b, k - good).await?;
        todo = pr
            .active
            .iter()
            .copied()
            .filter(|s| !before.contains(s))
            .collect();
    }
    pr.next_block += 1;

    let block_start = b * bs;
    let lo = (pr.pos - block_start) as usize;
    let hi = ((pr.end - block_start) as usize).min(len);
    let data = assemble(codec, shards, len, lo, hi)?;
    pr.pos = block_start + hi as u64;
    Ok(data)
}

/// Bytes `[lo, hi)` of a block of `len` bytes as slices of its data shards (no copy),
/// rebuilding missing data shards first.
fn assemble(
    codec: &Codec,
    shards: Vec<Option<Bytes>>,
    len: usize,
    lo: usize,
    hi: usize,
) -> Result<Vec<Bytes>, ErasureError> {
    let k = codec.data_shards();
    let shard_len = codec.shard_len(len);
    let data: Vec<Bytes> = if shards[..k].iter().all(Option::is_some) {
        shards.into_iter().take(k).flatten().collect()
    } else {
        let mut owned: Vec<Option<Vec<u8>>> =
            shards.into_iter().map(|s| s.map(|b| b.to_vec())).collect();
        codec.reconstruct_data(&mut owned)?;
        owned
            .into_iter()
            .take(k)
            .flatten()
            .map(Bytes::from)
            .collect()
    };
    let mut out = Vec::with_capacity(k);
    for (i, shard) in data.into_iter().enumerate() {
        let start = i * shard_len;
        let (from, to) = (lo.max(start), hi.min(start + shard_len));
        if from < to {
            out.push(shard.slice(from - start..to - start));
        }
    }
    Ok(out)
}
