//! `Client::authenticate`: who the credentials act as, and the token it caches for later calls.

use domo_http::{Client, Credentials};
use domo_model::{DatasetId, Scope, Secret, UserId};
use serde_json::json;

use crate::support::{Reply, TestServer, dataset_json, quick_retries};

#[tokio::test]
async fn authenticate_returns_the_identity_and_caches_the_token() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/oauth/token" => Reply::json(
            200,
            json!({"access_token": "tok-1", "token_type": "bearer", "expires_in": 3599, "scope": "data user",
                   "customer": "acme", "userId": 27, "role": "Admin", "jti": "j"}),
        ),
        _ => Reply::json(200, dataset_json("d1", "Euler")),
    })
    .await;
    let client = Client::builder(Credentials::client_credentials("app", Secret::new("hush-42"), [Scope::Data]))
        .base_url(&server.url)
        .retry(quick_retries())
        .build()
        .unwrap();
    let answer = client.authenticate().await.unwrap().unwrap();
    assert_eq!(
        (answer.user_id, answer.role.as_deref(), answer.scope.as_str()),
        (Some(UserId(27)), Some("Admin"), "data user")
    );
    client.get_dataset(&DatasetId::from("d1")).await.unwrap();
    let lines: Vec<String> = server.requests().iter().map(|r| r.line()).collect();
    assert_eq!(lines.iter().filter(|l| l.contains("/oauth/token")).count(), 1, "{lines:?}");
    assert_eq!(server.requests()[1].header("authorization"), Some("Bearer tok-1"));
}

#[tokio::test]
async fn a_ready_token_has_no_token_answer() {
    let server = TestServer::start(|_| Reply::status(500)).await;
    let client = Client::new(&server.url, Credentials::token("ready")).unwrap();
    assert!(client.authenticate().await.unwrap().is_none());
    assert!(server.requests().is_empty());
}
