//! Shared helpers: start a node in a temp dir, put and get over gRPC.

use std::path::Path;

use futures::StreamExt;
use tempfile::TempDir;
use tessera_proto::client::{ObjectClient, put_requests};
use tessera_proto::object as pb;
use tessera_tests::Node;
use tonic::{Code, Status};

/// The node binary under test (always freshly built by cargo).
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tessera-test-node"))
}

/// A node on `n` drives in a temp dir (kept alive with the node).
pub struct Env {
    pub node: Node,
    pub dir: TempDir,
}

impl Env {
    pub fn start(n: usize) -> Env {
        Self::start_with(n, &[])
    }

    pub fn start_with(n: usize, args: &[&str]) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = Node::start(bin(), Node::drive_paths(dir.path(), n), args);
        Env { node, dir }
    }
}

pub async fn mb(c: &mut ObjectClient, bucket: &str) {
    c.create_bucket(pb::CreateBucketRequest {
        bucket: bucket.into(),
    })
    .await
    .expect("create bucket");
}

pub fn put<'a>(
    c: &'a mut ObjectClient,
    bucket: &str,
    key: &str,
    data: &[u8],
) -> impl Future<Output = Result<pb::ObjectInfo, Status>> + 'a {
    put_with(c, bucket, key, data, Some(data.len() as u64), None)
}

/// Builds the request now, so the future borrows only the client. (Client-streaming calls
/// run as futures on the test's task, not in `tokio::spawn`: rustc cannot prove tonic's
/// client-streaming future `Send` there, rust-lang/rust#102211.)
pub fn put_with<'a>(
    c: &'a mut ObjectClient,
    bucket: &str,
    key: &str,
    data: &[u8],
    size: Option<u64>,
    attributes: Option<pb::ObjectAttributes>,
) -> impl Future<Output = Result<pb::ObjectInfo, Status>> + 'a {
    let header = pb::PutObjectHeader {
        bucket: bucket.into(),
        key: key.into(),
        attributes,
        size,
    };
    let requests = put_requests(header, std::io::Cursor::new(data.to_vec()));
    async move { c.put_object(requests).await.map(|r| r.into_inner()) }
}

/// Reads an object (or a range `[start, end)`) whole.
pub fn get_range<'a>(
    c: &'a mut ObjectClient,
    bucket: &str,
    key: &str,
    range: Option<(u64, Option<u64>)>,
) -> impl Future<Output = Result<(pb::GetObjectInfo, Vec<u8>), Status>> + Send + 'a {
    let request = pb::GetObjectRequest {
        bucket: bucket.into(),
        key: key.into(),
        range: range.map(|(start, end)| pb::ByteRange { start, end }),
    };
    async move {
        let mut stream = c.get_object(request).await?.into_inner();
        let mut info = None;
        let mut data = Vec::new();
        while let Some(msg) = stream.next().await {
            match msg?.msg {
                Some(pb::get_object_response::Msg::Info(i)) => info = Some(i),
                Some(pb::get_object_response::Msg::Data(d)) => data.extend_from_slice(&d),
                None => {}
            }
        }
        let info = info.ok_or_else(|| Status::internal("no info message"))?;
        Ok((info, data))
    }
}

pub fn get<'a>(
    c: &'a mut ObjectClient,
    bucket: &str,
    key: &str,
) -> impl Future<Output = Result<Vec<u8>, Status>> + Send + 'a {
    let read = get_range(c, bucket, key, None);
    async move { read.await.map(|(_, d)| d) }
}

pub fn head<'a>(
    c: &'a mut ObjectClient,
    bucket: &str,
    key: &str,
) -> impl Future<Output = Result<pb::ObjectInfo, Status>> + Send + 'a {
    let request = pb::HeadObjectRequest {
        bucket: bucket.into(),
        key: key.into(),
    };
    async move { c.head_object(request).await.map(|r| r.into_inner()) }
}

pub async fn list(
    c: &mut ObjectClient,
    bucket: &str,
    prefix: &str,
    delimiter: &str,
) -> (Vec<String>, Vec<String>) {
    let mut keys = Vec::new();
    let mut prefixes = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .list_objects(pb::ListObjectsRequest {
                bucket: bucket.into(),
                prefix: prefix.into(),
                delimiter: delimiter.into(),
                continuation_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        keys.extend(page.objects.into_iter().map(|o| o.key));
        prefixes.extend(page.common_prefixes);
        if !page.truncated {
            return (keys, prefixes);
        }
        token = page.next_continuation_token;
    }
}

/// Asserts a call failed with `code`.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(r: Result<T, Status>, code: Code) -> Status {
    match r {
        Ok(v) => panic!("expected {code:?}, got success: {v:?}"),
        Err(s) => {
            assert_eq!(s.code(), code, "unexpected status: {s:?}");
            s
        }
    }
}

/// Sizes around the interesting edges: empty, inline limit, block size.
pub fn edge_sizes() -> Vec<usize> {
    const BLOCK: usize = 1 << 20;
    const INLINE: usize = 128 << 10;
    vec![
        0,
        1,
        INLINE - 1,
        INLINE,
        INLINE + 1,
        BLOCK - 1,
        BLOCK,
        BLOCK + 1,
        3 * BLOCK + 12345,
    ]
}

/// The status of an unsigned `GET path` (0 when the node does not answer within 30 s).
pub async fn http_status(addr: std::net::SocketAddr, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ask = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        String::from_utf8_lossy(&buf)
            .split(' ')
            .nth(1)?
            .parse()
            .ok()
    };
    (tokio::time::timeout(std::time::Duration::from_secs(30), ask).await)
        .ok()
        .flatten()
        .unwrap_or(0)
}
