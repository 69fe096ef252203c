//! Checks that uploaded CSV fits a DataSet's schema: column count and typed cells.

use std::io::Read;

use domo_model::{Column, ColumnType};
use jiff::civil::Date;

/// Why an upload does not fit the schema.
#[derive(Debug)]
pub(crate) enum CsvCheckError {
    /// The CSV does not fit; the message reads like Domo's.
    Invalid(String),
    /// The spooled body could not be read.
    Io(std::io::Error),
}

impl CsvCheckError {
    fn invalid(detail: impl std::fmt::Display) -> Self {
        Self::Invalid(format!("Invalid CSV provided during upload. msg={detail}"))
    }
}

/// Reads a header-less CSV to its end, checking every row against `columns`,
/// and returns how many rows it holds.
pub(crate) fn check_csv<R: Read>(input: R, columns: &[Column]) -> Result<u64, CsvCheckError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input);
    let mut record = csv::ByteRecord::new();
    let expected = columns.len();
    let mut rows: u64 = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(rows),
            Ok(true) => {}
            Err(err) => {
                return Err(match err.into_kind() {
                    csv::ErrorKind::Io(io) => CsvCheckError::Io(io),
                    other => CsvCheckError::invalid(format!("{other:?}. Row {}.", rows + 1)),
                });
            }
        }
        rows += 1;
        let found = record.len();
        if found > expected {
            return Err(CsvCheckError::invalid(format!(
                "There are too many columns. Expected {expected}. Row {rows}, column {}.",
                expected + 1
            )));
        }
        if found < expected {
            return Err(CsvCheckError::invalid(format!(
                "There are too few columns. Expected {expected}. Row {rows}, column {}.",
                found + 1
            )));
        }
        for (index, (cell, column)) in record.iter().zip(columns).enumerate() {
            let Ok(text) = std::str::from_utf8(cell) else {
                return Err(CsvCheckError::invalid(format!(
                    "The value is not valid UTF-8. Row {rows}, column {}.",
                    index + 1
                )));
            };
            if !text.is_empty() && !cell_fits(column.column_type, text) {
                return Err(CsvCheckError::invalid(format!(
                    "Unable to parse `{}` as {} for column `{}`. Row {rows}, column {}.",
                    shorten(text),
                    column.column_type,
                    column.name,
                    index + 1
                )));
            }
        }
    }
}

/// Long cells are cut in messages so that an error stays one readable line.
fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

/// Whether a non-empty cell parses as a value of `column_type`, with the text
/// formats this project accepts (see `domo-api.md`): `YYYY-MM-DD` for DATE,
/// `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|±HH:MM]` for DATETIME.
pub(crate) fn cell_fits(column_type: ColumnType, text: &str) -> bool {
    match column_type {
        ColumnType::String => true,
        ColumnType::Long => text.parse::<i64>().is_ok(),
        ColumnType::Double => is_double(text),
        ColumnType::Decimal => is_decimal(text),
        ColumnType::Date => is_date(text),
        ColumnType::Datetime => is_datetime(text),
    }
}

// These rules match the `domo-pdp` engine's cell parsers, so that every row
// the emulator stores can be filtered on export.

fn is_double(text: &str) -> bool {
    // Rust also reads `inf` and `NaN`; only digits, signs, dots and exponents pass here.
    text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        && text.parse::<f64>().is_ok_and(f64::is_finite)
}

fn is_decimal(text: &str) -> bool {
    let t = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !(whole.is_empty() && fraction.is_empty())
        && all_digits(whole)
        && all_digits(fraction)
        && rust_decimal::Decimal::from_str_exact(text.strip_prefix('+').unwrap_or(text)).is_ok()
}

fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.get(4) == Some(&b'-')
        && bytes.get(7) == Some(&b'-')
        && bytes.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
        && text.parse::<Date>().is_ok()
}

fn is_datetime(text: &str) -> bool {
    let (Some(date), Some(sep), Some(rest)) = (text.get(..10), text.get(10..11), text.get(11..)) else {
        return false;
    };
    if !is_date(date) || !(sep == "T" || sep == " ") {
        return false;
    }
    let (time, zone) = match rest.find(['Z', '+', '-']) {
        Some(at) => (rest.get(..at).unwrap_or_default(), rest.get(at..).unwrap_or_default()),
        None => (rest, ""),
    };
    is_time(time) && is_zone(zone)
}

fn is_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() < 8 || bytes.get(2) != Some(&b':') || bytes.get(5) != Some(&b':') {
        return false;
    }
    let digits_ok = bytes.iter().take(8).enumerate().all(|(i, b)| i == 2 || i == 5 || b.is_ascii_digit());
    let fraction_ok = match text.get(8..) {
        Some("") => true,
        Some(f) => {
            f.strip_prefix('.').is_some_and(|d| !d.is_empty() && d.len() <= 9 && d.bytes().all(|b| b.is_ascii_digit()))
        }
        None => false,
    };
    let field = |at: usize| text.get(at..at + 2).and_then(|d| d.parse::<u8>().ok());
    let in_range =
        field(0).is_some_and(|h| h <= 23) && field(3).is_some_and(|m| m <= 59) && field(6).is_some_and(|s| s <= 59);
    digits_ok && fraction_ok && in_range
}

