//! The client commands, over a signed gRPC connection.

use std::io::IsTerminal;

use anyhow::{Context, anyhow, bail};
use futures::StreamExt;
use tessera_proto::auth::Credentials;
use tessera_proto::client::{ObjectClient, connect_with, put_requests};
use tessera_proto::object as pb;
use tessera_proto::tls::ClientTls;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::target::{Target, base_name, parse, remote};

/// A connected client.
pub struct Client {
    pub(super) rpc: ObjectClient,
    /// The node's URL, as given.
    pub(super) endpoint: String,
}

/// A readable message for a failed call.
pub(super) fn status_error(s: tonic::Status) -> anyhow::Error {
    match s.code() {
        tonic::Code::Unauthenticated => anyhow!(
            "authentication failed: {} (check TESSERA_ROOT_USER and TESSERA_ROOT_PASSWORD)",
            s.message()
        ),
        tonic::Code::Unavailable
            if s.message().contains("transport") || s.message().contains("connect") =>
        {
            anyhow!("node unreachable: {}", s.message())
        }
        // What an HTTP/2 client gets from a TLS port: its plain answer is no HTTP/2, and the
        // port closes (which of the two the client sees first is a race).
        _ if ["h2 protocol error", "operation was canceled"]
            .iter()
            .any(|m| s.message().contains(m)) =>
        {
            anyhow!(
                "{}: the node does not speak plain HTTP/2 here; if it serves TLS, use an \
                 https:// endpoint",
                s.message()
            )
        }
        _ => anyhow!("{}", s.message()),
    }
}

