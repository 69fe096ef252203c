//! Checks that uploaded CSV fits a DataSet's schema, with the `domo-pdp` loader's own rules.

use std::io::Read;

use domo_model::{Column, ColumnType, Schema};
use domo_pdp::{HeaderRow, LoadCsvError, Table, Value};

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

/// Reads a header-less CSV to its end, checking every row against `columns`
/// exactly as the engine that filters exports will read it (so every row kept
/// can be filtered and streamed later), and returns how many rows it holds.
pub(crate) fn check_csv<R: Read>(input: R, columns: &[Column]) -> Result<u64, CsvCheckError> {
    let schema = Schema { columns: columns.to_vec() };
    Table::validate_csv(input, &schema, HeaderRow::Absent).map_err(|error| domo_message(error, columns))
}

/// Turns the engine's error into Domo's wording, which names row and column by number.
fn domo_message(error: LoadCsvError, columns: &[Column]) -> CsvCheckError {
    let position = |name: &str| columns.iter().position(|c| c.name == name).map_or(0, |i| i + 1);
    match error {
        LoadCsvError::Read(io) => CsvCheckError::Io(io),
        LoadCsvError::FieldCount { row, expected, found } if found > expected => CsvCheckError::invalid(format!(
            "There are too many columns. Expected {expected}. Row {row}, column {}.",
            expected + 1
        )),
        LoadCsvError::FieldCount { row, expected, found } => CsvCheckError::invalid(format!(
            "There are too few columns. Expected {expected}. Row {row}, column {}.",
            found + 1
        )),
        LoadCsvError::InvalidUtf8 { row, column, .. } => {
            CsvCheckError::invalid(format!("The value is not valid UTF-8. Row {row}, column {}.", position(&column)))
        }
        LoadCsvError::BadCell { row, column, column_type, text, .. } => CsvCheckError::invalid(format!(
            "Unable to parse `{text}` as {column_type} for column `{column}`. Row {row}, column {}.",
            position(&column)
        )),
        LoadCsvError::Quoting { row, problem } => {
            CsvCheckError::invalid(format!("Broken quoting: {problem}. Row {row}."))
        }
        other => CsvCheckError::invalid(other),
    }
}

/// Whether a policy value parses as a value of `column_type`, by the same
/// rules as a cell ([`Value::parse`]); an empty value fits only STRING.
pub(crate) fn cell_fits(column_type: ColumnType, text: &str) -> bool {
    Value::parse(column_type, text).is_ok()
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

    #[test]
    fn what_the_engine_cannot_read_is_refused() {
        // A lone carriage return, a quote in an unquoted field, an unclosed quote: the engine that
        // filters exports refuses each, so the upload is refused too and nothing half-readable is kept.
        for csv in ["public\rsecret,1,\n", "a\"b,1,\n", "\"a,1,\n"] {
            let message = check(csv).unwrap_err();
            assert!(message.starts_with("Invalid CSV provided during upload. msg="), "{message}");
            assert!(message.ends_with("Row 1."), "{message}");
        }
    }
}
