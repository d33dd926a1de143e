//! A signed `ObjectService` client, and helpers to stream bodies in both directions.
//! Used by the `tessera` CLI, the tests, the examples and the FUSE client.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncRead;
use tonic::codegen::{Arc, Context, Poll, Service, http};
use tonic::transport::{Channel, Endpoint};

use tonic::body::Body;

use crate::admin::admin_service_client::AdminServiceClient;
use crate::auth::{ACCESS_KEY, Credentials, DATE, SIGNATURE, sign};
use crate::chain;
use crate::first_message::FirstMessage;
use crate::object::object_service_client::ObjectServiceClient;
use crate::object::{
    PutObjectHeader, PutObjectRequest, UploadPartHeader, UploadPartRequest, put_object_request,
    upload_part_request,
};
use crate::tls::{ClientTls, TlsError};

/// Size of the data messages clients send.
pub const CHUNK_SIZE: usize = 1 << 20;
/// Largest message a client accepts or sends.
pub const MAX_MESSAGE_SIZE: usize = 8 << 20;

/// A channel that signs every call with `creds`, for the method the call names and its
/// first message (see [`crate::auth`]), and chains the rest of its body to that signature
/// (see [`crate::chain`]): the tower layer below a generated client, where
/// the method's path and the encoded body are at hand (an interceptor sees only the
/// metadata). The call's headers go out once its first message is read.
#[derive(Clone)]
pub struct Signed<S> {
    inner: S,
    creds: Arc<Credentials>,
}

impl<S> Signed<S> {
    /// `inner` (a [`Channel`]), signing with `creds`.
    pub fn new(inner: S, creds: Credentials) -> Self {
        Self {
            inner,
            creds: Arc::new(creds),
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S> Service<http::Request<Body>> for Signed<S>
where
    S: Service<http::Request<Body>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let creds = self.creds.clone();
        // The service made ready is the one to call; a clone takes its place.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let (mut parts, mut body) = req.into_parts();
            let first = FirstMessage::read(&mut body, usize::MAX).await?;
            let (access, date, sig) = sign(&creds, parts.uri.path(), &first.digest);
            let body = chain::signed(first.replay(body), &creds.secret_key, &sig);
            for (k, v) in [(ACCESS_KEY, access), (DATE, date), (SIGNATURE, sig)] {
                // An access key that is no header value goes unsent: the server then
                // answers that it is missing.
                if let Ok(v) = http::HeaderValue::try_from(v) {
                    parts.headers.insert(k, v);
                }
            }
            let req = http::Request::from_parts(parts, body);
            inner.call(req).await.map_err(Into::into)
        })
    }
}

/// HTTP/2 receive window of one stream: enough for one stream to fill a fast link.
pub const STREAM_WINDOW: u32 = 4 << 20;
/// HTTP/2 receive window of a connection: so large that it never binds before the streams'
/// own windows do. Streams that are read at different paces share a connection (a GET's
/// shard streams from one peer, read in lockstep; files read in turn through one mount):
/// with a connection window of a few stream windows, the streams sent ahead took all of it
/// and starved the one the reader waited for, until its deadline. Memory stays bounded by
/// the stream windows of the streams open.
pub const CONNECTION_WINDOW: u32 = i32::MAX as u32;

/// Largest HTTP/2 frame a client (and a node) accepts: a peer may send at most 16 KiB per
/// frame unless told more, so a 1 MiB data message would arrive in 64 frames. Not more
/// than 256 KiB: tonic copies each frame into its decode buffer, and the start of the next
/// message that a frame carries is copied once more when that buffer is still shared with
/// the message before it, so the frame size bounds the second copy. Cold 1 GiB reads
/// through a mount took 13% less of its CPU and ran 5–7% faster than with 1 MiB frames.
pub const MAX_FRAME_SIZE: u32 = 256 << 10;

/// A signed client.
pub type ObjectClient = ObjectServiceClient<Signed<Channel>>;

/// Why a client cannot connect.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The endpoint is malformed, or the connection (or its handshake) failed; shown with
    /// its causes (tonic's own message is a bare "transport error").
    #[error("{}", with_causes(.0))]
    Transport(#[from] tonic::transport::Error),
    /// TLS cannot be set up (a CA file, the system roots).
    #[error("{0}")]
    Tls(#[from] TlsError),
}

/// `e` and its causes, `: `-separated (a cause repeating the one before is left out), with
/// a hint when the node's certificate was refused.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut last = text.clone();
    let mut cause = e.source();
    while let Some(c) = cause {
        let this = c.to_string();
        if this != last {
            text.push_str(": ");
            text.push_str(&this);
        }
        last = this;
        cause = c.source();
    }
    if text.contains("invalid peer certificate") {
        text.push_str(
            " (the node's certificate is not trusted: give its CA with --ca-cert FILE or \
             TESSERA_CA_CERT, or --insecure for a test setup)",
        );
    } else if [
        "reset by peer",
        "InvalidContentType",
        "corrupt message",
        "eof",
    ]
    .iter()
    .any(|s| text.contains(s))
    {
        text.push_str(" (if this was an https:// endpoint: does the node serve TLS?)");
    }
    text
}

