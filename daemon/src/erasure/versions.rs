//! S3 versions of one object, kept in its metadata file: the current version is the file's
//! [`ObjectMeta`], the older (noncurrent) ones are its `older` list, newest first. Inline
//! data stays in the file's inline section: the current version's frame first, then each
//! older inline version's, in order, each `inline_len` bytes long (a file without older
//! versions keeps the whole section as the current frame, as before versioning).
//!
//! Invariants:
//! - an unversioned bucket never has older versions, so its files are what they were;
//! - every change of the journal gives the file a new internal `version_id` (drives agree
//!   on a whole journal, not only on its current version);
//! - a drive's journal is only ever built from that drive's own file (its shard indices
//!   and frames), never from another drive's;
//! - a journal holds at most [`MAX_VERSIONS`] versions.

use std::str::FromStr;

use bytes::{Bytes, BytesMut};

use super::error::ErasureError;
use super::meta::ObjectMeta;

/// The S3 name of the version with an empty id.
pub const NULL_VERSION: &str = "null";
/// Most versions one object keeps (MinIO's default bound); a write past it is refused.
pub const MAX_VERSIONS: usize = 10_000;

/// How a bucket keeps versions (S3's three states).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Versioning {
    /// Never enabled: a write replaces the object.
    #[default]
    Unversioned,
    /// Each write adds a version with its own id; a delete adds a marker.
    Enabled,
    /// Writes and deletes replace the `null` version; other versions stay.
    Suspended,
}

impl Versioning {
    /// The id a new version gets: sortable by creation time (UUID v7), or empty (`null`).
    pub fn new_version_id(self) -> String {
        match self {
            Versioning::Enabled => uuid::Uuid::now_v7().to_string(),
            _ => String::new(),
        }
    }
}

impl FromStr for Versioning {
    type Err = ();

    /// S3's status names (`Enabled`, `Suspended`); anything else is refused.
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "Enabled" => Ok(Versioning::Enabled),
            "Suspended" => Ok(Versioning::Suspended),
            _ => Err(()),
        }
    }
}

/// Checks a version id a client sent: `null` or a UUID.
pub fn check_version_id(id: &str) -> Result<(), ErasureError> {
    if id == NULL_VERSION || uuid::Uuid::try_parse(id).is_ok() {
        return Ok(());
    }
    Err(ErasureError::InvalidVersion { id: id.to_string() })
}

impl ObjectMeta {
    /// This version's S3 id (`null` for the empty id).
    pub fn s3_version(&self) -> &str {
        if self.s3_version_id.is_empty() {
            NULL_VERSION
        } else {
            &self.s3_version_id
        }
    }

    /// The versions, newest first: this one, then the older ones.
    pub fn versions(&self) -> impl Iterator<Item = &ObjectMeta> {
        std::iter::once(self).chain(&self.older)
    }

    /// The position of version `id` (`null` included) among [`Self::versions`].
    pub fn find_version(&self, id: &str) -> Option<usize> {
        self.versions().position(|v| v.s3_version() == id)
    }

    /// The version at `index` among [`Self::versions`], without older versions of its own.
    pub fn version_at(&self, index: usize) -> Option<ObjectMeta> {
        match index {
            0 => Some(ObjectMeta {
                older: Vec::new(),
                ..self.clone()
            }),
            i => self.older.get(i - 1).cloned(),
        }
    }

    /// This (current) version's inline frame in `inline`, the file's inline section (the
    /// whole of it unless older frames follow, which `inline_len` then says).
    pub fn current_frame(&self, inline: &Bytes) -> Bytes {
        match self.inline_len {
            0 => inline.clone(),
            len => inline.slice(..(len as usize).min(inline.len())),
        }
    }

    /// Decodes a metadata file's current version only: the older versions' entries are
    /// skipped unread, so a read of the current version costs what it did before versions.
    pub fn current_from_file(file: Bytes) -> Result<(Self, Bytes), String> {
        Self::from_file_without(file, &[OLDER_TAG])
    }

    /// [`Self::current_from_file`] without the user metadata and stored headers either:
    /// what a read's quorum compares (version, time, geometry, parts, inline frame), for
    /// the drives whose copy of the rest is not the one answered.
    pub fn quorum_view_from_file(file: Bytes) -> Result<(Self, Bytes), String> {
        Self::from_file_without(file, &[OLDER_TAG, USER_METADATA_TAG, HEADERS_TAG])
    }

    /// The current version of a metadata file read for an object's data: its header alone
    /// is checked and decoded (the inline frames carry checksums of their own, checked as
    /// they are decoded).
    pub fn current_from_header(file: Bytes) -> Result<Self, String> {
        let header = crate::drive::metafile::strip_inline(file)?;
        Self::from_header_without(&header, &[OLDER_TAG])
    }

