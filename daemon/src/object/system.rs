//! The system area: small records of the cluster's own state (identities and policies)
//! under `.tessera/system/` on every drive of the first set, written with the set's write
//! quorum and read as the copy at least k drives agree on, like bucket records. Clients
//! cannot name it: it lies in the metadata volume, outside every bucket.

use bytes::Bytes;

use super::{ObjectError, ObjectLayer};
use crate::drive::META_VOLUME;
use crate::erasure::ErasureError;

/// The folder of system records inside the metadata volume.
const SYSTEM_DIR: &str = "system";

impl ObjectLayer {
    /// The system record `name`, or `None` when at least k drives lack it.
    pub async fn read_system_record(&self, name: &str) -> Result<Option<Bytes>, ObjectError> {
        let path = format!("{SYSTEM_DIR}/{name}");
        match self
            .first_set()
            .drives()
            .read_record(META_VOLUME, &path)
            .await
        {
            Ok(data) => Ok(Some(data)),
            Err(ErasureError::Drive(e)) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the system record `name` on every drive of the first set (write quorum).
    pub async fn write_system_record(&self, name: &str, data: Bytes) -> Result<(), ObjectError> {
        let path = format!("{SYSTEM_DIR}/{name}");
        (self.first_set().drives())
            .write_record(META_VOLUME, &path, data)
            .await?;
        Ok(())
    }
}
