//! Reading a CSV batch by batch: the batches hold exactly the rows `Table::from_csv` loads, numbered alike,
//! and the first problem in file order is reported with the file's row, whatever the batch size and threads.

use std::num::NonZeroUsize;

use domo_model::{Column, ColumnType, Schema};
use domo_pdp::{BatchOptions, HeaderRow, LoadCsvError, Table, TableBatch, Threads};

fn schema() -> Schema {
    Schema {
        columns: vec![
            Column::new(ColumnType::String, "name"),
            Column::new(ColumnType::Long, "n"),
            Column::new(ColumnType::Decimal, "amount"),
            Column::new(ColumnType::Date, "day"),
        ],
    }
}

/// Rows with quoted line breaks, a blank line, NULLs and `""`.
const CSV: &str = "name,n,amount,day\n\
a,1,1.5,2024-01-01\n\
\"two\nlines\",2,,2024-01-02\n\
\n\
\"\",,2.25,\n\
,4,3,2024-01-04\n\
\"x,\"\"y\"\"\",5,-1.50,2024-01-05\r\n\
last,6,7,2024-01-06";

fn options(batch_rows: usize, threads: usize) -> BatchOptions {
    BatchOptions {
        batch_rows,
        threads: Threads::Exactly(NonZeroUsize::new(threads).unwrap()),
        ..BatchOptions::default()
    }
}

/// Every cell of a table, as `Debug` text (NULL and `""` differ; DECIMALs normalised, as the
/// scale a column stores them at is the largest of its rows, which differs between batches).
fn cells(table: &Table, first_row: usize) -> Vec<(usize, Vec<String>)> {
    (0..table.row_count())
        .map(|row| {
            let values = (0..table.schema().columns.len())
                .map(|column| match table.value(row, column).unwrap() {
                    domo_pdp::Value::Decimal(d) => format!("Decimal({})", d.normalize()),
                    other => format!("{other:?}"),
                })
                .collect();
            (first_row + row, values)
        })
        .collect()
}

#[test]
fn batches_hold_the_rows_of_the_whole_table() {
    let whole = Table::from_csv(CSV.as_bytes(), &schema(), HeaderRow::Present).unwrap();
    let expected = cells(&whole, 0);
    for threads in [1, 2, 3] {
        for batch_rows in [1, 2, 3, 4, 100] {
            let mut seen = Vec::new();
            let mut file_rows = Vec::new();
            let rows = Table::for_each_batch(CSV.as_bytes(), &schema(), options(batch_rows, threads), |batch| {
                assert!(batch.table().row_count() <= batch_rows);
                seen.extend(cells(batch.table(), batch.first_row()));
                file_rows.extend((0..batch.table().row_count()).map(|r| batch.csv_row(r).unwrap()));
                assert_eq!(batch.csv_row(batch.table().row_count()), None, "past the batch");
                Ok::<_, LoadCsvError>(())
            })
            .unwrap();
            assert_eq!(seen, expected, "{batch_rows} rows a batch, {threads} threads");
            assert_eq!(rows, 6);
            // The header is record 1, the quoted line break stays in record 3, the blank line is record 4.
            assert_eq!(file_rows, [2, 3, 5, 6, 7, 8], "{batch_rows} rows a batch, {threads} threads");
        }
    }
}