pub(super) fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes}B")
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a timestamp.
fn date(ts: Option<&pb::Timestamp>) -> String {
    let secs = ts.map_or(0, |t| t.seconds);
    let (y, m, d) = tessera_daemon::calendar::civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn progress(len: u64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

fn remote_object(arg: &str) -> anyhow::Result<(String, String)> {
    match remote(arg) {
        Target::Remote { bucket, key } if !key.is_empty() => Ok((bucket, key)),
        _ => bail!("{arg}: expected BUCKET/KEY"),
    }
}

impl Client {
    /// Connects to a node.
    pub async fn connect(
        endpoint: &str,
        creds: Credentials,
        tls: &ClientTls,
    ) -> anyhow::Result<Self> {
        let rpc = connect_with(endpoint, creds, tls)
            .await
            .map_err(|e| anyhow!("cannot connect to {endpoint}: {e}"))?;
        Ok(Self {
            rpc,
            endpoint: endpoint.to_string(),
        })
    }

    pub async fn make_bucket(&mut self, bucket: &str) -> anyhow::Result<()> {
        let bucket = bucket.trim_end_matches('/');
        self.rpc
            .create_bucket(pb::CreateBucketRequest {
                bucket: bucket.into(),
            })
            .await
            .map_err(status_error)?;
        println!("Bucket created: {bucket}");
        Ok(())
    }

    pub async fn remove_bucket(&mut self, bucket: &str) -> anyhow::Result<()> {
        let bucket = bucket.trim_end_matches('/');
        self.rpc
            .delete_bucket(pb::DeleteBucketRequest {
                bucket: bucket.into(),
            })
            .await
            .map_err(status_error)?;
        println!("Bucket removed: {bucket}");
        Ok(())
    }

    pub async fn list(&mut self, target: Option<&str>, recursive: bool) -> anyhow::Result<()> {
        let Some(target) = target else {
            let buckets = self
                .rpc
                .list_buckets(pb::ListBucketsRequest {})
                .await
                .map_err(status_error)?
                .into_inner();
            for b in buckets.buckets {
                println!("[{}] {:>9} {}/", date(b.created.as_ref()), "0B", b.name);
            }
            return Ok(());
        };
        let Target::Remote {
            bucket,
            key: prefix,
        } = remote(target)
        else {
            bail!("{target}: expected BUCKET[/PREFIX]");
        };
        let mut token = String::new();
        loop {
            let page = self
                .rpc
                .list_objects(pb::ListObjectsRequest {
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                    delimiter: if recursive { String::new() } else { "/".into() },
                    continuation_token: token.clone(),
                    ..Default::default()
                })
                .await
                .map_err(status_error)?
                .into_inner();
            for p in &page.common_prefixes {
                println!("{:>25} {:>9} {p}", "", "PRE");
            }
            for o in &page.objects {
                println!(
                    "[{}] {:>9} {}",
                    date(o.modified.as_ref()),
                    human(o.size),
                    o.key
                );
            }
            if !page.truncated {
                return Ok(());
            }
            token = page.next_continuation_token;
        }
    }

    async fn upload<R: AsyncRead + Send + Unpin + 'static>(
        &mut self,
        reader: R,
        bucket: &str,
        key: &str,
        size: Option<u64>,
    ) -> anyhow::Result<pb::ObjectInfo> {
        let header = pb::PutObjectHeader {
            bucket: bucket.into(),
            key: key.into(),
            attributes: None,
            size,
        };
        let info = match size.and_then(progress) {
            Some(bar) => {
                let r = self
                    .rpc
                    .put_object(put_requests(header, bar.wrap_async_read(reader)))
                    .await;
                bar.finish_and_clear();
                r
            }
            None => self.rpc.put_object(put_requests(header, reader)).await,
        };
        Ok(info.map_err(status_error)?.into_inner())
    }

    async fn download<W: AsyncWrite + Unpin>(
        &mut self,
        bucket: &str,
        key: &str,
        out: &mut W,
    ) -> anyhow::Result<u64> {
        let mut stream = self
            .rpc
            .get_object(pb::GetObjectRequest {
                bucket: bucket.into(),
                key: key.into(),
                range: None,
            })
            .await
            .map_err(status_error)?
            .into_inner();
        let mut bar = None;
        let mut written = 0u64;
        while let Some(msg) = stream.next().await {
            match msg.map_err(status_error)?.msg {
                Some(pb::get_object_response::Msg::Info(info)) => {
                    bar = progress(info.end - info.start);
                }
                Some(pb::get_object_response::Msg::Data(data)) => {
                    out.write_all(&data).await?;
                    written += data.len() as u64;
                    if let Some(b) = &bar {
                        b.set_position(written);
                    }
                }
                None => {}
            }
        }
        out.flush().await?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        Ok(written)
    }

    pub async fn copy(&mut self, src: &str, dst: &str, remove_source: bool) -> anyhow::Result<()> {
        match (parse(src), parse(dst)) {
            (Target::Stdio | Target::Local(_), Target::Stdio | Target::Local(_)) => {
                bail!("{src} and {dst} are both local: one side must be BUCKET/KEY")
            }
            (from @ (Target::Stdio | Target::Local(_)), Target::Remote { bucket, key }) => {
                let key = if key.is_empty() || key.ends_with('/') {
                    match &from {
                        Target::Local(p) => format!("{key}{}", base_name(&p.to_string_lossy())),
                        _ => bail!("{dst}: give a key to copy stdin to"),
                    }
                } else {
                    key
                };
                let info = match &from {
                    Target::Local(path) => {
                        let file = tokio::fs::File::open(path)
                            .await
                            .with_context(|| format!("cannot open {}", path.display()))?;
                        let size = file.metadata().await?.len();
                        self.upload(file, &bucket, &key, Some(size)).await?
                    }
                    _ => self.upload(tokio::io::stdin(), &bucket, &key, None).await?,
                };
                eprintln!(
                    "{src} → {bucket}/{key} ({}, etag {})",
                    human(info.size),
                    info.etag
                );
                if remove_source && let Target::Local(path) = from {
                    tokio::fs::remove_file(&path).await?;
                }
                Ok(())
            }
            (Target::Remote { bucket, key }, to @ (Target::Stdio | Target::Local(_))) => {
                if key.is_empty() {
                    bail!("{src}: expected BUCKET/KEY");
                }
                match &to {
                    Target::Local(path) => {
                        let path = if path.is_dir() {
                            path.join(base_name(&key))
                        } else {
                            path.clone()
                        };
                        let mut file = tokio::fs::File::create(&path)
                            .await
                            .with_context(|| format!("cannot create {}", path.display()))?;
                        if let Err(e) = self.download(&bucket, &key, &mut file).await {
                            let _ = tokio::fs::remove_file(&path).await;
                            return Err(e);
                        }
                        file.sync_all().await?;
                    }
                    _ => {
                        self.download(&bucket, &key, &mut tokio::io::stdout())
                            .await?;
                    }
                }
                if remove_source {
                    self.delete(&bucket, &key).await?;
                }
                Ok(())
            }
            (
                Target::Remote { bucket, key },
                Target::Remote {
                    bucket: db,
                    key: dk,
                },
            ) => {
                if key.is_empty() {
                    bail!("{src}: expected BUCKET/KEY");
                }
                let dk = if dk.is_empty() || dk.ends_with('/') {
                    format!("{dk}{}", base_name(&key))
                } else {
                    dk
                };
                if remove_source && bucket == db {
                    self.rpc
                        .rename_object(pb::RenameObjectRequest {
                            bucket: bucket.clone(),
                            src_key: key.clone(),
                            dst_key: dk.clone(),
                        })
                        .await
                        .map_err(status_error)?;
                } else {
                    self.rpc
                        .copy_object(pb::CopyObjectRequest {
                            src_bucket: bucket.clone(),
                            src_key: key.clone(),
                            dst_bucket: db.clone(),
                            dst_key: dk.clone(),
                            attributes: None,
                        })
                        .await
                        .map_err(status_error)?;
                    if remove_source {
                        self.delete(&bucket, &key).await?;
                    }
                }
                eprintln!("{bucket}/{key} → {db}/{dk}");
                Ok(())
            }
        }
    }

    pub async fn cat(&mut self, object: &str) -> anyhow::Result<()> {
        let (bucket, key) = remote_object(object)?;
        self.download(&bucket, &key, &mut tokio::io::stdout())
            .await?;
        Ok(())
    }

    pub async fn stat(&mut self, object: &str) -> anyhow::Result<()> {
        let (bucket, key) = remote_object(object)?;
        let o = self
            .rpc
            .head_object(pb::HeadObjectRequest { bucket, key })
            .await
            .map_err(status_error)?
            .into_inner();
        println!("Name      : {}/{}", o.bucket, o.key);
        println!("Size      : {} ({} bytes)", human(o.size), o.size);
        println!("ETag      : {}", o.etag);
        println!("Type      : {}", o.content_type);
        println!("Modified  : {}", date(o.modified.as_ref()));
        println!("Parts     : {}", o.parts);
        let mut meta: Vec<_> = o.user_metadata.into_iter().collect();
        meta.sort();
        for (k, v) in meta {
            println!("Metadata  : {k}: {v}");
        }
        Ok(())
    }

    async fn delete(&mut self, bucket: &str, key: &str) -> anyhow::Result<()> {
        self.rpc
            .delete_object(pb::DeleteObjectRequest {
                bucket: bucket.into(),
                key: key.into(),
            })
            .await
            .map_err(status_error)?;
        Ok(())
    }

    pub async fn remove(&mut self, target: &str, recursive: bool) -> anyhow::Result<()> {
        let Target::Remote { bucket, key } = remote(target) else {
            bail!("{target}: expected BUCKET/KEY");
        };
        if !recursive {
            if key.is_empty() {
                bail!("{target}: expected BUCKET/KEY (use -r for everything under a prefix)");
            }
            self.delete(&bucket, &key).await?;
            println!("Removed {bucket}/{key}");
            return Ok(());
        }
        let mut removed = 0usize;
        loop {
            let page = self
                .rpc
                .list_objects(pb::ListObjectsRequest {
                    bucket: bucket.clone(),
                    prefix: key.clone(),
                    ..Default::default()
                })
                .await
                .map_err(status_error)?
                .into_inner();
            if page.objects.is_empty() {
                break;
            }
            let keys: Vec<String> = page.objects.into_iter().map(|o| o.key).collect();
            let results = self
                .rpc
                .delete_objects(pb::DeleteObjectsRequest {
                    bucket: bucket.clone(),
                    keys,
                })
                .await
                .map_err(status_error)?
                .into_inner();
            for r in results.results {
                match r.error {
                    Some(e) if e.code != pb::ErrorCode::NotFound as i32 => {
                        bail!("{}: {}", r.key, e.message)
                    }
                    _ => removed += 1,
                }
            }
        }
        println!("Removed {removed} object(s) under {bucket}/{key}");
        Ok(())
    }
}
