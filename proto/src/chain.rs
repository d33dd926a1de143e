//! Chained signatures over a call's body (see [`crate::auth`] for the call's own signature,
//! which covers its first message): every data message after the first carries a signature
//! that chains to the one before it, as SigV4 streaming signs each chunk, and the body ends
//! with a signature over the whole chain, so a captured upload cannot be replayed with other
//! bytes, with messages dropped, reordered or added, or cut short.
//!
//! - Link `i` (message `i ≥ 1`) = HMAC-SHA256(secret, "tessera-chunk-v1\n" + link `i-1` +
//!   SHA-256(message `i`)); link 0 is SHA-256 of the call's signature (hex, as sent).
//! - Message `i ≥ 1` travels with its link appended as protobuf field 15 (bytes, 32 long):
//!   the two bytes `0x7a 0x20` and the link. Field 15 is reserved in every message that can
//!   follow a first one, so the services decode the messages unchanged (prost skips it).
//! - The body ends with the trailer [`END_SIGNATURE`] = hex HMAC-SHA256(secret,
//!   "tessera-end-v1\n" + the last link + the number of messages, 8 bytes big-endian).
//!
//! The client side ([`signed`]) rewrites each later message's length prefix and
//! appends its link without copying the message; the server side ([`verified`])
//! passes the frames on unchanged and yields an `UNAUTHENTICATED` error in place of the frame
//! that would complete a message whose link does not hold, so a service never decodes a
//! message that was not signed, and never sees the end of a body that was cut short.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body::Frame;
use sha2::{Digest, Sha256};
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::http::{HeaderMap, HeaderValue};

/// Trailer of the signature over the whole chain.
pub const END_SIGNATURE: &str = "x-tessera-end-signature";

/// Bytes of a gRPC message's prefix (compression flag, big-endian length).
const PREFIX_LEN: usize = 5;
/// Field 15, wire type 2 (length-delimited).
const LINK_TAG: u8 = (15 << 3) | 2;
/// Bytes of a link.
const LINK_LEN: usize = 32;
/// Bytes a link adds to its message: tag, length, link.
const LINK_FIELD_LEN: usize = 2 + LINK_LEN;

type Link = [u8; LINK_LEN];

/// The state of one body's chain: the key, the last link and the messages counted.
struct Chain {
    key: Hmac<Sha256>,
    last: Link,
    messages: u64,
}

impl Chain {
    /// The chain of a call signed with `signature` (hex, as sent) under `secret`.
    fn new(secret: &str, signature: &str) -> Self {
        let key = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        Self {
            key,
            last: Sha256::digest(signature.as_bytes()).into(),
            messages: 0,
        }
    }

    /// The next link, for a message hashing to `digest`; the first message has none.
    fn link(&mut self, digest: &[u8]) -> Link {
        let mut mac = self.key.clone();
        mac.update(b"tessera-chunk-v1\n");
        mac.update(&self.last);
        mac.update(digest);
        self.last = mac.finalize().into_bytes().into();
        self.last
    }

    /// The signature over the whole chain, hex.
    fn end(&self) -> String {
        let mut mac = self.key.clone();
        mac.update(b"tessera-end-v1\n");
        mac.update(&self.last);
        mac.update(&self.messages.to_be_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// What a stretch of a body is, as [`Framing`] cuts it.
enum Piece {
    /// A message's complete prefix: its compression flag and length.
    Prefix { flag: u8, len: usize },
    /// Bytes of a message's content.
    Content(Bytes),
    /// The message's last byte has passed.
    End,
}

/// Where a body is in its sequence of messages.
#[derive(Default)]
struct Framing {
    prefix: [u8; PREFIX_LEN],
    /// Prefix bytes read of the current message.
    prefix_read: usize,
    /// Content bytes still to come of the current message.
    left: usize,
    /// Index of the current message (0 for the first).
    index: u64,
}

impl Framing {
    /// True between messages.
    fn at_boundary(&self) -> bool {
        self.prefix_read == 0
    }

    /// Cuts `data` into pieces, each given to `piece` with the index of its message.
    fn cut(
        &mut self,
        mut data: Bytes,
        mut piece: impl FnMut(u64, Piece) -> Result<(), Status>,
    ) -> Result<(), Status> {
        while !data.is_empty() {
            if self.prefix_read < PREFIX_LEN {
                let n = (PREFIX_LEN - self.prefix_read).min(data.len());
                self.prefix[self.prefix_read..self.prefix_read + n].copy_from_slice(&data[..n]);
                self.prefix_read += n;
                let _ = data.split_to(n);
                if self.prefix_read < PREFIX_LEN {
                    break;
                }
                let [flag, len @ ..] = self.prefix;
                self.left = u32::from_be_bytes(len) as usize;
                piece(
                    self.index,
                    Piece::Prefix {
                        flag,
                        len: self.left,
                    },
                )?;
            } else {
                let n = self.left.min(data.len());
                piece(self.index, Piece::Content(data.split_to(n)))?;
                self.left -= n;
            }
            if self.prefix_read == PREFIX_LEN && self.left == 0 {
                piece(self.index, Piece::End)?;
                self.prefix_read = 0;
                self.index += 1;
            }
        }
        Ok(())
    }
}

/// A client's body with its messages chained (the signing side).
struct ChainSigned {
    inner: Body,
    chain: Chain,
    framing: Framing,
    hasher: Sha256,
    /// Frames ready to go out.
    out: VecDeque<Bytes>,
    done: bool,
}

/// `body` (whose first message the call's `signature` covers) chained under `secret`.
pub fn signed(body: Body, secret: &str, signature: &str) -> Body {
    Body::new(ChainSigned {
        inner: body,
        chain: Chain::new(secret, signature),
        framing: Framing::default(),
        hasher: Sha256::new(),
        out: VecDeque::new(),
        done: false,
    })
}

impl ChainSigned {
    fn take(&mut self, data: Bytes) -> Result<(), Status> {
        let Self {
            chain,
            framing,
            hasher,
            out,
            ..
        } = self;
        framing.cut(data, |index, piece| {
            match piece {
                Piece::Prefix { flag, len } => {
                    let link = if index > 0 { LINK_FIELD_LEN } else { 0 };
                    let len = u32::try_from(len + link)
                        .map_err(|_| Status::invalid_argument("message too large"))?;
                    let mut prefix = Vec::with_capacity(PREFIX_LEN);
                    prefix.push(flag);
                    prefix.extend_from_slice(&len.to_be_bytes());
                    out.push_back(prefix.into());
                }
                Piece::Content(bytes) => {
                    if index > 0 {
                        hasher.update(&bytes);
                    }
                    out.push_back(bytes);
                }
                Piece::End => {
                    chain.messages += 1;
                    if index > 0 {
                        let link = chain.link(&std::mem::take(hasher).finalize());
                        let mut field = vec![LINK_TAG, LINK_LEN as u8];
                        field.extend_from_slice(&link);
                        out.push_back(field.into());
                    }
                }
            }
            Ok(())
        })
    }

    fn end_trailers(&self) -> HeaderMap {
        let mut trailers = HeaderMap::new();
        let value = HeaderValue::try_from(self.chain.end())
            .unwrap_or_else(|_| unreachable!("hex is a header value"));
        trailers.insert(END_SIGNATURE, value);
        trailers
    }
}

impl http_body::Body for ChainSigned {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        loop {
            if let Some(data) = self.out.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.take(data)?,
                    // A client body has no trailers of its own.
                    Err(_) => continue,
                },
                Some(Err(status)) => return Poll::Ready(Some(Err(status))),
                None => {
                    self.done = true;
                    return Poll::Ready(Some(Ok(Frame::trailers(self.end_trailers()))));
                }
            }
        }
    }
}

