//! Lint's data findings gathered batch by batch (and merged) are those of the whole table.

use std::num::NonZeroUsize;

use domo_pdp::{BatchOptions, HeaderRow, LintReport, Linter, Table, Threads};
use proptest::prelude::*;

use crate::agreement::{Case, case_with_rows, to_csv};

/// The rows `range` of the case as a table of their own, loaded from CSV with a header.
fn batch(case: &Case, range: std::ops::Range<usize>) -> Table {
    let part = Case { rows: case.rows[range].to_vec(), ..case.clone() };
    let csv = to_csv(&part, HeaderRow::Present);
    Table::from_csv(csv.as_bytes(), &case.dataset.schema, HeaderRow::Present).unwrap()
}

/// Cuts `0..rows` at the given points (each taken modulo `rows + 1`), batches possibly empty.
fn ranges(rows: usize, cuts: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (rows + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([rows]) {
        out.push(start..cut);
        start = cut;
    }
    out
}

/// Batches of at most `batch_rows` rows typed and evaluated on `threads` threads.
fn options(batch_rows: usize, threads: usize) -> BatchOptions {
    BatchOptions {
        batch_rows,
        threads: Threads::Exactly(NonZeroUsize::new(threads).unwrap_or(NonZeroUsize::MIN)),
        ..BatchOptions::default()
    }
}

/// The report of [`Linter::rows_csv`] over `csv` (with a header) in batches of `batch_rows` on `threads` threads.
fn streamed(case: &Case, csv: &str, batch_rows: usize, threads: usize) -> (u64, LintReport) {
    let linter = Linter::new(&case.dataset, &case.policies, &case.directory);
    let rows = linter.rows_csv(csv.as_bytes(), options(batch_rows, threads)).unwrap();
    (rows.row_count(), linter.finish(rows))
}

fn whole(case: &Case) -> LintReport {
    let csv = to_csv(case, HeaderRow::Present);
    let table = Table::from_csv(csv.as_bytes(), &case.dataset.schema, HeaderRow::Present).unwrap();
    domo_pdp::lint(&case.dataset, &case.policies, &case.directory, &table)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// In random batches, one after the other: the same report as the whole table.
    #[test]
    fn batches_give_the_findings_of_the_whole_table(
        case in case_with_rows(0..40, 0..4),
        cuts in prop::collection::vec(0usize..41, 0..6),
    ) {
        let linter = Linter::new(&case.dataset, &case.policies, &case.directory);
        let mut rows = linter.rows();
        for range in ranges(case.rows.len(), &cuts) {
            rows.add(&batch(&case, range)).unwrap();
        }
        prop_assert_eq!(rows.row_count(), case.rows.len() as u64);
        prop_assert_eq!(linter.finish(rows), whole(&case));
    }

    /// Streamed from the CSV on worker threads, each batch evaluating only what a finding still
    /// needs (random batch sizes, so batch boundaries fall anywhere, inside quoted fields' records
    /// too, and random thread counts): the same report as the whole table.
    #[test]
    fn streamed_lint_gives_the_findings_of_the_whole_table(
        case in case_with_rows(0..40, 0..4),
        batch_rows in 1usize..9,
        threads in 1usize..4,
    ) {
        let csv = to_csv(&case, HeaderRow::Present);
        let (rows, report) = streamed(&case, &csv, batch_rows, threads);
        prop_assert_eq!(rows, case.rows.len() as u64);
        prop_assert_eq!(report, whole(&case));
    }

    /// With PDP off no hidden-row count reads every policy, so later batches leave out the policies
    /// already shown to admit some rows and miss others: still the report of the whole table.
    #[test]
    fn policies_left_out_with_pdp_off_change_no_finding(
        case in case_with_rows(0..40, 0..4),
        batch_rows in 1usize..5,
        threads in 1usize..4,
    ) {
        let mut case = case;
        case.dataset.pdp_enabled = false;
        let csv = to_csv(&case, HeaderRow::Present);
        let (rows, report) = streamed(&case, &csv, batch_rows, threads);
        prop_assert_eq!(rows, case.rows.len() as u64);
        prop_assert_eq!(report, whole(&case));
    }

    /// Two accumulators, each over its own run of batches on its own thread, merged in order: the
    /// same report.
    #[test]
    fn merged_accumulators_give_the_findings_of_the_whole_table(
        case in case_with_rows(0..40, 0..4),
        cuts in prop::collection::vec(0usize..41, 1..6),
        split in 0usize..6,
    ) {
        let linter = Linter::new(&case.dataset, &case.policies, &case.directory);
        let ranges = ranges(case.rows.len(), &cuts);
        let split = split % (ranges.len() + 1);
        let (head, tail) = ranges.split_at(split);
        // Each part on a thread of its own, as two cores would share the rows.
        let take = |part: &[std::ops::Range<usize>]| {
            let mut rows = linter.rows();
            for range in part {
                rows.add(&batch(&case, range.clone())).unwrap();
            }
            rows
        };
        let (mut first, second) = std::thread::scope(|scope| {
            let tail = scope.spawn(|| take(tail));
            (take(head), tail.join().unwrap())
        });
        first.merge(second);
        prop_assert_eq!(linter.finish(first), whole(&case));
    }
}

/// More hidden rows than the sample holds, spread over batches: the count is every row, the
/// sample the first ten in DataSet order, as for the whole table.
#[test]
fn hidden_rows_are_counted_across_batches_and_sampled_in_order() {
    let dataset: domo_model::Dataset = serde_json::from_value(serde_json::json!({
        "id": "d", "name": "n", "pdpEnabled": true, "owner": {"id": 1},
        "schema": {"columns": [{"type": "LONG", "name": "n"}, {"type": "STRING", "name": "s"}]}
    }))
    .unwrap();
    let policies: Vec<domo_model::Policy> = serde_json::from_value(serde_json::json!([
        {"id": 1, "name": "small", "filters": [{"column": "n", "operator": "LESS_THAN", "values": ["3"]}], "users": [2]},
        {"id": 2, "name": "named", "filters": [{"column": "s", "operator": "EQUALS", "values": ["Bobb", "x"]}], "users": [2]}
    ]))
    .unwrap();
    let directory: domo_model::Directory =
        serde_json::from_value(serde_json::json!({"users": [{"id": 1, "name": "Owner"}, {"id": 2, "name": "Ann"}]}))
            .unwrap();
    let csv = |range: std::ops::Range<u32>| {
        let mut out = String::from("n,s\n");
        for n in range {
            out.push_str(&format!("{n},\"Bob\nby {n}\"\n"));
        }
        out.push_str("99,Bob\n");
        Table::from_csv(out.as_bytes(), &dataset.schema, HeaderRow::Present).unwrap()
    };
    let linter = Linter::new(&dataset, &policies, &directory);
    let mut rows = linter.rows();
    for range in [0..5, 5..9, 9..30] {
        rows.add(&csv(range)).unwrap();
    }
    let report = linter.finish(rows);
    let texts: Vec<String> = report.findings.iter().map(|f| format!("{}: {f}", f.kind())).collect();
    // Rows 1 to 3 are `small`'s; each batch ends with a `99,Bob` row, so 33 rows in all.
    assert!(
        texts.contains(
            &"rows-only-privileged: 30 of 33 rows are seen by no one but the owner and Admins: rows 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, …"
                .to_owned()
        ),
        "{texts:#?}"
    );
    assert!(
        texts.contains(
            &"value-not-in-data: policy 2 `named`, filters[0]: EQUALS `Bobb`: no row has this value in `s` (did you mean `Bob`?)"
                .to_owned()
        ),
        "{texts:#?}"
    );
    let hidden = report.findings.iter().find(|f| f.kind() == "rows-only-privileged").unwrap();
    assert_eq!(hidden.rows, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
}

/// EQUALS values of typed columns are found in whichever batch holds them, as the column's type
/// compares (`1.50` is `1.5`); only the values no batch holds are reported.
#[test]
fn typed_equals_values_are_looked_for_in_every_batch() {
    let dataset: domo_model::Dataset = serde_json::from_value(serde_json::json!({
        "id": "d", "name": "n", "pdpEnabled": true, "owner": {"id": 1},
        "schema": {"columns": [{"type": "DECIMAL", "name": "x"}, {"type": "DATE", "name": "d"}, {"type": "LONG", "name": "n"}]}
    }))
    .unwrap();
    let policies: Vec<domo_model::Policy> = serde_json::from_value(serde_json::json!([
        {"id": 1, "name": "x", "filters": [{"column": "x", "operator": "EQUALS", "values": ["1.50", "2", "9.9"]}], "users": [2]},
        {"id": 2, "name": "d", "filters": [{"column": "d", "operator": "EQUALS", "values": ["2024-02-29", "2024-03-01"]}], "users": [2]},
        {"id": 3, "name": "n", "filters": [{"column": "n", "operator": "EQUALS", "values": ["7", "-1"]}], "users": [2]}
    ]))
    .unwrap();
    let directory: domo_model::Directory =
        serde_json::from_value(serde_json::json!({"users": [{"id": 2, "name": "Ann"}]})).unwrap();
    let batches = ["x,d,n\n2,2024-01-01,1\n,,\n", "x,d,n\n1.5,2024-02-29,\n", "x,d,n\n0,,-1\n"];
    let linter = Linter::new(&dataset, &policies, &directory);
    let mut rows = linter.rows();
    for csv in batches {
        rows.add(&Table::from_csv(csv.as_bytes(), &dataset.schema, HeaderRow::Present).unwrap()).unwrap();
    }
    let report = linter.finish(rows);
    let missing: Vec<String> =
        report.findings.iter().filter(|f| f.kind() == "value-not-in-data").map(ToString::to_string).collect();
    assert_eq!(
        missing,
        [
            "policy 1 `x`, filters[0]: EQUALS `9.9`: no row has this value in `x`",
            "policy 2 `d`, filters[0]: EQUALS `2024-03-01`: no row has this value in `d`",
            "policy 3 `n`, filters[0]: EQUALS `7`: no row has this value in `n`",
        ]
    );
}

/// A policy is redundant only if another with its members covers its rows in every batch: one
/// row of a later batch that only it admits is enough to keep it.
#[test]
fn redundancy_holds_only_if_it_holds_in_every_batch() {
    let dataset: domo_model::Dataset = serde_json::from_value(serde_json::json!({
        "id": "d", "name": "n", "pdpEnabled": true, "owner": {"id": 1},
        "schema": {"columns": [{"type": "LONG", "name": "age"}]}
    }))
    .unwrap();
    let policies: Vec<domo_model::Policy> = serde_json::from_value(serde_json::json!([
        {"id": 1, "name": "adults", "filters": [{"column": "age", "operator": "GREATER_THAN", "values": ["18"]}], "users": [2]},
        {"id": 2, "name": "over ten", "filters": [{"column": "age", "operator": "GREATER_THAN", "values": ["10"]}], "users": [2, 3]},
        {"id": 3, "name": "under fifty", "filters": [{"column": "age", "operator": "LESS_THAN", "values": ["50"]}], "users": [2, 3]}
    ]))
    .unwrap();
    let directory: domo_model::Directory = serde_json::from_value(
        serde_json::json!({"users": [{"id": 1, "name": "Owner"}, {"id": 2, "name": "Ann"}, {"id": 3, "name": "Bob"}]}),
    )
    .unwrap();
    let redundant = |batches: &[&str]| {
        let linter = Linter::new(&dataset, &policies, &directory);
        let mut rows = linter.rows();
        for csv in batches {
            rows.add(&Table::from_csv(csv.as_bytes(), &dataset.schema, HeaderRow::Absent).unwrap()).unwrap();
        }
        let report = linter.finish(rows);
        report.findings.iter().filter(|f| f.kind() == "redundant-policy").map(ToString::to_string).collect::<Vec<_>>()
    };
    // 20, 30, 40: `adults` sits inside `over ten`, and `over ten` and `under fifty` cover each
    // other (the later one is reported).
    assert_eq!(
        redundant(&["20\n30\n", "40\n"]),
        [
            "policy 1 `adults`: is redundant: policy 2 `over ten` already grants its members (1 principal) every row it admits (3 rows)",
            "policy 3 `under fifty`: is redundant: policy 2 `over ten` already grants its members (2 principals) every row it admits (3 rows)",
        ]
    );
    // A 5 in a later batch is `under fifty`'s alone: it is no longer redundant, `over ten` is.
    let split = redundant(&["20\n30\n", "5\n"]);
    assert_eq!(
        split,
        [
            "policy 1 `adults`: is redundant: policy 2 `over ten` already grants its members (1 principal) every row it admits (2 rows)",
            "policy 2 `over ten`: is redundant: policy 3 `under fifty` already grants its members (2 principals) every row it admits (2 rows)",
        ]
    );
    let whole = domo_pdp::lint(
        &dataset,
        &policies,
        &directory,
        &Table::from_csv("20\n30\n5\n".as_bytes(), &dataset.schema, HeaderRow::Absent).unwrap(),
    );
    let whole: Vec<String> =
        whole.findings.iter().filter(|f| f.kind() == "redundant-policy").map(ToString::to_string).collect();
    assert_eq!(whole, split);
}

/// Once a policy has admitted a row and missed one, later batches leave it out unless a finding
/// still reads its rows: with PDP off (no hidden rows to count) and a row a batch, the counts a
/// redundancy finding prints, "matches no row", "matches every row" and the values looked for
/// are still those of the whole table, on one thread and on three.
#[test]
fn policies_left_out_of_later_batches_change_no_finding() {
    let case = Case {
        dataset: serde_json::from_value(serde_json::json!({
            "id": "d", "name": "n", "pdpEnabled": false, "owner": {"id": 1},
            "schema": {"columns": [{"type": "LONG", "name": "age"}, {"type": "STRING", "name": "s"}]}
        }))
        .unwrap(),
        policies: serde_json::from_value(serde_json::json!([
            {"id": 1, "name": "adults", "filters": [{"column": "age", "operator": "GREATER_THAN", "values": ["18"]}], "users": [2]},
            {"id": 2, "name": "over ten", "filters": [{"column": "age", "operator": "GREATER_THAN", "values": ["10"]}], "users": [2, 3]},
            {"id": 3, "name": "teens", "filters": [{"column": "age", "operator": "BETWEEN", "values": ["13", "19"]}], "users": [3]},
            {"id": 4, "name": "old", "filters": [{"column": "age", "operator": "GREATER_THAN", "values": ["90"]}], "users": [3]},
            {"id": 5, "name": "any", "filters": [{"column": "age", "operator": "GREATER_THAN", "values": ["0"]}], "users": [4]},
            {"id": 6, "name": "named", "filters": [{"column": "s", "operator": "EQUALS", "values": ["Ann", "Zed", "Cyy"]}], "users": [4]},
            {"id": 7, "name": "everyone", "filters": [{"column": "age", "operator": "GREATER_THAN", "values": ["-1"]}], "users": [1]}
        ]))
        .unwrap(),
        directory: serde_json::from_value(serde_json::json!({"users": [
            {"id": 1, "name": "Owner"}, {"id": 2, "name": "Ann"}, {"id": 3, "name": "Bob"}, {"id": 4, "name": "Cy"}
        ]}))
        .unwrap(),
        rows: Vec::new(),
        quote: Vec::new(),
    };
    let mut csv = String::from("age,s\n");
    for age in [20, 5, 15, 30, 40, 50, 60, 12, 70, 80] {
        csv.push_str(&format!("{age},{}\n", if age == 70 { "Ann" } else { "Cy" }));
    }
    let table = Table::from_csv(csv.as_bytes(), &case.dataset.schema, HeaderRow::Present).unwrap();
    let whole = domo_pdp::lint(&case.dataset, &case.policies, &case.directory, &table);
    let texts: Vec<String> = whole.findings.iter().map(|f| format!("{}: {f}", f.kind())).collect();
    for expected in [
        "redundant-policy: policy 1 `adults`: is redundant: policy 2 `over ten` already grants its members (1 principal) every row it admits (7 rows)",
        "policy-matches-no-row: policy 4 `old`: matches none of the 10 rows, so it grants nothing",
        "policy-matches-every-row: policy 5 `any`: its filters admit all 10 rows, so they restrict nothing",
        "policy-matches-every-row: policy 7 `everyone`: its filters admit all 10 rows, so they restrict nothing",
        "value-not-in-data: policy 6 `named`, filters[0]: EQUALS `Zed`: no row has this value in `s`",
        "value-not-in-data: policy 6 `named`, filters[0]: EQUALS `Cyy`: no row has this value in `s` (did you mean `Cy`?)",
    ] {
        assert!(texts.iter().any(|t| t == expected), "missing {expected:?} in {texts:#?}");
    }
    for threads in [1, 3] {
        for batch_rows in [1, 2, 3, 10] {
            let (rows, report) = streamed(&case, &csv, batch_rows, threads);
            assert_eq!(rows, 10);
            assert_eq!(report, whole, "batches of {batch_rows} on {threads} threads");
        }
    }
}
