//! Fuzzes the CSV loader, the policy compiler and every question on whatever loads and compiles.
//!
//! Input: byte 0 picks the column types (2 bits per column, up to 4 columns,
//! plus a header bit); the rest is CSV, then (after the first NUL byte) the
//! policies as JSON.
#![no_main]

use domo_model::{Column, ColumnType, Dataset, Directory, DirectoryGroup, GroupId, Owner, Policy, Role, Schema, User, UserId};
use domo_pdp::{HeaderRow, PolicySet, Principal, StreamOptions, Table};
use libfuzzer_sys::fuzz_target;

const TYPES: [ColumnType; 6] =
    [ColumnType::String, ColumnType::Long, ColumnType::Decimal, ColumnType::Double, ColumnType::Date, ColumnType::Datetime];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let count = 1 + usize::from(selector & 3);
    let columns = (0..count)
        .map(|i| {
            let pick = usize::from(selector.rotate_right(2 + i as u32)) % TYPES.len();
            Column::new(TYPES[pick], format!("c{i}"))
        })
        .collect();
    let schema = Schema { columns };
    let header = if selector & 0x80 == 0 { HeaderRow::Present } else { HeaderRow::Absent };
    let (csv, json) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b""[..]),
    };
    let policies: Vec<Policy> = serde_json::from_slice(json).unwrap_or_default();
    let dataset: Dataset = serde_json::from_value(serde_json::json!({
        "id": "fuzz", "name": "fuzz", "pdpEnabled": true, "owner": {"id": 9}, "schema": schema
    }))
    .unwrap();
    let directory = Directory {
        users: vec![User::new(UserId(1), "a", Role::Participant), User::new(UserId(2), "b", Role::Admin)],
        groups: vec![DirectoryGroup { id: GroupId(1), name: "g".into(), user_ids: vec![UserId(1), UserId(3)] }],
        roles: Vec::new(),
    };
    let _ = dataset.owner.as_ref().map(|o: &Owner| o.id);
    let loaded = Table::from_csv(csv, &schema, header);
    let Ok(set) = PolicySet::compile(&dataset, &policies, &directory) else { return };
    let options = StreamOptions { input_header: header, output_header: HeaderRow::Present };
    let streamed = set.write_visible_csv(UserId(1), csv, Vec::new(), options);
    let Ok(table) = loaded else { return };
    let evaluation = set.evaluate(&table).unwrap();
    let counts = evaluation.visible_counts();
    let rows = evaluation.visible_rows(UserId(1));
    // Streaming and the table agree on user 1's rows.
    if let Ok(summary) = streamed {
        assert_eq!(summary.rows_written as usize, rows.len());
    }
    assert_eq!(counts.iter().find(|c| c.user == UserId(1)).map(|c| c.rows), Some(rows.len()));
    for row in 0..table.row_count().min(50) {
        let viewers = evaluation.viewers(row);
        assert_eq!(viewers.contains(&UserId(1)), rows.contains(row));
        let why = evaluation.explain(UserId(1), row).unwrap();
        assert_eq!(why.visible, rows.contains(row));
        let _ = evaluation.explain(Principal::Virtual("v"), row);
        for column in 0..table.schema().columns.len() {
            let _ = table.value(row, column).map(|v| v.to_string());
        }
    }
    for column in 0..table.schema().columns.len() {
        let _ = table.distinct_values(column);
    }
});
