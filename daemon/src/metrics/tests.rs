use std::time::{Duration, Instant};

use super::*;

fn sample<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
}

#[test]
fn figures_reported_show_in_both_text_formats() {
    let m = Metrics::new();
    let op = m.requests.op(Api::S3, "PutObject");
    op.record(Class::Success, Duration::from_millis(3));
    op.record(Class::ClientError, Duration::from_millis(1));
    m.requests.received(Api::S3, 1024);
    m.objects.wrote(1024);
    m.drive("/d1").checksum_mismatch();
    m.peer("127.0.0.1:9001")
        .call(Duration::from_millis(2), true);
    m.heal.scanned(7);
    m.locks.timed_out();
    m.traffic
        .sent
        .fetch_add(5, std::sync::atomic::Ordering::Relaxed);

    let (text, content_type) = m.encode(false);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let expect = [
        (
            r#"tessera_requests_total{api="s3",op="PutObject",class="2xx"}"#,
            "1",
        ),
        (
            r#"tessera_requests_total{api="s3",op="PutObject",class="4xx"}"#,
            "1",
        ),
        (
            r#"tessera_request_duration_seconds_count{api="s3",op="PutObject"}"#,
            "2",
        ),
        (r#"tessera_received_bytes_total{api="s3"}"#, "1024"),
        (r#"tessera_received_bytes_total{api="grpc"}"#, "0"),
        ("tessera_objects_written_total", "1"),
        ("tessera_object_written_bytes_total", "1024"),
        (
            r#"tessera_drive_checksum_mismatches_total{drive="/d1"}"#,
            "1",
        ),
        (
            r#"tessera_internode_errors_total{peer="127.0.0.1:9001"}"#,
            "1",
        ),
        ("tessera_scanner_objects_scanned_total", "7"),
        ("tessera_lock_timeouts_total", "1"),
        ("tessera_internode_storage_sent_bytes_total", "5"),
    ];
    for (name, value) in expect {
        assert_eq!(sample(&text, name), Some(value), "{name} in\n{text}");
    }
    assert!(
        text.contains("tessera_process_resident_memory_bytes "),
        "{text}"
    );
    assert!(text.contains("tessera_process_open_fds "), "{text}");

    let (open, content_type) = m.encode(true);
    assert!(content_type.starts_with("application/openmetrics-text"));
    assert!(open.ends_with("# EOF\n"), "{open}");
}

#[test]
fn drive_state_is_one_hot_and_sets_count_their_online_drives() {
    let m = Metrics::new();
    let drive = |endpoint: &str, state| DriveSample {
        endpoint: endpoint.into(),
        state,
        usage: Some((100, 40, 60)),
    };
    m.drive("/b").set_healing(true);
    let sets = [SetSample {
        pool: 0,
        set: 0,
        drives: vec![
            drive("/a", DriveState::Online),
            drive("/b", DriveState::Online),
            drive("/c", DriveState::Offline),
        ],
        write_quorum: 2,
    }];
    m.gauges.observe(&sets, &m);
    let (text, _) = m.encode(false);
    let state = |d: &str, s: &str| {
        let name = format!(r#"tessera_drive_state{{drive="{d}",state="{s}"}}"#);
        sample(&text, &name).map(str::to_owned)
    };
    assert_eq!(state("/a", "online").as_deref(), Some("1"));
    assert_eq!(state("/a", "offline").as_deref(), Some("0"));
    assert_eq!(state("/b", "healing").as_deref(), Some("1"));
    assert_eq!(state("/b", "online").as_deref(), Some("0"));
    assert_eq!(state("/c", "offline").as_deref(), Some("1"));
    let online = r#"tessera_set_drives_online{pool="0",set="0"}"#;
    assert_eq!(sample(&text, online), Some("2"));
    let free = r#"tessera_drive_free_bytes{drive="/a"}"#;
    assert_eq!(sample(&text, free), Some("60"));
}

#[test]
fn operation_names_past_the_cap_count_as_other() {
    let m = Metrics::new();
    for i in 0..requests::MAX_OPS + 10 {
        let op = m.requests.op(Api::Grpc, &format!("Method{i}"));
        op.record(Class::Success, Duration::ZERO);
    }
    let (text, _) = m.encode(false);
    let other = r#"tessera_requests_total{api="grpc",op="other",class="2xx"}"#;
    assert_eq!(sample(&text, other), Some("10"));
}

#[test]
fn an_exchange_is_recorded_once_when_its_slot_names_it_late() {
    let m = Metrics::new();
    let slot = OpSlot::new(m.requests.clone());
    let mut x = Exchange::named_later(m.requests.clone(), Api::S3, slot.clone(), Instant::now());
    slot.set("GetObject");
    x.set_class(Class::of_http(404));
    let body = Answered::new(http_body_util::Empty::<bytes::Bytes>::new(), x);
    assert!(http_body::Body::is_end_stream(&body));
    drop(body);
    let (text, _) = m.encode(false);
    let name = r#"tessera_requests_total{api="s3",op="GetObject",class="4xx"}"#;
    assert_eq!(sample(&text, name), Some("1"));
}
