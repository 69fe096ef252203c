//! Value types: a typed cell as the API shows it, DATETIME instants, and whether a CSV has a header row.

use std::fmt;

use domo_model::ColumnType;
use rust_decimal::Decimal;

use super::cell::{Cell, format_hint, type_cell};
use super::column::date_of_days;
use super::error::shorten;

/// Whether a CSV starts with a header row of column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderRow {
    /// The first record names the columns; the names must match the schema, in order.
    #[default]
    Present,
    /// Every record is data; columns are in schema order (as Domo imports and exports).
    Absent,
}

/// One typed cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// No value: an unquoted empty field, or an empty field in a non-STRING column.
    Null,
    /// A STRING cell (possibly the empty string).
    String(&'a str),
    /// A LONG cell.
    Long(i64),
    /// A DOUBLE cell (always finite).
    Double(f64),
    /// A DECIMAL cell, exact, keeping the scale it was written with (`1.50`).
    Decimal(Decimal),
    /// A DATE cell.
    Date(jiff::civil::Date),
    /// A DATETIME cell, as an instant in UTC.
    Datetime(Datetime),
}

/// A DATETIME cell: nanoseconds since 1970-01-01T00:00:00Z.
///
/// It holds every instant the loader accepts (years 0000 to 9999 with any
/// offset), which reaches past [`jiff::Timestamp`]'s range at both ends: the
/// common "end of time" cell `9999-12-31 23:59:59` is one such value. It
/// displays in RFC 3339 form in UTC (`2024-05-01T12:30:00.25Z`), as
/// `jiff::Timestamp` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Datetime(pub(crate) i128);

impl Datetime {
    /// The instant `nanos` nanoseconds after 1970-01-01T00:00:00Z.
    pub fn from_nanosecond(nanos: i128) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since 1970-01-01T00:00:00Z.
    pub fn as_nanosecond(self) -> i128 {
        self.0
    }

    /// The same instant as a [`jiff::Timestamp`], when it is within jiff's range.
    pub fn to_timestamp(self) -> Option<jiff::Timestamp> {
        jiff::Timestamp::from_nanosecond(self.0).ok()
    }
}

impl fmt::Display for Datetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;
        let days = self.0.div_euclid(NANOS_PER_DAY);
        let in_day = self.0.rem_euclid(NANOS_PER_DAY);
        let (year, month, day) = crate::parse::civil_from_days(i64::try_from(days).map_err(|_| fmt::Error)?);
        let seconds = in_day / 1_000_000_000;
        let nanos = in_day % 1_000_000_000;
        if (0..=9999).contains(&year) {
            write!(f, "{year:04}")?;
        } else {
            write!(f, "{}{:06}", if year < 0 { '-' } else { '+' }, year.unsigned_abs())?;
        }
        write!(f, "-{month:02}-{day:02}T{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)?;
        if nanos != 0 {
            let fraction = format!("{nanos:09}");
            write!(f, ".{}", fraction.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

/// A text that is not a value of a column type ([`Value::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid {column_type}{hint}", hint = format_hint(*column_type))]
pub struct ParseValueError {
    /// The column type asked for.
    pub column_type: ColumnType,
    /// The text, shortened for display.
    pub text: String,
}

impl<'a> Value<'a> {
    /// Parses `text` as a value of `column_type` by the rules of a cell of
    /// that type (`crates/domo-pdp/docs/semantics.md`): the value a policy filter compares
    /// with, or a cell read from CSV. The result is never [`Value::Null`]: an
    /// empty text is the empty STRING, and an error for the other types.
    ///
    /// # Errors
    ///
    /// [`ParseValueError`] when the text is not a value of the type, such as
    /// `12x` for LONG or `2024-02-30` for DATE.
    ///
    /// ```
    /// use domo_model::ColumnType;
    /// use domo_pdp::Value;
    ///
    /// assert_eq!(Value::parse(ColumnType::Long, "-42"), Ok(Value::Long(-42)));
    /// let err = Value::parse(ColumnType::Date, "2024-02-30").unwrap_err();
    /// assert_eq!(err.to_string(), "`2024-02-30` is not a valid DATE (expected `YYYY-MM-DD`)");
    /// ```
    pub fn parse(column_type: ColumnType, text: &'a str) -> Result<Value<'a>, ParseValueError> {
        let error = || ParseValueError { column_type, text: shorten(text.as_bytes()) };
        if text.is_empty() && column_type != ColumnType::String {
            return Err(error());
        }
        Ok(match type_cell(column_type, text.as_bytes(), true).map_err(|_| error())? {
            Cell::Null => return Err(error()),
            Cell::Str(s) => Value::String(s),
            Cell::Long(v) => Value::Long(v),
            Cell::Double(v) => Value::Double(v),
            Cell::Decimal(v) => Value::Decimal(v),
            Cell::Date(days) => Value::Date(date_of_days(days).ok_or_else(error)?),
            Cell::Datetime(nanos) => Value::Datetime(Datetime(nanos)),
        })
    }
}

impl Value<'_> {
    /// Whether the cell is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Values of one type are ordered as the engine compares them (STRING by
/// bytes, numbers by value, dates and instants in time); values of two types,
/// and NULL, are not ordered.
impl PartialOrd for Value<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Value::String(a), Value::String(b)) => a.partial_cmp(b),
            (Value::Long(a), Value::Long(b)) => a.partial_cmp(b),
            (Value::Double(a), Value::Double(b)) => a.partial_cmp(b),
            (Value::Decimal(a), Value::Decimal(b)) => a.partial_cmp(b),
            (Value::Date(a), Value::Date(b)) => a.partial_cmp(b),
            (Value::Datetime(a), Value::Datetime(b)) => a.partial_cmp(b),
            _ => None,
        }
    }
}

impl fmt::Display for Value<'_> {
    /// The cell as text: STRING as is, NULL as `NULL`, numbers and dates in canonical form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::String(s) => f.write_str(s),
            Value::Long(v) => write!(f, "{v}"),
            Value::Double(v) => write!(f, "{v}"),
            Value::Decimal(v) => write!(f, "{v}"),
            Value::Date(v) => write!(f, "{v}"),
            Value::Datetime(v) => write!(f, "{v}"),
        }
    }
}
