//! The typed columnar table: loading CSV by a schema, dictionary-encoded strings, cell access.

use std::fmt;
use std::io::{self, Read};
use std::sync::{Arc, OnceLock, mpsc};

use domo_model::{ColumnType, Schema};
use fixedbitset::FixedBitSet;
use hashbrown::HashTable;
use rust_decimal::Decimal;

use crate::csv_split::{Fields, SplitError, Splitter, SyntaxError};
use crate::parse;

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
pub struct Datetime(i128);

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

impl Value<'_> {
    /// Whether the cell is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
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

/// Why loading a CSV failed. Rows are numbered from 1 as a spreadsheet shows them
/// (with a header row, the first data row is row 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadCsvError {
    /// Reading the input failed.
    #[error("cannot read the CSV")]
    Read(#[source] io::Error),
    /// The quoting of a record is broken.
    #[error("row {row}: broken quoting: {problem}")]
    Quoting {
        /// The row (1-based).
        row: u64,
        /// What is wrong.
        problem: &'static str,
    },
    /// A record has the wrong number of fields.
    #[error("row {row}: expected {expected} fields (one per schema column), found {found}")]
    FieldCount {
        /// The row (1-based).
        row: u64,
        /// The schema's column count.
        expected: usize,
        /// The record's field count.
        found: usize,
    },
    /// A cell is not valid UTF-8.
    #[error("row {row}, column `{column}`: the cell is not valid UTF-8: `{text}`")]
    InvalidUtf8 {
        /// The row (1-based).
        row: u64,
        /// The column's name.
        column: String,
        /// The cell, with invalid bytes replaced.
        text: String,
    },
    /// A cell does not parse as its column's type.
    #[error("row {row}, column `{column}`: `{text}` is not a valid {column_type}{hint}")]
    BadCell {
        /// The row (1-based).
        row: u64,
        /// The column's name.
        column: String,
        /// The column's type.
        column_type: ColumnType,
        /// The cell's text (shortened if very long).
        text: String,
        /// The accepted format, as a suffix of the message.
        hint: &'static str,
    },
    /// The header row does not name the schema's columns.
    #[error("row 1: the header does not match the schema: {differences}")]
    Header {
        /// Each difference, e.g. "column 2 is `Frend`, the schema says `Friend`".
        differences: String,
    },
    /// More rows or distinct strings than the engine indexes (2^32 - 1).
    #[error("row {row}: the table has more rows than the engine supports")]
    TooLarge {
        /// The row (1-based).
        row: u64,
    },
    /// A record is longer than [`CsvLimits::max_record_bytes`]: usually a
    /// missing line break or closing quote, or a file that is not CSV.
    #[error(
        "row {row}: the row is longer than {}, the most one row may take (is a line break or a closing quote missing?)",
        size_text(*limit)
    )]
    RecordTooLarge {
        /// The row (1-based).
        row: u64,
        /// The limit, in bytes.
        limit: usize,
    },
    /// A record has far more fields than the schema has columns (splitting stopped there).
    #[error("row {row}: expected {expected} fields (one per schema column), found more than {limit}")]
    TooManyFields {
        /// The row (1-based).
        row: u64,
        /// The schema's column count.
        expected: usize,
        /// How many fields were read before splitting stopped.
        limit: usize,
    },
}

/// Limits on what one CSV can make the loader hold, whatever the input: the
/// input may be `/dev/zero`, a file without line breaks, or a hostile upload.
///
/// Memory while loading stays bounded by the rows kept plus a few records of
/// at most [`CsvLimits::max_record_bytes`]; a record may also have at most
/// [`EXTRA_FIELDS`] fields more than the schema has columns before splitting
/// stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvLimits {
    /// The longest record (row) accepted, in bytes, quotes and line ending
    /// included. Default: [`CsvLimits::DEFAULT_MAX_RECORD_BYTES`].
    pub max_record_bytes: usize,
}

impl CsvLimits {
    /// 16 MiB: far above any real row, small enough to fail fast on a file that is not CSV.
    pub const DEFAULT_MAX_RECORD_BYTES: usize = 16 << 20;

    /// Limits with this longest record, in bytes (at least 1).
    pub fn with_max_record_bytes(max_record_bytes: usize) -> Self {
        Self { max_record_bytes: max_record_bytes.max(1) }
    }
}

