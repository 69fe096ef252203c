//! Bounded resources: request timeouts and the cap on connections.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};

use crate::support::{builder, full, send, start_with};

#[tokio::test]
async fn a_request_that_takes_too_long_gets_408_and_changes_nothing() {
    let server = start_with(builder().request_timeout(Duration::from_millis(300))).await;
    let token = server.token("owner", "data").await;
    let id = server.create_dataset(&token, "Slow", &[("STRING", "a")]).await;
    let data = format!("/v1/datasets/{id}/data");
    server.put_csv(&token, &data, "kept\n").await;
    let (body_tx, mut body_rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
    body_tx.send(Ok(Frame::data(Bytes::from_static(b"new\n")))).await.unwrap();
    let body = StreamBody::new(futures_util::stream::poll_fn(move |cx| body_rx.poll_recv(cx))).boxed();
    let auth = format!("bearer {token}");
    let reply = send(&server.client, &server.base(), Method::PUT, &data, &[("authorization", &auth)], body).await;
    reply.assert_error(408, "took longer than this emulator allows");
    drop(body_tx);
    assert_eq!(server.export(&token, &id).await, "kept\n");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_their_turn() {
    let server = start_with(builder().max_connections(1)).await;
    let idle = tokio::net::TcpStream::connect(server.emulator.addr()).await.unwrap();
    // Give the server a moment to accept the idle connection, which takes the only slot.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = crate::support::http_client();
    let base = server.base();
    let waiting =
        tokio::spawn(async move { send(&client, &base, Method::GET, "/oauth/token", &[], full("")).await.status });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a second connection was served beyond the cap");
    drop(idle);
    let status = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "served once the slot was free");
}
