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

fn token_answer() -> serde_json::Value {
    json!({"access_token": "tok-1", "token_type": "bearer", "expires_in": 3599, "userId": 27})
}

fn grant_client(server: &TestServer) -> Client {
    Client::builder(Credentials::client_credentials("app", Secret::new("hush-42"), [Scope::Data, Scope::User]))
        .base_url(&server.url)
        .retry(quick_retries())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_token_is_asked_with_a_post_form() {
    let server = TestServer::start(|_| Reply::json(200, token_answer())).await;
    let answer = grant_client(&server).authenticate().await.unwrap().unwrap();
    assert_eq!(answer.user_id, Some(UserId(27)));
    let request = server.only_request();
    assert_eq!(request.line(), "POST /oauth/token");
    assert_eq!(request.body.as_ref(), b"grant_type=client_credentials&scope=data+user");
    assert!(request.header("authorization").is_some_and(|h| h.starts_with("Basic ")));
}

#[tokio::test]
async fn a_405_to_the_post_falls_back_to_the_documented_get_with_a_query_string() {
    let server = TestServer::start(|request| match request.method.as_str() {
        "POST" => Reply::json(405, json!({"status": 405, "title": "Method Not Allowed"})),
        _ => Reply::json(200, token_answer()),
    })
    .await;
    let answer = grant_client(&server).authenticate().await.unwrap().unwrap();
    assert_eq!(answer.user_id, Some(UserId(27)));
    let requests = server.requests();
    let lines: Vec<String> = requests.iter().map(|r| r.line()).collect();
    assert_eq!(lines, ["POST /oauth/token", "GET /oauth/token"]);
    assert_eq!(requests[1].query("grant_type"), Some("client_credentials"));
    assert_eq!(requests[1].query("scope"), Some("data user"));
    assert!(requests[1].body.is_empty());
    assert!(requests[1].header("authorization").is_some_and(|h| h.starts_with("Basic ")));
}

#[tokio::test]
async fn a_refused_get_after_the_post_reports_the_get_and_asks_no_more() {
    let server = TestServer::start(|request| match request.method.as_str() {
        "POST" => Reply::status(405),
        _ => Reply::json(401, json!({"error": "invalid_client", "error_description": "Bad client credentials"})),
    })
    .await;
    let error = grant_client(&server).authenticate().await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    let shown = error.to_string();
    assert!(shown.contains("GET /oauth/token"), "{shown}");
    assert!(shown.contains("Bad client credentials"), "{shown}");
    assert!(!shown.contains("hush-42"), "{shown}");
    assert_eq!(server.requests().len(), 2);
}
