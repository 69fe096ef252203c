//! Streaming one principal's visible rows from a CSV reader to a CSV writer in a single pass, records byte-exact.

use std::io::{self, Read, Write};

use crate::compile::{PolicySet, Principal};
use crate::csv_split::{Fields, Splitter};
use crate::filter::CompiledFilter;
use crate::table::{
    CsvLimits, HeaderRow, LoadCsvError, cell_error, check_header, header_split_error, record_splitter, split_error,
    type_cell,
};

/// How [`PolicySet::write_visible_csv`] reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamOptions {
    /// Whether the input starts with a header row (checked against the schema).
    pub input_header: HeaderRow,
    /// Whether to write a header row: the input's, byte for byte, or one made from the schema.
    pub output_header: HeaderRow,
}

/// What a streaming pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamSummary {
    /// Data rows read.
    pub rows_read: u64,
    /// Data rows written.
    pub rows_written: u64,
}

/// Why streaming rows failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamCsvError {
    /// The input is not valid CSV for the schema.
    #[error(transparent)]
    Load(#[from] LoadCsvError),
    /// Writing the output failed.
    #[error("cannot write the CSV")]
    Write(#[source] io::Error),
}

/// Writes a header made from the schema's names, quoting where CSV needs it.
fn write_schema_header(set: &PolicySet, out: &mut impl Write) -> io::Result<()> {
    let mut line = Vec::new();
    for (i, column) in set.schema.columns.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        let name = column.name.as_bytes();
        if name.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) || name.is_empty() {
            line.push(b'"');
            for &b in name {
                if b == b'"' {
                    line.push(b'"');
                }
                line.push(b);
            }
            line.push(b'"');
        } else {
            line.extend_from_slice(name);
        }
    }
    line.push(b'\n');
    out.write_all(&line)
}

impl PolicySet {
    /// Streams the rows `who` sees from `input` to `output`, in one pass, without
    /// building a table: each written record is the input record's bytes exactly
    /// (quoting and line ending included).
    ///
    /// Checked on the way: quoting, the field count of every record, the header
    /// (when present), and the cells of the columns the principal's filters read.
    /// Cells of other columns are copied unchecked.
    ///
    /// # Errors
    ///
    /// A [`LoadCsvError`] naming the row, column and text, or a write error.
    pub fn write_visible_csv<'p, R: Read, W: Write>(
        &self,
        who: impl Into<Principal<'p>>,
        input: R,
        output: W,
        options: StreamOptions,
    ) -> Result<StreamSummary, StreamCsvError> {
        self.write_visible_csv_with_limits(who, input, output, options, CsvLimits::default())
    }

    /// [`PolicySet::write_visible_csv`] with chosen [`CsvLimits`]: a record
    /// longer than `limits.max_record_bytes` stops the pass with an error.
    ///
    /// # Errors
    ///
    /// As [`PolicySet::write_visible_csv`].
    pub fn write_visible_csv_with_limits<'p, R: Read, W: Write>(
        &self,
        who: impl Into<Principal<'p>>,
        input: R,
        mut output: W,
        options: StreamOptions,
        limits: CsvLimits,
    ) -> Result<StreamSummary, StreamCsvError> {
        let access = self.access(who);
        let everything = access.sees_everything();
        // Each applicable policy as its list of filters; a row is visible if all filters of any policy pass.
        let policies: Vec<&[CompiledFilter]> = access
            .policies
            .iter()
            .filter_map(|m| self.policies.get(m.policy.index()))
            .map(|p| p.filters.as_slice())
            .collect();
        let width = self.schema.columns.len();
        let mut splitter: Splitter<R> = record_splitter(input, width, limits);
        let mut fields = Fields::default();
        let mut summary = StreamSummary::default();
        let mut header_written = false;
        if options.input_header == HeaderRow::Present {
            let more = splitter.next_record(&mut fields).map_err(|e| header_split_error(1, &self.schema, e))?;
            if more {
                check_header(&self.schema, &fields)?;
                if options.output_header == HeaderRow::Present {
                    output.write_all(splitter.raw()).map_err(StreamCsvError::Write)?;
                    if !splitter.raw().ends_with(b"\n") {
                        output.write_all(b"\n").map_err(StreamCsvError::Write)?;
                    }
                    header_written = true;
                }
            }
        }
        if options.output_header == HeaderRow::Present && !header_written {
            write_schema_header(self, &mut output).map_err(StreamCsvError::Write)?;
        }
        loop {
            let more =
                splitter.next_record(&mut fields).map_err(|e| split_error(splitter.record_number(), width, e))?;
            if !more {
                break;
            }
            let row = splitter.record_number();
            if width > 1 && fields.is_blank() {
                continue;
            }
            if fields.len() != width {
                return Err(LoadCsvError::FieldCount { row, expected: width, found: fields.len() }.into());
            }
            summary.rows_read += 1;
            let visible = if everything {
                true
            } else {
                let mut visible = false;
                for filters in &policies {
                    let mut all = true;
                    for filter in *filters {
                        let (bytes, quoted) = fields.get(filter.column).unwrap_or_default();
                        let cell = type_cell(filter.column_type, bytes, quoted).map_err(|e| {
                            let column = self.schema.columns.get(filter.column);
                            match column {
                                Some(column) => cell_error(row, column, bytes, e),
                                None => LoadCsvError::FieldCount { row, expected: width, found: fields.len() },
                            }
                        })?;
                        if !filter.test.passes(&cell, filter.filter.not) {
                            all = false;
                            break;
                        }
                    }
                    if all {
                        visible = true;
                        break;
                    }
                }
                visible
            };
            if visible {
                output.write_all(splitter.raw()).map_err(StreamCsvError::Write)?;
                summary.rows_written += 1;
            }
        }
        output.flush().map_err(StreamCsvError::Write)?;
        Ok(summary)
    }
}