impl Default for CsvLimits {
    fn default() -> Self {
        Self { max_record_bytes: Self::DEFAULT_MAX_RECORD_BYTES }
    }
}

/// How many fields beyond the schema's width a record may have before
/// splitting stops (an exact count is reported below this).
pub const EXTRA_FIELDS: usize = 1024;

/// A byte count for people: `16 MiB`, `512 KiB`, `100 bytes`.
pub(crate) fn size_text(bytes: usize) -> String {
    const KIB: usize = 1 << 10;
    const MIB: usize = 1 << 20;
    const GIB: usize = 1 << 30;
    match bytes {
        b if b >= GIB && b % GIB == 0 => format!("{} GiB", b / GIB),
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        1 => "1 byte".to_owned(),
        b => format!("{b} bytes"),
    }
}

/// A record splitter for a CSV of `width` columns, bounded by `limits`.
pub(crate) fn record_splitter<R: Read>(reader: R, width: usize, limits: CsvLimits) -> Splitter<R> {
    Splitter::new(reader, limits.max_record_bytes, width.saturating_add(EXTRA_FIELDS))
}

pub(crate) const NULL_CODE: u32 = u32::MAX;

/// Distinct strings of one column, each stored once.
#[derive(Debug, Default)]
pub(crate) struct Dictionary {
    text: String,
    ends: Vec<usize>,
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
}

impl Dictionary {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn get(&self, code: u32) -> Option<&str> {
        dict_get(&self.text, &self.ends, code)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len()).filter_map(|code| u32::try_from(code).ok().and_then(|code| self.get(code)))
    }

    /// The code of a string, if the column holds it.
    pub(crate) fn lookup(&self, s: &str) -> Option<u32> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(s.as_bytes());
        self.index.find(hash, |&code| dict_is(&self.text, &self.ends, code, s)).copied()
    }

    fn intern(&mut self, s: &str) -> Option<u32> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(s.as_bytes());
        let (text, ends) = (&self.text, &self.ends);
        if let Some(&code) = self.index.find(hash, |&code| dict_is(text, ends, code, s)) {
            return Some(code);
        }
        let code = u32::try_from(self.ends.len()).ok().filter(|&c| c != NULL_CODE)?;
        self.text.push_str(s);
        self.ends.push(self.text.len());
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.index.insert_unique(hash, code, |&c| hasher.hash_one(dict_get(text, ends, c).unwrap_or("").as_bytes()));
        Some(code)
    }
}

fn dict_get<'a>(text: &'a str, ends: &[usize], code: u32) -> Option<&'a str> {
    let code = usize::try_from(code).ok()?;
    let end = *ends.get(code)?;
    let start = match code.checked_sub(1) {
        Some(previous) => *ends.get(previous)?,
        None => 0,
    };
    text.get(start..end)
}

/// Whether entry `code` is `s`, comparing bytes (no character-boundary checks).
fn dict_is(text: &str, ends: &[usize], code: u32, s: &str) -> bool {
    let Some(end) = ends.get(code as usize) else { return false };
    let start = match (code as usize).checked_sub(1) {
        Some(previous) => ends.get(previous).copied().unwrap_or(0),
        None => 0,
    };
    text.as_bytes().get(start..*end) == Some(s.as_bytes())
}

/// For each code, the rows holding it, in row order: one array, sliced by code.
#[derive(Debug)]
pub(crate) struct Postings {
    offsets: Vec<u32>,
    pub(crate) rows: std::sync::Arc<Vec<u32>>,
}

impl Postings {
    /// Where a code's rows start and end in [`Postings::rows`].
    pub(crate) fn range(&self, code: u32) -> (usize, usize) {
        let code = code as usize;
        match (self.offsets.get(code), self.offsets.get(code + 1)) {
            (Some(&start), Some(&end)) => (start as usize, end as usize),
            _ => (0, 0),
        }
    }

    pub(crate) fn rows(&self, code: u32) -> &[u32] {
        let (start, end) = self.range(code);
        self.rows.get(start..end).unwrap_or_default()
    }
}

/// A dictionary-encoded STRING column.
#[derive(Debug, Default)]
pub(crate) struct StringColumn {
    pub(crate) codes: Vec<u32>,
    pub(crate) dict: Dictionary,
    /// How many rows hold each code.
    pub(crate) counts: Vec<u32>,
    postings: OnceLock<Postings>,
}

