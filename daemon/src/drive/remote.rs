//! `RemoteDrive`: a drive of a peer node, reached through its gRPC `StorageService`.
//! Control calls go over the peer's control channel with a deadline; shard files stream
//! over its bulk channel with a deadline per message.
//!
//! Invariants: every call, and every wait of a stream, fails fast with `Offline` while
//! the peer is offline or as soon as it goes offline (see `crate::peer`); a peer's drive
//! errors come back as the same `DriveError` kinds (see `status`); a writer dropped before
//! `finish` resets its stream, so the peer never keeps the file as complete.

mod batch;
pub mod status;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use tessera_proto::internode as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use self::status::from_status;
use super::Groups;
use super::{
    DiskInfo, Drive, DriveError, FileReader, FileWriter, Target, VolumeInfo, WalkOptions, WalkPage,
};
use crate::peer::{CALL_TIMEOUT, Peer, STREAM_TIMEOUT};

/// Messages of a file upload buffered ahead of the network.
const WRITE_QUEUE: usize = 4;

/// A drive at `path` on `peer`.
pub struct RemoteDrive {
    peer: Arc<Peer>,
    path: String,
    endpoint: String,
}

impl RemoteDrive {
    /// The drive `path` of `peer`.
    pub fn new(peer: Arc<Peer>, path: &str) -> Self {
        Self {
            endpoint: format!("http://{}{}", peer.address(), path),
            peer,
            path: path.to_string(),
        }
    }

    /// The node holding the drive.
    pub fn peer(&self) -> &Arc<Peer> {
        &self.peer
    }

    fn path_request(&self, volume: &str, path: &str) -> pb::PathRequest {
        pb::PathRequest {
            drive: self.path.clone(),
            volume: volume.to_string(),
            path: path.to_string(),
        }
    }

    fn volume_request(&self, volume: &str) -> pb::VolumeRequest {
        pb::VolumeRequest {
            drive: self.path.clone(),
            volume: volume.to_string(),
        }
    }
}

#[async_trait]
impl Drive for RemoteDrive {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn is_online(&self) -> bool {
        self.peer.is_online()
    }

