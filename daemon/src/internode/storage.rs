//! The `StorageService` a node offers its peers: each call names one of the node's own
//! drives by its path and runs the same `Drive` method on it. It adds no logic: paths are
//! checked by the drive itself, so a peer can reach nothing outside a drive either.
//!
//! A batched call (`…Of`) is one grouped call ([`crate::drive::group`]): its drives that
//! are online answer in one batch and any other on its own, so one offline drive of this
//! node fails alone.
//!
//! Also counts the shard bytes peers send and fetch in a [`Traffic`] (for the benchmark's
//! internode figure).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::Stream;
use tessera_proto::internode as pb;
use tessera_proto::internode::storage_service_server::StorageService;
use tonic::{Request, Response, Status, Streaming};

use crate::drive::group::{ReadAll, StatVolume, Walk, WriteAll, fan_out};
use crate::drive::remote::status::{to_failure, to_status};
use crate::drive::{Drive, DriveError, Target, WalkMeta, WalkOptions, WalkPage};
use crate::traffic::Traffic;

/// Largest piece of a file sent in one message.
const READ_CHUNK: u64 = 256 << 10;

/// The service over a node's local drives.
pub struct StorageRpc {
    drives: HashMap<String, Arc<dyn Drive>>,
    address: String,
    cluster_hash: String,
    traffic: Arc<Traffic>,
}

impl StorageRpc {
    /// A service for `drives` (by path), answering hellos with `address` and `cluster_hash`.
    pub fn new(
        drives: HashMap<String, Arc<dyn Drive>>,
        address: String,
        cluster_hash: String,
        traffic: Arc<Traffic>,
    ) -> Self {
        Self {
            drives,
            address,
            cluster_hash,
            traffic,
        }
    }

    /// The drives of a batched call, in its order.
    fn drives<S: AsRef<str>>(
        &self,
        paths: impl IntoIterator<Item = S>,
    ) -> Result<Vec<&Arc<dyn Drive>>, Status> {
        (paths.into_iter())
            .map(|p| self.drive(p.as_ref()))
            .collect()
    }

