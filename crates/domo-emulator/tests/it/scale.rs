//! At the scale of the benchmark (1,000 DataSets of 50 policies, 10,000 users, 300 groups): a
//! write costs what it costs on a small instance, and list calls answer in a few ms.

use std::path::Path;
use std::time::{Duration, Instant};

use domo_emulator::Emulator;
use domo_model::{DirectoryGroup, GroupId, Role, User, UserId};
use http::Method;
use serde_json::{Value, json};

use crate::support::{Server, http_client};

/// The owner of every DataSet (client `owner-app`).
const OWNER: u64 = 1;
const FIRST_USER: u64 = 100;

/// A data folder as the last `state.json` version wrote it (the start migrates
/// it in one transaction: the cheap way to make a large instance).
fn write_instance(dir: &Path, datasets: u64, policies_each: u64, users: u64, groups: u64) {
    let mut directory_users =
        vec![serde_json::to_value(User::new(UserId(OWNER), "Olivia Owner", Role::Participant)).unwrap()];
    directory_users.extend((0..users).map(|n| {
        serde_json::to_value(User::new(UserId(FIRST_USER + n), format!("User {n}"), Role::Participant)).unwrap()
    }));
    let directory_groups: Vec<Value> = (0..groups)
        .map(|g| {
            let members = (0..users).filter(|n| n % groups == g).map(|n| UserId(FIRST_USER + n)).collect();
            serde_json::to_value(DirectoryGroup { id: GroupId(g + 1), name: format!("Group {g}"), user_ids: members })
                .unwrap()
        })
        .collect();
    let mut policy_id = 0;
    let datasets: Vec<Value> = (0..datasets)
        .map(|d| {
            let policies: Vec<Value> = (0..policies_each)
                .map(|k| {
                    policy_id += 1;
                    json!({
                        "id": policy_id, "type": "user", "name": format!("Region {k}"),
                        "filters": [{"column": "Region", "values": [format!("R{k}")], "operator": "EQUALS", "not": false}],
                        "users": [FIRST_USER + (d * policies_each + k) % users], "virtualUsers": [], "groups": [k % groups + 1],
                    })
                })
                .collect();
            json!({"dataset": {
                "id": format!("00000000-0000-4000-8000-{d:012}"), "name": format!("Sales {d:04}"), "rows": 0, "columns": 2,
                "schema": {"columns": [{"type": "STRING", "name": "Region"}, {"type": "LONG", "name": "n"}]},
                "owner": {"id": OWNER, "name": "Olivia Owner"}, "pdpEnabled": true, "policies": policies,
            }})
        })
        .collect();
    let state = json!({
        "datasets": datasets,
        "directory": {"users": directory_users, "groups": directory_groups},
        "lastId": {"policy": policy_id, "user": FIRST_USER + users, "group": groups},
    });
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("state.json"), serde_json::to_vec(&state).unwrap()).unwrap();
}

async fn start(dir: &Path) -> (Server, Duration) {
    let started = Instant::now();
    let builder = Emulator::builder().data_dir(dir).client("owner-app", "owner-secret", UserId(OWNER));
    let server = Server { emulator: builder.start().await.unwrap(), client: http_client() };
    (server, started.elapsed())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Creates policy `n` on the first DataSet and returns how long it took.
async fn policy_create(server: &Server, token: &str, n: u64) -> Duration {
    policy_create_on(server, token, 0, n).await
}

/// Creates policy `n` on DataSet number `dataset`.
async fn policy_create_on(server: &Server, token: &str, dataset: u64, n: u64) -> Duration {
    let path = format!("/v1/datasets/00000000-0000-4000-8000-{dataset:012}/policies");
    let policy = json!({"name": format!("New {n}"), "users": [FIRST_USER + n], "groups": [1],
        "filters": [{"column": "Region", "values": ["West"], "operator": "EQUALS"}]});
    let started = Instant::now();
    let reply = server.json(Method::POST, token, &path, &policy).await;
    let took = started.elapsed();
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
    took
}

/// The median time of a GET.
async fn list(server: &Server, token: &str, path: &str, items: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..9 {
        let started = Instant::now();
        let reply = server.get(token, path).await;
        times.push(started.elapsed());
        assert_eq!(reply.json().as_array().map(Vec::len), Some(items), "{path}");
    }
    median(times)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_create_costs_the_same_with_100_or_50_000_policies_and_lists_stay_fast() {
    let temp = tempfile::tempdir().unwrap();
    let (small, large) = (temp.path().join("small"), temp.path().join("large"));
    // The same directory in both: what grows is the number of DataSets and policies.
    write_instance(&small, 2, 50, 10_000, 300);
    write_instance(&large, 1_000, 50, 10_000, 300);

    let (small_server, _) = start(&small).await;
    let small_token = small_server.token("owner", "data user").await;
    let (server, migrated_in) = start(&large).await;
    let token = server.token("owner", "data user").await;
    // Interleaved, so that both instances see the same load from whatever else runs on the machine.
    let (mut small_times, mut large_times) = (Vec::new(), Vec::new());
    for n in 0..41 {
        small_times.push(policy_create(&small_server, &small_token, n).await);
        large_times.push(policy_create(&server, &token, n).await);
    }
    small_server.emulator.shutdown().await;
    let serial: Duration = large_times.iter().sum();
    let (small_median, large_median) = (median(small_times), median(large_times));

    // Eight clients at once, as `domo pdp apply` sends them: their writes share commits.
    let server = std::sync::Arc::new(server);
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for client in 1..=8 {
        let (server, token) = (std::sync::Arc::clone(&server), token.clone());
        clients.spawn(async move {
            for n in 0..25 {
                policy_create_on(&server, &token, client, n).await;
            }
        });
    }
    while let Some(done) = clients.join_next().await {
        done.unwrap();
    }
    let parallel = started.elapsed();
    let server = std::sync::Arc::into_inner(server).unwrap();
    let per_second = |count: u32, took: Duration| f64::from(count) / took.as_secs_f64();
    let throughput = format!(
        "{:.0} creates/s one at a time, {:.0} with 8 clients",
        per_second(41, serial),
        per_second(200, parallel)
    );
    let lists = [
        ("/v1/datasets?limit=50&offset=950", 50),
        ("/v1/datasets?nameLike=sales%200999", 1),
        ("/v1/datasets/00000000-0000-4000-8000-000000000999/policies", 50),
        ("/v1/users?limit=500&offset=9500", 500),
        ("/v1/groups?limit=500", 300),
    ];
    let mut shown = Vec::new();
    for (path, items) in lists {
        let took = list(&server, &token, path, items).await;
        shown.push(format!("{path}: {took:.1?}"));
        assert!(took < Duration::from_millis(100), "GET {path} took {took:?}");
    }
    server.emulator.shutdown().await;
    let (server, restarted_in) = start(&large).await;
    server.emulator.shutdown().await;
    eprintln!(
        "policy create, median of 41: {small_median:.2?} with 100 policies, {large_median:.2?} with 50,000 \
         (both with 10,000 users, 300 groups); migration of the large state.json {migrated_in:.1?}, restart {restarted_in:.1?}; \
         {throughput}; list medians: {}",
        shown.join(", ")
    );
    // Generous, for a busy machine: what matters is that the cost does not follow the instance's size.
    assert!(large_median < small_median * 3 + Duration::from_millis(2), "{small_median:?} vs {large_median:?}");
}
