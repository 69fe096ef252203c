//! Bounded memory on hostile CSV: endless input, huge cells, huge headers and rows of many fields
//! fail fast with a message naming the row and the limit, after reading little more than the limit.

use std::io::{self, Read};

use domo_model::{Column, ColumnType, Schema, UserId};
use domo_pdp::{CsvLimits, HeaderRow, PolicySet, StreamOptions, Table};

use crate::rules::{dataset, directory, filter, policy};

/// A reader that counts the bytes handed out, to bound what the loader read.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

fn two_columns() -> Schema {
    Schema { columns: vec![Column::new(ColumnType::String, "Friend"), Column::new(ColumnType::String, "Attending")] }
}

/// The three readers of CSV, one input each, one message each: loading, validating, streaming.
#[derive(Debug, Clone, Copy)]
enum Pass {
    Load,
    Validate,
    Stream,
}

/// Runs `pass` on `input` with `limits`; returns the error's text and how many bytes were read.
fn fail<R: Read>(pass: Pass, input: R, schema: &Schema, header: HeaderRow, limits: CsvLimits) -> (String, u64) {
    let mut counted = Counted { inner: input, read: 0 };
    let message = match pass {
        Pass::Load => Table::from_csv_with_limits(&mut counted, schema, header, limits).unwrap_err().to_string(),
        Pass::Validate => {
            Table::validate_csv_with_limits(&mut counted, schema, header, limits).unwrap_err().to_string()
        }
        Pass::Stream => {
            let p =
                policy(1, vec![filter("Attending", domo_model::FilterOperator::Equals, &["TRUE"], false)], &[1], &[]);
            let set = PolicySet::compile(&dataset(schema.clone(), true), &[p], &directory()).unwrap();
            let options = StreamOptions { input_header: header, output_header: HeaderRow::Present };
            set.write_visible_csv_with_limits(UserId(1), &mut counted, io::sink(), options, limits)
                .unwrap_err()
                .to_string()
        }
    };
    (message, counted.read)
}

/// Checks every pass fails on `csv` with `expected`, having read at most `max_read` bytes.
fn check(csv: impl Fn() -> Box<dyn Read>, header: HeaderRow, limits: CsvLimits, expected: &str, max_read: u64) {
    for pass in [Pass::Load, Pass::Validate, Pass::Stream] {
        let (message, read) = fail(pass, csv(), &two_columns(), header, limits);
        assert_eq!(message, expected, "{pass:?}");
        assert!(read <= max_read, "{pass:?} read {read} bytes, expected at most {max_read}");
    }
}

#[test]
fn endless_input_stops_at_the_default_limit() {
    // `/dev/zero` as data: one record that never ends. It used to grow the buffer until allocation failed.
    let limit = CsvLimits::DEFAULT_MAX_RECORD_BYTES as u64;
    let expected =
        "row 1: the row is longer than 16 MiB, the most one row may take (is a line break or a closing quote missing?)";
    check(|| Box::new(io::repeat(0)), HeaderRow::Absent, CsvLimits::default(), expected, limit + 1);
    check(|| Box::new(io::repeat(b'x')), HeaderRow::Present, CsvLimits::default(), expected, limit + 1);
}

#[test]
fn a_huge_cell_is_refused_with_its_row() {
    let limits = CsvLimits::with_max_record_bytes(1024);
    let csv = || -> Box<dyn Read> {
        let mut text = String::from("Friend,Attending\nLeonhard,TRUE\n");
        text.push_str(&format!("{},TRUE\nDaniel,TRUE\n", "y".repeat(100_000)));
        Box::new(io::Cursor::new(text))
    };
    let expected =
        "row 3: the row is longer than 1 KiB, the most one row may take (is a line break or a closing quote missing?)";
    check(csv, HeaderRow::Present, limits, expected, 64 * 1024);
    // An unclosed quote swallows the rest of the file: the same error, not a read to the end.
    let quoted = || -> Box<dyn Read> { Box::new(io::Cursor::new(format!("a,\"b\n{}", "c,d\n".repeat(100_000)))) };
    let expected =
        "row 1: the row is longer than 1 KiB, the most one row may take (is a line break or a closing quote missing?)";
    check(quoted, HeaderRow::Absent, limits, expected, 64 * 1024);
}

