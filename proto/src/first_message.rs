//! The first message of a call's request body, which the call's signature covers (see
//! [`crate::auth`]): read ahead of the body, hashed, and put back in front of the rest, so
//! the service (or the channel) gets the body unchanged.
//!
//! A gRPC body is a sequence of messages, each a 5-byte prefix (a compression flag and a
//! big-endian length) and its bytes, cut into HTTP/2 data frames anyhow. Every call of the
//! API names what it acts on in its first message (the request of a unary call, the header
//! of a streamed upload), so covering that message binds a signature to its arguments.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tonic::Status;
use tonic::body::Body;

/// Bytes of a message's prefix.
const PREFIX_LEN: usize = 5;

/// The digest a signature covers for a call whose first message is `message`.
pub fn digest_of(message: &impl prost::Message) -> String {
    hex::encode(Sha256::digest(message.encode_to_vec()))
}

/// What was read of a body to reach the end of its first message.
pub struct FirstMessage {
    /// Hex SHA-256 of the first message's bytes (without its prefix); of nothing when the
    /// body holds no message.
    pub digest: String,
    /// The first message's bytes (without its prefix); empty when the body holds none.
    /// The server decodes them to tell what the call acts on (its authorization).
    pub message: Bytes,
    /// The frames read, to be sent again first.
    read: VecDeque<Frame<Bytes>>,
    /// The body ended while being read.
    ended: bool,
}

impl FirstMessage {
    /// Reads `body` up to the end of its first message, which may be at most `max` bytes.
    pub async fn read(body: &mut Body, max: usize) -> Result<Self, Status> {
        let mut data = BytesMut::new();
        let mut read = VecDeque::new();
        let mut ended = false;
        let need = |data: &BytesMut| {
            (data.len() >= PREFIX_LEN).then(|| {
                PREFIX_LEN + u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize
            })
        };
        while need(&data).is_none_or(|n| data.len() < n) {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(chunk) = frame.data_ref() {
                        data.extend_from_slice(chunk);
                    }
                    // Refused as soon as the prefix tells, before more of it is buffered.
                    if need(&data).is_some_and(|n| n - PREFIX_LEN > max) {
                        return Err(Status::resource_exhausted("first message too large"));
                    }
                    let trailers = frame.is_trailers();
                    read.push_back(frame);
                    if trailers {
                        break;
                    }
                }
                Some(Err(status)) => return Err(status),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        let message = match need(&data) {
            Some(n) if data.len() >= n => data.freeze().slice(PREFIX_LEN..n),
            _ if data.is_empty() => Bytes::new(),
            _ => return Err(Status::invalid_argument("the body ends inside a message")),
        };
        Ok(Self {
            digest: hex::encode(Sha256::digest(&message)),
            message,
            read,
            ended,
        })
    }

    /// The whole body again: the frames read, then the rest of `body`.
    pub fn replay(self, body: Body) -> Body {
        Body::new(Replayed {
            read: self.read,
            rest: (!self.ended).then_some(body),
        })
    }
}

/// A body that yields frames already read before the rest of its source.
struct Replayed {
    read: VecDeque<Frame<Bytes>>,
    rest: Option<Body>,
}

impl http_body::Body for Replayed {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(frame) = self.read.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        match &mut self.rest {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.read.is_empty() && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(payload: &[u8]) -> Vec<u8> {
        let mut m = vec![0];
        m.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        m.extend_from_slice(payload);
        m
    }

    /// A body of `chunks` as separate data frames.
    fn body(chunks: Vec<Vec<u8>>) -> Body {
        let frames = chunks
            .into_iter()
            .map(|c| Ok::<_, Status>(Frame::data(Bytes::from(c))));
        Body::new(http_body_util::StreamBody::new(futures::stream::iter(
            frames,
        )))
    }

    async fn all(body: Body) -> Vec<u8> {
        body.collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn the_first_message_is_hashed_however_it_is_cut_and_the_body_kept_whole() {
        let mut wire = message(b"header: bucket/key");
        wire.extend(message(&[7; 3000]));
        let expected = hex::encode(Sha256::digest(b"header: bucket/key"));
        for cut in [1, 3, 5, 6, 20, 23, 24, 100, wire.len()] {
            let chunks = wire.chunks(cut).map(<[u8]>::to_vec).collect();
            let mut b = body(chunks);
            let first = FirstMessage::read(&mut b, 1 << 20).await.unwrap();
            assert_eq!(first.digest, expected, "cut every {cut} bytes");
            assert_eq!(all(first.replay(b)).await, wire, "cut every {cut} bytes");
        }
    }

    #[tokio::test]
    async fn empty_bodies_cut_messages_and_oversized_ones_are_told_apart() {
        let mut b = body(Vec::new());
        let first = FirstMessage::read(&mut b, 10).await.unwrap();
        assert_eq!(first.digest, hex::encode(Sha256::digest(b"")));
        assert!(all(first.replay(b)).await.is_empty());
        let mut cut = body(vec![message(b"0123456789")[..8].to_vec()]);
        let e = FirstMessage::read(&mut cut, 100).await.err().unwrap();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        let mut big = body(vec![message(&[1; 64])]);
        let e = FirstMessage::read(&mut big, 63).await.err().unwrap();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
    }
}