    fn drive(&self, path: &str) -> Result<&Arc<dyn Drive>, Status> {
        self.drives.get(path).ok_or_else(|| {
            to_status(DriveError::Offline {
                reason: format!("node {} has no drive {path:?}", self.address),
            })
        })
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<pb::DataChunk, Status>> + Send>>;

fn ok<T>(r: Result<T, DriveError>) -> Result<Response<T>, Status> {
    r.map(Response::new).map_err(to_status)
}

/// The target a write's `fresh` flag names.
fn target_of(fresh: bool) -> Target {
    if fresh {
        Target::Fresh
    } else {
        Target::Replace
    }
}

/// The answer of a batch of calls that return nothing.
fn outcomes(results: Vec<Result<(), DriveError>>) -> pb::DriveOutcomes {
    let results = (results.into_iter())
        .map(|result| pb::DriveOutcome {
            failure: result.err().map(to_failure),
        })
        .collect();
    pb::DriveOutcomes { results }
}

fn empty(r: Result<(), DriveError>) -> Result<Response<pb::Empty>, Status> {
    ok(r.map(|()| pb::Empty {}))
}

#[tonic::async_trait]
impl StorageService for StorageRpc {
    async fn hello(
        &self,
        _req: Request<pb::HelloRequest>,
    ) -> Result<Response<pb::HelloResponse>, Status> {
        Ok(Response::new(pb::HelloResponse {
            cluster_hash: self.cluster_hash.clone(),
            address: self.address.clone(),
        }))
    }

    async fn disk_info(
        &self,
        req: Request<pb::DriveRequest>,
    ) -> Result<Response<pb::DiskInfoResponse>, Status> {
        let d = self.drive(&req.get_ref().drive)?;
        ok(d.disk_info().await.map(|i| pb::DiskInfoResponse {
            total: i.total,
            free: i.free,
            used: i.used,
        }))
    }

    async fn make_volume(
        &self,
        req: Request<pb::VolumeRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.get_ref();
        empty(self.drive(&r.drive)?.make_volume(&r.volume).await)
    }

    async fn delete_volume(
        &self,
        req: Request<pb::VolumeRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.get_ref();
        empty(self.drive(&r.drive)?.delete_volume(&r.volume).await)
    }

    async fn stat_volume(
        &self,
        req: Request<pb::VolumeRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.get_ref();
        empty(self.drive(&r.drive)?.stat_volume(&r.volume).await)
    }

    async fn stat_volume_of(
        &self,
        req: Request<pb::StatVolumeOfRequest>,
    ) -> Result<Response<pb::DriveOutcomes>, Status> {
        let r = req.get_ref();
        let drives = self.drives(&r.drives)?;
        let stats = fan_out(&drives, &StatVolume { volume: &r.volume }).await;
        Ok(Response::new(outcomes(stats)))
    }

    async fn list_volumes(
        &self,
        req: Request<pb::DriveRequest>,
    ) -> Result<Response<pb::ListVolumesResponse>, Status> {
        let d = self.drive(&req.get_ref().drive)?;
        ok(d.list_volumes().await.map(|v| pb::ListVolumesResponse {
            names: v.into_iter().map(|v| v.name).collect(),
        }))
    }

    async fn read_all(
        &self,
        req: Request<pb::PathRequest>,
    ) -> Result<Response<pb::ReadAllResponse>, Status> {
        let r = req.get_ref();
        let data = self.drive(&r.drive)?.read_all(&r.volume, &r.path).await;
        if let Ok(data) = &data {
            self.traffic
                .sent
                .fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        ok(data.map(|data| pb::ReadAllResponse { data }))
    }

    async fn read_all_of(
        &self,
        req: Request<pb::ReadAllOfRequest>,
    ) -> Result<Response<pb::ReadAllOfResponse>, Status> {
        let r = req.get_ref();
        let drives = self.drives(&r.drives)?;
        let read = ReadAll {
            volume: &r.volume,
            path: &r.path,
        };
        let results = fan_out(&drives, &read).await;
        let results = (results.into_iter())
            .map(|result| {
                let result = match result {
                    Ok(data) => {
                        (self.traffic.sent).fetch_add(data.len() as u64, Ordering::Relaxed);
                        pb::drive_read_result::Result::Data(data)
                    }
                    Err(e) => pb::drive_read_result::Result::Failure(to_failure(e)),
                };
                pb::DriveReadResult {
                    result: Some(result),
                }
            })
            .collect();
        Ok(Response::new(pb::ReadAllOfResponse { results }))
    }

    async fn write_all(
        &self,
        req: Request<pb::WriteAllRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        self.traffic
            .received
            .fetch_add(r.data.len() as u64, Ordering::Relaxed);
        let target = target_of(r.fresh);
        empty(
            self.drive(&r.drive)?
                .write_all(&r.volume, &r.path, r.data, target)
                .await,
        )
    }

    async fn write_all_of(
        &self,
        req: Request<pb::WriteAllOfRequest>,
    ) -> Result<Response<pb::DriveOutcomes>, Status> {
        let r = req.into_inner();
        let drives = self.drives(r.writes.iter().map(|w| &w.drive))?;
        let bytes: usize = r.writes.iter().map(|w| w.data.len()).sum();
        (self.traffic.received).fetch_add(bytes as u64, Ordering::Relaxed);
        let (writes, volume, path) = (&r.writes, &r.volume, &r.path);
        let files: Vec<_> = (writes.iter())
            .map(|w| Some((w.data.clone(), target_of(w.fresh))))
            .collect();
        let files = &files;
        let results = WriteAll {
            volume,
            path,
            files,
        }
        .send(&drives)
        .await;
        Ok(Response::new(outcomes(
            results.into_iter().flatten().collect(),
        )))
    }

    async fn create_file(
        &self,
        req: Request<Streaming<pb::CreateFileRequest>>,
    ) -> Result<Response<pb::Empty>, Status> {
        use pb::create_file_request::Msg;
        let mut stream = req.into_inner();
        let Some(Msg::Header(head)) = stream.message().await?.and_then(|m| m.msg) else {
            return Err(Status::invalid_argument(
                "the first message must name the file",
            ));
        };
        let drive = self.drive(&head.drive)?;
        let mut writer = drive
            .create_file(&head.volume, &head.path)
            .await
            .map_err(to_status)?;
        // An error or a reset stream drops the writer unfinished: the file is not durable
        // and the caller's commit never names it.
        while let Some(msg) = stream.message().await? {
            let Some(Msg::Data(data)) = msg.msg else {
                return Err(Status::invalid_argument("a second header in one file"));
            };
            self.traffic
                .received
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            writer.write(data).await.map_err(to_status)?;
        }
        empty(writer.finish().await)
    }

    type ReadFileStream = ChunkStream;

    async fn read_file(
        &self,
        req: Request<pb::ReadFileRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        let r = req.into_inner();
        let mut reader = self
            .drive(&r.drive)?
            .read_file(&r.volume, &r.path, r.offset, r.length)
            .await
            .map_err(to_status)?;
        let traffic = self.traffic.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut left = r.length;
            while left > 0 {
                let n = left.min(READ_CHUNK);
                let chunk = reader.read_exact(n as usize).await;
                let failed = chunk.is_err();
                if let Ok(data) = &chunk {
                    traffic.sent.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                let msg = chunk.map(|data| pb::DataChunk { data }).map_err(to_status);
                if tx.send(msg).await.is_err() || failed {
                    return;
                }
                left -= n;
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn list_dir(
        &self,
        req: Request<pb::PathRequest>,
    ) -> Result<Response<pb::ListDirResponse>, Status> {
        let r = req.get_ref();
        let names = self.drive(&r.drive)?.list_dir(&r.volume, &r.path).await;
        ok(names.map(|names| pb::ListDirResponse { names }))
    }

    async fn rename(&self, req: Request<pb::RenameRequest>) -> Result<Response<pb::Empty>, Status> {
        let r = req.get_ref();
        empty(
            self.drive(&r.drive)?
                .rename(&r.src_volume, &r.src, &r.dst_volume, &r.dst)
                .await,
        )
    }

    async fn delete(&self, req: Request<pb::DeleteRequest>) -> Result<Response<pb::Empty>, Status> {
        let r = req.get_ref();
        empty(
            self.drive(&r.drive)?
                .delete(&r.volume, &r.path, r.recursive)
                .await,
        )
    }

    async fn rename_data(
        &self,
        req: Request<pb::RenameDataRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.get_ref();
        let data_dir = (!r.data_dir.is_empty()).then_some(r.data_dir.as_str());
        empty(
            self.drive(&r.drive)?
                .rename_data(
                    &r.src_volume,
                    &r.src_dir,
                    data_dir,
                    &r.dst_volume,
                    &r.dst_dir,
                )
                .await,
        )
    }

    async fn walk(
        &self,
        req: Request<pb::WalkRequest>,
    ) -> Result<Response<pb::WalkResponse>, Status> {
        let r = req.into_inner();
        let page = self
            .drive(&r.drive)?
            .walk(&r.volume, &walk_options(&r))
            .await;
        ok(page.map(page_to_pb))
    }

    async fn walk_of(
        &self,
        req: Request<pb::WalkOfRequest>,
    ) -> Result<Response<pb::WalkOfResponse>, Status> {
        let r = req.into_inner();
        let walk = r.walk.unwrap_or_default();
        let opts = walk_options(&walk);
        let drives = self.drives(&r.drives)?;
        let (volume, opts) = (&walk.volume, &opts);
        let pages = fan_out(&drives, &Walk { volume, opts }).await;
        let results = (pages.into_iter())
            .map(|page| pb::DriveWalkResult {
                result: Some(match page {
                    Ok(page) => pb::drive_walk_result::Result::Page(page_to_pb(page)),
                    Err(e) => pb::drive_walk_result::Result::Failure(to_failure(e)),
                }),
            })
            .collect();
        Ok(Response::new(pb::WalkOfResponse { results }))
    }
}

fn walk_options(r: &pb::WalkRequest) -> WalkOptions {
    WalkOptions {
        prefix: r.prefix.clone(),
        start_after: r.start_after.clone(),
        recursive: r.recursive,
        limit: r.limit as usize,
        summaries: r.summaries,
    }
}

fn page_to_pb(page: WalkPage) -> pb::WalkResponse {
    pb::WalkResponse {
        entries: (page.entries.into_iter())
            .map(|e| pb::WalkEntry {
                name: e.name,
                meta: e.meta.map(|m| match m {
                    WalkMeta::Header(h) => pb::walk_entry::Meta::Header(h),
                    WalkMeta::Summary(s) => pb::walk_entry::Meta::Summary(s),
                }),
            })
            .collect(),
        truncated: page.truncated,
    }
}