fn is_zone(text: &str) -> bool {
    if text.is_empty() || text == "Z" {
        return true;
    }
    let bytes = text.as_bytes();
    bytes.len() == 6
        && matches!(bytes.first(), Some(b'+' | b'-'))
        && bytes.get(3) == Some(&b':')
        && bytes.iter().enumerate().skip(1).all(|(i, b)| i == 3 || b.is_ascii_digit())
        && text.get(1..3).and_then(|h| h.parse::<u8>().ok()).is_some_and(|h| h <= 23)
        && text.get(4..6).and_then(|m| m.parse::<u8>().ok()).is_some_and(|m| m <= 59)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Vec<Column> {
        vec![
            Column::new(ColumnType::String, "Name"),
            Column::new(ColumnType::Long, "Age"),
            Column::new(ColumnType::Datetime, "Seen"),
        ]
    }

    fn check(csv: &str) -> Result<u64, String> {
        check_csv(csv.as_bytes(), &schema()).map_err(|e| match e {
            CsvCheckError::Invalid(m) => m,
            CsvCheckError::Io(e) => e.to_string(),
        })
    }

    #[test]
    fn counts_rows_and_accepts_nulls() {
        assert_eq!(check("a,1,2024-01-02T03:04:05Z\n\"\",,\nc,-3,2024-01-02 03:04:05.123+02:00"), Ok(3));
        assert_eq!(check(""), Ok(0));
    }

    #[test]
    fn too_many_and_too_few_columns_name_row_and_column() {
        assert_eq!(
            check("a,1,\nb,2,,x\n"),
            Err("Invalid CSV provided during upload. msg=There are too many columns. Expected 3. Row 2, column 4."
                .into())
        );
        assert_eq!(
            check("a\n"),
            Err("Invalid CSV provided during upload. msg=There are too few columns. Expected 3. Row 1, column 2."
                .into())
        );
    }

    #[test]
    fn typed_cells_must_parse() {
        assert_eq!(
            check("a,1,\nb,x1,\n"),
            Err("Invalid CSV provided during upload. msg=Unable to parse `x1` as LONG for column `Age`. Row 2, column 2."
                .into())
        );
        assert!(check("a,1,2024-13-01T00:00:00\n").is_err());
        assert!(check("a,1,2024-01-01\n").is_err());
    }

    #[test]
    fn cell_formats() {
        let cases = [
            (ColumnType::Decimal, "1.50", true),
            (ColumnType::Decimal, "-.5", true),
            (ColumnType::Decimal, "1e5", false),
            (ColumnType::Decimal, ".", false),
            (ColumnType::Double, "1e5", true),
            (ColumnType::Double, "NaN", false),
            (ColumnType::Double, "1e400", false),
            (ColumnType::Decimal, "1234567890123456789012345678901234567890", false),
            (ColumnType::Datetime, "2024-02-29T23:59:60Z", false),
            (ColumnType::Datetime, "2024-02-29T24:00:00Z", false),
            (ColumnType::Date, "2024-02-29", true),
            (ColumnType::Date, "2023-02-29", false),
            (ColumnType::Date, "2024-2-1", false),
            (ColumnType::Datetime, "2024-02-29T23:59:59.123456789Z", true),
            (ColumnType::Datetime, "2024-02-29T23:59:59-05:00", true),
            (ColumnType::Datetime, "2024-02-29T23:59", false),
            (ColumnType::Datetime, "2024-02-29T23:59:59+5", false),
            (ColumnType::Long, "9223372036854775808", false),
        ];
        for (ty, text, fits) in cases {
            assert_eq!(cell_fits(ty, text), fits, "{ty} {text}");
        }
    }

    /// What the emulator stores, the engine must be able to read on export.
    #[test]
    fn cell_rules_agree_with_the_pdp_engine() {
        let cells = [
            "0",
            "+7",
            "-7",
            " 7",
            "7 ",
            "1.5",
            ".5",
            "5.",
            "-.5",
            "1e3",
            "1E-3",
            "1e400",
            "inf",
            "NaN",
            "1_000",
            "9223372036854775807",
            "9223372036854775808",
            "12345678901234567890123456789",
            "0.0000000000000000000000000001",
            "2024-02-29",
            "2023-02-29",
            "2024-2-9",
            "0000-01-01",
            "2024-01-05T10:00:00Z",
            "2024-01-05 10:00:00",
            "2024-01-05T10:00:00.5+02:00",
            "2024-01-05T10:00:00.Z",
            "2024-01-05T10:00:60",
            "2024-01-05T10:00:00+24:00",
            "2024-01-05T10:00:00.1234567891Z",
            "abc",
            "--1",
            "+",
            "-",
        ];
        for column_type in ColumnType::ALL.iter().copied() {
            let schema = domo_model::Schema { columns: vec![Column::new(column_type, "c")] };
            for cell in cells {
                let engine =
                    domo_pdp::Table::from_csv(format!("{cell}\n").as_bytes(), &schema, domo_pdp::HeaderRow::Absent);
                assert_eq!(cell_fits(column_type, cell), engine.is_ok(), "{column_type} `{cell}`");
            }
        }
    }
}