    fn join<'a>(&'a self, place: usize, groups: &mut Groups<'a>) -> bool {
        groups.peer(place, self);
        true
    }

    fn is_remote(&self) -> bool {
        true
    }

    async fn disk_info(&self) -> Result<DiskInfo, DriveError> {
        let req = pb::DriveRequest {
            drive: self.path.clone(),
        };
        let r = self
            .peer
            .call(CALL_TIMEOUT, self.peer.storage().disk_info(req))
            .await
            .map_err(|s| from_status(&s, "", ""))?;
        Ok(DiskInfo {
            total: r.total,
            free: r.free,
            used: r.used,
        })
    }

    async fn make_volume(&self, volume: &str) -> Result<(), DriveError> {
        let req = self.volume_request(volume);
        self.peer
            .call(CALL_TIMEOUT, self.peer.storage().make_volume(req))
            .await
            .map(drop)
            .map_err(|s| from_status(&s, volume, ""))
    }

    async fn delete_volume(&self, volume: &str) -> Result<(), DriveError> {
        let req = self.volume_request(volume);
        self.peer
            .call(CALL_TIMEOUT, self.peer.storage().delete_volume(req))
            .await
            .map(drop)
            .map_err(|s| from_status(&s, volume, ""))
    }

    async fn stat_volume(&self, volume: &str) -> Result<(), DriveError> {
        let req = self.volume_request(volume);
        self.peer
            .call(CALL_TIMEOUT, self.peer.storage().stat_volume(req))
            .await
            .map(drop)
            .map_err(|s| from_status(&s, volume, ""))
    }

    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>, DriveError> {
        let req = pb::DriveRequest {
            drive: self.path.clone(),
        };
        let r = self
            .peer
            .call(CALL_TIMEOUT, self.peer.storage().list_volumes(req))
            .await
            .map_err(|s| from_status(&s, "", ""))?;
        Ok(r.names
            .into_iter()
            .map(|name| VolumeInfo { name })
            .collect())
    }

    async fn read_all(&self, volume: &str, path: &str) -> Result<Bytes, DriveError> {
        let req = self.path_request(volume, path);
        self.peer
            .call(CALL_TIMEOUT, self.peer.storage().read_all(req))
            .await
            .map(|r| r.data)
            .map_err(|s| from_status(&s, volume, path))
    }

    async fn write_all(
        &self,
        volume: &str,
        path: &str,
        data: Bytes,
        target: Target,
    ) -> Result<(), DriveError> {
        let req = pb::WriteAllRequest {
            drive: self.path.clone(),
            volume: volume.to_string(),
            path: path.to_string(),
            data,
            fresh: target == Target::Fresh,
        };
        self.peer
            .call(CALL_TIMEOUT, self.peer.storage().write_all(req))
            .await
            .map(drop)
            .map_err(|s| from_status(&s, volume, path))
    }

    async fn create_file(
        &self,
        volume: &str,
        path: &str,
    ) -> Result<Box<dyn FileWriter>, DriveError> {
        if !self.peer.is_online() {
            return Err(DriveError::Offline {
                reason: format!("node {} is offline", self.peer.address()),
            });
        }
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let header = pb::CreateFileRequest {
            msg: Some(pb::create_file_request::Msg::Header(
                self.path_request(volume, path),
            )),
        };
        // The channel is empty: the header always fits.
        let _ = tx.try_send(header);
        let mut client = self.peer.storage_data();
        let call =
            tokio::spawn(
                async move { client.create_file(ReceiverStream::new(rx)).await.map(drop) },
            );
        Ok(Box::new(RemoteWriter {
            peer: self.peer.clone(),
            volume: volume.to_string(),
            path: path.to_string(),
            tx: Some(tx),
            call,
        }))
    }

    async fn read_file(
        &self,
        volume: &str,
        path: &str,
        offset: u64,
        len: u64,
    ) -> Result<Box<dyn FileReader>, DriveError> {
        let req = pb::ReadFileRequest {
            drive: self.path.clone(),
            volume: volume.to_string(),
            path: path.to_string(),
            offset,
            length: len,
        };
        let stream = self
            .peer
            .call(CALL_TIMEOUT, self.peer.storage_data().read_file(req))
            .await
            .map_err(|s| from_status(&s, volume, path))?;
        Ok(Box::new(RemoteReader {
            peer: self.peer.clone(),
            volume: volume.to_string(),
            path: path.to_string(),
            stream,
            pending: Bytes::new(),
        }))
    }

    async fn list_dir(&self, volume: &str, dir: &str) -> Result<Vec<String>, DriveError> {
        let req = self.path_request(volume, dir);
        self.peer
            .call(CALL_TIMEOUT, self.peer.storage().list_dir(req))
            .await
            .map(|r| r.names)
            .map_err(|s| from_status(&s, volume, dir))
    }

    async fn rename(
        &self,
        src_volume: &str,
        src: &str,
        dst_volume: &str,
        dst: &str,
    ) -> Result<(), DriveError> {
        let req = pb::RenameRequest {
            drive: self.path.clone(),
            src_volume: src_volume.to_string(),
            src: src.to_string(),
            dst_volume: dst_volume.to_string(),
            dst: dst.to_string(),
        };
        self.peer
            .call(CALL_TIMEOUT, self.peer.storage().rename(req))
            .await
            .map(drop)
            .map_err(|s| from_status(&s, src_volume, src))
    }

    async fn delete(&self, volume: &str, path: &str, recursive: bool) -> Result<(), DriveError> {
        let req = pb::DeleteRequest {
            drive: self.path.clone(),
            volume: volume.to_string(),
            path: path.to_string(),
            recursive,
        };
        self.peer
            .call(CALL_TIMEOUT, self.peer.storage().delete(req))
            .await
            .map(drop)
            .map_err(|s| from_status(&s, volume, path))
    }

    async fn rename_data(
        &self,
        src_volume: &str,
        src_dir: &str,
        data_dir: Option<&str>,
        dst_volume: &str,
        dst_dir: &str,
    ) -> Result<(), DriveError> {
        let req = pb::RenameDataRequest {
            drive: self.path.clone(),
            src_volume: src_volume.to_string(),
            src_dir: src_dir.to_string(),
            data_dir: data_dir.unwrap_or_default().to_string(),
            dst_volume: dst_volume.to_string(),
            dst_dir: dst_dir.to_string(),
        };
        self.peer
            .call(CALL_TIMEOUT, self.peer.storage().rename_data(req))
            .await
            .map(drop)
            .map_err(|s| from_status(&s, src_volume, src_dir))
    }

    async fn walk(&self, volume: &str, opts: &WalkOptions) -> Result<WalkPage, DriveError> {
        let req = batch::walk_request(&self.path, volume, opts);
        let r = self
            .peer
            .call(CALL_TIMEOUT, self.peer.storage().walk(req))
            .await
            .map_err(|s| from_status(&s, volume, &opts.prefix))?;
        Ok(batch::page_from_pb(r))
    }
}