/// The endpoint of `address` (`http://host:port` or `https://host:port`) with the settings
/// every client channel shares.
pub fn endpoint(address: &str) -> Result<Endpoint, tonic::transport::Error> {
    Ok(Endpoint::from_shared(address.to_string())?
        .tcp_nodelay(true)
        .connect_timeout(std::time::Duration::from_secs(5))
        // A peer that stops answering (killed host, SIGSTOP) is noticed within seconds.
        .http2_keep_alive_interval(std::time::Duration::from_secs(5))
        .keep_alive_timeout(std::time::Duration::from_secs(10))
        .keep_alive_while_idle(true)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME_SIZE))
}

/// True for an `https://` endpoint.
pub fn is_https(address: &str) -> bool {
    address
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// A channel to `endpoint` at once: over TLS with `tls` when it is `https://`.
pub async fn channel(endpoint: Endpoint, tls: &ClientTls) -> Result<Channel, ConnectError> {
    if endpoint.uri().scheme_str() == Some("https") {
        Ok(endpoint.connect_with_connector(tls.connector()).await?)
    } else {
        Ok(endpoint.connect().await?)
    }
}

/// A channel to `endpoint` that connects on first use: over TLS with `tls` when it is
/// `https://`.
pub fn lazy_channel(endpoint: Endpoint, tls: &ClientTls) -> Channel {
    if endpoint.uri().scheme_str() == Some("https") {
        endpoint.connect_with_connector_lazy(tls.connector())
    } else {
        endpoint.connect_lazy()
    }
}

/// Connects to `address` (`http://host:port`, or `https://host:port` verified against the
/// system roots).
pub async fn connect(address: &str, creds: Credentials) -> Result<ObjectClient, ConnectError> {
    let tls = if is_https(address) {
        ClientTls::verified(&[])?
    } else {
        ClientTls::insecure()
    };
    connect_with(address, creds, &tls).await
}

/// A signed admin client.
pub type AdminClient = AdminServiceClient<Signed<Channel>>;

/// Connects an admin client to `address` (`https://` verified against the system roots).
pub async fn connect_admin(address: &str, creds: Credentials) -> Result<AdminClient, ConnectError> {
    let tls = if is_https(address) {
        ClientTls::verified(&[])?
    } else {
        ClientTls::insecure()
    };
    connect_admin_with(address, creds, &tls).await
}

/// Connects an admin client to `address`, using `tls` when it is `https://`.
pub async fn connect_admin_with(
    address: &str,
    creds: Credentials,
    tls: &ClientTls,
) -> Result<AdminClient, ConnectError> {
    let channel = channel(endpoint(address)?, tls).await?;
    Ok(AdminServiceClient::new(Signed::new(channel, creds)))
}

/// Connects to `address`, using `tls` when it is `https://`.
pub async fn connect_with(
    address: &str,
    creds: Credentials,
    tls: &ClientTls,
) -> Result<ObjectClient, ConnectError> {
    let channel = channel(endpoint(address)?, tls).await?;
    Ok(ObjectServiceClient::new(Signed::new(channel, creds))
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE))
}

/// The data of `reader` as a stream of chunks of up to [`CHUNK_SIZE`] bytes.
pub fn chunks<R: AsyncRead + Send + 'static>(
    reader: R,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    tokio_util::io::ReaderStream::with_capacity(reader, CHUNK_SIZE)
}

/// Chunks until the first read error, which becomes a final `None`: sent as a message
/// without payload, it makes the server refuse the whole upload (a client stream has no
/// other way to say "abort"), so a failed read never stores a truncated object.
fn aborting(
    chunks: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
) -> impl Stream<Item = Option<Bytes>> + Send {
    futures::stream::unfold(Some(Box::pin(chunks)), |state| async move {
        let mut chunks = state?;
        match chunks.next().await? {
            Ok(data) => Some((Some(data), Some(chunks))),
            Err(_) => Some((None, None)),
        }
    })
}

/// A PutObject request stream: the header, then `reader`'s data (see [`aborting`]).
pub fn put_requests<R: AsyncRead + Send + 'static>(
    header: PutObjectHeader,
    reader: R,
) -> Pin<Box<dyn Stream<Item = PutObjectRequest> + Send>> {
    let head = futures::stream::once(async move {
        PutObjectRequest {
            msg: Some(put_object_request::Msg::Header(header)),
        }
    });
    let data = aborting(chunks(reader)).map(|c| PutObjectRequest {
        msg: c.map(put_object_request::Msg::Data),
    });
    Box::pin(head.chain(data))
}

/// An UploadPart request stream: the header, then `reader`'s data.
pub fn part_requests<R: AsyncRead + Send + 'static>(
    header: UploadPartHeader,
    reader: R,
) -> Pin<Box<dyn Stream<Item = UploadPartRequest> + Send>> {
    let head = futures::stream::once(async move {
        UploadPartRequest {
            msg: Some(upload_part_request::Msg::Header(header)),
        }
    });
    let data = aborting(chunks(reader)).map(|c| UploadPartRequest {
        msg: c.map(upload_part_request::Msg::Data),
    });
    Box::pin(head.chain(data))
}
