//! Cell typing: one CSV field parsed as its column's type, and the error that names it.

use domo_model::ColumnType;
use rust_decimal::Decimal;

use crate::parse;

use super::error::{LoadCsvError, shorten};

/// The hint shown after a bad cell of this type.
pub(crate) fn format_hint(column_type: ColumnType) -> &'static str {
    match column_type {
        ColumnType::String => "",
        ColumnType::Long => " (expected an integer such as `-42`)",
        ColumnType::Double => " (expected a finite number such as `1.5` or `2e3`)",
        ColumnType::Decimal => " (expected a decimal such as `-1.50`, no exponent)",
        ColumnType::Date => " (expected `YYYY-MM-DD`)",
        ColumnType::Datetime => " (expected `YYYY-MM-DD HH:MM:SS[.fraction][Z|+HH:MM]`, `T` or a space between)",
    }
}

/// One field typed by its column.
pub(crate) enum Cell<'a> {
    Null,
    Str(&'a str),
    Long(i64),
    Double(f64),
    Decimal(Decimal),
    Date(i32),
    Datetime(i128),
}

/// Parses one field as its column's type; `Err` names what is wrong.
pub(crate) fn type_cell<'a>(column_type: ColumnType, bytes: &'a [u8], quoted: bool) -> Result<Cell<'a>, CellError> {
    if bytes.is_empty() && (!quoted || column_type != ColumnType::String) {
        return Ok(Cell::Null);
    }
    let cell = match column_type {
        ColumnType::String => return std::str::from_utf8(bytes).map(Cell::Str).map_err(|_| CellError::Utf8),
        ColumnType::Long => parse::parse_long(bytes).map(Cell::Long),
        ColumnType::Double => parse::parse_double(bytes).map(Cell::Double),
        ColumnType::Decimal => parse::parse_decimal(bytes).map(Cell::Decimal),
        ColumnType::Date => parse::parse_date(bytes).map(Cell::Date),
        ColumnType::Datetime => parse::parse_datetime(bytes).map(Cell::Datetime),
    };
    cell.ok_or(CellError::Type)
}

pub(crate) enum CellError {
    Utf8,
    Type,
}

pub(crate) fn cell_error(row: u64, column: &domo_model::Column, bytes: &[u8], error: CellError) -> LoadCsvError {
    match error {
        CellError::Utf8 => LoadCsvError::InvalidUtf8 { row, column: column.name.clone(), text: shorten(bytes) },
        CellError::Type => LoadCsvError::BadCell {
            row,
            column: column.name.clone(),
            column_type: column.column_type,
            text: shorten(bytes),
            hint: format_hint(column.column_type),
        },
    }
}
