//! The transport: every error reply is Domo-shaped JSON, even for requests
//! hyper cannot parse, internal errors hide server paths, and idle or slow
//! connections never keep new clients waiting.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{builder, start, start_with};

/// A reply read off a raw socket until the server closes it (or `wait` passes).
#[derive(Debug)]
struct RawReply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl RawReply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.head, String::from_utf8_lossy(&self.body)))
    }

    /// A Domo-shaped error: JSON content type, status, reason, toe and a message containing `part`.
    #[track_caller]
    fn assert_domo_error(&self, status: u16, part: &str) {
        assert_eq!(self.status, status, "{}", self.head);
        let head = self.head.to_ascii_lowercase();
        assert!(head.contains("content-type: application/json"), "{}", self.head);
        let body = self.json();
        assert_eq!(body["status"], status, "{body}");
        assert!(body["statusReason"].as_str().is_some_and(|r| !r.is_empty()), "{body}");
        assert!(body["toe"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(part), "message {message:?} lacks {part:?}");
    }
}

/// Writes `request` as is and reads one reply (the server closes or the body ends).
async fn raw(addr: SocketAddr, request: &[u8]) -> RawReply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before it has read everything: ignore write errors.
    let _ = stream.write_all(request).await;
    read_reply(&mut stream, Duration::from_secs(5)).await.unwrap_or_else(|| panic!("no reply"))
}

/// Reads one HTTP reply: the head, then `content-length` bytes (or up to EOF).
async fn read_reply(stream: &mut TcpStream, wait: Duration) -> Option<RawReply> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
            let length = head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
            });
            if length.is_some_and(|n| bytes.len() >= end + 4 + n) {
                let n = length.unwrap();
                let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                return Some(RawReply { status, head, body: bytes[end + 4..end + 4 + n].to_vec() });
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
        }
    }
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Some(RawReply { status, head, body: bytes[end + 4..].to_vec() })
}

/// True when the server closes the connection within `wait` (reading past any reply).
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn requests_hyper_cannot_parse_get_domo_shaped_errors() {
    let server = start().await;
    let addr = server.emulator.addr();
    let long_path = format!("/v1/datasets/{}", "a".repeat(100_000));
    let huge_header = format!("x-big: {}\r\n", "b".repeat(600_000));
    let check = async |request: Vec<u8>, status: u16, part: &str| {
        raw(addr, &request).await.assert_domo_error(status, part);
    };
    check(format!("GET {long_path} HTTP/1.1\r\nhost: x\r\n\r\n").into_bytes(), 414, "longer than").await;
    check(b"GET /v1/data\xFF\xFEsets HTTP/1.1\r\nhost: x\r\n\r\n".to_vec(), 400, "not valid HTTP").await;
    check(b"\xFF\xFF\xFF\r\n\r\n".to_vec(), 400, "not valid HTTP").await;
    check(b"GET / HTTP/1.1\r\nbad header\r\n\r\n".to_vec(), 400, "not valid HTTP").await;
    check(format!("GET / HTTP/1.1\r\nhost: x\r\n{huge_header}\r\n").into_bytes(), 431, "headers").await;
    check(b"GET / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n".to_vec(), 400, "not valid HTTP").await;
}

#[tokio::test]
async fn a_path_that_is_not_utf8_gets_a_domo_shaped_400() {
    let server = start().await;
    let token = server.token("owner", "data user").await;
    let addr = server.emulator.addr();
    let check = async |path: &str, status: u16, part: &str| {
        let request =
            format!("GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: bearer {token}\r\nconnection: close\r\n\r\n");
        raw(addr, request.as_bytes()).await.assert_domo_error(status, part);
    };
    check("/v1/datasets/%FF", 400, "UTF-8").await;
    check("/v1/datasets/%FF/policies/1", 400, "UTF-8").await;
    check("/v1/datasets/x/policies/%C3%28", 400, "UTF-8").await;
    check("/v1/users/%FF", 400, "UTF-8").await;
    check("/v1/streams/%FF", 400, "UTF-8").await;
    // What axum answers itself is Domo-shaped too.
    check("/v1/nothing/here", 404, "No such endpoint").await;
    let reply = server.call(Method::PATCH, "/v1/datasets", &[("authorization", &format!("bearer {token}"))], "").await;
    reply.assert_error(405, "PATCH is not supported");
}

