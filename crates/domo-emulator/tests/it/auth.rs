//! Tokens: GET and POST forms, Basic credentials, scopes, expiry, missing and bad tokens.

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::json;

use crate::support::{OWNER, basic, builder, start, start_with};

#[tokio::test]
async fn token_by_get_with_query_parameters_and_lower_case_bearer() {
    let server = start().await;
    let auth = basic("owner-app", "owner-secret");
    let reply = server
        .call(Method::GET, "/oauth/token?grant_type=client_credentials&scope=data", &[("authorization", &auth)], "")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "data");
    assert_eq!(body["userId"], OWNER);
    assert!(body["jti"].is_string() && body["customer"].is_string());
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT-shaped token");
    let listed = server.call(Method::GET, "/v1/datasets", &[("authorization", &format!("bearer {token}"))], "").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json(), json!([]));
}

#[tokio::test]
async fn token_by_post_form() {
    let server = start().await;
    let auth = basic("west-app", "west-secret");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/x-www-form-urlencoded")];
    let reply =
        server.call(Method::POST, "/oauth/token", &headers, "grant_type=client_credentials&scope=data+user").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["scope"], "data user");
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(server.get(&token, "/v1/users").await.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_client_credentials_are_refused() {
    let server = start().await;
    let cases = [
        vec![("authorization", basic("owner-app", "wrong"))],
        vec![("authorization", basic("nobody", "owner-secret"))],
        vec![],
    ];
    for headers in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = server.call(Method::GET, "/oauth/token?grant_type=client_credentials", &headers, "").await;
        reply.assert_error(401, "");
        assert!(reply.header("www-authenticate").is_some_and(|h| h.starts_with("Basic")));
    }
    let auth = basic("owner-app", "owner-secret");
    let reply = server.call(Method::GET, "/oauth/token?grant_type=password", &[("authorization", &auth)], "").await;
    reply.assert_error(400, "Unsupported grant type `password`");
    let reply = server.call(Method::GET, "/oauth/token?scope=data%20bogus", &[("authorization", &auth)], "").await;
    reply.assert_error(400, "Invalid scope: `bogus`");
}

#[tokio::test]
async fn missing_and_bad_tokens_get_401_with_www_authenticate_and_change_nothing() {
    let server = start().await;
    let body = json!({"name": "x", "schema": {"columns": [{"type": "STRING", "name": "a"}]}}).to_string();
    for path in ["/v1/datasets", "/v1/users", "/v1/no-such-endpoint"] {
        let reply = server.call(Method::GET, path, &[], "").await;
        reply.assert_error(401, "authentication is required");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer realm=\"domo\""));
    }
    let reply = server.call(Method::POST, "/v1/datasets", &[("content-type", "application/json")], body.clone()).await;
    reply.assert_error(401, "");
    let reply = server.call(Method::POST, "/v1/datasets", &[("authorization", "Bearer not-a-token")], body).await;
    reply.assert_error(401, "Invalid access token");
    assert!(reply.header("www-authenticate").unwrap().starts_with("Bearer error=\"invalid_token\""));
    let token = server.token("owner", "data").await;
    assert_eq!(server.get(&token, "/v1/datasets").await.json(), json!([]), "nothing was created");
}

#[tokio::test]
async fn wrong_scope_gets_403() {
    let server = start().await;
    let user_only = server.token("owner", "user").await;
    let reply = server.get(&user_only, "/v1/datasets").await;
    reply.assert_error(403, "`data` scope");
    assert!(reply.header("www-authenticate").unwrap().contains("insufficient_scope"));
    let body = json!({"name": "x", "schema": {"columns": [{"type": "STRING", "name": "a"}]}});
    server.json(Method::POST, &user_only, "/v1/datasets", &body).await.assert_error(403, "`data` scope");
    let data_only = server.token("owner", "data").await;
    server.get(&data_only, "/v1/users").await.assert_error(403, "`user` scope");
    server.get(&data_only, "/v1/groups/5/users").await.assert_error(403, "`user` scope");
    assert_eq!(server.get(&data_only, "/v1/datasets").await.json(), json!([]), "nothing was created");
}

#[tokio::test]
async fn tokens_expire_mid_test_and_a_new_one_works() {
    let server = start_with(builder().token_ttl(Duration::from_millis(700))).await;
    let token = server.token("owner", "data").await;
    let id = server.create_dataset(&token, "Expiring", &[("STRING", "a")]).await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    let reply = server.get(&token, &format!("/v1/datasets/{id}")).await;
    reply.assert_error(401, "expired");
    let header = reply.header("www-authenticate").unwrap();
    assert!(header.starts_with("Bearer") && header.contains("error=\"invalid_token\""), "{header}");
    let fresh = server.token("owner", "data").await;
    assert_eq!(server.get(&fresh, &format!("/v1/datasets/{id}")).await.status, StatusCode::OK);
}
