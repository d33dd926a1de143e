//! Conversions between the ObjectLayer's types and the `ObjectService` messages.

use tessera_proto::object as pb;

use crate::object::{ClusterInfo, DriveState, MetadataUpdate, ObjectAttrs, ObjectInfo};

/// A timestamp from nanoseconds since the Unix epoch.
pub fn timestamp(ns: i64) -> pb::Timestamp {
    pb::Timestamp {
        seconds: ns.div_euclid(1_000_000_000),
        nanos: ns.rem_euclid(1_000_000_000) as u32,
    }
}

/// An object's info as the service returns it.
pub fn object_info(o: ObjectInfo) -> pb::ObjectInfo {
    let parts = o.parts();
    pb::ObjectInfo {
        bucket: o.bucket,
        key: o.key,
        size: o.size,
        modified: Some(timestamp(o.mod_time_ns)),
        etag: o.etag,
        content_type: o.content_type,
        parts,
        user_metadata: o.user_metadata.into_iter().collect(),
    }
}

/// The attributes a writer sets (absent: none).
pub fn attrs(a: Option<pb::ObjectAttributes>) -> ObjectAttrs {
    let a = a.unwrap_or_default();
    ObjectAttrs {
        content_type: a.content_type,
        user_metadata: a.user_metadata.into_iter().collect(),
        headers: Default::default(),
        late: Default::default(),
        versioning: Default::default(),
    }
}

/// A metadata update from its request.
pub fn metadata_update(r: &mut pb::UpdateObjectMetadataRequest) -> MetadataUpdate {
    MetadataUpdate {
        set: std::mem::take(&mut r.set).into_iter().collect(),
        remove: std::mem::take(&mut r.remove),
        ..Default::default()
    }
}

/// The cluster report, with capacity summed over online drives.
pub fn cluster_info(info: ClusterInfo) -> pb::ClusterInfoResponse {
    let mut resp = pb::ClusterInfoResponse {
        deployment_id: info.deployment_id,
        ..Default::default()
    };
    for set in info.sets {
        let mut set_free = Vec::new();
        let drives = set
            .drives
            .into_iter()
            .map(|d| {
                if d.state == DriveState::Online {
                    resp.total_bytes += d.total;
                    resp.used_bytes += d.used;
                    resp.free_bytes += d.free;
                    set_free.push(d.free);
                }
                pb::DriveStatus {
                    endpoint: d.endpoint,
                    state: match d.state {
                        DriveState::Online => pb::DriveState::Online,
                        DriveState::Offline => pb::DriveState::Offline,
                        DriveState::Unformatted => pb::DriveState::Unformatted,
                    } as i32,
                    total_bytes: d.total,
                    used_bytes: d.used,
                    free_bytes: d.free,
                    error: d.error,
                }
            })
            .collect();
        // Usable space: k shards of data for every block, limited by the fullest drive.
        if let Some(min_free) = set_free.iter().min() {
            resp.usable_free_bytes += min_free * set.data as u64;
        }
        resp.sets.push(pb::SetStatus {
            pool: set.pool as u32,
            index: set.index as u32,
            data_shards: set.data as u32,
            parity_shards: set.parity as u32,
            drives,
        });
    }
    resp
}