#[tokio::test]
async fn a_failed_write_answers_500_with_a_toe_and_no_server_path() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(builder().data_dir(dir.path())).await;
    let token = server.token("owner", "data").await;
    // Another program holds the database's write lock past the emulator's wait: saving fails.
    let db = crate::support::database(dir.path());
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let body = serde_json::json!({"name": "Lost", "schema": {"columns": [{"type": "STRING", "name": "a"}]}});
    let reply = server.json(Method::POST, &token, "/v1/datasets", &body).await;
    db.execute_batch("ROLLBACK").unwrap();
    reply.assert_error(500, "the emulator's log");
    let text = reply.text();
    let root = dir.path().canonicalize().unwrap();
    assert!(!text.contains(&*dir.path().to_string_lossy()) && !text.contains(&*root.to_string_lossy()), "{text}");
    assert!(!text.contains("/tmp") && !text.contains("state.db") && !text.contains("locked"), "{text}");
    let toe = reply.json()["toe"].as_str().unwrap().to_owned();
    assert!(reply.json()["message"].as_str().unwrap().contains(&toe), "the message names the toe of the log line");
    // Nothing was half kept, and the next write lands.
    assert_eq!(server.get(&token, "/v1/datasets").await.json(), serde_json::json!([]));
    assert_eq!(server.json(Method::POST, &token, "/v1/datasets", &body).await.status.as_u16(), 201);
}

/// Opens a keep-alive connection and makes one request on it, leaving it idle.
async fn idle_connection(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /oauth/token HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let reply = read_reply(&mut stream, Duration::from_secs(5)).await.unwrap();
    assert_eq!(reply.status, 401, "{}", reply.head);
    stream
}

#[tokio::test]
async fn idle_keep_alive_connections_at_the_cap_do_not_keep_a_new_client_waiting() {
    let server = start_with(builder().max_connections(4)).await;
    let addr = server.emulator.addr();
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(idle_connection(addr).await);
    }
    let started = Instant::now();
    let token = tokio::time::timeout(Duration::from_secs(3), server.token("owner", "data"))
        .await
        .expect("the new client waited");
    assert!(started.elapsed() < Duration::from_secs(2), "served after {:?}", started.elapsed());
    assert_eq!(server.get(&token, "/v1/datasets").await.status, 200);
    // The longest idle connection made room: the server closed it.
    assert!(closed_within(&mut idle[0], Duration::from_secs(1)).await, "the oldest idle connection is closed");
}

