//! An attacker on the wire, for the tests of the gRPC signatures: [`Tampered`] sits between
//! a signing client and its channel and changes a call's body after it was signed;
//! [`Replaying`] sends a call with signature entries captured from another call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::BytesMut;
use http_body::Frame;
use http_body_util::BodyExt;
use tessera_proto::auth::{ACCESS_KEY, DATE, SIGNATURE};
use tessera_proto::chain;
use tonic::body::Body;
use tonic::codegen::{Context, Poll, Service, http};
use tonic::transport::Channel;

/// What [`Tampered`] does to a signed body.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// Flips one byte in the middle of the body (inside a data message of an upload).
    FlipByte,
    /// Leaves out the last message, keeping the end signature.
    DropLastMessage,
    /// Leaves out the end signature.
    DropEndSignature,
}

/// A channel that changes every call's body on its way (after the signing layer above it).
#[derive(Clone)]
pub struct Tampered {
    inner: Channel,
    change: Change,
}

impl Tampered {
    /// `inner`, with `change` made to every body.
    pub fn new(inner: Channel, change: Change) -> Self {
        Self { inner, change }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The offset of the last message of a gRPC body.
fn last_message(data: &[u8]) -> usize {
    let (mut at, mut last) = (0, 0);
    while at + 5 <= data.len() {
        last = at;
        at += 5 + u32::from_be_bytes([data[at + 1], data[at + 2], data[at + 3], data[at + 4]])
            as usize;
    }
    last
}

impl Service<http::Request<Body>> for Tampered {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let change = self.change;
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            // Test bodies are small: read whole, changed, sent again.
            let collected = body.collect().await.expect("the client's body");
            let mut trailers = collected.trailers().cloned();
            let mut data = BytesMut::from(collected.to_bytes());
            match change {
                Change::FlipByte => {
                    let middle = data.len() / 2;
                    data[middle] ^= 0x01;
                }
                Change::DropLastMessage => data.truncate(last_message(&data)),
                Change::DropEndSignature => trailers = None,
            }
            let mut frames = vec![Ok::<_, tonic::Status>(Frame::data(data.freeze()))];
            frames.extend(trailers.map(|t| Ok(Frame::trailers(t))));
            let body = Body::new(http_body_util::StreamBody::new(futures::stream::iter(
                frames,
            )));
            inner.call(http::Request::from_parts(parts, body)).await
        })
    }
}

/// A channel that sends every call with the same captured signature entries (access key,
/// date, signature), and the body chained as the captured call's was: for a call with the
/// arguments the signature was made for, exactly the bytes that were captured.
#[derive(Clone)]
pub struct Replaying {
    inner: Channel,
    entries: Arc<[(&'static str, String); 3]>,
    secret: Arc<str>,
}

impl Replaying {
    /// `inner`, replaying `(access key, date, signature)` made with `secret`.
    pub fn new(inner: Channel, captured: (String, String, String), secret: &str) -> Self {
        let (access, date, sig) = captured;
        Self {
            inner,
            entries: Arc::new([(ACCESS_KEY, access), (DATE, date), (SIGNATURE, sig)]),
            secret: secret.into(),
        }
    }
}

impl Service<http::Request<Body>> for Replaying {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        for (key, value) in self.entries.iter() {
            parts
                .headers
                .insert(*key, value.parse().expect("a header value"));
        }
        let body = chain::signed(body, &self.secret, &self.entries[2].1);
        let call = self.inner.call(http::Request::from_parts(parts, body));
        Box::pin(call)
    }
}
