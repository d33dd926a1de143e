//! Body wrappers of the front door: [`Counted`] counts a request body's bytes as they are
//! read; [`Answered`] counts a response body's bytes and, when the body ends (or is dropped:
//! the client went away), records the request once ([`Exchange`]) with its duration and
//! status class; a gRPC status that arrives in the trailers sets the class then.
//!
//! Invariant: an exchange is recorded exactly once, at the first of end of stream, error or
//! drop; a per-frame cost is one relaxed atomic add.

use std::cell::Cell;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::requests::{Api, Class, OpFigures, OpSlot, Requests};

/// Which operation a request is, known at once or named later by the S3 access hook.
#[derive(Debug)]
enum Op {
    Known(Arc<OpFigures>),
    Slot(OpSlot),
}

/// One request in flight: recorded once its response ends.
#[derive(Debug)]
pub struct Exchange {
    requests: Arc<Requests>,
    api: Api,
    op: Op,
    class: Class,
    started: Instant,
}

impl Exchange {
    /// A request of `api` whose operation is `op`, started at `started`.
    pub fn known(requests: Arc<Requests>, api: Api, op: &str, started: Instant) -> Self {
        let op = Op::Known(requests.op(api, op));
        Self {
            requests,
            api,
            op,
            class: Class::Success,
            started,
        }
    }

    /// A request of `api` whose operation `slot` will name (`unknown` if it never does).
    pub fn named_later(requests: Arc<Requests>, api: Api, slot: OpSlot, started: Instant) -> Self {
        Self {
            requests,
            api,
            op: Op::Slot(slot),
            class: Class::Success,
            started,
        }
    }

    /// Sets the status class (the latest call wins).
    pub fn set_class(&mut self, class: Class) {
        self.class = class;
    }

    fn finish(self) {
        let elapsed = self.started.elapsed();
        match &self.op {
            Op::Known(figures) => figures.record(self.class, elapsed),
            Op::Slot(slot) => match slot.get() {
                Some(figures) => figures.record(self.class, elapsed),
                None => (self.requests.op(self.api, "unknown")).record(self.class, elapsed),
            },
        }
    }
}

/// A request body whose bytes count as received by its API.
#[derive(Debug)]
pub struct Counted<B> {
    inner: B,
    requests: Arc<Requests>,
    api: Api,
}

impl<B> Counted<B> {
    /// `inner`, counted for `api`.
    pub fn new(inner: B, requests: Arc<Requests>, api: Api) -> Self {
        Self {
            inner,
            requests,
            api,
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Counted<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.requests.received(self.api, data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body whose bytes count as sent, and whose end records its [`Exchange`].
pub struct Answered<B> {
    inner: B,
    exchange: Cell<Option<Exchange>>,
}

impl<B> Answered<B> {
    /// `inner`, the response of `exchange`.
    pub fn new(inner: B, exchange: Exchange) -> Self {
        Self {
            inner,
            exchange: Cell::new(Some(exchange)),
        }
    }

    fn finish(&self) {
        if let Some(exchange) = self.exchange.take() {
            exchange.finish();
        }
    }
}

impl<B> std::fmt::Debug for Answered<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answered").finish_non_exhaustive()
    }
}

/// The class a gRPC status header or trailer gives, if it carries one.
pub fn grpc_class(headers: &http::HeaderMap) -> Option<Class> {
    let code = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
    Some(Class::of_grpc(code))
}

impl<B: Body<Data = Bytes> + Unpin> Body for Answered<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(exchange) = this.exchange.get_mut() {
                    if let Some(data) = frame.data_ref() {
                        (exchange.requests).sent(exchange.api, data.len() as u64);
                    } else if let Some(class) = frame.trailers_ref().and_then(grpc_class) {
                        exchange.set_class(class);
                    }
                }
                if this.inner.is_end_stream() {
                    this.finish();
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(exchange) = this.exchange.get_mut() {
                    exchange.set_class(Class::ServerError);
                }
                this.finish();
            }
            Poll::Ready(None) => this.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.finish();
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for Answered<B> {
    fn drop(&mut self) {
        self.finish();
    }
}