#[test]
fn a_record_at_the_limit_loads_and_the_limit_is_per_record() {
    // `a…a,TRUE\n` is exactly 64 bytes; a thousand of them are far more than the limit together.
    let row = format!("{},TRUE\n", "a".repeat(58));
    assert_eq!(row.len(), 64);
    let csv = row.repeat(1000);
    let limits = CsvLimits::with_max_record_bytes(64);
    let table = Table::from_csv_with_limits(csv.as_bytes(), &two_columns(), HeaderRow::Absent, limits).unwrap();
    assert_eq!(table.row_count(), 1000);
    let rows = Table::validate_csv_with_limits(csv.as_bytes(), &two_columns(), HeaderRow::Absent, limits).unwrap();
    assert_eq!(rows, 1000);
    let too_long = format!("{row}{},TRUE\n", "a".repeat(59));
    let err = Table::from_csv_with_limits(too_long.as_bytes(), &two_columns(), HeaderRow::Absent, limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 2: the row is longer than 64 bytes, the most one row may take (is a line break or a closing quote missing?)"
    );
}

#[test]
fn a_header_of_millions_of_columns_gives_a_short_error() {
    // Scaled down from ten million columns: splitting stops past the schema's width plus the slack,
    // and the message stays one line.
    let header =
        || -> Box<dyn Read> { Box::new(io::Cursor::new(format!("{}x\nLeonhard,TRUE\n", "c,".repeat(200_000)))) };
    let expected = format!(
        "row 1: the header does not match the schema: it has more than {} columns, the schema has 2",
        2 + domo_pdp::EXTRA_FIELDS
    );
    check(header, HeaderRow::Present, CsvLimits::default(), &expected, 1 << 20);
}

#[test]
fn a_header_with_many_differences_lists_the_first_ten() {
    let names: Vec<String> = (1..=40).map(|i| format!("c{i}")).collect();
    let csv = format!("{}\n", names.join(","));
    let err = Table::from_csv(csv.as_bytes(), &two_columns(), HeaderRow::Present).unwrap_err().to_string();
    assert_eq!(
        err,
        "row 1: the header does not match the schema: it has 40 columns, the schema has 2; \
         column 1 is `c1`, the schema says `Friend`; column 2 is `c2`, the schema says `Attending`; \
         column 3 `c3` is not in the schema; column 4 `c4` is not in the schema; column 5 `c5` is not in the schema; \
         column 6 `c6` is not in the schema; column 7 `c7` is not in the schema; column 8 `c8` is not in the schema; \
         column 9 `c9` is not in the schema; … and 31 more"
    );
    // A very long header name is shortened.
    let long = format!("{},Attending\n", "F".repeat(100_000));
    let err = Table::from_csv(long.as_bytes(), &two_columns(), HeaderRow::Present).unwrap_err().to_string();
    assert!(err.len() < 300, "{} bytes", err.len());
}

#[test]
fn a_row_of_many_fields_stops_splitting_early() {
    let csv = || -> Box<dyn Read> { Box::new(io::Cursor::new(format!("a,b\n{}\n", ",".repeat(500_000)))) };
    let expected =
        format!("row 2: expected 2 fields (one per schema column), found more than {}", 2 + domo_pdp::EXTRA_FIELDS);
    check(csv, HeaderRow::Absent, CsvLimits::default(), &expected, 1 << 20);
    // Below the slack, the exact count.
    let err = Table::from_csv("a,b,c,d\n".as_bytes(), &two_columns(), HeaderRow::Absent).unwrap_err();
    assert_eq!(err.to_string(), "row 1: expected 2 fields (one per schema column), found 4");
}
