//! Load errors and limits: what a CSV may make the loader hold, and the messages that name row, column and text.

use std::io::{self, Read};

use domo_model::{ColumnType, Schema};

use crate::csv_split::{Fields, SplitError, Splitter, SyntaxError};

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
    /// included, at most 2 GiB whatever is asked (fields are kept as 32-bit
    /// offsets). Default: [`CsvLimits::DEFAULT_MAX_RECORD_BYTES`].
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