impl StringColumn {
    /// The posting lists, built on first use.
    pub(crate) fn postings(&self) -> &Postings {
        self.postings.get_or_init(|| {
            let mut offsets = Vec::with_capacity(self.counts.len() + 1);
            let mut total = 0u32;
            offsets.push(0);
            for &count in &self.counts {
                total = total.saturating_add(count);
                offsets.push(total);
            }
            let mut cursor: Vec<u32> = offsets.clone();
            let mut rows = vec![0u32; total as usize];
            for (row, &code) in self.codes.iter().enumerate() {
                if let Some(slot) = cursor.get_mut(code as usize)
                    && let Some(target) = rows.get_mut(*slot as usize)
                {
                    *target = u32::try_from(row).unwrap_or(u32::MAX);
                    *slot += 1;
                }
            }
            Postings { offsets, rows: std::sync::Arc::new(rows) }
        })
    }

    fn push(&mut self, s: Option<&str>) -> Option<()> {
        let code = match s {
            Some(s) => {
                let code = self.dict.intern(s)?;
                match self.counts.get_mut(code as usize) {
                    Some(count) => *count += 1,
                    None => self.counts.push(1),
                }
                code
            }
            None => NULL_CODE,
        };
        self.codes.push(code);
        Some(())
    }
}

/// A fixed-width column with a NULL mask.
#[derive(Debug, Default)]
pub(crate) struct Typed<T> {
    pub(crate) values: Vec<T>,
    pub(crate) nulls: FixedBitSet,
}

impl<T: Copy + Default> Typed<T> {
    fn push(&mut self, value: Option<T>) -> Option<()> {
        let row = self.values.len();
        self.values.push(value.unwrap_or_default());
        if value.is_none() {
            self.nulls.grow(row + 1);
            self.nulls.insert(row);
        }
        Some(())
    }

    pub(crate) fn get(&self, row: usize) -> Option<T> {
        if self.nulls.contains(row) { None } else { self.values.get(row).copied() }
    }

