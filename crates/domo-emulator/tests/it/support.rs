//! A test server with a known directory and clients, and a plain hyper client.

use std::io;

use bytes::Bytes;
use domo_emulator::{Emulator, EmulatorBuilder, RunningEmulator};
use domo_model::{Directory, DirectoryGroup, GroupId, Role, User, UserId};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub(crate) type Body = BoxBody<Bytes, io::Error>;

/// The owner of what the tests create (client `owner-app`).
pub(crate) const OWNER: u64 = 1;
/// An Admin (client `admin-app`).
pub(crate) const ADMIN: u64 = 2;
/// A participant in group 5 "West team" (client `west-app`).
pub(crate) const WEST: u64 = 27;
/// A participant (client `east-app`).
pub(crate) const EAST: u64 = 28;
/// A participant in no policy (client `ned-app`).
pub(crate) const NED: u64 = 29;

pub(crate) fn directory() -> Directory {
    let user = |id, name: &str, role| User::new(UserId(id), name, role);
    Directory {
        users: vec![
            user(OWNER, "Olivia Owner", Role::Participant),
            user(ADMIN, "Ann Admin", Role::Admin),
            user(WEST, "Wendy West", Role::Participant),
            user(EAST, "Eric East", Role::Participant),
            user(NED, "Ned Nobody", Role::Participant),
        ],
        groups: vec![
            DirectoryGroup { id: GroupId(5), name: "West team".into(), user_ids: vec![UserId(WEST)] },
            DirectoryGroup {
                id: GroupId(6),
                name: "Everyone".into(),
                user_ids: [OWNER, ADMIN, WEST, EAST, NED].map(UserId).to_vec(),
            },
        ],
        roles: Vec::new(),
    }
}

/// The builder every test starts from: the directory and one client per user.
pub(crate) fn builder() -> EmulatorBuilder {
    let mut builder = Emulator::builder().directory(directory());
    for (name, user) in [("owner", OWNER), ("admin", ADMIN), ("west", WEST), ("east", EAST), ("ned", NED)] {
        builder = builder.client(format!("{name}-app"), format!("{name}-secret"), UserId(user));
    }
    builder
}

pub(crate) struct Server {
    pub(crate) emulator: RunningEmulator,
    pub(crate) client: Client<HttpConnector, Body>,
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Checks a Domo-shaped error: status in the body, a reason, a toe, and the message.
    #[track_caller]
    pub(crate) fn assert_error(&self, status: u16, message_part: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        let body = self.json();
        assert_eq!(body["status"], status, "{body}");
        assert!(body["statusReason"].is_string(), "{body}");
        assert!(body["toe"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(message_part), "message {message:?} lacks {message_part:?}");
    }
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

/// A client as `domo-http` makes it: without Nagle's delay, so that a request's body is not held back
/// waiting for the server to acknowledge its head (which would add tens of ms to every timed write).
pub(crate) fn http_client() -> Client<HttpConnector, Body> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

pub(crate) async fn start() -> Server {
    start_with(builder()).await
}

pub(crate) async fn start_with(builder: EmulatorBuilder) -> Server {
    let emulator = builder.start().await.unwrap();
    Server { emulator, client: http_client() }
}

/// Sends a request to `base` and reads the whole reply.
pub(crate) async fn send(
    client: &Client<HttpConnector, Body>,
    base: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> Reply {
    let mut request = Request::builder().method(method).uri(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client.request(request.body(body).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply { status: parts.status, headers: parts.headers, body }
}

impl Server {
    pub(crate) fn base(&self) -> String {
        self.emulator.base_url()
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        send(&self.client, &self.base(), method, path, headers, full(body)).await
    }

    /// A token for `client` (`owner`, `west`, …) with these scopes, asked for as
    /// the older SDKs do: GET with query parameters.
    pub(crate) async fn token(&self, client: &str, scope: &str) -> String {
        let basic = basic(&format!("{client}-app"), &format!("{client}-secret"));
        let path = format!("/oauth/token?grant_type=client_credentials&scope={}", scope.replace(' ', "%20"));
        let reply = self.call(Method::GET, &path, &[("authorization", &basic)], "").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn get(&self, token: &str, path: &str) -> Reply {
        let auth = format!("bearer {token}");
        self.call(Method::GET, path, &[("authorization", &auth), ("accept", "application/json")], "").await
    }

    pub(crate) async fn delete(&self, token: &str, path: &str) -> Reply {
        let auth = format!("bearer {token}");
        self.call(Method::DELETE, path, &[("authorization", &auth)], "").await
    }

    pub(crate) async fn json(&self, method: Method, token: &str, path: &str, body: &Value) -> Reply {
        let auth = format!("Bearer {token}");
        let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
        self.call(method, path, &headers, body.to_string()).await
    }

    pub(crate) async fn put_csv(&self, token: &str, path: &str, csv: impl Into<Bytes>) -> Reply {
        let auth = format!("bearer {token}");
        self.call(Method::PUT, path, &[("authorization", &auth), ("content-type", "text/csv")], csv).await
    }

    /// Creates a DataSet and returns its id.
    pub(crate) async fn create_dataset(&self, token: &str, name: &str, columns: &[(&str, &str)]) -> String {
        let columns: Vec<Value> =
            columns.iter().map(|(ty, name)| serde_json::json!({"type": ty, "name": name})).collect();
        let body = serde_json::json!({"name": name, "schema": {"columns": columns}});
        let reply = self.json(Method::POST, token, "/v1/datasets", &body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()["id"].as_str().unwrap().to_owned()
    }

    /// The DataSet's rows as the caller sees them, without a header.
    pub(crate) async fn export(&self, token: &str, id: &str) -> String {
        let reply = self.get(token, &format!("/v1/datasets/{id}/data?includeHeader=false")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.text()
    }
}

pub(crate) fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The emulator's database in a data folder, opened as another program would (to look, or to edit by hand).
pub(crate) fn database(dir: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("state.db")).unwrap()
}
