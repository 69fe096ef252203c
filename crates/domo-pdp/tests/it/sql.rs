//! SQL text per dialect: every operator and type, quoting, LIKE escapes, NULL under `not`, reasons, counts.

use domo_model::{Dataset, Directory, Policy, UserId};
use domo_pdp::{Dialect, MembershipSource, PolicySet, RenderSqlError, SqlOptions, sql_create_table};
use serde_json::json;

const D: [Dialect; 6] = Dialect::ALL;

fn dataset(pdp: bool) -> Dataset {
    serde_json::from_value(json!({
        "id": "d", "name": "d", "pdpEnabled": pdp, "owner": {"id": 1},
        "schema": {"columns": [
            {"type": "STRING", "name": "s"},
            {"type": "LONG", "name": "l"},
            {"type": "DOUBLE", "name": "f"},
            {"type": "DECIMAL", "name": "d"},
            {"type": "DATE", "name": "day"},
            {"type": "DATETIME", "name": "at"},
            {"type": "STRING", "name": "it's \"a\" `b` \\ ü"}
        ]}
    }))
    .unwrap()
}

fn directory() -> Directory {
    serde_json::from_value(json!({
        "users": [
            {"id": 1, "name": "owner"}, {"id": 2, "name": "p"}, {"id": 3, "name": "admin", "role": "Admin"},
            {"id": 4, "name": "nobody"}, {"id": 5, "name": "all rows"}
        ],
        "groups": [{"id": 9, "name": "g", "userIds": [2]}]
    }))
    .unwrap()
}

fn policies(filters: serde_json::Value) -> Vec<Policy> {
    serde_json::from_value(json!([
        {"id": 10, "type": "user", "name": "p", "filters": filters, "users": [2]},
        {"id": 11, "type": "open", "name": "All Rows", "users": [5]}
    ]))
    .unwrap()
}

/// User 2's predicate for one filter, in every dialect.
fn predicates(filter: serde_json::Value) -> Vec<String> {
    let set = PolicySet::compile(&dataset(true), &policies(json!([filter])), &directory()).unwrap();
    D.iter().map(|d| set.sql_predicate(UserId(2), &SqlOptions::new(*d)).unwrap()).collect()
}

/// Checks user 2's predicate in each dialect (DuckDB, PostgreSQL, Spark, Snowflake, BigQuery, Trino).
fn check(filter: serde_json::Value, expected: [&str; 6]) {
    let got = predicates(filter.clone());
    for ((dialect, got), expected) in D.iter().zip(&got).zip(expected) {
        assert_eq!(got, expected, "{dialect} for {filter}");
    }
}

/// Checks one predicate that every dialect spells the same way.
fn check_all(filter: serde_json::Value, expected: &str) {
    check(filter, [expected; 6]);
}

fn f(column: &str, operator: &str, values: &[&str], not: bool) -> serde_json::Value {
    json!({"column": column, "operator": operator, "values": values, "not": not})
}

