//! No input makes the engine panic: arbitrary bytes as CSV, arbitrary JSON and arbitrary policies.

use domo_model::{
    Column, ColumnType, Dataset, Directory, FilterOperator, GroupId, Policy, PolicyFilter, PolicyType, Schema, UserId,
};
use domo_pdp::{HeaderRow, PolicySet, Principal, StreamOptions, Table};
use proptest::prelude::*;

use crate::rules::{dataset, directory};

fn schema() -> impl Strategy<Value = Schema> {
    prop::collection::vec(prop::sample::select(ColumnType::ALL.to_vec()), 1..5).prop_map(|types| Schema {
        columns: types.into_iter().enumerate().map(|(i, t)| Column::new(t, format!("c{i}"))).collect(),
    })
}

/// Bytes that look enough like CSV to reach the typing code, plus pure noise.
fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(
            prop::sample::select(vec![
                &b","[..],
                b"\"",
                b"\n",
                b"\r\n",
                b"\r",
                b"1",
                b"-",
                b".",
                b"2024-01-01",
                b"T",
                b" ",
                b"00:00:00",
                b"Z",
                b"+01:00",
                b"abc",
                b"\xff",
                b"e5",
                b"c0",
                b"c1",
            ]),
            0..60,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::sample::select(vec![
            "c0",
            "c1",
            "c2",
            "1",
            "-1",
            "2024-01-01",
            "2024-01-01 00:00:00",
            "%",
            "\\",
            "_",
            ""
        ])
        .prop_map(str::to_owned),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    let filter = (
        text(),
        prop::collection::vec(text(), 0..4),
        prop::sample::select(FilterOperator::ALL.to_vec()),
        any::<bool>(),
    )
        .prop_map(|(column, values, operator, not)| PolicyFilter { column, values, operator, not });
    (
        prop::collection::vec(filter, 0..4),
        prop_oneof![Just(PolicyType::User), Just(PolicyType::Open), Just(PolicyType::Other("x".to_owned()))],
        prop::collection::vec(0u64..12, 0..3),
        prop::collection::vec(0u64..4, 0..3),
        prop::collection::vec(text(), 0..2),
        text(),
    )
        .prop_map(|(filters, policy_type, users, groups, virtual_users, name)| Policy {
            id: None,
            policy_type,
            name,
            filters,
            users: users.into_iter().map(UserId).collect(),
            virtual_users,
            groups: groups.into_iter().map(GroupId).collect(),
        })
}

/// Everything the engine offers, on whatever loaded and compiled.
fn exercise(dataset: &Dataset, policies: &[Policy], directory: &Directory, csv: &[u8]) {
    let Ok(set) = PolicySet::compile(dataset, policies, directory) else { return };
    for header in [HeaderRow::Present, HeaderRow::Absent] {
        let options = StreamOptions { input_header: header, output_header: HeaderRow::Present };
        let _ = set.write_visible_csv(UserId(1), csv, Vec::new(), options);
        if let Ok(table) = Table::from_csv(csv, &dataset.schema, header) {
            let evaluation = set.evaluate(&table).unwrap();
            let _ = evaluation.visible_counts();
            for row in 0..table.row_count() + 1 {
                let _ = evaluation.viewers(row);
                let _ = evaluation.explain(UserId(1), row);
                let _ = evaluation.explain(Principal::Virtual("c0"), row);
            }
            let _ = evaluation.visible_rows(UserId(2)).iter().count();
            for column in 0..dataset.schema.columns.len() + 1 {
                let _ = table.distinct_values(column);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_csv_bytes_never_panic(schema in schema(), csv in csv_bytes(), policies in prop::collection::vec(policy(), 0..3)) {
        exercise(&dataset(schema, true), &policies, &directory(), &csv);
    }

    #[test]
    fn validating_agrees_with_loading(schema in schema(), csv in csv_bytes(), header in any::<bool>()) {
        // What a store accepts with `validate_csv` must load (and so filter and stream) later, and
        // what it refuses must fail to load with the same message.
        let header = if header { HeaderRow::Present } else { HeaderRow::Absent };
        let loaded = Table::from_csv(csv.as_slice(), &schema, header);
        let validated = Table::validate_csv(csv.as_slice(), &schema, header);
        match (loaded, validated) {
            (Ok(table), Ok(rows)) => prop_assert_eq!(table.row_count() as u64, rows),
            (Err(load), Err(check)) => prop_assert_eq!(load.to_string(), check.to_string()),
            (load, check) => prop_assert!(false, "from_csv {:?} but validate_csv {:?}", load.map(|t| t.row_count()), check),
        }
    }

    #[test]
    fn arbitrary_json_policies_never_panic(json in prop_oneof![
        any::<String>(),
        prop::collection::vec(prop::sample::select(vec![
            "[", "]", "{", "}", ",", ":", "\"id\"", "\"type\"", "\"open\"", "\"name\"", "\"filters\"", "\"column\"",
            "\"c0\"", "\"values\"", "\"operator\"", "\"EQUALS\"", "\"LIKE\"", "\"BETWEEN\"", "\"not\"", "true",
            "\"users\"", "\"groups\"", "1", "-1", "\"2\"", "null", "1e400",
        ]), 0..40).prop_map(|parts| parts.concat()),
    ]) {
        if let Ok(policies) = serde_json::from_str::<Vec<Policy>>(&json) {
            let schema = Schema { columns: vec![Column::new(ColumnType::String, "c0"), Column::new(ColumnType::Long, "c1")] };
            exercise(&dataset(schema, true), &policies, &directory(), b"c0,c1\na,1\n,\n\"\",2\n");
        }
    }
}
