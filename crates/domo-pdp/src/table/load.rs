//! The two-thread loader: one thread splits records into batches, workers type the columns.

use std::io::Read;
use std::sync::{Arc, mpsc};

use domo_model::{ColumnType, Schema};

use crate::csv_split::{Fields, Splitter};
use crate::parse;

use super::Table;
use super::cell::{CellError, cell_error, type_cell};
use super::column::{ColumnData, DecimalCells, Interned, NULL_CODE, Typed};
use super::error::{CsvLimits, LoadCsvError, check_header, header_split_error, record_splitter, split_error};
use super::value::HeaderRow;

/// Records handed from the splitting thread to the typing thread.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub(super) fields: Fields,
    /// The row number (1-based, as a spreadsheet shows it) of each record.
    pub(super) rows: Vec<u64>,
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
    fill_batch_up_to(splitter, width, batch, BATCH_RECORDS, BATCH_BYTES)
}

/// Fills a batch with up to `records` records (and about `bytes` bytes); `Ok(true)` at the end of input.
pub(super) fn fill_batch_up_to<R: Read>(
    splitter: &mut Splitter<R>,
    width: usize,
    batch: &mut Batch,
    records: usize,
    bytes: usize,
) -> Result<bool, LoadCsvError> {
    while batch.rows.len() < records && batch.fields.byte_len() < bytes {
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

/// One column being filled.
enum Filling {
    Data(ColumnData),
    Decimal(DecimalCells),
}

/// Some of the columns being filled, one record at a time.
pub(super) struct Builder<'s> {
    schema: &'s Schema,
    /// (column index, data), in column order.
    columns: Vec<(usize, Filling)>,
    rows: usize,
}

impl<'s> Builder<'s> {
    pub(super) fn new(schema: &'s Schema, part: Vec<usize>) -> Self {
        let columns = part
            .into_iter()
            .filter_map(|i| {
                schema.columns.get(i).map(|c| match c.column_type {
                    ColumnType::Decimal => (i, Filling::Decimal(DecimalCells::default())),
                    other => (i, Filling::Data(ColumnData::new(other))),
                })
            })
            .collect();
        Self { schema, columns, rows: 0 }
    }

    /// Types a batch, a column at a time; an error carries its row and column index, to
    /// find the first one (the earliest row, then the leftmost column).
    pub(super) fn add(&mut self, batch: &Batch) -> Result<(), (u64, usize, LoadCsvError)> {
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
            let data = match data {
                Filling::Decimal(c) => {
                    if let Err(error) = c.push_cells(cells, column, index)
                        && first.as_ref().is_none_or(|(row, column, _)| (error.0, error.1) < (*row, *column))
                    {
                        first = Some(error);
                    }
                    continue;
                }
                Filling::Data(data) => data,
            };
            let result = match data {
                ColumnData::String(c) => {
                    c.reserve(batch.rows.len());
                    let mut result = Ok(());
                    for (row, bytes, quoted) in cells {
                        let pushed = if bytes.is_empty() && !quoted { Ok(c.push(None)) } else { c.push_bytes(bytes) };
                        match pushed {
                            Ok(Some(())) => {}
                            Ok(None) => {
                                result = Err((row, index, LoadCsvError::TooLarge { row }));
                                break;
                            }
                            Err(Interned::NotUtf8) => {
                                result = Err((row, index, cell_error(row, column, bytes, CellError::Utf8)));
                                break;
                            }
                        }
                    }
                    result
                }
                ColumnData::Long(c) => c.push_cells(cells, column, index, parse::parse_long),
                ColumnData::Double(c) => c.push_cells(cells, column, index, parse::parse_double),
                ColumnData::Decimal(c) => c.push_cells(cells, column, index, parse::parse_decimal),
                ColumnData::Date(c) => c.push_cells(cells, column, index, super::fast::date),
                ColumnData::Datetime(c) => c.push_cells(cells, column, index, super::fast::datetime),
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
    pub(super) fn merge(schema: &Schema, builders: Vec<Builder<'_>>) -> Table {
        let rows = builders.first().map_or(0, |b| b.rows);
        let mut built: Vec<(usize, ColumnData)> = builders
            .into_iter()
            .flat_map(|b| b.columns)
            .map(|(index, filling)| match filling {
                Filling::Data(data) => (index, data),
                Filling::Decimal(cells) => (index, cells.finish(rows)),
            })
            .collect();
        built.sort_by_key(|(index, _)| *index);
        // A column no builder typed (a streaming pass reads only some) holds no rows: its
        // cells read as absent (`Table::value` gives `None`), never as a value.
        let mut built = built.into_iter().peekable();
        let mut columns: Vec<ColumnData> = Vec::with_capacity(schema.columns.len());
        for index in 0..schema.columns.len() {
            match built.next_if(|(i, _)| *i == index) {
                Some((_, data)) => columns.push(data),
                None => columns.push(ColumnData::String(super::column::StringColumn::default())),
            }
        }
        for data in &mut columns {
            match data {
                ColumnData::String(c) => c.codes.shrink_to_fit(),
                ColumnData::Long(c) => c.finish(rows),
                ColumnData::Double(c) => c.finish(rows),
                // Finished with the builder's `DecimalCells`.
                ColumnData::Decimal(_) | ColumnData::ScaledDecimal { .. } => {}
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
}