/// A server's view of a client's body, each link checked before the message it closes is
/// passed on (the verifying side).
struct ChainVerified {
    inner: Body,
    chain: Chain,
    framing: Framing,
    hasher: Sha256,
    /// Content bytes of the current message before its link field.
    payload_left: usize,
    /// The link field of the current message, as it arrives.
    field: Vec<u8>,
    done: bool,
}

fn refused(why: &str) -> Status {
    Status::unauthenticated(format!("the call's data is not as signed: {why}"))
}

/// `body` (whose first message the call's `signature` covers, already checked), each of
/// its links checked under `secret` as it passes.
pub fn verified(body: Body, secret: &str, signature: &str) -> Body {
    Body::new(ChainVerified {
        inner: body,
        chain: Chain::new(secret, signature),
        framing: Framing::default(),
        hasher: Sha256::new(),
        payload_left: 0,
        field: Vec::with_capacity(LINK_FIELD_LEN),
        done: false,
    })
}

impl ChainVerified {
    fn check(&mut self, data: Bytes) -> Result<(), Status> {
        let Self {
            chain,
            framing,
            hasher,
            payload_left,
            field,
            ..
        } = self;
        framing.cut(data, |index, piece| {
            match piece {
                Piece::Prefix { .. } if index == 0 => {}
                Piece::Prefix { flag, len } => {
                    if flag != 0 {
                        return Err(refused("a compressed data message"));
                    }
                    *payload_left = len
                        .checked_sub(LINK_FIELD_LEN)
                        .ok_or_else(|| refused("a data message without its signature"))?;
                    field.clear();
                }
                Piece::Content(_) if index == 0 => {}
                Piece::Content(bytes) => {
                    let n = (*payload_left).min(bytes.len());
                    hasher.update(&bytes[..n]);
                    *payload_left -= n;
                    field.extend_from_slice(&bytes[n..]);
                }
                Piece::End => {
                    chain.messages += 1;
                    if index > 0 {
                        let link = chain.link(&std::mem::take(hasher).finalize());
                        let holds = field.len() == LINK_FIELD_LEN
                            && field[..2] == [LINK_TAG, LINK_LEN as u8]
                            && constant_time_eq(&field[2..], &link);
                        if !holds {
                            return Err(refused("a data message's signature does not match"));
                        }
                    }
                }
            }
            Ok(())
        })
    }

    fn check_end(&self, trailers: &HeaderMap) -> Result<(), Status> {
        if !self.framing.at_boundary() {
            return Err(refused("the body ends inside a message"));
        }
        let sent = trailers
            .get(END_SIGNATURE)
            .ok_or_else(|| refused("the end signature is missing"))?;
        if !constant_time_eq(sent.as_bytes(), self.chain.end().as_bytes()) {
            return Err(refused("the end signature does not match"));
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl http_body::Body for ChainVerified {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let frame = match std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(status)) => return Poll::Ready(Some(Err(status))),
            None => {
                self.done = true;
                return Poll::Ready(Some(Err(refused(
                    "it ends without its end signature (cut short?)",
                ))));
            }
        };
        let checked = match frame.data_ref() {
            Some(data) => self.check(data.clone()),
            None => match frame.trailers_ref() {
                Some(trailers) => {
                    self.done = true;
                    // Checked, the trailer is the chain's alone: the body ends here.
                    return Poll::Ready(self.check_end(trailers).err().map(Err));
                }
                None => Ok(()),
            },
        };
        self.done = checked.is_err();
        Poll::Ready(Some(checked.map(|()| frame)))
    }
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