    /// The file's inline section is not hashed here: each frame carries its own checksum,
    /// which the erasure decode checks (see [`crate::drive::metafile::decode_for_frames`]).
    fn from_file_without(file: Bytes, tags: &[u32]) -> Result<(Self, Bytes), String> {
        let (header, inline) = crate::drive::metafile::decode_for_frames(file)?;
        Ok((Self::from_header_without(&header, tags)?, inline))
    }

    /// Decodes a metadata header, skipping its fields numbered any of `tags` unread.
    fn from_header_without(header: &[u8], tags: &[u32]) -> Result<Self, String> {
        use prost::Message as _;
        use prost::encoding::{DecodeContext, decode_key, skip_field};
        let failed = |e: prost::DecodeError| format!("metadata: {e}");
        let mut meta = Self::default();
        let mut rest = header;
        while !rest.is_empty() {
            let (tag, wire) = decode_key(&mut rest).map_err(failed)?;
            let ctx = DecodeContext::default();
            match tags.contains(&tag) {
                true => skip_field(wire, tag, &mut rest, ctx),
                false => meta.merge_field(tag, wire, &mut rest, ctx),
            }
            .map_err(failed)?;
        }
        Ok(meta)
    }

    /// Each version's inline frame in `inline`, the file's inline section (empty for a
    /// version whose data is in a data directory).
    pub fn frames(&self, inline: &Bytes) -> Vec<Bytes> {
        if self.older.is_empty() {
            return vec![inline.clone()];
        }
        let mut at = 0usize;
        self.versions()
            .map(|v| {
                let end = (at + v.inline_len as usize).min(inline.len());
                let frame = inline.slice(at.min(end)..end);
                at = end;
                frame
            })
            .collect()
    }
}

/// The protobuf tag of [`ObjectMeta::older`].
const OLDER_TAG: u32 = 14;
/// The protobuf tag of [`ObjectMeta::user_metadata`].
const USER_METADATA_TAG: u32 = 6;
/// The protobuf tag of [`ObjectMeta::headers`].
const HEADERS_TAG: u32 = 10;

/// One drive's versions of an object, each with its inline frame, newest first.
#[derive(Debug, Default)]
pub(super) struct Journal {
    versions: Vec<(ObjectMeta, Bytes)>,
}

impl Journal {
    /// The journal of a drive's decoded file.
    pub(super) fn of(meta: &ObjectMeta, inline: &Bytes) -> Self {
        let frames = meta.frames(inline);
        let versions = (0..frames.len())
            .filter_map(|i| meta.version_at(i))
            .zip(frames)
            .collect();
        Self { versions }
    }

    /// A journal of `versions` (with their frames), newest first.
    pub(super) fn from_versions(versions: Vec<(ObjectMeta, Bytes)>) -> Self {
        Self { versions }
    }

    /// Puts `new` on top. With `replace_null` (a write with the `null` id), an older `null`
    /// version goes; the versions that go are returned (their data is the caller's to
    /// remove once the journal is committed).
    pub(super) fn push(
        &mut self,
        new: ObjectMeta,
        frame: Bytes,
    ) -> Result<Vec<ObjectMeta>, ErasureError> {
        let mut gone = Vec::new();
        if new.s3_version_id.is_empty() {
            let (nulls, kept) = std::mem::take(&mut self.versions)
                .into_iter()
                .partition(|(v, _)| v.s3_version_id.is_empty());
            self.versions = kept;
            gone = nulls.into_iter().map(|(v, _)| v).collect::<Vec<_>>();
        }
        if self.versions.len() >= MAX_VERSIONS {
            return Err(ErasureError::TooManyVersions {
                limit: MAX_VERSIONS,
            });
        }
        self.versions.insert(0, (new, frame));
        Ok(gone)
    }

    /// Applies `edit` to version `id` (none: nothing to do).
    pub(super) fn edit(
        &mut self,
        id: &str,
        edit: impl Fn(&mut ObjectMeta) -> Result<(), ErasureError>,
    ) -> Result<(), ErasureError> {
        match self.versions.iter_mut().find(|(v, _)| v.s3_version() == id) {
            Some((v, _)) => edit(v),
            None => Ok(()),
        }
    }

    /// Takes version `id` out; `None` when the journal has no such version.
    pub(super) fn remove(&mut self, id: &str) -> Option<ObjectMeta> {
        let i = self
            .versions
            .iter()
            .position(|(v, _)| v.s3_version() == id)?;
        Some(self.versions.remove(i).0)
    }