#[test]
fn every_operator_and_type_in_every_dialect() {
    check(
        f(r#"s"#, "EQUALS", &[r#"a"#, r#"b"#], false),
        [
            r#""s" IN ('a', 'b')"#,
            r#"("s" COLLATE "C") IN ('a', 'b')"#,
            r#"`s` IN ('a', 'b')"#,
            r#""s" IN ('a', 'b')"#,
            r#"`s` IN ('a', 'b')"#,
            r#""s" IN ('a', 'b')"#,
        ],
    );
    check(
        f(r#"s"#, "EQUALS", &[r#"it's"#], true),
        [
            r#"("s" IS NOT NULL AND NOT ("s" = 'it''s'))"#,
            r#"("s" IS NOT NULL AND NOT (("s" COLLATE "C") = 'it''s'))"#,
            r#"(`s` IS NOT NULL AND NOT (`s` = 'it\'s'))"#,
            r#"("s" IS NOT NULL AND NOT ("s" = 'it\'s'))"#,
            r#"(`s` IS NOT NULL AND NOT (`s` = 'it\'s'))"#,
            r#"("s" IS NOT NULL AND NOT ("s" = 'it''s'))"#,
        ],
    );
    check(
        f(r#"s"#, "LIKE", &[r#"a\%_%"#, r#"x\"#], false),
        [
            r#"("s" LIKE 'a\%_%' ESCAPE '\' OR "s" LIKE 'x\\' ESCAPE '\')"#,
            r#"(("s" COLLATE "C") LIKE E'a\\%_%' ESCAPE E'\\' OR ("s" COLLATE "C") LIKE E'x\\\\' ESCAPE E'\\')"#,
            r#"(`s` LIKE 'a\\%_%' ESCAPE '\\' OR `s` LIKE 'x\\\\' ESCAPE '\\')"#,
            r#"("s" LIKE 'a\\%_%' ESCAPE '\\' OR "s" LIKE 'x\\\\' ESCAPE '\\')"#,
            r#"(`s` LIKE 'a\\%_%' OR `s` LIKE 'x\\\\')"#,
            r#"("s" LIKE 'a\%_%' ESCAPE '\' OR "s" LIKE 'x\\' ESCAPE '\')"#,
        ],
    );
    check(
        f(r#"s"#, "BEGINS_WITH", &[r#"a_b"#, r#""#], false),
        [
            r#""s" IS NOT NULL"#,
            r#""s" IS NOT NULL"#,
            r#"`s` IS NOT NULL"#,
            r#""s" IS NOT NULL"#,
            r#"`s` IS NOT NULL"#,
            r#""s" IS NOT NULL"#,
        ],
    );
    check(
        f(r#"s"#, "BEGINS_WITH", &[r#"a%"#], true),
        [
            r#"("s" IS NOT NULL AND NOT (starts_with("s", 'a%')))"#,
            r#"("s" IS NOT NULL AND NOT (starts_with(("s" COLLATE "C"), 'a%')))"#,
            r#"(`s` IS NOT NULL AND NOT (startswith(`s`, 'a%')))"#,
            r#"("s" IS NOT NULL AND NOT (STARTSWITH("s", 'a%')))"#,
            r#"(`s` IS NOT NULL AND NOT (STARTS_WITH(`s`, 'a%')))"#,
            r#"("s" IS NOT NULL AND NOT (starts_with("s", 'a%')))"#,
        ],
    );
    check(
        f(r#"s"#, "ENDS_WITH", &[r#"50%"#], false),
        [
            r#"ends_with("s", '50%')"#,
            r#"("s" COLLATE "C") LIKE E'%50\\%' ESCAPE E'\\'"#,
            r#"endswith(`s`, '50%')"#,
            r#"ENDSWITH("s", '50%')"#,
            r#"ENDS_WITH(`s`, '50%')"#,
            r#""s" LIKE '%50\%' ESCAPE '\'"#,
        ],
    );
    check(
        f(r#"s"#, "CONTAINS", &[r#"\"#], false),
        [
            r#"contains("s", '\')"#,
            r#"strpos(("s" COLLATE "C"), E'\\') > 0"#,
            r#"contains(`s`, '\\')"#,
            r#"CONTAINS("s", '\\')"#,
            r#"STRPOS(`s`, '\\') > 0"#,
            r#"strpos("s", '\') > 0"#,
        ],
    );
    check(
        f(r#"s"#, "GREATER_THAN", &[r#"B"#], false),
        [r#""s" > 'B'"#, r#"("s" COLLATE "C") > 'B'"#, r#"`s` > 'B'"#, r#""s" > 'B'"#, r#"`s` > 'B'"#, r#""s" > 'B'"#],
    );
    check(
        f(r#"s"#, "BETWEEN", &[r#"a"#, "b\nc"], true),
        [
            "(\"s\" IS NOT NULL AND NOT (\"s\" BETWEEN 'a' AND 'b\nc'))",
            "(\"s\" IS NOT NULL AND NOT ((\"s\" COLLATE \"C\") BETWEEN 'a' AND 'b\nc'))",
            r#"(`s` IS NOT NULL AND NOT (`s` BETWEEN 'a' AND 'b\nc'))"#,
            r#"("s" IS NOT NULL AND NOT ("s" BETWEEN 'a' AND 'b\nc'))"#,
            r#"(`s` IS NOT NULL AND NOT (`s` BETWEEN 'a' AND 'b\nc'))"#,
            "(\"s\" IS NOT NULL AND NOT (\"s\" BETWEEN 'a' AND 'b\nc'))",
        ],
    );
    check(
        f(r#"l"#, "BETWEEN", &[r#"-9223372036854775808"#, r#"+7"#], false),
        [
            r#""l" BETWEEN (-9223372036854775807 - 1) AND 7"#,
            r#""l" BETWEEN (-9223372036854775807 - 1) AND 7"#,
            r#"`l` BETWEEN (-9223372036854775807 - 1) AND 7"#,
            r#""l" BETWEEN (-9223372036854775807 - 1) AND 7"#,
            r#"`l` BETWEEN (-9223372036854775807 - 1) AND 7"#,
            r#""l" BETWEEN (-9223372036854775807 - 1) AND 7"#,
        ],
    );
    check(
        f(r#"l"#, "LESS_THAN_EQUAL", &[r#"3"#], true),
        [
            r#"("l" IS NOT NULL AND NOT ("l" <= 3))"#,
            r#"("l" IS NOT NULL AND NOT ("l" <= 3))"#,
            r#"(`l` IS NOT NULL AND NOT (`l` <= 3))"#,
            r#"("l" IS NOT NULL AND NOT ("l" <= 3))"#,
            r#"(`l` IS NOT NULL AND NOT (`l` <= 3))"#,
            r#"("l" IS NOT NULL AND NOT ("l" <= 3))"#,
        ],
    );
    check(
        f(r#"f"#, "EQUALS", &[r#"0.1"#, r#"1e300"#], false),
        [
            r#""f" IN (CAST(1e-1 AS DOUBLE), CAST(1e300 AS DOUBLE))"#,
            r#""f" IN (CAST(1e-1 AS DOUBLE PRECISION), CAST(1e300 AS DOUBLE PRECISION))"#,
            r#"`f` IN (CAST(1e-1 AS DOUBLE), CAST(1e300 AS DOUBLE))"#,
            r#""f" IN (CAST(1e-1 AS DOUBLE), CAST(1e300 AS DOUBLE))"#,
            r#"`f` IN (CAST(1e-1 AS FLOAT64), CAST(1e300 AS FLOAT64))"#,
            r#""f" IN (CAST(1e-1 AS DOUBLE), CAST(1e300 AS DOUBLE))"#,
        ],
    );
    check(
        f(r#"d"#, "GREATER_THAN", &[r#"1.5000000001"#], false),
        [
            r#""d" > CAST('1.5' AS DECIMAL(2, 1))"#,
            r#""d" > 1.5"#,
            r#"`d` > CAST('1.5' AS DECIMAL(2, 1))"#,
            r#""d" > 1.5"#,
            r#"`d` > BIGNUMERIC '1.5'"#,
            r#""d" > DECIMAL '1.5'"#,
        ],
    );
    check(
        f(r#"d"#, "EQUALS", &[r#"1.50"#, r#"1.0000000001"#], false),
        [
            r#""d" = CAST('1.5' AS DECIMAL(2, 1))"#,
            r#""d" = 1.5"#,
            r#"`d` = CAST('1.5' AS DECIMAL(2, 1))"#,
            r#""d" = 1.5"#,
            r#"`d` = BIGNUMERIC '1.5'"#,
            r#""d" = DECIMAL '1.5'"#,
        ],
    );
    check(
        f(r#"d"#, "EQUALS", &[r#"1.0000000001"#], true),
        [
            r#""d" IS NOT NULL"#,
            r#""d" IS NOT NULL"#,
            r#"`d` IS NOT NULL"#,
            r#""d" IS NOT NULL"#,
            r#"`d` IS NOT NULL"#,
            r#""d" IS NOT NULL"#,
        ],
    );
    check_all(f(r#"day"#, "BETWEEN", &[r#"2024-01-01"#, r#"0000-06-01"#], false), r#"FALSE"#);
    check(
        f(r#"day"#, "GREATER_THAN_EQUAL", &[r#"0000-06-01"#], false),
        [
            r#""day" IS NOT NULL"#,
            r#""day" IS NOT NULL"#,
            r#"`day` IS NOT NULL"#,
            r#""day" IS NOT NULL"#,
            r#"`day` IS NOT NULL"#,
            r#""day" IS NOT NULL"#,
        ],
    );
    check(
        f(r#"at"#, "LESS_THAN", &[r#"2024-01-05T12:00:00.1234567+02:00"#], false),
        [
            r#""at" <= TIMESTAMP '2024-01-05 10:00:00.123456'"#,
            r#""at" <= TIMESTAMP '2024-01-05 10:00:00.123456'"#,
            r#"`at` <= TIMESTAMP '2024-01-05 10:00:00.123456+00:00'"#,
            r#""at" < CAST('2024-01-05 10:00:00.1234567' AS TIMESTAMP_NTZ(9))"#,
            r#"`at` <= TIMESTAMP '2024-01-05 10:00:00.123456+00:00'"#,
            r#""at" <= TIMESTAMP '2024-01-05 10:00:00.123456'"#,
        ],
    );
    check(
        f(r#"at"#, "GREATER_THAN_EQUAL", &[r#"2024-01-05 10:00:00"#], false),
        [
            r#""at" >= TIMESTAMP '2024-01-05 10:00:00'"#,
            r#""at" >= TIMESTAMP '2024-01-05 10:00:00'"#,
            r#"`at` >= TIMESTAMP '2024-01-05 10:00:00+00:00'"#,
            r#""at" >= CAST('2024-01-05 10:00:00' AS TIMESTAMP_NTZ(9))"#,
            r#"`at` >= TIMESTAMP '2024-01-05 10:00:00+00:00'"#,
            r#""at" >= TIMESTAMP '2024-01-05 10:00:00'"#,
        ],
    );
    check(
        f(r#"it's "a" `b` \ ü"#, "EQUALS", &["x'y\\z\n😀"], false),
        [
            "\"it's \"\"a\"\" `b` \\ ü\" = 'x''y\\z\n😀'",
            "(\"it's \"\"a\"\" `b` \\ ü\" COLLATE \"C\") = E'x''y\\\\z\n😀'",
            r#"`it's "a" ``b`` \ ü` = 'x\'y\\z\n😀'"#,
            r#""it's ""a"" `b` \ ü" = 'x\'y\\z\n😀'"#,
            r#"`it's "a" \`b\` \\ ü` = 'x\'y\\z\n😀'"#,
            "\"it's \"\"a\"\" `b` \\ ü\" = 'x''y\\z\n😀'",
        ],
    );
}

#[test]
fn reasons_give_true_false_or_the_policies() {
    let equals_one = || policies(json!([f("l", "EQUALS", &["1"], false)]));
    let set = PolicySet::compile(&dataset(true), &equals_one(), &directory()).unwrap();
    let duck = SqlOptions::new(Dialect::DuckDb);
    let predicate = |user: u64| set.sql_predicate(UserId(user), &duck).unwrap();
    assert_eq!(predicate(1), "TRUE", "owner");
    assert_eq!(predicate(2), r#""l" = 1"#, "in the policy through its users");
    assert_eq!(predicate(3), "TRUE", "admin");
    assert_eq!(predicate(4), "FALSE", "in no policy");
    assert_eq!(predicate(5), "TRUE", "All Rows");
    assert_eq!(predicate(77), "FALSE", "a user the directory does not know");
    let off = PolicySet::compile(&dataset(false), &equals_one(), &directory()).unwrap();
    assert_eq!(off.sql_predicate(UserId(4), &duck).unwrap(), "TRUE", "PDP disabled");
    let none = PolicySet::compile(&dataset(true), &[], &directory()).unwrap();
    assert_eq!(none.sql_predicate(UserId(4), &duck).unwrap(), "TRUE", "no policies: PDP is off");
}

#[test]
fn policies_are_ored_and_filters_anded() {
    let three: Vec<Policy> = serde_json::from_value(json!([
        {"id": 1, "name": "a", "filters": [f("l", "GREATER_THAN", &["1"], false), f("s", "EQUALS", &["x"], true)], "users": [2]},
        {"id": 2, "name": "b", "filters": [f("day", "EQUALS", &["2024-02-29"], false)], "groups": [9]},
        {"id": 3, "name": "never", "filters": [f("d", "EQUALS", &["0.0000000001"], false)], "users": [2]}
    ]))
    .unwrap();
    let set = PolicySet::compile(&dataset(true), &three, &directory()).unwrap();
    let options = SqlOptions::new(Dialect::Trino);
    let predicate = "(\"l\" > 1 AND (\"s\" IS NOT NULL AND NOT (\"s\" = 'x')))\n   OR (\"day\" = DATE '2024-02-29')";
    assert_eq!(set.sql_predicate(UserId(2), &options).unwrap(), predicate);
    assert_eq!(
        set.sql_select(UserId(2), &["lake", "sales data"], &options).unwrap(),
        format!("SELECT *\nFROM \"lake\".\"sales data\"\nWHERE {predicate}")
    );
    assert_eq!(
        set.sql_policy_predicate(domo_pdp::PolicyHandle::from_index(2), &options).unwrap(),
        None,
        "a policy that admits no row"
    );
}

#[test]
fn finer_values_are_rewritten_against_the_column() {
    let at = |value: &str, operator: &str, digits: u8| {
        let set =
            PolicySet::compile(&dataset(true), &policies(json!([f("at", operator, &[value], false)])), &directory())
                .unwrap();
        let options = SqlOptions { timestamp_digits: digits, ..SqlOptions::new(Dialect::DuckDb) };
        set.sql_predicate(UserId(2), &options).unwrap()
    };
    assert_eq!(at("2024-01-05T10:00:00.0000005", "EQUALS", 6), "FALSE");
    assert_eq!(at("2024-01-05T10:00:00.0000005", "EQUALS", 9), r#""at" = TIMESTAMP_NS '2024-01-05 10:00:00.0000005'"#);
    assert_eq!(at("2024-01-05T10:00:00.0000005", "GREATER_THAN_EQUAL", 6), r#""at" > TIMESTAMP '2024-01-05 10:00:00'"#);
    assert_eq!(at("2024-01-05T10:00:00.5", "GREATER_THAN", 0), r#""at" > TIMESTAMP '2024-01-05 10:00:00'"#);
    assert_eq!(at("1969-12-31T23:59:59.9999995", "LESS_THAN", 6), r#""at" <= TIMESTAMP '1969-12-31 23:59:59.999999'"#);
    assert_eq!(at("0000-01-01T00:00:00", "GREATER_THAN", 6), r#""at" IS NOT NULL"#);
    assert_eq!(at("9999-12-31T23:59:59-01:00", "GREATER_THAN", 6), "FALSE");
    let decimal = |value: &str, operator: &str, scale: u8| {
        let set =
            PolicySet::compile(&dataset(true), &policies(json!([f("d", operator, &[value], false)])), &directory())
                .unwrap();
        let options = SqlOptions { decimal_scale: scale, ..SqlOptions::new(Dialect::PostgreSql) };
        set.sql_predicate(UserId(2), &options).unwrap()
    };
    assert_eq!(decimal("-1.25", "LESS_THAN", 1), r#""d" <= -1.3"#);
    assert_eq!(decimal("-1.25", "LESS_THAN", 2), r#""d" < -1.25"#);
    assert_eq!(decimal("1.25", "GREATER_THAN_EQUAL", 0), r#""d" > 1"#);
    assert_eq!(decimal("100", "GREATER_THAN", 36), "FALSE", "DECIMAL(38, 36) holds values under 100");
    assert_eq!(decimal("-100", "GREATER_THAN", 36), r#""d" IS NOT NULL"#);
}

#[test]
fn whole_dataset_counts_scan_once_and_emit_the_membership() {
    // Users 2 and 6 are in the same policies (6 through group 9): one access class.
    let directory: Directory = serde_json::from_value(json!({
        "users": [
            {"id": 1, "name": "owner"}, {"id": 2, "name": "p"}, {"id": 3, "name": "admin", "role": "Admin"},
            {"id": 4, "name": "nobody"}, {"id": 5, "name": "all rows"}, {"id": 6, "name": "q"}, {"id": 7, "name": "r"}
        ],
        "groups": [{"id": 9, "name": "g", "userIds": [6]}]
    }))
    .unwrap();
    let policies: Vec<Policy> = serde_json::from_value(json!([
        {"id": 10, "name": "p", "filters": [f("l", "EQUALS", &["1"], false)], "users": [2, 7], "groups": [9]},
        {"id": 11, "type": "open", "name": "All Rows", "users": [5]},
        {"id": 12, "name": "q", "filters": [f("s", "EQUALS", &["x"], false)], "users": [2, 6]}
    ]))
    .unwrap();
    let set = PolicySet::compile(&dataset(true), &policies, &directory).unwrap();
    let inline = |dialect| set.sql_visible_counts(&["t"], MembershipSource::Inline, &SqlOptions::new(dialect)).unwrap();
    let counts = inline(Dialect::DuckDb);
    assert_eq!(
        counts.membership_csv(),
        concat!(
            "seq_no,user_id,reason,access_class,policy_index\n",
            "0,1,owner,,\n",
            "1,2,policies,0,0\n",
            "1,2,policies,0,2\n",
            "2,3,admin,,\n",
            "3,4,no-policy,,\n",
            "4,5,all-rows,,\n",
            "5,6,policies,0,0\n",
            "5,6,policies,0,2\n",
            "6,7,policies,1,0\n",
        )
    );
    assert_eq!(counts.sql.matches(r#"FROM "t""#).count(), 1, "one scan of the table:\n{}", counts.sql);
    assert!(
        counts.sql.contains(concat!(
            "pdp_keys AS (\n  SELECT CONCAT('#',\n",
            "    CASE WHEN \"l\" = 1 THEN ',0' ELSE '' END,\n",
            "    CASE WHEN \"s\" = 'x' THEN ',2' ELSE '' END) AS policy_key\n",
            "  FROM \"t\"\n)"
        )),
        "{}",
        counts.sql
    );
    // Each dialect's inline membership and its way of splitting a key into rows.
    let expected = [
        (
            Dialect::DuckDb,
            "SELECT * FROM (VALUES\n    (0, 1, 'owner', CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)),\n    (1, 2, 'policies', 0, 0),",
            "CROSS JOIN UNNEST(string_split(g.policy_key, ',')) AS s (policy_text)",
        ),
        (
            Dialect::PostgreSql,
            "SELECT * FROM (VALUES\n    (0, 1, 'owner', CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)),",
            "CROSS JOIN LATERAL unnest(string_to_array(g.policy_key, ',')) AS s (policy_text)",
        ),
        (
            Dialect::SparkSql,
            "SELECT * FROM VALUES\n    (0, 1, 'owner', CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)),",
            "LATERAL VIEW explode(split(g.policy_key, ',')) s AS policy_text",
        ),
        (
            Dialect::Snowflake,
            "SELECT * FROM (VALUES\n    (0, 1, 'owner', CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)),",
            "LATERAL SPLIT_TO_TABLE(g.policy_key, ',') AS s",
        ),
        (
            Dialect::BigQuery,
            "SELECT * FROM UNNEST(ARRAY<STRUCT<seq_no INT64, user_id INT64, reason STRING, access_class INT64, policy_index INT64>>[\n    (0, 1, 'owner', CAST(NULL AS INT64), CAST(NULL AS INT64)),",
            "CROSS JOIN UNNEST(SPLIT(g.policy_key, ',')) AS policy_text",
        ),
        (
            Dialect::Trino,
            "SELECT * FROM (VALUES\n    (0, 1, 'owner', CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)),",
            "CROSS JOIN UNNEST(split(g.policy_key, ',')) AS s (policy_text)",
        ),
    ];
    for (dialect, membership, split) in expected {
        let sql = inline(dialect).sql;
        assert!(sql.starts_with(&format!("WITH pdp_membership AS (\n  {membership}")), "{dialect}:\n{sql}");
        assert!(sql.contains(split), "{dialect}:\n{sql}");
    }
    let loaded = set
        .sql_visible_counts(&["t"], MembershipSource::Table(&["ops", "members"]), &SqlOptions::new(Dialect::SparkSql))
        .unwrap();
    assert!(loaded.sql.starts_with(
        "WITH pdp_membership AS (\n  SELECT seq_no, user_id, reason, access_class, policy_index FROM `ops`.`members`\n)"
    ));
    // PDP off: nobody's rows depend on a policy; every key is `#`.
    let off = PolicySet::compile(&dataset(false), &policies, &directory).unwrap();
    let sql = off.sql_visible_counts(&["t"], MembershipSource::Inline, &SqlOptions::new(Dialect::DuckDb)).unwrap().sql;
    assert!(sql.contains("pdp_keys AS (\n  SELECT '#' AS policy_key\n"), "{sql}");
    // Many policies: CONCAT nested by fifties (PostgreSQL takes at most 100 arguments).
    let many: Vec<Policy> = (0..120)
        .map(|i| {
            let value = i.to_string();
            serde_json::from_value(
                json!({"id": i, "name": "p", "filters": [f("l", "EQUALS", &[&value], false)], "users": [2]}),
            )
            .unwrap()
        })
        .collect();
    let set = PolicySet::compile(&dataset(true), &many, &directory).unwrap();
    let sql =
        set.sql_visible_counts(&["t"], MembershipSource::Inline, &SqlOptions::new(Dialect::PostgreSql)).unwrap().sql;
    assert_eq!(sql.matches("CONCAT(").count(), 4, "three of up to 50 items, and one of those:\n{sql}");
}

#[test]
fn create_table_uses_the_types_the_sql_expects() {
    let schema = dataset(true).schema;
    let table = |dialect| sql_create_table(&schema, &["t"], &SqlOptions::new(dialect)).unwrap();
    assert_eq!(
        table(Dialect::DuckDb),
        "CREATE TABLE \"t\" (\n  \"s\" VARCHAR,\n  \"l\" BIGINT,\n  \"f\" DOUBLE,\n  \"d\" DECIMAL(38, 9),\n  \"day\" DATE,\n  \"at\" TIMESTAMP,\n  \"it's \"\"a\"\" `b` \\ ü\" VARCHAR\n)"
    );
    let postgres = table(Dialect::PostgreSql);
    assert!(postgres.contains(r#""f" DOUBLE PRECISION"#) && postgres.contains(r#""d" NUMERIC(38, 9)"#), "{postgres}");
    assert!(postgres.contains(r#""at" TIMESTAMP(6)"#) && postgres.contains(r#""s" TEXT"#), "{postgres}");
    let bigquery = table(Dialect::BigQuery);
    assert!(bigquery.contains("`d` NUMERIC(38, 9)") && bigquery.contains("`f` FLOAT64"), "{bigquery}");
    assert!(bigquery.contains(r#"`it's "a" \`b\` \\ ü` STRING"#), "{bigquery}");
    assert!(table(Dialect::Snowflake).contains(r#""at" TIMESTAMP_NTZ(9)"#));
    assert!(table(Dialect::Trino).contains(r#""at" TIMESTAMP(6)"#));
    assert!(table(Dialect::SparkSql).contains("`s` STRING"));
}

#[test]
fn no_injection_through_names_or_values() {
    let hostile = "x\"); DROP TABLE t; --";
    let dataset: Dataset = serde_json::from_value(json!({
        "id": "d", "name": "d", "pdpEnabled": true,
        "schema": {"columns": [{"type": "STRING", "name": hostile}]}
    }))
    .unwrap();
    let values = ["'); DROP TABLE t; --", "\\'; --"];
    let policy: Vec<Policy> = serde_json::from_value(
        json!([{"id": 1, "name": "p", "filters": [f(hostile, "EQUALS", &values, false)], "users": [2]}]),
    )
    .unwrap();
    let set = PolicySet::compile(&dataset, &policy, &directory()).unwrap();
    let got: Vec<String> = D.iter().map(|d| set.sql_predicate(UserId(2), &SqlOptions::new(*d)).unwrap()).collect();
    assert_eq!(
        got,
        [
            r#""x""); DROP TABLE t; --" IN ('''); DROP TABLE t; --', '\''; --')"#,
            r#"("x""); DROP TABLE t; --" COLLATE "C") IN ('''); DROP TABLE t; --', E'\\''; --')"#,
            r#"`x"); DROP TABLE t; --` IN ('\'); DROP TABLE t; --', '\\\'; --')"#,
            r#""x""); DROP TABLE t; --" IN ('\'); DROP TABLE t; --', '\\\'; --')"#,
            r#"`x"); DROP TABLE t; --` IN ('\'); DROP TABLE t; --', '\\\'; --')"#,
            r#""x""); DROP TABLE t; --" IN ('''); DROP TABLE t; --', '\''; --')"#,
        ]
    );
}

#[test]
fn bad_input_gives_errors_that_say_what() {
    let set =
        PolicySet::compile(&dataset(true), &policies(json!([f("s", "EQUALS", &["a\u{0}b"], false)])), &directory())
            .unwrap();
    let err = set.sql_predicate(UserId(2), &SqlOptions::new(Dialect::PostgreSql)).unwrap_err();
    assert_eq!(err.to_string(), r"value `a\0b` holds a NUL character, which PostgreSQL cannot quote");
    let options = SqlOptions { timestamp_digits: 9, ..SqlOptions::new(Dialect::BigQuery) };
    assert_eq!(
        set.sql_predicate(UserId(1), &options).unwrap_err(),
        RenderSqlError::TimestampDigits { digits: 9, dialect: Dialect::BigQuery, max: 6 }
    );
    let options = SqlOptions { decimal_scale: 39, ..SqlOptions::new(Dialect::DuckDb) };
    assert_eq!(
        set.sql_predicate(UserId(1), &options).unwrap_err().to_string(),
        "DECIMAL scale 39 is out of range: 0 to 38"
    );
    assert_eq!(
        set.sql_select(UserId(1), &["a", ""], &SqlOptions::new(Dialect::DuckDb)).unwrap_err().to_string(),
        "the table name `a.` is empty or has an empty part"
    );
    assert_eq!(Dialect::from_name("postgres"), Some(Dialect::PostgreSql));
    assert_eq!(Dialect::from_name("mysql"), None);
}

#[test]
fn virtual_users_and_groups_get_their_policies() {
    let policies: Vec<Policy> = serde_json::from_value(json!([
        {"id": 1, "name": "kiosk", "filters": [f("l", "EQUALS", &["7"], false)], "virtualUsers": ["kiosk"]},
        {"id": 2, "name": "group", "filters": [f("s", "BEGINS_WITH", &["N"], false)], "groups": [9]}
    ]))
    .unwrap();
    let set = PolicySet::compile(&dataset(true), &policies, &directory()).unwrap();
    let options = SqlOptions::new(Dialect::Snowflake);
    assert_eq!(set.sql_predicate(domo_pdp::Principal::Virtual("kiosk"), &options).unwrap(), r#""l" = 7"#);
    assert_eq!(set.sql_predicate(domo_pdp::Principal::Virtual("other"), &options).unwrap(), "FALSE");
    assert_eq!(set.sql_predicate(UserId(2), &options).unwrap(), r#"STARTSWITH("s", 'N')"#, "user 2 is in group 9");
}
