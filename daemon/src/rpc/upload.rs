//! A client's upload stream (PutObject, UploadPart): its header message first, then its
//! data messages as a byte stream; a stream that breaks that order is refused. A stream
//! whose data does not hold its signatures (`tessera_proto::chain`) ends the upload with
//! that refusal (`UNAUTHENTICATED`), not as a broken upload.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use tessera_proto::object as pb;
use tonic::{Code, Status, Streaming};

use crate::object::ObjectError;

pub(super) type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// The refusal a client's data met on its way in, if any: the call's answer when the
/// upload then fails.
#[derive(Clone, Default)]
pub(super) struct Refusal(Arc<OnceLock<Status>>);

impl Refusal {
    /// The status of an upload that failed with `e`.
    pub(super) fn or(&self, e: ObjectError) -> Status {
        self.0.get().cloned().unwrap_or_else(|| e.into())
    }
}

/// Reads the header of a client stream; the rest of the stream carries data.
pub(super) async fn split_upload<M, H>(
    mut stream: Streaming<M>,
    header: impl Fn(M) -> Result<H, Option<Bytes>> + Send + Copy + 'static,
) -> Result<(H, ByteStream, Refusal), Status>
where
    M: Send + 'static,
{
    let first = stream.message().await?.ok_or_else(|| {
        Status::invalid_argument("empty stream: the first message must be a header")
    })?;
    let head = header(first)
        .map_err(|_| Status::invalid_argument("the first message must be a header"))?;
    let refusal = Refusal::default();
    let seen = refusal.clone();
    let data = stream
        .map_err(move |s| {
            let message = s.to_string();
            if s.code() == Code::Unauthenticated {
                let _ = seen.0.set(s);
            }
            std::io::Error::other(message)
        })
        .and_then(move |m| async move {
            match header(m) {
                Err(Some(data)) => Ok(data),
                Ok(_) | Err(None) => Err(std::io::Error::other(
                    "a message without data after the header: the client aborted the upload",
                )),
            }
        });
    Ok((head, Box::pin(data), refusal))
}

pub(super) fn put_header(m: pb::PutObjectRequest) -> Result<pb::PutObjectHeader, Option<Bytes>> {
    match m.msg {
        Some(pb::put_object_request::Msg::Header(h)) => Ok(h),
        Some(pb::put_object_request::Msg::Data(d)) => Err(Some(d)),
        None => Err(None),
    }
}

pub(super) fn part_header(m: pb::UploadPartRequest) -> Result<pb::UploadPartHeader, Option<Bytes>> {
    match m.msg {
        Some(pb::upload_part_request::Msg::Header(h)) => Ok(h),
        Some(pb::upload_part_request::Msg::Data(d)) => Err(Some(d)),
        None => Err(None),
    }
}
