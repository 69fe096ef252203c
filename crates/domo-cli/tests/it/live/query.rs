//! `domo query ID "SQL"` against the emulator: PDP decides which rows the SQL sees; table, CSV and JSON.

use super::support::{EULER_CSV, GUEST, GUEST_SECRET, Live, json};

/// The example's DataSet with PDP on: DomoSupport (user 27) sees the rows whose Friend begins with A.
fn party(live: &Live) -> String {
    let id = live.euler_party();
    live.ok(&["policies", "create", &id, "--name", "A friends", "--filter", "Friend BEGINS_WITH A", "--user", "27"]);
    live.ok(&["pdp", "enable", &id]);
    id
}

#[test]
fn the_same_aggregate_answers_differently_for_two_users() {
    let live = Live::start();
    let id = party(&live);
    let sql = "SELECT COUNT(*) AS guests, SUM(CASE WHEN Attending = 'TRUE' THEN 1 ELSE 0 END) AS attending FROM table";
    let owner = json(&live.ok(&["query", &id, sql, "--format", "json"]));
    let guest =
        json(&live.ok(&["query", &id, sql, "--format", "json", "--client-id", GUEST, "--client-secret", GUEST_SECRET]));
    let text = std::fs::read_to_string(crate::root().join(EULER_CSV)).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let a_rows: Vec<&&str> = rows.iter().filter(|r| r.starts_with('A')).collect();
    let attending = |rows: &[&&str]| rows.iter().filter(|r| r.ends_with(",TRUE")).count();
    assert_eq!(owner["rows"][0], serde_json::json!([rows.len(), attending(&rows.iter().collect::<Vec<_>>())]));
    assert_eq!(guest["rows"][0], serde_json::json!([a_rows.len(), attending(&a_rows)]), "{guest}");
    assert_ne!(owner["rows"][0], guest["rows"][0]);
    assert_eq!(owner["columns"], serde_json::json!(["guests", "attending"]));
}

#[test]
fn rows_print_as_a_table_and_as_csv() {
    let live = Live::start();
    let id = party(&live);
    let sql = "SELECT Friend, Attending, NULL AS missing, '' AS empty FROM table WHERE Friend LIKE 'A%' OR Friend LIKE 'G%' ORDER BY Friend";
    let csv = live.ok(&["query", &id, sql, "--format", "csv"]);
    assert_eq!(
        csv,
        "Friend,Attending,missing,empty\nAda Lovelace,TRUE,,\"\"\nAlan Turing,TRUE,,\"\"\nGeorge Boole,TRUE,,\"\"\n"
    );
    let table = live.ok(&["query", &id, sql]);
    assert!(table.contains("Alan Turing") && table.ends_with("3 rows\n"), "{table}");
}

#[test]
fn bad_sql_fails_with_domos_message() {
    let live = Live::start();
    let id = party(&live);
    live.run(&["query", &id, "SELECT nope FROM table"]).fails_with(&format!(
        "POST /v1/datasets/query/execute/{id}: Domo answered 400: Bad Request: Invalid SQL: no such column: nope"
    ));
    live.run(&["query", &id, "DELETE FROM table"]).fails_with("only one SELECT");
    live.run(&["query", "no-such-dataset", "SELECT 1"]).fails_with("404");
}
