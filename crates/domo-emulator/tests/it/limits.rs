//! Bounded resources: request timeouts (the cap on connections is in `transport`).

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};

use crate::support::{builder, send, start_with};

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
async fn a_request_whose_body_arrived_in_time_is_answered_with_its_outcome_not_408() {
    // Checking and keeping 20 MB of rows takes longer than the limit (about a second in a
    // debug build); the body itself arrives in time.
    let server = start_with(builder().request_timeout(Duration::from_millis(400))).await;
    let token = server.token("owner", "data").await;
    let id = server.create_dataset(&token, "Big", &[("STRING", "Region"), ("LONG", "n")]).await;
    let rows = 1_000_000;
    let csv: String = (0..rows).map(|i| format!("Region number {},{i}\n", i % 7)).collect();
    let started = std::time::Instant::now();
    let reply = server.put_csv(&token, &format!("/v1/datasets/{id}/data"), csv).await;
    let took = started.elapsed();
    assert_eq!(reply.status.as_u16(), 204, "after {took:?}: {}", reply.text());
    let dataset = server.get(&token, &format!("/v1/datasets/{id}")).await.json();
    assert_eq!(dataset["rows"], rows, "the import the client was told about is there");
}
