//! The store's own tests: refused writes change nothing, group commit, diffs, the client secret.

use domo_model::{Dataset, DatasetId, Secret, UserId};

use super::*;

fn dataset(id: &str, description: &str) -> Arc<StoredDataset> {
    let dataset = Dataset {
        id: DatasetId(id.to_owned()),
        name: id.to_owned(),
        description: Some(description.to_owned()),
        rows: 0,
        columns: 0,
        schema: domo_model::Schema::default(),
        owner: None,
        created_at: None,
        updated_at: None,
        data_current_at: None,
        pdp_enabled: false,
        policies: Some(Vec::new()),
    };
    Arc::new(StoredDataset { dataset, segments: Vec::new() })
}

fn names(store: &Store) -> Vec<String> {
    store.read(|state| state.datasets.iter().map(|d| d.dataset.name.clone()).collect())
}

/// A write the database refuses answers 500 and changes nothing, in memory or on disk.
fn check_refused_write(setup: &str, cause: &str) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|state| {
            state.datasets.push(dataset("kept", "small"));
            Ok(())
        })
        .unwrap();
    store.db.lock().unwrap().execute_batch(setup).unwrap();
    let big = "x".repeat(256 * 1024);
    {
        // The database fails for the reason the test means.
        let state = store.read(State::clone);
        let mut next = state.clone();
        next.datasets.push(dataset("probe", &big));
        let err = db::save(&mut store.db.lock().unwrap(), &state, &next).unwrap_err();
        assert!(err.to_string().contains(cause), "{err}");
    }
    let err = store
        .write(|state| {
            state.datasets.push(dataset("lost", &big));
            Ok(())
        })
        .unwrap_err();
    let (status, message) = err.status_and_message();
    assert_eq!(status, http::StatusCode::INTERNAL_SERVER_ERROR);
    assert!(message.starts_with("Internal error: cannot save the emulator state;"), "{message}");
    assert_eq!(names(&store), ["kept"], "the refused write is not visible");
    drop(store);
    assert_eq!(names(&Store::open(dir.path()).unwrap()), ["kept"], "nor kept on disk");
}

#[test]
fn a_full_disk_fails_the_write_and_changes_nothing() {
    // A database that may not grow by a page fails as a full disk does (SQLITE_FULL).
    // `max_page_count` never goes below the current size: asking for 1 sets it there.
    check_refused_write("PRAGMA max_page_count = 1", "database or disk is full");
}

#[test]
fn a_read_only_database_fails_the_write_and_changes_nothing() {
    check_refused_write("PRAGMA query_only = 1", "readonly database");
}

#[test]
fn the_generated_client_secret_is_kept_in_the_database_and_out_of_debug() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let client = StoredClient { id: "app".into(), secret: Secret::new("s3cret-41"), user: UserId(1) };
    store
        .write(|state| {
            state.generated_client = Some(client);
            Ok(())
        })
        .unwrap();
    assert!(!format!("{store:?}").contains("s3cret-41"));
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let kept = store.read(|state| state.generated_client.clone()).unwrap();
    assert_eq!((kept.id.as_str(), kept.secret.expose()), ("app", "s3cret-41"));
    assert!(!format!("{store:?}").contains("s3cret-41"));
}

#[test]
fn only_the_changed_rows_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let many: Vec<_> = (0..100).map(|n| dataset(&format!("d{n}"), "")).collect();
    store
        .write(|state| {
            state.datasets.extend(many);
            Ok(())
        })
        .unwrap();
    let changes = || store.db.lock().unwrap().total_changes();
    let before = changes();
    store
        .write(|state| {
            state.dataset_mut("d50").unwrap().dataset.name = "renamed".into();
            Ok(())
        })
        .unwrap();
    assert_eq!(changes() - before, 1, "one DataSet row");
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let names = names(&store);
    assert_eq!((names.len(), names[50].as_str(), names[51].as_str()), (100, "renamed", "d51"));
}

#[test]
fn writes_queued_while_the_database_is_busy_share_one_commit_and_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let busy = store.db.lock().unwrap();
    let writers: Vec<_> = (0..8)
        .map(|n| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                store.write(|state| {
                    state.datasets.push(dataset(&format!("d{n}"), ""));
                    Ok(n)
                })
            })
        })
        .collect();
    while store.lock().queue.len() < 8 {
        std::thread::yield_now();
    }
    assert!(names(&store).is_empty(), "nothing is visible before it is committed");
    let before = store.commits.load(std::sync::atomic::Ordering::Relaxed);
    drop(busy);
    let mut answered: Vec<i32> = writers.into_iter().map(|w| w.join().unwrap().unwrap()).collect();
    answered.sort_unstable();
    assert_eq!(answered, (0..8).collect::<Vec<_>>());
    assert_eq!(store.commits.load(std::sync::atomic::Ordering::Relaxed) - before, 1, "one transaction for all");
    drop(Arc::into_inner(store).unwrap());
    assert_eq!(names(&Store::open(dir.path()).unwrap()).len(), 8, "all of them on disk");
}

