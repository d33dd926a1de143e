//! A minimal gRPC client of a Tessera node: creates a bucket, writes an object from memory,
//! reads it back and lists the bucket.
//!
//! Start a node (`cargo run --release --bin tessera -- server`), then:
//! `cargo run -p tessera-examples --example grpc_client`.
//! Uses TESSERA_ENDPOINT, TESSERA_ROOT_USER and TESSERA_ROOT_PASSWORD when set.

use tessera_proto::auth::Credentials;
use tessera_proto::client::{connect, put_requests};
use tessera_proto::object as pb;
use tokio_stream::StreamExt;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let endpoint =
        std::env::var("TESSERA_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9000".into());
    let creds = Credentials {
        access_key: std::env::var("TESSERA_ROOT_USER").unwrap_or_else(|_| "tesseraadmin".into()),
        secret_key: std::env::var("TESSERA_ROOT_PASSWORD")
            .unwrap_or_else(|_| "tesseraadmin".into()),
    };
    let mut client = connect(&endpoint, creds).await?;

    match client
        .create_bucket(pb::CreateBucketRequest {
            bucket: "example".into(),
        })
        .await
    {
        Ok(_) => println!("created bucket example"),
        Err(s) if s.code() == tonic::Code::AlreadyExists => println!("bucket example exists"),
        Err(s) => return Err(s.into()),
    }

    let body = b"hello from the gRPC example\n".to_vec();
    let header = pb::PutObjectHeader {
        bucket: "example".into(),
        key: "greeting.txt".into(),
        attributes: Some(pb::ObjectAttributes {
            content_type: "text/plain".into(),
            ..Default::default()
        }),
        size: Some(body.len() as u64),
    };
    let info = client
        .put_object(put_requests(header, std::io::Cursor::new(body)))
        .await?
        .into_inner();
    println!(
        "stored example/{} ({} bytes, etag {})",
        info.key, info.size, info.etag
    );

    let mut stream = client
        .get_object(pb::GetObjectRequest {
            bucket: "example".into(),
            key: "greeting.txt".into(),
            range: None,
        })
        .await?
        .into_inner();
    while let Some(msg) = stream.next().await {
        if let Some(pb::get_object_response::Msg::Data(data)) = msg?.msg {
            print!("{}", String::from_utf8_lossy(&data));
        }
    }

    let page = client
        .list_objects(pb::ListObjectsRequest {
            bucket: "example".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    for o in page.objects {
        println!("listed: {} {} bytes", o.key, o.size);
    }
    Ok(())
}
