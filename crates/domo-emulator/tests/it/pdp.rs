//! Export under PDP: each user sees the rows their policies admit.

use http::Method;
use serde_json::json;

use crate::support::start;

#[tokio::test]
async fn two_users_with_different_policies_see_different_rows() {
    let server = start().await;
    let owner = server.token("owner", "data").await;
    let id = server.create_dataset(&owner, "Sales", &[("STRING", "Region"), ("LONG", "Amount")]).await;
    let csv = "West,10\nEast,20\nWest,30\n\"North\",40\nEast,\n";
    server.put_csv(&owner, &format!("/v1/datasets/{id}/data"), csv).await;
    let base = format!("/v1/datasets/{id}/policies");
    let policy = |name: &str, users: serde_json::Value, groups: serde_json::Value, filters: serde_json::Value| json!({"name": name, "type": "user", "users": users, "groups": groups, "filters": filters});
    // West team (group 5, user 27): Region = West. User 28: Amount >= 20 and not East.
    let west =
        policy("West", json!([]), json!([5]), json!([{"column": "Region", "values": ["West"], "operator": "EQUALS"}]));
    let east = policy(
        "Big not east",
        json!([28]),
        json!([]),
        json!([
        {"column": "Amount", "values": ["20"], "operator": "GREATER_THAN_EQUAL"},
        {"column": "Region", "values": ["East"], "operator": "EQUALS", "not": true}]),
    );
    for body in [west, east] {
        server.json(Method::POST, &owner, &base, &body).await;
    }
    let tokens = [
        server.token("west", "data").await,
        server.token("east", "data").await,
        server.token("ned", "data").await,
        server.token("admin", "data").await,
    ];
    // PDP still off: everyone sees everything.
    for token in &tokens {
        assert_eq!(server.export(token, &id).await, csv);
    }
    server.json(Method::PUT, &owner, &format!("/v1/datasets/{id}"), &json!({"pdpEnabled": true})).await;
    assert_eq!(server.export(&tokens[0], &id).await, "West,10\nWest,30\n");
    assert_eq!(server.export(&tokens[1], &id).await, "West,30\n\"North\",40\n", "records stay byte-exact");
    assert_eq!(server.export(&tokens[2], &id).await, "", "a user in no policy sees nothing");
    assert_eq!(server.export(&tokens[3], &id).await, csv, "an Admin sees everything");
    assert_eq!(server.export(&owner, &id).await, csv, "the owner sees everything");
    let with_header = server.get(&tokens[0], &format!("/v1/datasets/{id}/data?includeHeader=true")).await;
    assert_eq!(with_header.text(), "Region,Amount\nWest,10\nWest,30\n");
}
