//! The S3 suite (STYLE 28: suite → fixture → case): aws-sdk-s3 over HTTP against the real
//! `tessera` binary. This module is the fixture — a node with an SDK client, helpers that
//! read an S3 error's status and code, and SigV4-signed raw HTTP/1.1 for the requests no
//! SDK sends (garbage XML, bogus headers, short bodies, virtual-host `Host` headers). The
//! `s3_*` modules hold the cases by concern; every test of the suite has `s3_` in its path,
//! so `cargo test -p tessera-tests --test e2e s3_` runs exactly them.
//!
//! The SDK runs with retries off, so an error is what the server answered the first time.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningInstructions,
    SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use tessera_tests::{Node, PASSWORD, USER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::Env;

/// A node with an S3 client signed with the test credentials.
pub struct S3Env {
    pub env: Env,
    pub s3: Client,
}

impl S3Env {
    /// A 4-drive (2+2) node.
    pub fn start() -> S3Env {
        Self::start_with(4, &[])
    }

    pub fn start_with(drives: usize, args: &[&str]) -> S3Env {
        let env = Env::start_with(drives, args);
        let s3 = client(&env.node.endpoint, USER, PASSWORD);
        S3Env { env, s3 }
    }

    /// What the node logged so far (for failure messages).
    pub fn log(&self) -> String {
        self.env.node.log_text()
    }

    pub fn node(&self) -> &Node {
        &self.env.node
    }

    pub fn addr(&self) -> SocketAddr {
        self.env.node.addr
    }

    /// Creates `bucket` over S3.
    pub async fn mb(&self, bucket: &str) {
        self.s3
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
    }

    /// Puts `data` under `bucket/key` with the SDK's defaults; returns the quoted ETag.
    pub async fn put(&self, bucket: &str, key: &str, data: &[u8]) -> String {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(data.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {bucket}/{key}: {e:?}"))
            .e_tag
            .expect("PUT returns an ETag")
    }

    /// The whole object.
    pub async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let out = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {bucket}/{key}: {e:?}"));
        out.body.collect().await.expect("read body").to_vec()
    }

    /// Whether `bucket/key` exists (HEAD answers 200 or 404, nothing else).
    pub async fn exists(&self, bucket: &str, key: &str) -> bool {
        match self.s3.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => true,
            Err(e) => {
                assert_eq!(status_of(&e), 404, "HEAD {bucket}/{key}: {e:?}");
                false
            }
        }
    }

    /// Every key of a bucket (ListObjectsV2, all pages).
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .set_continuation_token(token)
                .send()
                .await
                .expect("list");
            keys.extend(page.contents().iter().filter_map(|o| o.key.clone()));
            if page.is_truncated != Some(true) {
                return keys;
            }
            token = page.next_continuation_token;
        }
    }
}

/// An SDK client for `endpoint` (path style, plain HTTP, no retries).
pub fn client(endpoint: &str, access_key: &str, secret_key: &str) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(access_key, secret_key, None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// The HTTP status of a failed call (panics if no response came back).
pub fn status_of<E: Debug>(e: &SdkError<E, HttpResponse>) -> u16 {
    e.raw_response()
        .unwrap_or_else(|| panic!("no HTTP response: {e:?}"))
        .status()
        .as_u16()
}

/// Asserts that a call failed with `status` and S3 error `code`; returns the message.
#[track_caller]
pub fn assert_s3_err<T: Debug, E: ProvideErrorMetadata + Debug>(
    r: Result<T, SdkError<E, HttpResponse>>,
    status: u16,
    code: &str,
) -> String {
    match r {
        Ok(v) => panic!("expected {status} {code}, got success: {v:?}"),
        Err(e) => {
            assert_eq!(
                (status_of(&e), e.code().unwrap_or_default()),
                (status, code),
                "unexpected error: {e:?}"
            );
            e.message().unwrap_or_default().to_string()
        }
    }
}

/// Asserts that a call failed with `status` (HEAD answers carry no error code).
#[track_caller]
pub fn assert_status<T: Debug, E: Debug>(r: Result<T, SdkError<E, HttpResponse>>, status: u16) {
    match r {
        Ok(v) => panic!("expected HTTP {status}, got success: {v:?}"),
        Err(e) => assert_eq!(status_of(&e), status, "unexpected error: {e:?}"),
    }
}

/// A response read off the wire.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts that this is the S3 error `code` with HTTP `status`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_deref()),
            (status, Some(code)),
            "{}",
            self.text()
        );
    }

    /// The `<Code>` of an S3 error body.
    pub fn code(&self) -> Option<String> {
        let text = self.text();
        let start = text.find("<Code>")? + "<Code>".len();
        let end = text[start..].find("</Code>")? + start;
        Some(text[start..end].to_string())
    }
}

