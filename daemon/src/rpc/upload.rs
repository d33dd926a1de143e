//! A client's upload stream (PutObject, UploadPart): its header message first, then its
//! data messages as a byte stream; a stream that breaks that order is refused.

use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use tessera_proto::object as pb;
use tonic::{Status, Streaming};

pub(super) type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Reads the header of a client stream; the rest of the stream carries data.
pub(super) async fn split_upload<M, H>(
    mut stream: Streaming<M>,
    header: impl Fn(M) -> Result<H, Option<Bytes>> + Send + Copy + 'static,
) -> Result<(H, ByteStream), Status>
where
    M: Send + 'static,
{
    let first = stream.message().await?.ok_or_else(|| {
        Status::invalid_argument("empty stream: the first message must be a header")
    })?;
    let head = header(first)
        .map_err(|_| Status::invalid_argument("the first message must be a header"))?;
    let data = stream
        .map_err(|s| std::io::Error::other(s.to_string()))
        .and_then(move |m| async move {
            match header(m) {
                Err(Some(data)) => Ok(data),
                Ok(_) | Err(None) => Err(std::io::Error::other(
                    "a message without data after the header: the client aborted the upload",
                )),
            }
        });
    Ok((head, Box::pin(data)))
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