    /// Pushes a column's cells from a batch (an empty field is NULL); stops at the first bad one.
    fn push_cells<'b>(
        &mut self,
        cells: impl Iterator<Item = (u64, &'b [u8], bool)>,
        column: &domo_model::Column,
        index: usize,
        parse: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<(), (u64, usize, LoadCsvError)> {
        for (row, bytes, _) in cells {
            if bytes.is_empty() {
                self.push(None);
            } else {
                match parse(bytes) {
                    Some(value) => self.values.push(value),
                    None => return Err((row, index, cell_error(row, column, bytes, CellError::Type))),
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, rows: usize) {
        self.nulls.grow(rows);
        self.values.shrink_to_fit();
    }
}

/// One column's data.
#[derive(Debug)]
pub(crate) enum ColumnData {
    String(StringColumn),
    Long(Typed<i64>),
    Double(Typed<f64>),
    /// DECIMAL as parsed (only while loading, or when values do not fit the scaled form).
    Decimal(Typed<Decimal>),
    /// DECIMAL as integers at one scale for the whole column (the largest scale seen):
    /// `1.5` and `1.50` are both 150 at scale 2. Compares as fast as a LONG.
    ScaledDecimal {
        scale: u32,
        data: Typed<i64>,
    },
    /// Days since 1970-01-01.
    Date(Typed<i32>),
    /// Nanoseconds since 1970-01-01T00:00:00Z (while loading, or when some value is
    /// outside the years 1677 to 2262).
    Datetime(Typed<i128>),
    /// Nanoseconds since 1970-01-01T00:00:00Z, when every value fits in an `i64`.
    NarrowDatetime(Typed<i64>),
}

impl ColumnData {
    fn new(column_type: ColumnType) -> Self {
        match column_type {
            ColumnType::String => ColumnData::String(StringColumn::default()),
            ColumnType::Long => ColumnData::Long(Typed::default()),
            ColumnType::Double => ColumnData::Double(Typed::default()),
            ColumnType::Decimal => ColumnData::Decimal(Typed::default()),
            ColumnType::Date => ColumnData::Date(Typed::default()),
            ColumnType::Datetime => ColumnData::Datetime(Typed::default()),
        }
    }
}

/// The column as integers at its largest scale, if every value fits in an `i64` that way.
fn scale_decimals(column: &Typed<Decimal>) -> Option<ColumnData> {
    let scale = column.values.iter().map(Decimal::scale).max().unwrap_or(0);
    let mut values = Vec::with_capacity(column.values.len());
    for value in &column.values {
        let factor = 10i128.checked_pow(scale - value.scale())?;
        values.push(i64::try_from(value.mantissa().checked_mul(factor)?).ok()?);
    }
    Some(ColumnData::ScaledDecimal { scale, data: Typed { values, nulls: column.nulls.clone() } })
}

/// A date as `jiff`'s civil date (days since 1970-01-01 in, `None` if out of range).
pub(crate) fn date_of_days(days: i32) -> Option<jiff::civil::Date> {
    let (y, m, d) = parse::civil_from_days(i64::from(days));
    jiff::civil::Date::new(i16::try_from(y).ok()?, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
}

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

/// A DataSet's rows, typed by its schema and stored by column.
///
/// STRING columns are dictionary-encoded (each distinct string once, a 32-bit
/// code per row); the other types are stored as fixed-width values with a NULL
/// mask. Rows are numbered from 0 in DataSet (CSV) order.
#[derive(Debug)]
pub struct Table {
    schema: Schema,
    columns: Vec<ColumnData>,
    rows: usize,
}

/// Shortens a cell for an error message.
pub(crate) fn shorten(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", text.get(..at).unwrap_or_default()),
        None => text.into_owned(),
    }
}

/// The error for a header record that could not be split.
pub(crate) fn header_split_error(row: u64, schema: &Schema, error: SplitError) -> LoadCsvError {
    match error {
        SplitError::TooManyFields(limit) => LoadCsvError::Header {
            differences: format!("it has more than {limit} columns, the schema has {}", schema.columns.len()),
        },
        other => split_error(row, schema.columns.len(), other),
    }
}

/// The error for a record of a CSV of `width` columns that could not be split.
pub(crate) fn split_error(row: u64, width: usize, error: SplitError) -> LoadCsvError {
    match error {
        SplitError::Io(e) => LoadCsvError::Read(e),
        SplitError::RecordTooLarge(limit) => LoadCsvError::RecordTooLarge { row, limit },
        SplitError::TooManyFields(limit) => LoadCsvError::TooManyFields { row, expected: width, limit },
        SplitError::Syntax(e) => LoadCsvError::Quoting {
            row,
            problem: match e {
                SyntaxError::UnterminatedQuote => "a quoted field is never closed",
                SyntaxError::TextAfterQuote => "text follows a closing quote",
                SyntaxError::LoneCarriageReturn => {
                    "a carriage return outside quotes does not end the row (end rows with LF or CRLF, or quote the field)"
                }
                SyntaxError::QuoteInUnquotedField => {
                    "a quote inside an unquoted field (quote the field and double the quote)"
                }
                SyntaxError::TooManyFields => "far more fields than the schema has columns",
            },
        },
    }
}

/// At most this many differences between a header and the schema are spelled out.
const DIFFERENCES_SHOWN: usize = 10;

/// Checks a header record against the schema. The error spells out the first
/// [`DIFFERENCES_SHOWN`] differences and counts the rest, so that its size
/// stays small whatever the header.
pub(crate) fn check_header(schema: &Schema, fields: &Fields) -> Result<(), LoadCsvError> {
    let mut differences = Vec::new();
    let mut more = 0usize;
    let mut add = |text: &dyn Fn() -> String| {
        if differences.len() < DIFFERENCES_SHOWN {
            differences.push(text());
        } else {
            more += 1;
        }
    };
    if fields.len() != schema.columns.len() {
        add(&|| format!("it has {} columns, the schema has {}", fields.len(), schema.columns.len()));
    }
    for (index, column) in schema.columns.iter().enumerate() {
        match fields.get(index) {
            Some((bytes, _)) if bytes == column.name.as_bytes() => {}
            Some((bytes, _)) => add(&|| {
                format!(
                    "column {} is `{}`, the schema says `{}`",
                    index + 1,
                    shorten(bytes),
                    shorten(column.name.as_bytes())
                )
            }),
            None => add(&|| format!("column {} (`{}`) is missing", index + 1, shorten(column.name.as_bytes()))),
        }
    }
    for index in schema.columns.len()..fields.len() {
        if let Some((bytes, _)) = fields.get(index) {
            add(&|| format!("column {} `{}` is not in the schema", index + 1, shorten(bytes)));
        }
    }
    if differences.is_empty() {
        return Ok(());
    }
    let mut text = differences.join("; ");
    if more > 0 {
        text.push_str(&format!("; … and {more} more"));
    }
    Err(LoadCsvError::Header { differences: text })
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

/// Records handed from the splitting thread to the typing thread.
#[derive(Debug, Default)]
struct Batch {
    fields: Fields,
    /// The row number (1-based, as a spreadsheet shows it) of each record.
    rows: Vec<u64>,
}

const BATCH_RECORDS: usize = 4096;
/// A batch stops taking records past this many bytes, so that the batches in
/// flight hold a few MiB whatever the row size.
const BATCH_BYTES: usize = 1 << 20;

/// Splits every record into batches and sends them; stops early if the typing thread is gone.
fn split_batches<R: Read>(
    splitter: &mut Splitter<R>,
    width: usize,
    workers: &[mpsc::SyncSender<Arc<Batch>>],
    spare: &mpsc::Receiver<Arc<Batch>>,
) -> Result<(), LoadCsvError> {
    loop {
        // Reuse a batch every worker is done with.
        let mut batch = spare.try_iter().find_map(|b| Arc::try_unwrap(b).ok()).unwrap_or_default();
        batch.fields.clear();
        batch.rows.clear();
        let filled = fill_batch(splitter, width, &mut batch);
        // Even when splitting failed, the rows before the failure are typed first:
        // a bad cell there is the first problem, and is the one reported.
        let batch = Arc::new(batch);
        let mut sent = false;
        for worker in workers {
            sent |= worker.send(Arc::clone(&batch)).is_ok();
        }
        match filled {
            Err(error) => return Err(error),
            Ok(true) => return Ok(()),
            Ok(false) if !sent => return Ok(()),
            Ok(false) => {}
        }
    }
}

/// Fills a batch with up to [`BATCH_RECORDS`] records; `Ok(true)` at the end of input.
fn fill_batch<R: Read>(splitter: &mut Splitter<R>, width: usize, batch: &mut Batch) -> Result<bool, LoadCsvError> {
    while batch.rows.len() < BATCH_RECORDS && batch.fields.byte_len() < BATCH_BYTES {
        let first = batch.fields.len();
        let more =
            splitter.append_record(&mut batch.fields).map_err(|e| split_error(splitter.record_number(), width, e))?;
        if !more {
            return Ok(true);
        }
        let row = splitter.record_number();
        let found = batch.fields.len() - first;
        if width > 1 && batch.fields.is_blank_from(first) {
            batch.fields.truncate_fields(first);
            continue;
        }
        if found != width {
            batch.fields.truncate_fields(first);
            return Err(LoadCsvError::FieldCount { row, expected: width, found });
        }
        batch.rows.push(row);
    }
    Ok(false)
}

/// Splits the columns between two workers by their typing cost (longest first, to the lighter one).
fn partition_columns(schema: &Schema) -> Vec<Vec<usize>> {
    let cost = |t: ColumnType| match t {
        ColumnType::String => 16,
        ColumnType::Long => 5,
        ColumnType::Decimal => 10,
        ColumnType::Double => 25,
        ColumnType::Date => 8,
        ColumnType::Datetime => 15,
    };
    let mut order: Vec<usize> = (0..schema.columns.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(schema.columns.get(i).map_or(0, |c| cost(c.column_type))));
    let mut parts: [(u32, Vec<usize>); 2] = [(0, Vec::new()), (0, Vec::new())];
    for index in order {
        let weight = schema.columns.get(index).map_or(0, |c| cost(c.column_type));
        let lighter = if parts[0].0 <= parts[1].0 { &mut parts[0] } else { &mut parts[1] };
        lighter.0 += weight;
        lighter.1.push(index);
    }
    parts
        .into_iter()
        .map(|(_, mut part)| {
            part.sort_unstable();
            part
        })
        .filter(|part| !part.is_empty())
        .collect()
}

/// Some of the columns being filled, one record at a time.
struct Builder<'s> {
    schema: &'s Schema,
    /// (column index, data), in column order.
    columns: Vec<(usize, ColumnData)>,
    rows: usize,
}

impl<'s> Builder<'s> {
    fn new(schema: &'s Schema, part: Vec<usize>) -> Self {
        let columns = part
            .into_iter()
            .filter_map(|i| schema.columns.get(i).map(|c| (i, ColumnData::new(c.column_type))))
            .collect();
        Self { schema, columns, rows: 0 }
    }

    /// Types a batch, a column at a time; an error carries its row and column index, to
    /// find the first one (the earliest row, then the leftmost column).
    fn add(&mut self, batch: &Batch) -> Result<(), (u64, usize, LoadCsvError)> {
        let width = self.schema.columns.len();
        if let Some(&row) = batch.rows.get((NULL_CODE as usize - 1).saturating_sub(self.rows)) {
            return Err((row, 0, LoadCsvError::TooLarge { row }));
        }
        let mut first: Option<(u64, usize, LoadCsvError)> = None;
        for (index, data) in &mut self.columns {
            let index = *index;
            let Some(column) = self.schema.columns.get(index) else { continue };
            let cells = batch.rows.iter().enumerate().map(|(record, &row)| {
                let (bytes, quoted) = batch.fields.get(record * width + index).unwrap_or_default();
                (row, bytes, quoted)
            });
            let result = match data {
                ColumnData::String(c) => {
                    let mut result = Ok(());
                    for (row, bytes, quoted) in cells {
                        let text = if bytes.is_empty() && !quoted {
                            None
                        } else {
                            match std::str::from_utf8(bytes) {
                                Ok(text) => Some(text),
                                Err(_) => {
                                    result = Err((row, index, cell_error(row, column, bytes, CellError::Utf8)));
                                    break;
                                }
                            }
                        };
                        if c.push(text).is_none() {
                            result = Err((row, index, LoadCsvError::TooLarge { row }));
                            break;
                        }
                    }
                    result
                }
                ColumnData::Long(c) => c.push_cells(cells, column, index, parse::parse_long),
                ColumnData::Double(c) => c.push_cells(cells, column, index, parse::parse_double),
                ColumnData::Decimal(c) => c.push_cells(cells, column, index, parse::parse_decimal),
                ColumnData::Date(c) => c.push_cells(cells, column, index, parse::parse_date),
                ColumnData::Datetime(c) => c.push_cells(cells, column, index, parse::parse_datetime),
                ColumnData::ScaledDecimal { .. } | ColumnData::NarrowDatetime(_) => Ok(()),
            };
            if let Err(error) = result
                && first.as_ref().is_none_or(|(row, column, _)| (error.0, error.1) < (*row, *column))
            {
                first = Some(error);
            }
        }
        if let Some(error) = first {
            return Err(error);
        }
        self.rows += batch.rows.len();
        Ok(())
    }

    /// Puts the workers' columns back in schema order.
    fn merge(schema: &Schema, builders: Vec<Builder<'_>>) -> Table {
        let rows = builders.first().map_or(0, |b| b.rows);
        let mut columns: Vec<(usize, ColumnData)> = builders.into_iter().flat_map(|b| b.columns).collect();
        columns.sort_by_key(|(index, _)| *index);
        let mut columns: Vec<ColumnData> = columns.into_iter().map(|(_, data)| data).collect();
        for data in &mut columns {
            match data {
                ColumnData::String(c) => c.codes.shrink_to_fit(),
                ColumnData::Long(c) => c.finish(rows),
                ColumnData::Double(c) => c.finish(rows),
                ColumnData::Decimal(c) => {
                    c.finish(rows);
                    if let Some(scaled) = scale_decimals(c) {
                        *data = scaled;
                    }
                }
                ColumnData::ScaledDecimal { data, .. } => data.finish(rows),
                ColumnData::Date(c) => c.finish(rows),
                ColumnData::Datetime(c) => {
                    c.finish(rows);
                    let narrow: Option<Vec<i64>> = c.values.iter().map(|&v| i64::try_from(v).ok()).collect();
                    if let Some(values) = narrow {
                        *data = ColumnData::NarrowDatetime(Typed { values, nulls: std::mem::take(&mut c.nulls) });
                    }
                }
                ColumnData::NarrowDatetime(c) => c.finish(rows),
            }
        }
        Table { schema: schema.clone(), columns, rows }
    }
}

impl Table {
    /// Reads CSV from `reader` and checks every cell against `schema` exactly as
    /// [`Table::from_csv`] would, keeping nothing: memory stays bounded by the
    /// longest record. Returns the number of data rows [`Table::from_csv`] would
    /// load (blank lines skipped with more than one column).
    ///
    /// A store that accepts uploads (the emulator) checks with this, so that
    /// every row it keeps can later be loaded, filtered and streamed.
    ///
    /// # Errors
    ///
    /// The same first problem [`Table::from_csv`] would report.
    pub fn validate_csv<R: Read>(reader: R, schema: &Schema, header: HeaderRow) -> Result<u64, LoadCsvError> {
        Self::validate_csv_with_limits(reader, schema, header, CsvLimits::default())
    }

    /// [`Table::validate_csv`] with chosen [`CsvLimits`].
    ///
    /// # Errors
    ///
    /// The same first problem [`Table::from_csv_with_limits`] would report.
    pub fn validate_csv_with_limits<R: Read>(
        reader: R,
        schema: &Schema,
        header: HeaderRow,
        limits: CsvLimits,
    ) -> Result<u64, LoadCsvError> {
        let width = schema.columns.len();
        let mut splitter = record_splitter(reader, width, limits);
        let mut fields = Fields::default();
        let next = |splitter: &mut Splitter<R>, fields: &mut Fields| {
            splitter.next_record(fields).map_err(|e| split_error(splitter.record_number(), width, e))
        };
        if header == HeaderRow::Present
            && splitter.next_record(&mut fields).map_err(|e| header_split_error(1, schema, e))?
        {
            check_header(schema, &fields)?;
        }
        let mut rows: u64 = 0;
        while next(&mut splitter, &mut fields)? {
            let row = splitter.record_number();
            if width > 1 && fields.is_blank_from(0) {
                continue;
            }
            if fields.len() != width {
                return Err(LoadCsvError::FieldCount { row, expected: width, found: fields.len() });
            }
            for (index, column) in schema.columns.iter().enumerate() {
                if let Some((bytes, quoted)) = fields.get(index) {
                    type_cell(column.column_type, bytes, quoted).map_err(|e| cell_error(row, column, bytes, e))?;
                }
            }
            rows += 1;
        }
        Ok(rows)
    }

    /// Reads CSV from `reader` and types every cell by `schema`.
    ///
    /// An unquoted empty field is NULL; a quoted empty field (`""`) is the empty
    /// string in a STRING column and NULL in any other. With more than one
    /// column, blank lines are skipped (they still count as rows in error
    /// messages); with one column a blank line is a NULL cell.
    ///
    /// # Errors
    ///
    /// The first problem found, naming the row (1-based, as a spreadsheet shows
    /// it), the column and the offending text: a bad cell, invalid UTF-8, a
    /// wrong field count, broken quoting, a header that does not match the
    /// schema, or a read error.
    pub fn from_csv<R: Read>(reader: R, schema: &Schema, header: HeaderRow) -> Result<Table, LoadCsvError> {
        Self::from_csv_with_limits(reader, schema, header, CsvLimits::default())
    }

    /// [`Table::from_csv`] with chosen [`CsvLimits`]: a record longer than
    /// `limits.max_record_bytes` is an error naming the row and the limit, so
    /// that memory stays bounded whatever the input.
    ///
    /// # Errors
    ///
    /// As [`Table::from_csv`], and [`LoadCsvError::RecordTooLarge`] or
    /// [`LoadCsvError::TooManyFields`] for a record past the limits.
    pub fn from_csv_with_limits<R: Read>(
        reader: R,
        schema: &Schema,
        header: HeaderRow,
        limits: CsvLimits,
    ) -> Result<Table, LoadCsvError> {
        // Two stages on two threads: this one splits records (and owns the
        // reader, which need not be `Send`); a worker types them into columns.
        let width = schema.columns.len();
        let mut splitter = record_splitter(reader, width, limits);
        if header == HeaderRow::Present {
            let mut fields = Fields::default();
            let more = splitter.next_record(&mut fields).map_err(|e| header_split_error(1, schema, e))?;
            if more {
                check_header(schema, &fields)?;
            }
        }
        // Two typing workers, each with a share of the columns of similar cost.
        let parts = partition_columns(schema);
        let mut senders = Vec::new();
        let (recycle, spare) = mpsc::channel::<Arc<Batch>>();
        std::thread::scope(|scope| {
            let mut workers = Vec::new();
            for part in parts {
                let (batches, incoming) = mpsc::sync_channel::<Arc<Batch>>(4);
                senders.push(batches);
                let recycle = recycle.clone();
                workers.push(scope.spawn(move || {
                    let mut builder = Builder::new(schema, part);
                    for batch in incoming {
                        builder.add(&batch)?;
                        // The splitter may have stopped; a lost spare batch costs nothing.
                        let _ = recycle.send(batch);
                    }
                    Ok::<_, (u64, usize, LoadCsvError)>(builder)
                }));
            }
            drop(recycle);
            let split = split_batches(&mut splitter, width, &senders, &spare);
            senders.clear();
            let mut builders = Vec::new();
            let mut first_error: Option<(u64, usize, LoadCsvError)> = None;
            for worker in workers {
                match worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)) {
                    Ok(builder) => builders.push(builder),
                    Err(error) => {
                        if first_error.as_ref().is_none_or(|(row, column, _)| (error.0, error.1) < (*row, *column)) {
                            first_error = Some(error);
                        }
                    }
                }
            }
            // A typing error comes from an earlier row than any splitting error after it.
            if let Some((_, _, error)) = first_error {
                return Err(error);
            }
            split?;
            Ok(Builder::merge(schema, builders))
        })
    }

    /// How many rows the table holds.
    pub fn row_count(&self) -> usize {
        self.rows
    }

    /// The schema the table was loaded with.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The index of the column with this exact name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.schema.columns.iter().position(|c| c.name == name)
    }

    pub(crate) fn column_data(&self, column: usize) -> Option<&ColumnData> {
        self.columns.get(column)
    }

    /// The typed cell at `row`, `column` (both 0-based); `None` if out of range.
    pub fn value(&self, row: usize, column: usize) -> Option<Value<'_>> {
        if row >= self.rows {
            return None;
        }
        let value = match self.columns.get(column)? {
            ColumnData::String(c) => match *c.codes.get(row)? {
                NULL_CODE => Value::Null,
                code => Value::String(c.dict.get(code)?),
            },
            ColumnData::Long(c) => c.get(row).map_or(Value::Null, Value::Long),
            ColumnData::Double(c) => c.get(row).map_or(Value::Null, Value::Double),
            ColumnData::Decimal(c) => c.get(row).map_or(Value::Null, Value::Decimal),
            ColumnData::ScaledDecimal { scale, data } => {
                data.get(row).and_then(|v| Decimal::try_new(v, *scale).ok()).map_or(Value::Null, Value::Decimal)
            }
            ColumnData::Date(c) => c.get(row).and_then(date_of_days).map_or(Value::Null, Value::Date),
            ColumnData::Datetime(c) => c.get(row).map_or(Value::Null, |ns| Value::Datetime(Datetime(ns))),
            ColumnData::NarrowDatetime(c) => {
                c.get(row).map_or(Value::Null, |ns| Value::Datetime(Datetime(i128::from(ns))))
            }
        };
        Some(value)
    }