/// A file streaming to a peer: messages go through a small queue into the call's stream.
struct RemoteWriter {
    peer: Arc<Peer>,
    volume: String,
    path: String,
    tx: Option<mpsc::Sender<pb::CreateFileRequest>>,
    call: tokio::task::JoinHandle<Result<(), Status>>,
}

impl RemoteWriter {
    /// The call's own error, once its stream has ended early.
    async fn outcome(&mut self) -> DriveError {
        let status = match self.peer.bounded(STREAM_TIMEOUT, &mut self.call).await {
            Ok(Ok(Err(status))) => status,
            Ok(Ok(Ok(()))) => Status::internal("the peer ended the upload early"),
            Ok(Err(e)) => Status::internal(format!("upload task failed: {e}")),
            Err(status) => status,
        };
        self.peer.observe(&status);
        from_status(&status, &self.volume, &self.path)
    }
}

#[async_trait]
impl FileWriter for RemoteWriter {
    async fn write(&mut self, data: Bytes) -> Result<(), DriveError> {
        let Some(tx) = &self.tx else {
            return Err(self.outcome().await);
        };
        let msg = pb::CreateFileRequest {
            msg: Some(pb::create_file_request::Msg::Data(data)),
        };
        match self.peer.bounded(STREAM_TIMEOUT, tx.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => {
                self.tx = None;
                Err(self.outcome().await)
            }
            Err(status) => {
                self.peer.observe(&status);
                Err(from_status(&status, &self.volume, &self.path))
            }
        }
    }

    async fn finish(mut self: Box<Self>) -> Result<(), DriveError> {
        // The end of the stream is the end of the file.
        self.tx = None;
        match self.peer.bounded(STREAM_TIMEOUT, &mut self.call).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(status))) | Err(status) => {
                self.peer.observe(&status);
                Err(from_status(&status, &self.volume, &self.path))
            }
            Ok(Err(e)) => Err(DriveError::Offline {
                reason: format!("upload task failed: {e}"),
            }),
        }
    }
}

impl Drop for RemoteWriter {
    fn drop(&mut self) {
        // Unfinished: reset the stream so the peer discards the file.
        if self.tx.is_some() {
            self.call.abort();
        }
    }
}

/// A file range streaming from a peer, cut into the pieces the caller asks for.
struct RemoteReader {
    peer: Arc<Peer>,
    volume: String,
    path: String,
    stream: Streaming<pb::DataChunk>,
    pending: Bytes,
}

impl RemoteReader {
    async fn next_chunk(&mut self) -> Result<Bytes, DriveError> {
        let status = match self
            .peer
            .bounded(STREAM_TIMEOUT, self.stream.message())
            .await
        {
            Ok(Ok(Some(chunk))) => return Ok(chunk.data),
            Ok(Ok(None)) => {
                return Err(DriveError::Io {
                    path: self.path.clone(),
                    source: std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
                });
            }
            Ok(Err(status)) | Err(status) => status,
        };
        self.peer.observe(&status);
        Err(from_status(&status, &self.volume, &self.path))
    }
}

#[async_trait]
impl FileReader for RemoteReader {
    async fn read_exact(&mut self, len: usize) -> Result<Bytes, DriveError> {
        while self.pending.is_empty() && len > 0 {
            self.pending = self.next_chunk().await?;
        }
        if self.pending.len() >= len {
            return Ok(self.pending.split_to(len));
        }
        let mut out = BytesMut::with_capacity(len);
        out.extend_from_slice(&self.pending);
        self.pending = Bytes::new();
        while out.len() < len {
            let mut chunk = self.next_chunk().await?;
            let need = len - out.len();
            if chunk.len() > need {
                self.pending = chunk.split_off(need);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }
}