fn check_diff(old: &[u32], new: &[u32], expected: &str) {
    let key = |n: &u32| n / 10;
    let diff = db::diff(old, new, key, |a, b| a == b);
    let mut shown: Vec<String> = diff
        .changes
        .iter()
        .map(|c| match c {
            db::Change::Upsert { old: None, new } => format!("+{new}"),
            db::Change::Upsert { old: Some(old), new } => format!("{old}>{new}"),
            db::Change::Remove(key) => format!("-{key}"),
        })
        .collect();
    if diff.reordered {
        shown.push("reordered".into());
    }
    assert_eq!(shown.join(" "), expected, "{old:?} -> {new:?}");
}

#[test]
fn diffs_find_each_change_by_key() {
    // Rows are keyed by their tens: 10 and 11 are the same row, changed.
    check_diff(&[10, 20, 30], &[10, 20, 30], "");
    check_diff(&[10, 20], &[10, 20, 30], "+30");
    check_diff(&[10, 20, 30], &[10, 30], "-2");
    check_diff(&[10, 20, 30], &[10, 21, 30], "20>21");
    check_diff(&[10, 20, 30], &[30, 10, 20], "reordered");
    check_diff(&[], &[10], "+10");
    check_diff(&[10, 20], &[], "-1 -2");
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The database and its log hold the generated client's secret: only their owner may read them,
/// also when they were made readable by others (a backup restored with a wider mode).
#[cfg(unix)]
#[test]
fn the_database_and_its_log_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let files = [DB_FILE, "state.db-wal", "state.db-shm"].map(|f| dir.path().join(f));
    let write = |store: &Store| {
        let client = StoredClient { id: "app".into(), secret: Secret::new("s3cret-41"), user: UserId(1) };
        store
            .write(|state| {
                state.generated_client = Some(client);
                Ok(())
            })
            .unwrap();
    };
    let store = Store::open(dir.path()).unwrap();
    write(&store);
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    drop(store);
    for file in files.iter().filter(|f| f.exists()) {
        fs::set_permissions(file, fs::Permissions::from_mode(0o644)).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    write(&store);
    for file in files.iter().filter(|f| f.exists()) {
        assert_eq!(mode(file), 0o600, "{} is made private again on start", file.display());
    }
}

/// A `state.json` is migrated with every field a policy, the directory and a tombstone carry: virtual users,
/// custom roles and their grants, a user's groups, a deleted DataSet's streams.
#[test]
fn a_migration_keeps_virtual_users_roles_and_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = serde_json::json!({
        "datasets": [{"dataset": {"id": "sales", "name": "Sales", "rows": 0, "columns": 1, "pdpEnabled": true,
            "schema": {"columns": [{"type": "STRING", "name": "Region"}]},
            "policies": [{"id": 4, "type": "user", "name": "West", "users": [27], "groups": [7],
                "virtualUsers": ["vu:west-bot"],
                "filters": [{"column": "Region", "values": ["West"], "operator": "EQUALS", "not": true}]}]},
            "segments": []}],
        "directory": {
            "users": [{"id": 27, "name": "West", "email": "west@example.com", "role": "Auditor"}],
            "groups": [{"id": 7, "name": "Algebra", "userIds": [27]}],
            "roles": [{"name": "Auditor", "grants": ["dataset.manage.all"]}]
        },
        "lastId": {"policy": 4, "user": 27, "group": 7},
        "directoryChanged": true,
        "deleted": [{"id": "gone", "name": "Gone", "deletedAt": "2026-11-30T10:00:00Z",
            "streams": [{"id": 2, "updateMethod": "APPEND", "createdAt": "2026-11-29T10:00:00Z"}]}]
    });
    fs::write(dir.path().join("state.json"), serde_json::to_vec(&legacy).unwrap()).unwrap();
    let before: State = State::from(serde_json::from_value::<model::LegacyState>(legacy).unwrap());
    let store = Store::open(dir.path()).unwrap();
    let check = |store: &Store| {
        store.read(|after| {
            let policies = |s: &State| serde_json::to_value(s.datasets[0].dataset.policies.clone()).unwrap();
            assert_eq!(policies(after), policies(&before));
            assert_eq!(after.datasets[0].dataset.policies.as_ref().unwrap()[0].virtual_users, ["vu:west-bot"]);
            assert_eq!(*after.directory, *before.directory);
            assert_eq!(after.directory.roles.len(), 1);
            assert_eq!(after.deleted, before.deleted);
            assert_eq!(after.deleted[0].streams.len(), 1);
            assert_eq!((after.last_id.clone(), after.directory_changed), (before.last_id.clone(), true));
        });
    };
    check(&store);
    drop(store);
    check(&Store::open(dir.path()).unwrap());
}