#[tokio::test]
async fn connections_in_use_are_not_closed_to_admit_new_ones() {
    let server = start_with(builder().max_connections(1)).await;
    let addr = server.emulator.addr();
    // A request in flight: the head is sent, and the body is still coming.
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(b"POST /oauth/token HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\ngrant").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = crate::support::http_client();
    let base = server.base();
    let waiting = tokio::spawn(async move {
        crate::support::send(&client, &base, Method::GET, "/oauth/token", &[], crate::support::full("")).await.status
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a second connection was served beyond the cap");
    busy.write_all(b"_type").await.unwrap();
    let reply = read_reply(&mut busy, Duration::from_secs(5)).await.unwrap();
    assert_eq!(reply.status, 401, "the request in flight was served in full: {}", reply.head);
    let status = tokio::time::timeout(Duration::from_secs(3), waiting).await.unwrap().unwrap();
    assert_eq!(status, http::StatusCode::UNAUTHORIZED, "served once the first connection went idle");
}

#[tokio::test]
async fn a_client_slow_to_send_its_request_head_gets_408_and_is_dropped() {
    let server = start_with(builder().header_read_timeout(Duration::from_millis(400))).await;
    let mut slow = TcpStream::connect(server.emulator.addr()).await.unwrap();
    slow.write_all(b"GET /v1/datasets HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let started = Instant::now();
    let reply = read_reply(&mut slow, Duration::from_secs(3)).await.expect("a reply before the close");
    reply.assert_domo_error(408, "request head");
    assert!(closed_within(&mut slow, Duration::from_secs(1)).await);
    assert!(started.elapsed() < Duration::from_secs(2), "dropped after {:?}", started.elapsed());
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server =
        start_with(builder().idle_timeout(Duration::from_millis(400)).header_read_timeout(Duration::from_secs(30)))
            .await;
    let mut idle = idle_connection(server.emulator.addr()).await;
    let started = Instant::now();
    assert!(closed_within(&mut idle, Duration::from_secs(3)).await, "the idle connection is closed");
    assert!(started.elapsed() < Duration::from_secs(2), "closed after {:?}", started.elapsed());
    // A connection that is used again in time stays open.
    let mut used = idle_connection(server.emulator.addr()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    used.write_all(b"GET /oauth/token HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    assert_eq!(read_reply(&mut used, Duration::from_secs(2)).await.unwrap().status, 401);
}

#[tokio::test]
async fn a_client_that_stops_reading_a_response_is_dropped_after_the_idle_timeout() {
    let server = start_with(builder().max_connections(1).idle_timeout(Duration::from_millis(500))).await;
    let token = server.token("owner", "data").await;
    let id = server.create_dataset(&token, "Big", &[("STRING", "Region"), ("LONG", "n")]).await;
    let csv: String = (0..600_000).map(|i| format!("Region number {},{i}\n", i % 7)).collect();
    assert_eq!(server.put_csv(&token, &format!("/v1/datasets/{id}/data"), csv).await.status.as_u16(), 204);
    // An export far larger than the socket buffers, never read.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(server.emulator.addr()).await.unwrap();
    let request = format!("GET /v1/datasets/{id}/data HTTP/1.1\r\nhost: x\r\nauthorization: bearer {token}\r\n\r\n");
    stalled.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let served = tokio::time::timeout(Duration::from_secs(5), server.token("owner", "data")).await;
    assert!(served.is_ok(), "a new client waited behind a connection that reads nothing");
    assert!(started.elapsed() < Duration::from_secs(3), "served after {:?}", started.elapsed());
    drop(stalled);
}

#[tokio::test]
async fn clients_stalled_halfway_through_a_request_head_do_not_hold_the_cap() {
    let server = start_with(builder().max_connections(2).header_read_timeout(Duration::from_secs(30))).await;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.emulator.addr()).await.unwrap();
        stream.write_all(b"GET /oauth/token HTTP/1.1\r\nhost: x\r\nx-slow: ").await.unwrap();
        stalled.push(stream);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    let served = tokio::time::timeout(Duration::from_secs(5), server.token("owner", "data")).await;
    assert!(served.is_ok() && started.elapsed() < Duration::from_secs(2), "served after {:?}", started.elapsed());
    assert!(closed_within(&mut stalled[0], Duration::from_secs(1)).await, "the oldest stalled client is closed");
}

#[tokio::test]
async fn a_bad_request_after_a_good_one_on_the_same_connection_gets_a_domo_shaped_400() {
    let server = start().await;
    let mut stream = TcpStream::connect(server.emulator.addr()).await.unwrap();
    stream.write_all(b"GET /oauth/token HTTP/1.1\r\nhost: x\r\n\r\nGET /v1/\xFF HTTP/1.1\r\n\r\n").await.unwrap();
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut bytes)).await.unwrap().unwrap();
    // Two replies, each with its length.
    let mut replies = Vec::new();
    let mut rest = bytes.as_slice();
    while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no length: {head}"));
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        replies.push(RawReply { status, head, body: rest[end + 4..end + 4 + length].to_vec() });
        rest = &rest[end + 4 + length..];
    }
    assert_eq!(replies.len(), 2, "{}", String::from_utf8_lossy(&bytes));
    replies[0].assert_domo_error(401, "HTTP Basic authentication");
    replies[1].assert_domo_error(400, "not valid HTTP");
}
