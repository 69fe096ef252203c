//! Persistence: restarts keep everything, and a process killed mid-import keeps the old rows.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use domo_emulator::Emulator;
use http::{Method, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde_json::json;

use crate::support::{Server, basic, builder, http_client, send, start_with};

#[tokio::test]
async fn restart_keeps_datasets_rows_policies_streams_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(builder().data_dir(dir.path())).await;
    let token = server.token("owner", "data").await;
    let id = server.create_dataset(&token, "Kept", &[("STRING", "Region"), ("LONG", "n")]).await;
    server.put_csv(&token, &format!("/v1/datasets/{id}/data"), "West,1\nEast,2\n").await;
    server.put_csv(&token, &format!("/v1/datasets/{id}/data?updateMethod=APPEND"), "West,3\n").await;
    let policy = json!({"name": "West", "users": [27], "filters": [{"column": "Region", "values": ["West"], "operator": "EQUALS"}]});
    server.json(Method::POST, &token, &format!("/v1/datasets/{id}/policies"), &policy).await;
    server.json(Method::PUT, &token, &format!("/v1/datasets/{id}"), &json!({"pdpEnabled": true})).await;
    let stream = json!({"dataSet": {"name": "S", "schema": {"columns": [{"type": "STRING", "name": "a"}]}}, "updateMethod": "REPLACE"});
    server.json(Method::POST, &token, "/v1/streams", &stream).await;
    let before = server.get(&token, &format!("/v1/datasets/{id}")).await.json();
    server.emulator.shutdown().await;

    // Restarted without a directory: the one given before is kept.
    let mut restarted = Emulator::builder().data_dir(dir.path());
    for (name, user) in [("owner", 1), ("west", 27)] {
        restarted = restarted.client(format!("{name}-app"), format!("{name}-secret"), domo_model::UserId(user));
    }
    let server = Server { emulator: restarted.start().await.unwrap(), client: http_client() };
    server.get(&token, "/v1/datasets").await.assert_error(401, "Invalid access token");
    let token = server.token("owner", "data user").await;
    assert_eq!(server.get(&token, &format!("/v1/datasets/{id}")).await.json(), before);
    assert_eq!(server.export(&token, &id).await, "West,1\nEast,2\nWest,3\n");
    let west = server.token("west", "data").await;
    assert_eq!(server.export(&west, &id).await, "West,1\nWest,3\n");
    assert_eq!(server.get(&token, "/v1/streams").await.json().as_array().unwrap().len(), 1);
    assert_eq!(server.get(&token, "/v1/users/27").await.json()["name"], "Wendy West");
    server.emulator.shutdown().await;
}

#[tokio::test]
async fn a_second_emulator_on_the_same_folder_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = Emulator::builder().data_dir(dir.path()).start().await.unwrap();
    let err = Emulator::builder().data_dir(dir.path()).start().await.unwrap_err();
    assert_eq!(err.to_string(), format!("another emulator is using the data folder `{}`", dir.path().display()));
    first.shutdown().await;
    let again = Emulator::builder().data_dir(dir.path()).bind("127.0.0.1:0").start().await.unwrap();
    assert!(again.addr().ip().is_loopback());
    again.shutdown().await;
    let err = Emulator::builder().data_dir(dir.path()).bind("127.0.0.1").start().await.unwrap_err();
    assert_eq!(err.to_string(), "cannot listen on 127.0.0.1");
}

#[tokio::test]
async fn bad_start_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state.json"), "{\"datasets\": 7}").unwrap();
    let err = Emulator::builder().data_dir(dir.path()).start().await.unwrap_err();
    let state = dir.path().join("state.json");
    assert!(
        err.to_string().starts_with(&format!("the emulator state `{}` cannot be read: invalid type", state.display())),
        "{err}"
    );
    let err = Emulator::builder().client("a", "x", 1u64).client("a", "y", 2u64).start().await.unwrap_err();
    assert_eq!(err.to_string(), "the client id `a` is given twice");
}

#[tokio::test]
async fn generated_client_is_made_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let first = Emulator::builder().data_dir(dir.path()).start().await.unwrap();
    let client = first.generated_client().unwrap().clone();
    first.shutdown().await;
    let second = Emulator::builder().data_dir(dir.path()).start().await.unwrap();
    assert_eq!(second.generated_client(), Some(&client));
    let auth = basic(&client.id, client.secret.expose());
    let reply = send(
        &http_client(),
        &second.base_url(),
        Method::GET,
        "/oauth/token?grant_type=client_credentials&scope=data",
        &[("authorization", &auth)],
        crate::support::full(""),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["role"], "Admin", "the generated client acts as an Admin");
    second.shutdown().await;
}

struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_emulator(dir: &Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_domo-emulator"))
        .args(["--data-dir", dir.to_str().unwrap(), "--bind", "127.0.0.1:0", "--client", "owner-app:owner-secret:1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base =
        line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected output {line:?}")).to_owned();
    Running { child, base }
}

async fn token(base: &str) -> String {
    let auth = basic("owner-app", "owner-secret");
    let reply = send(
        &http_client(),
        base,
        Method::GET,
        "/oauth/token?grant_type=client_credentials&scope=data",
        &[("authorization", &auth)],
        crate::support::full(""),
    )
    .await;
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_during_a_large_import_keeps_the_old_rows() {
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_emulator(dir.path());
    let client = http_client();
    let token_ = token(&child.base).await;
    let auth = format!("bearer {token_}");
    let create =
        json!({"name": "Big", "schema": {"columns": [{"type": "LONG", "name": "n"}, {"type": "STRING", "name": "s"}]}});
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let reply =
        send(&client, &child.base, Method::POST, "/v1/datasets", &headers, crate::support::full(create.to_string()))
            .await;
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let old = "1,old\n2,old\n3,old\n";
    let data = format!("/v1/datasets/{id}/data");
    let reply =
        send(&client, &child.base, Method::PUT, &data, &[("authorization", &auth)], crate::support::full(old)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);

    // A REPLACE whose body keeps coming: a few MB, then the server is killed.
    let (body_tx, mut body_rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    let body = StreamBody::new(futures_util::stream::poll_fn(move |cx| body_rx.poll_recv(cx))).boxed();
    let upload = {
        let (client, base, auth, data) = (client.clone(), child.base.clone(), auth.clone(), data.clone());
        tokio::spawn(async move {
            let _ = send(
                &client,
                &base,
                Method::PUT,
                &format!("{data}?updateMethod=REPLACE"),
                &[("authorization", &auth)],
                body,
            )
            .await;
        })
    };
    let chunk: String = (0..10_000).map(|n| format!("{n},new\n")).collect();
    let mut sent = 0;
    while sent < 4 * 1024 * 1024 {
        body_tx.send(Ok(Frame::data(Bytes::from(chunk.clone())))).await.unwrap();
        sent += chunk.len();
    }
    wait_for_spooled_bytes(&dir.path().join("tmp"), 2 * 1024 * 1024).await;
    let mut child = child;
    child.child.kill().unwrap(); // SIGKILL
    child.child.wait().unwrap();
    drop(body_tx);
    upload.abort();

    let restarted = spawn_emulator(dir.path());
    let token_ = token(&restarted.base).await;
    let auth = format!("bearer {token_}");
    let reply =
        send(&client, &restarted.base, Method::GET, &data, &[("authorization", &auth)], crate::support::full("")).await;
    assert_eq!(reply.text(), old, "the old rows are intact");
    let got = send(
        &client,
        &restarted.base,
        Method::GET,
        &format!("/v1/datasets/{id}"),
        &[("authorization", &auth)],
        crate::support::full(""),
    )
    .await;
    assert_eq!(got.json()["rows"], 3);
    assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "the half upload is gone");
    assert_eq!(std::fs::read_dir(dir.path().join("data")).unwrap().count(), 1, "only the old rows' file");
}

async fn wait_for_spooled_bytes(tmp: &Path, bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let spooled: u64 =
            std::fs::read_dir(tmp).unwrap().filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum();
        if spooled >= bytes {
            return;
        }
        assert!(Instant::now() < deadline, "the server never received the upload ({spooled} bytes)");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_start_that_cannot_listen_leaves_the_data_folder_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = builder().data_dir(dir.path()).bind(taken.local_addr().unwrap()).start().await.unwrap_err();
    assert!(err.to_string().starts_with("cannot listen on 127.0.0.1:"), "{err}");
    let db = crate::support::database(dir.path());
    let users: i64 = db.query_row("SELECT count(*) FROM users", [], |row| row.get(0)).unwrap();
    let clients: i64 =
        db.query_row("SELECT count(*) FROM meta WHERE key = 'generated_client'", [], |row| row.get(0)).unwrap();
    assert_eq!((users, clients), (0, 0), "the directory and clients of a failed start were kept");
}

#[tokio::test]
async fn row_files_without_a_state_file_are_kept_and_the_start_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = Emulator::builder().data_dir(dir.path()).start().await.unwrap();
    first.shutdown().await;
    let rows = dir.path().join("data/3f1e.csv");
    std::fs::write(&rows, "kept,1\n").unwrap();
    for file in ["state.db", "state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(file));
    }
    let err = Emulator::builder().data_dir(dir.path()).start().await.unwrap_err();
    let state = dir.path().join("state.db");
    assert_eq!(
        err.to_string(),
        format!(
            "the emulator state `{}` cannot be read: it is missing, yet `data` holds row files; restore it or empty the folder",
            state.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&rows).unwrap(), "kept,1\n", "the rows are still there");
}

#[tokio::test]
async fn policies_that_no_longer_compile_export_nothing_and_name_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(builder().data_dir(dir.path())).await;
    let token = server.token("owner", "data").await;
    let id = server.create_dataset(&token, "Regions", &[("STRING", "SecretRegion")]).await;
    server.put_csv(&token, &format!("/v1/datasets/{id}/data"), "West\nEast\n").await;
    let policy = json!({"name": "West team", "groups": [5], "filters": [{"column": "SecretRegion", "values": ["West"], "operator": "EQUALS"}]});
    server.json(Method::POST, &token, &format!("/v1/datasets/{id}/policies"), &policy).await;
    server.json(Method::PUT, &token, &format!("/v1/datasets/{id}"), &json!({"pdpEnabled": true})).await;
    server.emulator.shutdown().await;

    // Started again with a directory that no longer has group 5.
    let mut directory = crate::support::directory();
    directory.groups.retain(|g| g.id != domo_model::GroupId(5));
    let server = start_with(builder().data_dir(dir.path()).directory(directory)).await;
    let west = server.token("west", "data").await;
    // West's only grant came through the group: it sees nothing, not everything.
    assert_eq!(server.export(&west, &id).await, "");
    server.emulator.shutdown().await;

    // The API refuses a schema that drops a policy's column; a database edited by hand does not ask.
    let edited = crate::support::database(dir.path())
        .execute("UPDATE datasets SET body = replace(body, '\"name\":\"SecretRegion\"', '\"name\":\"Other\"')", [])
        .unwrap();
    assert_eq!(edited, 1, "the column's name was not found in the database");
    let server = start_with(builder().data_dir(dir.path())).await;
    let west = server.token("west", "data").await;
    let reply = server.get(&west, &format!("/v1/datasets/{id}/data")).await;
    reply.assert_error(500, "no longer compile");
    let text = reply.text();
    for leaked in ["SecretRegion", "West", "group", "5`"] {
        assert!(!text.contains(leaked), "the 500 names `{leaked}`: {text}");
    }
    server.emulator.shutdown().await;
}

#[tokio::test]
async fn a_directory_with_problems_is_refused_given_or_kept() {
    let mut directory = crate::support::directory();
    let mut again = directory.users[4].clone();
    again.role = Some(domo_model::Role::Admin);
    directory.users.push(again);
    let err = builder().directory(directory).start().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the directory cannot be used: users[5]: user 29 `Ned Nobody` is listed again (first at users[4])"
    );

    // A kept directory is checked too: a database edited by hand gets a group in itself.
    let dir = tempfile::tempdir().unwrap();
    start_with(builder().data_dir(dir.path())).await.emulator.shutdown().await;
    let db = crate::support::database(dir.path());
    let body: String = db.query_row("SELECT body FROM user_groups WHERE id = 5", [], |row| row.get(0)).unwrap();
    let mut group: serde_json::Value = serde_json::from_str(&body).unwrap();
    group["userIds"].as_array_mut().unwrap().push(json!(5));
    db.execute("UPDATE user_groups SET body = ?1 WHERE id = 5", [group.to_string()]).unwrap();
    drop(db);
    let err = Emulator::builder().data_dir(dir.path()).start().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the directory cannot be used: groups[0].userIds[1]: group 5 `West team` lists its own id among its members (`userIds` holds user ids, and groups cannot hold groups)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = std::sync::Arc::new(start_with(builder().data_dir(dir.path())).await);
    let owner = server.token("owner", "data").await;
    let admin = server.token("admin", "user").await;
    let id = server.create_dataset(&owner, "Busy", &[("STRING", "Region"), ("LONG", "n")]).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..60 {
        let (server, owner, admin, id) = (server.clone(), owner.clone(), admin.clone(), id.clone());
        tasks.spawn(async move {
            let reply = match n % 3 {
                0 => {
                    let policy = json!({"name": format!("P{n}"), "users": [27], "filters": [{"column": "Region", "values": [format!("R{n}")], "operator": "EQUALS"}]});
                    server.json(Method::POST, &owner, &format!("/v1/datasets/{id}/policies"), &policy).await
                }
                1 => server.put_csv(&owner, &format!("/v1/datasets/{id}/data?updateMethod=APPEND"), format!("R{n},{n}\n")).await,
                _ => {
                    let user = json!({"name": format!("User {n}"), "email": format!("u{n}@example.com"), "role": "Participant"});
                    server.json(Method::POST, &admin, "/v1/users", &user).await
                }
            };
            assert!(reply.status.is_success(), "{n}: {}", reply.text());
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let check = async |server: &Server, owner: &str, admin: &str| {
        let policies = server.get(owner, &format!("/v1/datasets/{id}/policies")).await.json();
        let mut ids: Vec<u64> = policies.as_array().unwrap().iter().map(|p| p["id"].as_u64().unwrap()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 21, "All Rows and 20 policies, each with its own id: {policies}");
        let rows = server.export(owner, &id).await;
        assert_eq!(rows.lines().count(), 20, "every APPEND landed: {rows}");
        let users = server.get(admin, "/v1/users?limit=500").await.json();
        assert_eq!(users.as_array().unwrap().len(), 5 + 20, "{users}");
    };
    check(&server, &owner, &admin).await;
    let server = std::sync::Arc::into_inner(server).unwrap();
    server.emulator.shutdown().await;
    let server = start_with(builder_without_directory(dir.path())).await;
    let (owner, admin) = (server.token("owner", "data").await, server.token("admin", "user").await);
    check(&server, &owner, &admin).await;
    server.emulator.shutdown().await;
}

/// The test clients on a data folder whose directory is kept (and changed through the API).
fn builder_without_directory(dir: &Path) -> domo_emulator::EmulatorBuilder {
    let mut builder = Emulator::builder().data_dir(dir);
    for (name, user) in [("owner", 1), ("admin", 2), ("west", 27)] {
        builder = builder.client(format!("{name}-app"), format!("{name}-secret"), domo_model::UserId(user));
    }
    builder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answered_write_survives_a_kill_during_concurrent_writes() {
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_emulator(dir.path());
    let client = http_client();
    let auth = format!("bearer {}", token(&child.base).await);
    let create = json!({"name": "Busy", "schema": {"columns": [{"type": "STRING", "name": "s"}]}});
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let reply =
        send(&client, &child.base, Method::POST, "/v1/datasets", &headers, crate::support::full(create.to_string()))
            .await;
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..8 {
        let (client, base, auth, id, answered) =
            (client.clone(), child.base.clone(), auth.clone(), id.clone(), answered.clone());
        writers.spawn(async move {
            for n in 0.. {
                let body = json!({"name": format!("W{writer}-{n}"), "users": [1], "filters": []}).to_string();
                let request = http::Request::post(format!("{base}/v1/datasets/{id}/policies"))
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(crate::support::full(body))
                    .unwrap();
                // Once the server is killed, requests fail: the writer stops.
                let Ok(response) = client.request(request).await else { return };
                let Ok(bytes) = response.into_body().collect().await.map(|b| b.to_bytes()) else { return };
                let Ok(policy) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return };
                if let Some(id) = policy["id"].as_u64() {
                    answered.lock().unwrap().push(id);
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while answered.lock().unwrap().len() < 60 {
        assert!(Instant::now() < deadline, "the writers never got going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut child = child;
    child.child.kill().unwrap(); // SIGKILL, with writes in flight
    child.child.wait().unwrap();
    while writers.join_next().await.is_some() {}
    let answered = answered.lock().unwrap().clone();

    let restarted = spawn_emulator(dir.path());
    let auth = format!("bearer {}", token(&restarted.base).await);
    let path = format!("/v1/datasets/{id}/policies");
    let reply =
        send(&client, &restarted.base, Method::GET, &path, &[("authorization", &auth)], crate::support::full("")).await;
    let kept: Vec<u64> = reply.json().as_array().unwrap().iter().map(|p| p["id"].as_u64().unwrap()).collect();
    let lost: Vec<&u64> = answered.iter().filter(|id| !kept.contains(id)).collect();
    assert!(lost.is_empty(), "answered with 201, then lost: {lost:?} ({} answered)", answered.len());
}