    /// The file this journal is, under the new internal id `file_id`; `None` when no
    /// version is left (the file goes).
    pub(super) fn into_file(self, file_id: &str) -> Option<Bytes> {
        let mut versions = self.versions.into_iter();
        let (mut top, top_frame) = versions.next()?;
        let mut inline = BytesMut::from(&top_frame[..]);
        let older: Vec<ObjectMeta> = versions
            .map(|(mut v, frame)| {
                v.inline_len = frame.len() as u64;
                inline.extend_from_slice(&frame);
                v
            })
            .collect();
        top.inline_len = if older.is_empty() {
            0
        } else {
            top_frame.len() as u64
        };
        top.older = older;
        top.version_id = file_id.to_string();
        Some(top.to_file(&inline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn version(id: &str, inline: bool) -> ObjectMeta {
        ObjectMeta {
            s3_version_id: id.to_string(),
            data_dir: if inline { String::new() } else { "d".into() },
            ..Default::default()
        }
    }

    fn decoded(file: Bytes) -> (ObjectMeta, Bytes) {
        ObjectMeta::from_file(file).unwrap()
    }

    #[test]
    fn frames_follow_the_versions_through_a_file() {
        let mut j = Journal::default();
        j.push(version("", true), Bytes::from_static(b"null"))
            .unwrap();
        j.push(version("a", false), Bytes::new()).unwrap();
        j.push(version("b", true), Bytes::from_static(b"bee"))
            .unwrap();
        let (meta, inline) = decoded(j.into_file("f1").unwrap());
        assert_eq!(meta.version_id, "f1");
        let ids: Vec<_> = meta.versions().map(|v| v.s3_version()).collect();
        assert_eq!(ids, ["b", "a", NULL_VERSION]);
        assert_eq!(meta.frames(&inline), ["bee", "", "null"]);
        // Round trip through a journal again keeps every frame with its version.
        let mut j = Journal::of(&meta, &inline);
        assert_eq!(j.remove("a").unwrap().data_dir, "d");
        let (meta, inline) = decoded(j.into_file("f2").unwrap());
        assert_eq!(meta.frames(&inline), ["bee", "null"]);
    }

    #[test]
    fn a_read_of_the_current_version_skips_the_older_ones() {
        let mut j = Journal::default();
        j.push(version("a", true), Bytes::from_static(b"old"))
            .unwrap();
        j.push(version("b", true), Bytes::from_static(b"new"))
            .unwrap();
        let file = j.into_file("f").unwrap();
        let (full, _) = decoded(file.clone());
        let (current, inline) = ObjectMeta::current_from_file(file).unwrap();
        assert!(current.older.is_empty());
        assert_eq!(
            current,
            ObjectMeta {
                older: Vec::new(),
                ..full
            }
        );
        assert_eq!(&current.current_frame(&inline)[..], b"new");
    }

    #[test]
    fn a_quorum_view_is_the_current_version_without_user_metadata_and_headers() {
        let with_maps = |id: &str| ObjectMeta {
            user_metadata: BTreeMap::from([("mode".into(), "33188".into())]),
            headers: BTreeMap::from([("x-amz-checksum-crc32".into(), "mf2kWg==".into())]),
            etag: "9e107d9d372bb6826bd81d3542a419d6".into(),
            ..version(id, true)
        };
        let mut j = Journal::default();
        j.push(with_maps("a"), Bytes::from_static(b"old")).unwrap();
        j.push(with_maps("b"), Bytes::from_static(b"new")).unwrap();
        let file = j.into_file("f").unwrap();
        let (current, _) = ObjectMeta::current_from_file(file.clone()).unwrap();
        let (view, inline) = ObjectMeta::quorum_view_from_file(file).unwrap();
        assert!(!current.user_metadata.is_empty() && !current.headers.is_empty());
        let expected = ObjectMeta {
            user_metadata: BTreeMap::new(),
            headers: BTreeMap::new(),
            ..current
        };
        assert_eq!(view, expected);
        assert_eq!(&view.current_frame(&inline)[..], b"new");
    }

    #[test]
    fn a_null_write_replaces_the_null_version_only() {
        let mut j = Journal::default();
        j.push(version("", true), Bytes::from_static(b"1")).unwrap();
        j.push(version("a", true), Bytes::from_static(b"2"))
            .unwrap();
        let gone = j.push(version("", true), Bytes::from_static(b"3")).unwrap();
        assert_eq!(gone.len(), 1);
        let (meta, inline) = decoded(j.into_file("f").unwrap());
        assert_eq!(meta.frames(&inline), ["3", "2"]);
    }

    #[test]
    fn a_file_without_older_versions_is_as_before_versioning() {
        let mut j = Journal::default();
        j.push(version("", true), Bytes::from_static(b"whole"))
            .unwrap();
        let (meta, inline) = decoded(j.into_file("f").unwrap());
        assert_eq!((meta.inline_len, &inline[..]), (0, &b"whole"[..]));
        assert!(Journal::default().into_file("f").is_none());
    }

    #[test]
    fn version_ids_from_clients_are_checked() {
        assert!(check_version_id("null").is_ok());
        assert!(check_version_id(&Versioning::Enabled.new_version_id()).is_ok());
        assert!(check_version_id("../x").is_err());
    }
}
