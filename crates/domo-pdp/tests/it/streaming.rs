//! The streaming engine agrees with the in-memory one and the reference evaluator: every principal's count from
//! a CSV read in batches of any size, on any number of threads, from a reader that hands out bytes in small chunks
//! (so that reads end inside quoted, multi-line cells).

use std::io::{self, Read};
use std::num::NonZeroUsize;

use domo_pdp::{BatchOptions, HeaderRow, PolicySet, Principal, Table, Threads};
use proptest::prelude::*;

use crate::agreement::{Case, case, case_with_rows, to_csv};
use crate::reference::Reference;

/// A reader that hands out at most `chunk` bytes a call.
struct Chunked<'a> {
    bytes: &'a [u8],
    chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.bytes.len().min(buf.len()).min(self.chunk);
        let (head, tail) = self.bytes.split_at(n);
        buf[..n].copy_from_slice(head);
        self.bytes = tail;
        Ok(n)
    }
}

fn check(case: &Case, header: HeaderRow, batch_rows: usize, threads: usize, chunk: usize) {
    let csv = to_csv(case, header);
    let set = PolicySet::compile(&case.dataset, &case.policies, &case.directory).unwrap();
    let table = Table::from_csv(csv.as_bytes(), &case.dataset.schema, header).unwrap();
    let in_memory = set.evaluate(&table).unwrap().all_counts();
    let options = BatchOptions {
        header,
        batch_rows,
        threads: Threads::Exactly(NonZeroUsize::new(threads).unwrap()),
        ..BatchOptions::default()
    };
    let streamed = set.all_counts_csv(Chunked { bytes: csv.as_bytes(), chunk }, options).unwrap();
    assert_eq!(streamed, in_memory, "{csv:?}");
    // And both agree with the row-by-row reference.
    let reference =
        Reference { dataset: &case.dataset, policies: &case.policies, directory: &case.directory, rows: &case.rows };
    assert_eq!(streamed.rows, case.rows.len());
    for count in streamed.users.iter().chain(&streamed.beyond_directory) {
        assert_eq!(count.rows, reference.visible_rows(count.user).len(), "user {} in {csv:?}", count.user);
    }
    for count in &streamed.virtual_users {
        let rows = set.evaluate(&table).unwrap().visible_count_of(Principal::Virtual(&count.name));
        assert_eq!((count.rows, count.reason), rows, "virtual user {}", count.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn streamed_counts_agree_with_the_table(
        case in case(),
        header in prop_oneof![Just(HeaderRow::Present), Just(HeaderRow::Absent)],
        batch_rows in 1usize..8,
        threads in 1usize..4,
        chunk in 1usize..9,
    ) {
        check(&case, header, batch_rows, threads, chunk);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Larger tables reach the posting-list paths inside each batch.
    #[test]
    fn streamed_counts_agree_on_larger_tables(
        case in case_with_rows(100..300, 2..5),
        batch_rows in prop_oneof![Just(1usize), 7usize..90, Just(1 << 16)],
        threads in 1usize..3,
        chunk in prop_oneof![1usize..5, Just(1 << 16)],
    ) {
        check(&case, HeaderRow::Present, batch_rows, threads, chunk);
    }
}

/// A policy nobody is in is not evaluated while streaming; a policy with the same filters that
/// someone is in still counts its rows (the two share one evaluation in memory).
#[test]
fn a_policy_sharing_the_filters_of_an_unused_one_still_counts() {
    use domo_model::{Column, ColumnType, FilterOperator, Schema};

    use crate::rules::{dataset, directory, filter, policy};

    let schema =
        Schema { columns: vec![Column::new(ColumnType::String, "Friend"), Column::new(ColumnType::Long, "n")] };
    let same = || vec![filter("n", FilterOperator::GreaterThan, &["1"], false)];
    let policies = [policy(1, same(), &[], &[]), policy(2, same(), &[2], &[])];
    let set = PolicySet::compile(&dataset(schema, true), &policies, &directory()).unwrap();
    let csv = "Friend,n\na,1\nb,2\nc,3\n";
    for threads in [1, 2] {
        let options =
            BatchOptions { threads: Threads::Exactly(NonZeroUsize::new(threads).unwrap()), ..BatchOptions::default() };
        let counts = set.all_counts_csv(csv.as_bytes(), options).unwrap();
        let two = counts.users.iter().find(|c| c.user == domo_model::UserId(2)).unwrap();
        assert_eq!((two.rows, two.reason), (2, domo_pdp::Reason::Policies));
    }
}

/// A test file of random cases: any expectation, users in and out of the directory, row
/// numbers in and out of range, `where` selectors on the first column.
fn test_file(case: &Case) -> impl Strategy<Value = domo_model::PolicyTestFile> + use<> {
    let column = case.dataset.schema.columns[0].clone();
    let values = crate::agreement::pool(column.column_type);
    let selector = prop_oneof![
        prop::collection::vec(1u64..30, 0..4).prop_map(|rows| serde_json::json!({"rows": rows})),
        prop::sample::select(values).prop_map(move |value| {
            serde_json::json!({"where": [{"column": column.name, "values": [value], "operator": "EQUALS", "not": false}]})
        }),
    ];
    let one = (0usize..8, 1u64..10, selector, 0u64..30).prop_map(|(kind, user, selector, count)| {
        let mut case = serde_json::json!({"user": user});
        match kind {
            0 => case["sees"] = selector,
            1 => case["seesExactly"] = selector,
            2 => case["doesNotSee"] = selector,
            3 => case["seesNothing"] = serde_json::json!(true),
            4 => case["seesAll"] = serde_json::json!(true),
            5 => case["count"] = serde_json::json!(count),
            6 => case = serde_json::json!({"everyRowVisible": true}),
            _ => {}
        }
        case
    });
    prop::collection::vec(one, 1..5)
        .prop_map(|cases| serde_json::from_value(serde_json::json!({ "cases": cases })).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Policy tests give the same outcomes, or the same first error, streamed or on the whole table.
    #[test]
    fn streamed_policy_tests_agree_with_the_table(
        (case, file) in case().prop_flat_map(|case| { let file = test_file(&case); (Just(case), file) }),
        batch_rows in 1usize..6,
        threads in 1usize..3,
    ) {
        let csv = to_csv(&case, HeaderRow::Present);
        let set = PolicySet::compile(&case.dataset, &case.policies, &case.directory).unwrap();
        let table = Table::from_csv(csv.as_bytes(), &case.dataset.schema, HeaderRow::Present).unwrap();
        let in_memory = domo_pdp::run_policy_tests(&file, &case.dataset, &set.evaluate(&table).unwrap());
        let options =
            BatchOptions { batch_rows, threads: Threads::Exactly(NonZeroUsize::new(threads).unwrap()), ..BatchOptions::default() };
        let streamed = domo_pdp::run_policy_tests_csv(&file, &case.dataset, &set, csv.as_bytes(), options);
        match (in_memory, streamed) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(domo_pdp::PolicyTestCsvError::Case(b))) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "{:?} but streamed {:?}", a, b),
        }
    }
}

/// Counts type only the columns the policies read: a bad cell elsewhere changes no count and
/// stops nothing, a bad cell in a column read is the usual error naming row and column.
#[test]
fn counts_check_the_cells_of_the_columns_they_read() {
    use domo_model::{Column, ColumnType, FilterOperator, Schema};

    use crate::rules::{dataset, directory, filter, policy};

    let schema =
        Schema { columns: vec![Column::new(ColumnType::String, "Friend"), Column::new(ColumnType::Long, "n")] };
    let policies = [policy(1, vec![filter("Friend", FilterOperator::Equals, &["a"], false)], &[2], &[])];
    let set = PolicySet::compile(&dataset(schema.clone(), true), &policies, &directory()).unwrap();
    let unread_bad = "Friend,n\na,1\nb,x\na,\"\"\n";
    for threads in [1, 2] {
        let options =
            BatchOptions { threads: Threads::Exactly(NonZeroUsize::new(threads).unwrap()), ..BatchOptions::default() };
        let counts = set.all_counts_csv(unread_bad.as_bytes(), options).unwrap();
        let two = counts.users.iter().find(|c| c.user == domo_model::UserId(2)).unwrap();
        assert_eq!((counts.rows, two.rows), (3, 2));
        let read_bad = "Friend,n\na,1\n\"b\"x,2\n";
        assert_eq!(
            set.all_counts_csv(read_bad.as_bytes(), options).unwrap_err().to_string(),
            "row 3: broken quoting: text follows a closing quote"
        );
    }
    let whole = Table::from_csv(unread_bad.as_bytes(), &schema, HeaderRow::Present).unwrap_err();
    assert_eq!(whole.to_string(), "row 3, column `n`: `x` is not a valid LONG (expected an integer such as `-42`)");
    // Invalid UTF-8 in the column read is the loader's error, with its row and column.
    let mut bad_friend = b"Friend,n\na,1\n".to_vec();
    bad_friend.extend_from_slice(b"\xff,2\n");
    assert_eq!(
        set.all_counts_csv(bad_friend.as_slice(), BatchOptions::default()).unwrap_err().to_string(),
        "row 3, column `Friend`: the cell is not valid UTF-8: `\u{fffd}`"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The batches hold the whole table's cells, row for row, whatever the batch size, the
    /// threads and where the reads end (inside quoted, multi-line cells too).
    #[test]
    fn batches_hold_the_cells_of_the_table(
        case in case(),
        batch_rows in 1usize..8,
        threads in 1usize..4,
        chunk in 1usize..9,
    ) {
        let csv = to_csv(&case, HeaderRow::Present);
        let schema = &case.dataset.schema;
        let table = Table::from_csv(csv.as_bytes(), schema, HeaderRow::Present).unwrap();
        let cell = |table: &Table, row: usize, column: usize| match table.value(row, column).unwrap() {
            domo_pdp::Value::Decimal(d) => format!("Decimal({})", d.normalize()),
            other => format!("{other:?}"),
        };
        let options =
            BatchOptions { batch_rows, threads: Threads::Exactly(NonZeroUsize::new(threads).unwrap()), ..BatchOptions::default() };
        let mut next = 0usize;
        let rows = Table::for_each_batch(Chunked { bytes: csv.as_bytes(), chunk }, schema, options, |batch| {
            assert_eq!(batch.first_row(), next);
            for row in 0..batch.table().row_count() {
                for column in 0..schema.columns.len() {
                    assert_eq!(cell(batch.table(), row, column), cell(&table, next + row, column), "{csv:?}");
                }
            }
            next += batch.table().row_count();
            Ok::<_, domo_pdp::LoadCsvError>(())
        })
        .unwrap();
        prop_assert_eq!(rows as usize, table.row_count());
        prop_assert_eq!(next, table.row_count());
    }
}
