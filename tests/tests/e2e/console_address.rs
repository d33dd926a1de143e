//! `--console-address` (README "Web console"): the console moves to a port of its own,
//! which also serves S3 for the console's same-origin calls; the node's port then leaves
//! the console's paths to S3.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tessera_tests::{PASSWORD, USER, free_port};

use crate::console::{ConsoleApi, field, plain};
use crate::s3::S3Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_address_moves_the_console_to_a_port_of_its_own() {
    let console: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let env = S3Env::start_with(4, &["--console-address", &console.to_string()]);
    // The node's port serves once the layer is open; the console's listener follows.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(console).is_err() {
        assert!(Instant::now() < deadline, "the console port never opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let on_node = ConsoleApi::new(env.addr())
        .call("GET", "/console/", "")
        .await;
    assert!(on_node.code().is_some(), "S3's answer: {}", on_node.text());
    assert!(on_node.header("content-security-policy").is_none());

    let mut api = ConsoleApi::new(console);
    let page = api.call("GET", "/console/", "").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.header("content-security-policy").is_some());
    assert_eq!(api.login(USER, "wrong-secret").await.status, 401);
    assert_eq!(api.login(USER, PASSWORD).await.status, 200);
    env.mb("moved").await;
    let signed = api.presign("PUT", "moved", "k.txt", "[]").await;
    assert_eq!(signed.status, 200, "{}", signed.text());
    let url = field(&signed, "url").expect("url");
    assert!(url.starts_with(&format!("http://{console}/")), "{url}");
    let path = field(&signed, "path").expect("path");
    let put = plain(console, "PUT", &path, b"on its own port").await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(env.get("moved", "k.txt").await, b"on its own port");
}
