//! The mount's own metrics (README "Metrics"): `tessera-mount --metrics-address` serves
//! FUSE requests by operation, errno counts and the bytes written and read through the
//! mount, which move as files are written and read; a read-only close costs no FLUSH.

use std::net::SocketAddr;

use tessera_tests::free_port;

use crate::fuse::FuseEnv;
use crate::metrics::value;
use crate::s3::RawRequest;

async fn scrape(addr: SocketAddr) -> prometheus_parse::Scrape {
    let raw = RawRequest::new("GET", &addr.to_string(), "/metrics")
        .send(addr)
        .await
        .expect("scrape the mount");
    assert_eq!(raw.status, 200, "{}", raw.text());
    let text = raw.text();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parse")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuse_metrics_count_operations_errors_and_bytes_through_the_mount() {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let arg = addr.to_string();
    let Some(env) = FuseEnv::start(&["--metrics-address", &arg]).await else {
        return;
    };
    let data = vec![5u8; 3 << 20];
    for i in 0..3 {
        std::fs::write(env.at(&format!("f{i}")), &data).unwrap();
    }
    let requests = |s: &prometheus_parse::Scrape, op| {
        value(s, "tessera_mount_fuse_requests_total", &[("op", op)])
    };
    let flushes = requests(&scrape(addr).await, "flush");
    assert!(
        flushes >= 3.0,
        "each close of a written file flushes: {flushes}"
    );
    // Read back, the files written here come from the kernel's pages (kept while the
    // server holds what was written): read one that was put over S3.
    env.s3.put(&env.bucket, "from-s3", &data).await;
    assert_eq!(std::fs::read(env.at("from-s3")).unwrap().len(), data.len());
    assert_eq!(std::fs::read(env.at("f0")).unwrap(), data);
    assert!(std::fs::metadata(env.at("missing")).is_err());

    let s = scrape(addr).await;
    assert!(requests(&s, "open") >= 2.0);
    assert_eq!(
        requests(&s, "flush"),
        flushes,
        "a read-only close sends no FLUSH"
    );
    let written = value(&s, "tessera_mount_written_bytes_total", &[]);
    assert!(written >= 3.0 * data.len() as f64, "written {written}");
    let read = value(&s, "tessera_mount_read_bytes_total", &[]);
    assert!(read >= data.len() as f64, "read {read}");
    assert!(requests(&s, "write") >= 3.0);
    assert!(requests(&s, "create") >= 3.0);
    let enoent = [("op", "lookup"), ("errno", "ENOENT")];
    assert!(value(&s, "tessera_mount_fuse_errors_total", &enoent) >= 1.0);
    assert_eq!(value(&s, "tessera_mount_uploads_in_flight", &[]), 0.0);
    assert!(
        s.samples
            .iter()
            .any(|x| x.metric == "tessera_mount_staging_bytes")
    );
}