#[test]
fn map_batches_folds_in_file_order() {
    for threads in [1, 2, 4] {
        let mut firsts = Vec::new();
        Table::map_batches(
            CSV.as_bytes(),
            &schema(),
            options(1, threads),
            |batch: TableBatch| Ok::<_, LoadCsvError>(batch.first_row()),
            |first| {
                firsts.push(first);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(firsts, [0, 1, 2, 3, 4, 5], "{threads} threads");
    }
}

/// Reads `csv` in batches of `batch_rows` on every thread count; the error must be `expected` each time.
fn check(csv: &str, batch_rows: usize, expected: &str) {
    for threads in [1, 2, 3] {
        let error = Table::for_each_batch(csv.as_bytes(), &schema(), options(batch_rows, threads), |_| {
            Ok::<_, LoadCsvError>(())
        })
        .unwrap_err();
        assert_eq!(error.to_string(), expected, "{batch_rows} rows a batch, {threads} threads");
        let whole = Table::from_csv(csv.as_bytes(), &schema(), HeaderRow::Present).unwrap_err();
        assert_eq!(whole.to_string(), expected, "the whole-table loader says the same");
    }
}

#[test]
fn errors_name_the_file_row_and_come_in_file_order() {
    let rows = |n: usize| -> String { (0..n).map(|i| format!("r{i},{i},1.5,2024-01-01\n")).collect() };
    let header = "name,n,amount,day\n";
    // A bad cell in the tenth data row, record 11, in the fourth batch of three.
    check(
        &format!("{header}{}r,x,1,2024-01-01\n{}", rows(9), rows(5)),
        3,
        "row 11, column `n`: `x` is not a valid LONG (expected an integer such as `-42`)",
    );
    // A bad cell before broken quoting in the same batch and in a later one: the bad cell is first.
    check(
        &format!("{header}{}r,1,1,2024-13-01\n\"open", rows(4)),
        100,
        "row 6, column `day`: `2024-13-01` is not a valid DATE (expected `YYYY-MM-DD`)",
    );
    check(
        &format!("{header}{}r,1,1,2024-13-01\n{}\"open", rows(1), rows(7)),
        2,
        "row 3, column `day`: `2024-13-01` is not a valid DATE (expected `YYYY-MM-DD`)",
    );
    check(&format!("{header}{}\"open", rows(7)), 2, "row 9: broken quoting: a quoted field is never closed");
    check(&format!("{header}{}a,1\n", rows(5)), 2, "row 7: expected 4 fields (one per schema column), found 2");
    check(
        "name,n,amount,dag\n",
        2,
        "row 1: the header does not match the schema: column 4 is `dag`, the schema says `day`",
    );
}

#[test]
fn an_error_of_the_caller_stops_the_pass() {
    #[derive(Debug)]
    enum Failure {
        Load(#[expect(dead_code, reason = "shown by Debug when the test fails")] LoadCsvError),
        Enough(usize),
    }
    impl From<LoadCsvError> for Failure {
        fn from(error: LoadCsvError) -> Self {
            Failure::Load(error)
        }
    }
    let csv: String = std::iter::once("name,n,amount,day\n".to_owned())
        .chain((0..1000).map(|i| format!("r{i},{i},1.5,2024-01-01\n")))
        .chain(std::iter::once("\"broken".to_owned()))
        .collect();
    for threads in [1, 2] {
        let mut calls = 0;
        let error = Table::for_each_batch(csv.as_bytes(), &schema(), options(10, threads), |batch| {
            calls += 1;
            if batch.first_row() >= 30 { Err(Failure::Enough(batch.first_row())) } else { Ok(()) }
        })
        .unwrap_err();
        // The caller's error at row 30 comes before the broken quoting at the end.
        assert!(matches!(error, Failure::Enough(30)), "{error:?}");
        assert_eq!(calls, 4);
    }
}

#[test]
fn a_panic_in_a_worker_reaches_the_caller_without_hanging() {
    let csv: String = std::iter::once("name,n,amount,day\n".to_owned())
        .chain((0..100).map(|i| format!("r{i},{i},1.5,2024-01-01\n")))
        .collect();
    for threads in [1, 2, 3] {
        let result = std::panic::catch_unwind(|| {
            Table::map_batches(
                csv.as_bytes(),
                &schema(),
                options(7, threads),
                |batch: TableBatch| {
                    assert!(batch.first_row() < 50, "a bug in the caller's map");
                    Ok::<_, LoadCsvError>(())
                },
                |()| Ok(()),
            )
        });
        assert!(result.is_err(), "{threads} threads");
    }
}
