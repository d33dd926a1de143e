//! Request and response bodies: a PUT body becomes an `AsyncRead` that verifies Content-MD5
//! and `x-amz-checksum-*` (from headers or from the trailer of an aws-chunked body) at its
//! end, *before* the object layer commits; a GET body wraps the object layer's stream.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use base64::Engine;
use futures::TryStreamExt;
use md5::{Digest, Md5};
use s3s::TrailingHeaders;
use s3s::checksum::ChecksumHasher;
use s3s::dto::{Checksum, ChecksumAlgorithm, StreamingBlob};
use tokio::io::{AsyncRead, ReadBuf};

use crate::object::{LateHeaders, ObjectBody};

/// Checksums a client declared for a body.
#[derive(Default, Clone)]
pub struct Expected {
    pub content_md5: Option<String>,
    pub checksum: Checksum,
    /// The algorithm of a checksum sent in the trailer (`x-amz-sdk-checksum-algorithm`).
    pub algorithm: Option<ChecksumAlgorithm>,
}

/// The checksums a PutObject or UploadPart input declares (the two share field names).
macro_rules! expected_checksums {
    ($input:ident) => {
        $crate::s3::body::Expected {
            content_md5: $input.content_md5,
            checksum: s3s::dto::Checksum {
                checksum_crc32: $input.checksum_crc32,
                checksum_crc32c: $input.checksum_crc32c,
                checksum_sha1: $input.checksum_sha1,
                checksum_sha256: $input.checksum_sha256,
                checksum_crc64nvme: $input.checksum_crc64nvme,
                ..Default::default()
            },
            algorithm: $input.checksum_algorithm,
        }
    };
}
pub(super) use expected_checksums;

/// What verification found; read after the body is consumed.
#[derive(Default)]
pub struct Outcome {
    /// A mismatch, described.
    pub mismatch: Option<String>,
    /// The checksums computed (those the client asked for).
    pub computed: Checksum,
}

/// A body reader that hashes as it goes and fails at the end on a mismatch.
pub struct Verifier<R> {
    inner: R,
    hasher: Option<ChecksumHasher>,
    md5: Option<Md5>,
    expected: Expected,
    trailers: Option<TrailingHeaders>,
    outcome: Arc<Mutex<Outcome>>,
    /// Where the verified checksums go for the commit to store.
    late: LateHeaders,
}

fn wanted(expected: &Expected) -> ChecksumHasher {
    let c = &expected.checksum;
    let mut h = ChecksumHasher::default();
    let alg = expected.algorithm.as_ref().map(|a| a.as_str());
    if c.checksum_crc32.is_some() || alg == Some(ChecksumAlgorithm::CRC32) {
        h.crc32 = Some(Default::default());
    }
    if c.checksum_crc32c.is_some() || alg == Some(ChecksumAlgorithm::CRC32C) {
        h.crc32c = Some(Default::default());
    }
    if c.checksum_sha1.is_some() || alg == Some(ChecksumAlgorithm::SHA1) {
        h.sha1 = Some(Default::default());
    }
    if c.checksum_sha256.is_some() || alg == Some(ChecksumAlgorithm::SHA256) {
        h.sha256 = Some(Default::default());
    }
    if c.checksum_crc64nvme.is_some() || alg == Some(ChecksumAlgorithm::CRC64NVME) {
        h.crc64nvme = Some(Default::default());
    }
    h
}

/// Refuses checksum algorithms S3 does not know, named by `x-amz-checksum-algorithm`
/// (parsed by s3s) or by the SDKs' `x-amz-sdk-checksum-algorithm`.
pub fn check_algorithm(
    algorithm: Option<&ChecksumAlgorithm>,
    headers: &http::HeaderMap,
) -> s3s::S3Result<()> {
    let sdk = headers
        .get("x-amz-sdk-checksum-algorithm")
        .map(|v| ChecksumAlgorithm::from(String::from_utf8_lossy(v.as_bytes()).into_owned()));
    for a in [algorithm, sdk.as_ref()].into_iter().flatten() {
        check_one_algorithm(a)?;
    }
    Ok(())
}