/// A raw request: sent byte for byte as built, `Connection: close`.
#[derive(Clone)]
pub struct RawRequest {
    pub method: &'static str,
    /// Path and query, already percent-encoded.
    pub target: String,
    /// The `Host` header.
    pub host: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Sent as Content-Length instead of the body's length.
    pub declared_length: Option<u64>,
    /// Sent `Transfer-Encoding: chunked` in chunks of this size, without Content-Length.
    pub chunk_size: Option<usize>,
    /// The signature's time (default: now).
    pub signed_at: Option<SystemTime>,
}

impl RawRequest {
    pub fn new(method: &'static str, host: &str, target: &str) -> RawRequest {
        RawRequest {
            method,
            target: target.to_string(),
            host: host.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            declared_length: None,
            chunk_size: None,
            signed_at: None,
        }
    }

    /// Sends the body `Transfer-Encoding: chunked` in chunks of `size` bytes.
    pub fn chunked(mut self, size: usize) -> RawRequest {
        self.chunk_size = Some(size);
        self
    }

    /// Signs (or presigns) as if at `time`; call before `signed`/`presigned`.
    pub fn signed_at(mut self, time: SystemTime) -> RawRequest {
        self.signed_at = Some(time);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> RawRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Replaces a header (e.g. one the signature added).
    pub fn set_header(mut self, name: &str, value: &str) -> RawRequest {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.header(name, value)
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> RawRequest {
        self.body = body.into();
        self
    }

    /// Signs the request (SigV4, payload unsigned) with the test credentials; headers
    /// added after this are not signed.
    pub fn signed(self) -> RawRequest {
        self.signed_as(SignableBody::UnsignedPayload)
    }

    /// Signs with a chosen payload mode (e.g. an aws-chunked body with a trailer).
    pub fn signed_as(mut self, body: SignableBody<'_>) -> RawRequest {
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let instructions = self.sign(settings, body);
        let added: Vec<(String, String)> = instructions
            .headers()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.headers.extend(added);
        self
    }

    /// Presigns the request (the signature in its query, payload unsigned) for `expires`,
    /// which may be longer than the SDK's presigning config allows; headers added after
    /// this are not signed.
    pub fn presigned(mut self, expires: Duration) -> RawRequest {
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
        let instructions = self.sign(settings, SignableBody::UnsignedPayload);
        let query: Vec<String> = (instructions.params().iter())
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        let joint = if self.target.contains('?') { '&' } else { '?' };
        self.target = format!("{}{joint}{}", self.target, query.join("&"));
        self
    }

    /// Signs the request as it stands with the test credentials and `settings`.
    fn sign(&self, settings: SigningSettings, body: SignableBody<'_>) -> SigningInstructions {
        let identity: Identity = Credentials::new(USER, PASSWORD, None, None, "raw").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(self.signed_at.unwrap_or_else(SystemTime::now))
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let uri = format!("http://{}{}", self.host, self.target);
        let mut headers: Vec<(&str, &str)> = vec![("host", self.host.as_str())];
        headers.extend(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let request = SignableRequest::new(self.method, uri, headers.into_iter(), body)
            .expect("signable request");
        sign(request, &params).expect("sign").into_parts().0
    }

    fn wire(&self) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n",
            self.method, self.target, self.host
        );
        for (n, v) in &self.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if let Some(size) = self.chunk_size {
            head.push_str("transfer-encoding: chunked\r\n\r\n");
            let mut out = head.into_bytes();
            for chunk in self.body.chunks(size) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            return out;
        }
        let length = self.declared_length.unwrap_or(self.body.len() as u64);
        head.push_str(&format!("content-length: {length}\r\n\r\n"));
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    /// Sends the request to `addr` and reads the response until the server closes.
    /// A body shorter than its declared length is followed, after 3 s without an answer,
    /// by end of input. Err if the server closed without answering.
    pub async fn send(&self, addr: SocketAddr) -> std::io::Result<Raw> {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(&self.wire()).await?;
        let mut buf = Vec::new();
        let short = self
            .declared_length
            .is_some_and(|l| l > self.body.len() as u64);
        if short {
            let early = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut buf));
            if early.await.is_err() {
                stream.shutdown().await?;
            } else {
                return parse_response(&buf);
            }
        }
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buf))
            .await
            .map_err(|_| std::io::Error::other("no answer within 30 s"))??;
        parse_response(&buf)
    }
}

fn parse_response(buf: &[u8]) -> std::io::Result<Raw> {
    let bad =
        |what: &str| std::io::Error::other(format!("{what}: {:?}", String::from_utf8_lossy(buf)));
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no complete response head"))?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(Raw {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Percent-encodes a query value as SigV4 does (unreserved characters stay).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
