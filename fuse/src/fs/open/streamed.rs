//! The streamed PutObject of a file written in order: data is buffered up to one chunk
//! and the PutObject starts with the first full chunk, so a file smaller than one goes up
//! in one call at its commit. Holds at most one chunk in memory.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use crate::api::{ObjectInfo, UploadTask};
use crate::fs::error::{Errno, FsError, FsResult};

/// Size of the data messages of a streamed upload.
pub(crate) const UPLOAD_CHUNK: usize = 1 << 20;

/// A streamed upload. The PutObject starts with the first full chunk, so a file smaller
/// than one goes up in one call at its commit, with the attributes set meanwhile (`tar`
/// sets times, owner and mode before it closes each file).
#[derive(Default)]
pub(crate) struct Upload {
    put: Option<Put>,
    buf: BytesMut,
    /// Bytes taken so far, sent or buffered.
    pub(crate) written: u64,
}

/// A committed upload: the object, and the metadata it went up with.
pub(crate) type Sent = (ObjectInfo, HashMap<String, String>);

/// A PutObject in progress.
pub(crate) struct Put {
    pub(crate) tx: mpsc::Sender<Option<Bytes>>,
    pub(crate) task: UploadTask,
    /// The metadata it was started with.
    pub(crate) metadata: HashMap<String, String>,
}

impl Upload {
    /// Takes `data`; sends a chunk once one is full, starting the PutObject with `start`
    /// if it has not started yet.
    pub(crate) async fn write(
        &mut self,
        data: &[u8],
        start: impl FnOnce() -> FsResult<Put>,
    ) -> FsResult<()> {
        self.buf.extend_from_slice(data);
        self.written += data.len() as u64;
        if self.buf.len() < UPLOAD_CHUNK {
            return Ok(());
        }
        let put = match &mut self.put {
            Some(put) => put,
            None => self.put.insert(start()?),
        };
        let chunk = self.buf.split().freeze();
        // A closed channel means the call failed: finishing it says why.
        put.tx.send(Some(chunk)).await.map_err(|_| ended_early())
    }

    /// Sends the rest and waits for the commit. A PutObject not started yet (the file is
    /// smaller than a chunk) is not streamed: `whole` puts the body in one call. Returns
    /// the object and the metadata it went up with.
    pub(crate) async fn finish<F>(mut self, whole: impl FnOnce(Bytes) -> F) -> FsResult<Sent>
    where
        F: Future<Output = FsResult<Sent>>,
    {
        let Some(put) = self.put.take() else {
            return whole(self.buf.freeze()).await;
        };
        let sent = if self.buf.is_empty() {
            Ok(())
        } else {
            put.tx.send(Some(self.buf.split().freeze())).await
        };
        drop(put.tx);
        let info = crate::api::finish(put.task).await?;
        sent.map_err(|_| ended_early())?;
        Ok((info, put.metadata))
    }

    /// Cancels the PutObject, if it started: nothing is committed. Returns the error the
    /// call ended with.
    pub(crate) async fn abort(self) -> Option<FsError> {
        let put = self.put?;
        let _ = put.tx.send(None).await;
        drop(put.tx);
        crate::api::finish(put.task).await.err().map(FsError::from)
    }
}

fn ended_early() -> FsError {
    FsError::posix(Errno::EIO, "upload ended early")
}
