//! Streaming encode: request body → 1 MiB blocks → framed shards → one writer per shard.
//!
//! Memory: one block being read, one being encoded, one being written. The MD5 (ETag) and
//! the encoding of block n run side by side on the blocking pool while block n+1 is read
//! from the client and block n−1's shards are written.
//! A shard writer that fails is dropped; the write fails once fewer than write-quorum
//! writers remain.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::codec::Codec;
use super::error::ErasureError;
use super::quorum::{Answer, Tally};
use crate::drive::{DriveError, FileWriter};

/// One writer per shard index; `None` once it failed (or its drive was unusable).
pub(crate) type ShardWriters = Vec<Option<Box<dyn FileWriter>>>;

/// What was encoded.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    /// Bytes of data.
    pub size: u64,
    /// MD5 of the data.
    pub md5: [u8; 16],
    /// Per shard: its file is complete and durable.
    pub durable: Vec<bool>,
}

/// Reads up to `block_size` bytes; fewer only at the end of the stream.
pub(crate) async fn read_block<R: AsyncRead + Unpin>(
    reader: &mut R,
    block_size: usize,
) -> Result<BytesMut, ErasureError> {
    let mut buf = BytesMut::with_capacity(block_size);
    while buf.len() < block_size {
        let n = (&mut *reader)
            .take((block_size - buf.len()) as u64)
            .read_buf(&mut buf)
            .await
            .map_err(ErasureError::Body)?;
        if n == 0 {
            break;
        }
    }
    Ok(buf)
}

/// Encodes `first` and the rest of `reader` into `writers`, then fsyncs them.
pub(crate) async fn encode_stream<R: AsyncRead + Unpin>(
    codec: &Arc<Codec>,
    block_size: usize,
    first: BytesMut,
    reader: &mut R,
    writers: &mut ShardWriters,
    write_quorum: usize,
    what: &str,
) -> Result<Encoded, ErasureError> {
    let mut hasher = Md5::new();
    let mut size = 0u64;
    let mut block = first;
    let mut pending: Option<Vec<Bytes>> = None;
    loop {
        let current = std::mem::take(&mut block).freeze();
        let len = current.len();
        let codec = codec.clone();
        let step = async {
            if len == 0 {
                return Ok::<_, ErasureError>((hasher, None, BytesMut::new()));
            }
            // MD5 and the erasure code of this block run side by side, while the next
            // block arrives from the client.
            let for_md5 = current.clone();
            let next = async {
                if len < block_size {
                    Ok(BytesMut::new())
                } else {
                    read_block(reader, block_size).await
                }
            };
            let (hashed, encoded, next) = tokio::join!(
                tokio::task::spawn_blocking(move || {
                    hasher.update(&for_md5);
                    hasher
                }),
                tokio::task::spawn_blocking(move || codec.encode_block(&current)),
                next,
            );
            let task_failed = |e: tokio::task::JoinError| ErasureError::Geometry {
                reason: format!("encoder task: {e}"),
            };
            let (hasher, frames) = (hashed.map_err(task_failed)?, encoded.map_err(task_failed)?);
            let next = next?;
            Ok((hasher, Some(frames?), next))
        };
        let write = async {
            match pending.take() {
                Some(frames) => write_frames(writers, frames, write_quorum, what).await,
                None => Ok(()),
            }
        };
        let (written, stepped) = tokio::join!(write, step);
        written?;
        let (h, frames, next) = stepped?;
        hasher = h;
        match frames {
            None => break,
            Some(frames) => {
                size += len as u64;
                pending = Some(frames);
                block = next;
            }
        }
    }
    let durable = finish_all(writers, write_quorum, what).await?;
    Ok(Encoded {
        size,
        md5: hasher.finalize().into(),
        durable,
    })
}

/// Writes one block's frames, frame i to writer i, concurrently.
async fn write_frames(
    writers: &mut ShardWriters,
    frames: Vec<Bytes>,
    write_quorum: usize,
    what: &str,
) -> Result<(), ErasureError> {
    let results = futures::future::join_all(writers.iter_mut().zip(frames).map(
        |(slot, frame)| async move {
            let w = slot.as_mut()?;
            Some(w.write(frame).await)
        },
    ))
    .await;
    drop_failed(writers, results, write_quorum, what)
}

/// Fsyncs every live writer; says which shards are durable.
async fn finish_all(
    writers: &mut ShardWriters,
    write_quorum: usize,
    what: &str,
) -> Result<Vec<bool>, ErasureError> {
    let results = futures::future::join_all(writers.iter_mut().map(|slot| async move {
        let w = slot.take()?;
        Some(w.finish().await)
    }))
    .await;
    Tally::of(&results).require(write_quorum, || what.to_string())?;
    Ok(results.iter().map(Answer::done).collect())
}

fn drop_failed(
    writers: &mut ShardWriters,
    results: Vec<Option<Result<(), DriveError>>>,
    write_quorum: usize,
    what: &str,
) -> Result<(), ErasureError> {
    for (slot, r) in writers.iter_mut().zip(&results) {
        if let Some(Err(e)) = r {
            tracing::warn!(%what, error = %e, "shard write failed; drive dropped from this write");
            *slot = None;
        }
    }
    let live = writers.iter().filter(|w| w.is_some()).count();
    if live < write_quorum {
        return Err(Tally::of(&results).write_lost(what.to_string(), live, write_quorum));
    }
    Ok(())
}
