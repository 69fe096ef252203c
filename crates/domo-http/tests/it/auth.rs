//! Tokens: the client-credentials grant, caching, renewal before expiry and after a 401, no thundering herd.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use domo_http::{Client, Credentials};
use domo_model::{DatasetId, Scope, Secret};
use serde_json::json;

use crate::support::{Recorded, Reply, TOKEN, TestServer, dataset_json, quick_retries};

pub(crate) const SECRET: &str = "s3cr3t-client-secret-9d2f";

fn token_reply(token: &str, expires_in: u64) -> Reply {
    Reply::json(
        200,
        json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in, "scope": "data user",
               "customer": "acme", "userId": 27, "role": "Admin", "jti": "abc"}),
    )
}

pub(crate) fn grant_client(server: &TestServer) -> Client {
    Client::builder(Credentials::client_credentials("my-client", Secret::new(SECRET), [Scope::Data, Scope::User]))
        .base_url(&server.url)
        .retry(quick_retries())
        .build()
        .unwrap()
}

fn bearer(request: &Recorded) -> &str {
    request.header("authorization").unwrap_or_default()
}

fn expired() -> Reply {
    Reply::json(
        401,
        json!({"status": 401, "statusReason": "Unauthorized", "message": "Full authentication is required"}),
    )
    .header("www-authenticate", "Bearer error=\"invalid_token\", error_description=\"Access token expired\"")
}

/// A server that issues `token-1`, `token-2`, … (after `token_delay`) and,
/// once `revoked` is set, refuses `token-1` with a 401.
struct TokenServer {
    server: TestServer,
    issued: Arc<AtomicU32>,
    revoked: Arc<AtomicBool>,
}

async fn token_server(expires_in: u64, token_delay: Duration) -> TokenServer {
    let issued = Arc::new(AtomicU32::new(0));
    let revoked = Arc::new(AtomicBool::new(false));
    let (counter, refuse) = (issued.clone(), revoked.clone());
    let server = TestServer::start(move |request| {
        if request.path == "/oauth/token" {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            return token_reply(&format!("token-{n}"), expires_in).after(token_delay);
        }
        if refuse.load(Ordering::SeqCst) && bearer(request) == "Bearer token-1" {
            return expired();
        }
        Reply::json(200, dataset_json("x", "X"))
    })
    .await;
    TokenServer { server, issued, revoked }
}

#[tokio::test]
async fn the_grant_posts_a_form_with_basic_auth_and_the_token_is_reused() {
    let TokenServer { server, .. } = token_server(3599, Duration::ZERO).await;
    let client = grant_client(&server);
    client.get_dataset(&DatasetId::from("x")).await.unwrap();
    client.clone().get_dataset(&DatasetId::from("x")).await.unwrap();

    let requests = server.requests();
    let lines: Vec<_> = requests.iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        ["POST /oauth/token", "GET /v1/datasets/x", "GET /v1/datasets/x"],
        "one token for both calls and clones"
    );
    let grant = &requests[0];
    // base64 of `my-client:s3cr3t-client-secret-9d2f`
    assert_eq!(grant.header("authorization"), Some("Basic bXktY2xpZW50OnMzY3IzdC1jbGllbnQtc2VjcmV0LTlkMmY="));
    assert_eq!(grant.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(grant.header("accept"), Some("application/json"));
    assert_eq!(std::str::from_utf8(&grant.body).unwrap(), "grant_type=client_credentials&scope=data+user");
    assert_eq!(bearer(&requests[1]), "Bearer token-1");
    assert_eq!(bearer(&requests[2]), "Bearer token-1");
}

#[tokio::test]
async fn a_token_expiring_mid_run_is_renewed_once_after_a_401() {
    let TokenServer { server, issued, revoked } = token_server(3599, Duration::ZERO).await;
    let client = grant_client(&server);
    client.get_dataset(&DatasetId::from("x")).await.unwrap();
    revoked.store(true, Ordering::SeqCst);
    client.get_dataset(&DatasetId::from("x")).await.unwrap();
    client.get_dataset(&DatasetId::from("x")).await.unwrap();

    let seen: Vec<_> = server.requests().iter().map(|r| format!("{} {}", r.line(), bearer(r))).collect();
    let basic = "Basic bXktY2xpZW50OnMzY3IzdC1jbGllbnQtc2VjcmV0LTlkMmY=";
    assert_eq!(
        seen,
        [
            format!("POST /oauth/token {basic}"),
            "GET /v1/datasets/x Bearer token-1".to_owned(),
            "GET /v1/datasets/x Bearer token-1".to_owned(),
            format!("POST /oauth/token {basic}"),
            "GET /v1/datasets/x Bearer token-2".to_owned(),
            "GET /v1/datasets/x Bearer token-2".to_owned(),
        ]
    );
    assert_eq!(issued.load(Ordering::SeqCst), 2);
}

/// Sends 16 calls at once on clones of `client`; each must succeed.
async fn sixteen_at_once(client: &Client) {
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get_dataset(&DatasetId::from("x")).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn concurrent_calls_share_one_token_request_and_one_renewal() {
    let TokenServer { server, issued, revoked } = token_server(3599, Duration::from_millis(150)).await;
    let client = grant_client(&server);
    sixteen_at_once(&client).await;
    assert_eq!(issued.load(Ordering::SeqCst), 1, "16 waiting calls, one token request");

    revoked.store(true, Ordering::SeqCst);
    sixteen_at_once(&client).await;
    assert_eq!(issued.load(Ordering::SeqCst), 2, "16 calls refused at once, one renewal");
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let TokenServer { server, issued, .. } = token_server(1, Duration::ZERO).await;
    let client = grant_client(&server);
    client.get_dataset(&DatasetId::from("x")).await.unwrap();
    client.get_dataset(&DatasetId::from("x")).await.unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(950)).await;
    client.get_dataset(&DatasetId::from("x")).await.unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 2, "renewed shortly before `expires_in` ran out, without a 401");
}

#[tokio::test]
async fn a_ready_token_is_not_renewed_and_a_401_is_returned() {
    let server = TestServer::start(|_| expired()).await;
    let error = server.client().get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "GET /v1/datasets/x: Domo answered 401: Unauthorized: Full authentication is required"
    );
    let request = server.only_request();
    assert_eq!(bearer(&request), format!("Bearer {TOKEN}"));
}

#[tokio::test]
async fn rejected_client_credentials_are_reported_without_the_secret() {
    let server = TestServer::start(|_| {
        Reply::json(401, json!({"status": 401, "statusReason": "Unauthorized", "message": "Bad credentials"}))
    })
    .await;
    let error = grant_client(&server).get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert_eq!(error.to_string(), "POST /oauth/token: Domo answered 401: Unauthorized: Bad credentials");
    assert_eq!(server.requests().len(), 1, "a refused grant is neither retried nor followed by the call");
}
