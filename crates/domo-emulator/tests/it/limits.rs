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