fn check_one_algorithm(a: &ChecksumAlgorithm) -> s3s::S3Result<()> {
    let known = [
        ChecksumAlgorithm::CRC32,
        ChecksumAlgorithm::CRC32C,
        ChecksumAlgorithm::SHA1,
        ChecksumAlgorithm::SHA256,
        ChecksumAlgorithm::CRC64NVME,
    ];
    if known.iter().any(|k| a.as_str().eq_ignore_ascii_case(k)) {
        return Ok(());
    }
    Err(super::error::s3_err(
        s3s::S3ErrorCode::InvalidRequest,
        format!("unknown checksum algorithm {:?}", a.as_str()),
    ))
}

/// The reader and the handle to its outcome; the verified checksums are set on `late`.
pub fn verifier(
    blob: StreamingBlob,
    expected: Expected,
    trailers: Option<TrailingHeaders>,
    late: LateHeaders,
) -> (Verifier<impl AsyncRead + Unpin + Send>, Arc<Mutex<Outcome>>) {
    let inner = tokio_util::io::StreamReader::new(blob.map_err(std::io::Error::other));
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let v = Verifier {
        inner,
        hasher: Some(wanted(&expected)),
        md5: expected.content_md5.is_some().then(Md5::new),
        expected,
        trailers,
        outcome: outcome.clone(),
        late,
    };
    (v, outcome)
}

impl<R> Verifier<R> {
    /// Compares what was computed with what was declared; records and reports a mismatch.
    fn finish(&mut self) -> std::io::Result<()> {
        let Some(hasher) = self.hasher.take() else {
            return Ok(());
        };
        let computed = hasher.finalize();
        let mut declared = self.expected.checksum.clone();
        if let Some(t) = &self.trailers {
            t.read(|h| {
                let get = |name: &str| {
                    h.get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                declared.checksum_crc32 = declared
                    .checksum_crc32
                    .take()
                    .or_else(|| get("x-amz-checksum-crc32"));
                declared.checksum_crc32c = declared
                    .checksum_crc32c
                    .take()
                    .or_else(|| get("x-amz-checksum-crc32c"));
                declared.checksum_sha1 = declared
                    .checksum_sha1
                    .take()
                    .or_else(|| get("x-amz-checksum-sha1"));
                declared.checksum_sha256 = declared
                    .checksum_sha256
                    .take()
                    .or_else(|| get("x-amz-checksum-sha256"));
                declared.checksum_crc64nvme = declared
                    .checksum_crc64nvme
                    .take()
                    .or_else(|| get("x-amz-checksum-crc64nvme"));
            });
        }
        let pairs = [
            ("crc32", &declared.checksum_crc32, &computed.checksum_crc32),
            (
                "crc32c",
                &declared.checksum_crc32c,
                &computed.checksum_crc32c,
            ),
            ("sha1", &declared.checksum_sha1, &computed.checksum_sha1),
            (
                "sha256",
                &declared.checksum_sha256,
                &computed.checksum_sha256,
            ),
            (
                "crc64nvme",
                &declared.checksum_crc64nvme,
                &computed.checksum_crc64nvme,
            ),
        ];
        let mut mismatch =
            pairs
                .iter()
                .find(|(_, d, c)| d.is_some() && d != c)
                .map(|(name, _, _)| {
                    format!("the {name} checksum of the body does not match the one sent")
                });
        if let (Some(md5), Some(declared)) = (self.md5.take(), &self.expected.content_md5) {
            let sum = base64::engine::general_purpose::STANDARD.encode(md5.finalize());
            if &sum != declared {
                mismatch = Some("the Content-MD5 of the body does not match the one sent".into());
            }
        }
        let mut out = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = mismatch {
            out.computed = computed;
            out.mismatch = Some(m.clone());
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, m));
        }
        super::attributes::record(&self.late, &computed);
        out.computed = computed;
        Ok(())
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Verifier<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = &buf.filled()[before..];
                if new.is_empty() {
                    return Poll::Ready(this.finish());
                }
                if let Some(h) = this.hasher.as_mut() {
                    h.update(new);
                }
                if let Some(m) = this.md5.as_mut() {
                    m.update(new);
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// A response body over an object's data (already read ahead by the object layer).
pub fn response_body(body: ObjectBody) -> StreamingBlob {
    StreamingBlob::wrap(body.map_err(|e| std::io::Error::other(e.to_string())))
}
