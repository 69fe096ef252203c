//! A data folder of the versions that kept everything in `state.json` is migrated into the database on start.

use std::path::Path;

use domo_emulator::Emulator;
use http::Method;
use serde_json::json;

use crate::support::{Server, http_client};

/// A folder written by the last version with `state.json`: DataSets Sales
/// (PDP on, policies West and East, rows in two files) and Inventory, a stream
/// with a committed and an open execution, two deleted DataSets, and a user
/// and a group created through the API.
const FIXTURE: &str = "tests/it/test_data/legacy-state";
const SALES: &str = "529f4adc-b6ff-4819-862b-7853b1b1cb7a";
const STREAMED: &str = "1d4b9a79-88c8-4b40-9343-f8b38af33443";
const GONE: &str = "44b82a61-d38e-47c1-9026-55e69dd6d8e9";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

async fn start(dir: &Path) -> Server {
    let mut builder = Emulator::builder().data_dir(dir);
    for (name, user) in [("owner", 1), ("admin", 2), ("west", 27)] {
        builder = builder.client(format!("{name}-app"), format!("{name}-secret"), domo_model::UserId(user));
    }
    Server { emulator: builder.start().await.unwrap(), client: http_client() }
}

#[tokio::test]
async fn a_state_json_folder_is_migrated_once_with_everything_in_it() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE), &dir);
    let server = start(&dir).await;
    assert!(!dir.join("state.json").exists() && dir.join("state.json.migrated").exists(), "the old file is set aside");
    let token = server.token("owner", "data user").await;

    let names: Vec<String> = server
        .get(&token, "/v1/datasets")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Sales", "Inventory", "Streamed"]);
    let sales = server.get(&token, &format!("/v1/datasets/{SALES}")).await.json();
    let policies: Vec<&str> =
        sales["policies"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!((sales["pdpEnabled"].as_bool(), policies), (Some(true), vec!["All Rows", "West", "East"]));
    assert_eq!(server.export(&token, SALES).await, "West,1\nEast,2\nWest,3\n");
    let west = server.token("west", "data").await;
    assert_eq!(server.export(&west, SALES).await, "West,1\nWest,3\n", "West sees its rows through user and group");
    assert_eq!(server.get(&token, &format!("/v1/datasets/{GONE}")).await.json()["deleted"], true);
    assert_eq!(server.get(&token, "/v1/users/30").await.json()["name"], "Emmy Noether");
    let groups = server.get(&token, "/v1/groups").await.json();
    assert!(groups.as_array().unwrap().iter().any(|g| g["id"] == 7 && g["name"] == "Algebra"), "{groups}");
    assert_eq!(server.get(&token, "/v1/streams/2").await.json()["deleted"], true, "a deleted DataSet's stream");

    // The open execution's uploaded part is still there to commit.
    let auth = format!("bearer {token}");
    let commit = server.call(Method::PUT, "/v1/streams/1/executions/2/commit", &[("authorization", &auth)], "").await;
    assert_eq!(commit.json()["currentState"], "SUCCESS", "{}", commit.text());
    assert_eq!(server.export(&token, STREAMED).await, "x\ny\n");
    // Ids go on from the last ones handed out.
    let policy = json!({"name": "More", "users": [27], "filters": []});
    let created = server.json(Method::POST, &token, &format!("/v1/datasets/{SALES}/policies"), &policy).await;
    assert_eq!(created.json()["id"], 8);
    let before = server.get(&token, &format!("/v1/datasets/{SALES}")).await.json();
    server.emulator.shutdown().await;

    // A second start reads the database; the old file is not read again.
    std::fs::write(dir.join("state.json.migrated"), "not read again").unwrap();
    let server = start(&dir).await;
    let token = server.token("owner", "data").await;
    assert_eq!(server.get(&token, &format!("/v1/datasets/{SALES}")).await.json(), before);
    server.emulator.shutdown().await;

    // An old state file copied in later is not taken for the one migrated.
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE).join("state.json"), dir.join("state.json"))
        .unwrap();
    let err = Emulator::builder().data_dir(&dir).start().await.unwrap_err();
    assert!(err.to_string().contains("holds both `state.db` and a `state.json` it was not made from"), "{err}");
}

#[tokio::test]
async fn a_state_json_next_to_a_database_it_did_not_make_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Emulator::builder().data_dir(dir.path()).start().await.unwrap().shutdown().await;
    std::fs::write(dir.path().join("state.json"), "{}").unwrap();
    let err = Emulator::builder().data_dir(dir.path()).start().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the emulator state `{}` cannot be read: the data folder holds both `state.db` and a `state.json` it was not made from; move one of them away",
            dir.path().join("state.json").display()
        )
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("state.json")).unwrap(), "{}", "nothing was moved");
}