    /// The distinct non-NULL values of a column, each with the number of rows
    /// holding it, in order of first appearance. `None` if there is no such column.
    ///
    /// Values that compare equal count as one (`1.5` and `1.50` in a DECIMAL column).
    pub fn distinct_values(&self, column: usize) -> Option<Vec<(Value<'_>, usize)>> {
        match self.columns.get(column)? {
            ColumnData::String(c) => {
                Some(c.dict.iter().zip(c.counts.iter()).map(|(s, &n)| (Value::String(s), n as usize)).collect())
            }
            _ => {
                let mut seen: hashbrown::HashMap<String, usize> = hashbrown::HashMap::new();
                let mut out: Vec<(Value<'_>, usize)> = Vec::new();
                for row in 0..self.rows {
                    let value = self.value(row, column)?;
                    if value.is_null() {
                        continue;
                    }
                    let key = match value {
                        Value::Decimal(d) => d.normalize().to_string(),
                        other => other.to_string(),
                    };
                    match seen.get(&key) {
                        Some(&at) => {
                            if let Some(entry) = out.get_mut(at) {
                                entry.1 += 1;
                            }
                        }
                        None => {
                            seen.insert(key, out.len());
                            out.push((value, 1));
                        }
                    }
                }
                Some(out)
            }
        }
    }
}
