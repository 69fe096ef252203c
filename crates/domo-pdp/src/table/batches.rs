//! Reading a CSV as a stream of small tables (batches) typed on worker threads and handed out in file order.

use std::collections::BTreeMap;
use std::io::Read;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, mpsc};

use domo_model::Schema;

use crate::csv_split::{Fields, Splitter};

use super::Table;
use super::error::{CsvLimits, LoadCsvError, check_header, header_split_error, record_splitter};
use super::load::{Batch, Builder, fill_batch_up_to};
use super::value::HeaderRow;

/// How many threads an engine pass uses.
///
/// With one, everything runs on the calling thread; with more, the calling
/// thread splits records and that many workers type (and evaluate) batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Threads {
    /// The environment variable `DOMO_PDP_THREADS` when it holds a number from
    /// 1 to 64, else the machine's cores (at most 64).
    #[default]
    Auto,
    /// Exactly this many (at most 64).
    Exactly(NonZeroUsize),
}

impl Threads {
    /// One thread: the calling one.
    pub const ONE: Threads = Threads::Exactly(NonZeroUsize::MIN);

    /// The most threads a pass uses.
    pub const MAX: usize = 64;

    /// How many threads this means here, from 1 to [`Threads::MAX`].
    pub fn count(self) -> usize {
        match self {
            Threads::Exactly(n) => n.get().min(Self::MAX),
            Threads::Auto => std::env::var("DOMO_PDP_THREADS")
                .ok()
                .and_then(|text| text.trim().parse::<usize>().ok())
                .filter(|n| (1..=Self::MAX).contains(n))
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get).min(Self::MAX)),
        }
    }
}

/// How [`Table::for_each_batch`] and [`Table::map_batches`] read a CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Whether the CSV starts with a header row (checked against the schema).
    pub header: HeaderRow,
    /// Limits on one record.
    pub limits: CsvLimits,
    /// The most rows a batch holds (at least 1). Default: [`BatchOptions::DEFAULT_BATCH_ROWS`].
    pub batch_rows: usize,
    /// Threads typing batches.
    pub threads: Threads,
}

impl BatchOptions {
    /// 24,576 rows: a few MiB a batch for rows of a hundred bytes (about 6 MiB in flight a batch
    /// on the 9-column benchmark: its fields, typed columns and row sets).
    pub const DEFAULT_BATCH_ROWS: usize = 24_576;

    /// A batch stops taking records past this many bytes of cells (it holds at least one).
    pub const MAX_BATCH_BYTES: usize = 8 << 20;
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            header: HeaderRow::Present,
            limits: CsvLimits::default(),
            batch_rows: Self::DEFAULT_BATCH_ROWS,
            threads: Threads::Auto,
        }
    }
}

/// Some consecutive rows of a CSV, as an ordinary [`Table`].
///
/// The batch's rows are numbered from 0 inside [`TableBatch::table`]; its
/// STRING dictionaries hold only the batch's strings.
#[derive(Debug)]
pub struct TableBatch {
    table: Table,
    first_row: usize,
    csv_rows: CsvRows,
}

/// The file's record number of each row of a batch.
#[derive(Debug)]
enum CsvRows {
    /// Consecutive from this one (no blank line skipped inside the batch): the common case,
    /// which needs no list.
    From(u64),
    /// Each row's, when some were skipped.
    Listed(Vec<u64>),
}

impl CsvRows {
    /// The record numbers of a batch's rows, in increasing order.
    fn of(rows: &[u64]) -> Self {
        match (rows.first(), rows.last()) {
            (Some(&first), Some(&last)) if last - first == rows.len() as u64 - 1 => CsvRows::From(first),
            (None, _) => CsvRows::From(0),
            _ => CsvRows::Listed(rows.to_vec()),
        }
    }
}

impl TableBatch {
    /// The batch's rows, typed.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The batch's rows, typed, kept.
    pub fn into_table(self) -> Table {
        self.table
    }

    /// The 0-based number, in the whole CSV, of the batch's first row: the
    /// number [`Table::from_csv`] gives that row.
    pub fn first_row(&self) -> usize {
        self.first_row
    }

    /// The 1-based record number in the file (as a spreadsheet shows it, the
    /// header being record 1) of the batch's row `row`; `None` past the batch.
    pub fn csv_row(&self, row: usize) -> Option<u64> {
        match &self.csv_rows {
            CsvRows::From(first) => (row < self.table.row_count()).then(|| first + row as u64),
            CsvRows::Listed(rows) => rows.get(row).copied(),
        }
    }
}

/// A splitter positioned after the header (checked when present).
fn open<R: Read>(reader: R, schema: &Schema, options: &BatchOptions) -> Result<Splitter<R>, LoadCsvError> {
    let mut splitter = record_splitter(reader, schema.columns.len(), options.limits);
    if options.header == HeaderRow::Present {
        let mut fields = Fields::default();
        if splitter.next_record(&mut fields).map_err(|e| header_split_error(1, schema, e))? {
            check_header(schema, &fields)?;
        }
    }
    Ok(splitter)
}

/// Types one batch of records into a table.
fn type_batch(schema: &Schema, batch: &Batch, first_row: usize, typed: &Typed) -> Result<TableBatch, LoadCsvError> {
    let part = match typed {
        Typed::Every => (0..schema.columns.len()).collect(),
        Typed::Only(columns) => columns.clone(),
    };
    let mut builder = Builder::new(schema, part);
    builder.add(batch).map_err(|(_, _, error)| error)?;
    let table = Builder::merge(schema, vec![builder]);
    Ok(TableBatch { table, first_row, csv_rows: CsvRows::of(&batch.rows) })
}

/// Which columns a pass types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Typed {
    /// Every column: a batch is checked as `Table::from_csv` checks a table.
    Every,
    /// Only these (ascending); the others are split but neither typed nor checked, and a
    /// batch's table holds no cell for them.
    Only(Vec<usize>),
}

/// A worker's answer for one batch: its result, or the panic it raised.
type Answer<T, E> = std::thread::Result<Result<T, E>>;

/// Why a parallel pass stopped early.
enum Stop<E> {
    Error(E),
    Panic(Box<dyn std::any::Any + Send>),
}

impl Table {
    /// Reads CSV from `reader` a batch of rows at a time and calls `f` on each
    /// batch, in file order; memory holds a few batches, whatever the file's size.
    ///
    /// Cells are typed as [`Table::from_csv`] types them, and a batch's rows
    /// are numbered from [`TableBatch::first_row`] in the whole file. With
    /// more than one [thread](BatchOptions::threads), workers type the next
    /// batches while `f` runs on the calling thread.
    ///
    /// Returns the number of data rows read.
    ///
    /// # Errors
    ///
    /// The first problem in file order: the same [`LoadCsvError`]
    /// [`Table::from_csv_with_limits`] would report (naming the file's row,
    /// not the batch's), or the first error `f` returns, which stops the pass.
    pub fn for_each_batch<R, E>(
        reader: R,
        schema: &Schema,
        options: BatchOptions,
        mut f: impl FnMut(&TableBatch) -> Result<(), E>,
    ) -> Result<u64, E>
    where
        R: Read,
        E: From<LoadCsvError> + Send,
    {
        Self::map_batches(reader, schema, options, |batch| Ok(batch), |batch| f(&batch))
    }

    /// Reads CSV from `reader` a batch of rows at a time: `map` runs on each
    /// batch on the worker threads, in any order and in parallel, and `fold`
    /// receives their results on the calling thread in file order.
    ///
    /// Returns the number of data rows read.
    ///
    /// # Errors
    ///
    /// As [`Table::for_each_batch`]: the first problem in file order, be it a
    /// [`LoadCsvError`] or an error of `map` or `fold`.
    pub fn map_batches<R, T, E>(
        reader: R,
        schema: &Schema,
        options: BatchOptions,
        map: impl Fn(TableBatch) -> Result<T, E> + Sync,
        fold: impl FnMut(T) -> Result<(), E>,
    ) -> Result<u64, E>
    where
        R: Read,
        T: Send,
        E: From<LoadCsvError> + Send,
    {
        map_batches_typing(reader, schema, options, &Typed::Every, map, fold)
    }
}

/// [`Table::map_batches`] typing only the columns `typed` names.
pub(crate) fn map_batches_typing<R, T, E>(
    reader: R,
    schema: &Schema,
    options: BatchOptions,
    typed: &Typed,
    map: impl Fn(TableBatch) -> Result<T, E> + Sync,
    mut fold: impl FnMut(T) -> Result<(), E>,
) -> Result<u64, E>
where
    R: Read,
    T: Send,
    E: From<LoadCsvError> + Send,
{
    let mut splitter = open(reader, schema, &options)?;
    let workers = options.threads.count();
    if workers <= 1 {
        return sequential(&mut splitter, schema, &options, typed, &map, &mut fold);
    }
    let width = schema.columns.len();
    let batch_rows = options.batch_rows.max(1);
    let mut rows_read = 0u64;
    let mut stopped: Option<E> = None;
    let mut split_failed: Option<LoadCsvError> = None;
    let mut panicked: Option<Box<dyn std::any::Any + Send>> = None;
    std::thread::scope(|scope| {
        let (answers, answered) = mpsc::channel::<(u64, Answer<T, E>)>();
        let (recycle, spare) = mpsc::channel::<Batch>();
        // One queue for every worker: the next batch goes to whichever worker is free
        // first (handing them out in turn would wait on a slow worker while another idles).
        // The workers own the receiving end, so sending fails once they are all gone.
        let (sender, incoming) = mpsc::sync_channel::<(u64, usize, Batch)>(0);
        let incoming = Arc::new(Mutex::new(incoming));
        for _ in 0..workers {
            let (answers, recycle, map, incoming) = (answers.clone(), recycle.clone(), &map, Arc::clone(&incoming));
            scope.spawn(move || {
                loop {
                    // A worker waits for the queue while holding its lock: the others would
                    // wait for a batch anyway. No worker panics while holding it.
                    let next = match incoming.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => break,
                    };
                    let Ok((index, first_row, mut batch)) = next else { break };
                    let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let typed = type_batch(schema, &batch, first_row, typed);
                        // The split records go back before `map` runs, so that they are
                        // not held while the typed batch is. The calling thread may have
                        // stopped; a lost spare batch costs nothing.
                        let _ = recycle.send(std::mem::take(&mut batch));
                        typed.map_err(E::from).and_then(map)
                    }));
                    if answers.send((index, answer)).is_err() {
                        break;
                    }
                }
            });
        }
        drop((answers, recycle, incoming));
        let mut sender = Some(sender);
        let most_in_flight = workers as u64 + 1;
        let (mut sent, mut folded, mut first_row) = (0u64, 0u64, 0usize);
        let mut pending: BTreeMap<u64, Answer<T, E>> = BTreeMap::new();
        // Folds the answers that are next in file order; an error or panic stops the pass.
        let mut fold_ready = |pending: &mut BTreeMap<u64, Answer<T, E>>, folded: &mut u64| -> Result<(), Stop<E>> {
            while let Some(answer) = pending.remove(folded) {
                *folded += 1;
                match answer {
                    Ok(result) => result.and_then(&mut fold).map_err(Stop::Error)?,
                    Err(panic) => return Err(Stop::Panic(panic)),
                }
            }
            Ok(())
        };
        let mut stop: Option<Stop<E>> = None;
        while stop.is_none() {
            let mut batch = spare.try_recv().unwrap_or_default();
            batch.fields.clear();
            batch.rows.clear();
            let filled = fill_batch_up_to(&mut splitter, width, &mut batch, batch_rows, BatchOptions::MAX_BATCH_BYTES);
            if !batch.rows.is_empty() {
                let rows = batch.rows.len();
                if sender.as_ref().is_none_or(|queue| queue.send((sent, first_row, batch)).is_err()) {
                    break;
                }
                sent += 1;
                first_row += rows;
                rows_read += rows as u64;
            }
            let done = match filled {
                Err(error) => {
                    split_failed = Some(error);
                    true
                }
                Ok(done) => done,
            };
            // Take what is done; wait while too many batches are in flight.
            while stop.is_none() {
                let answer =
                    if sent - folded >= most_in_flight { answered.recv().ok() } else { answered.try_recv().ok() };
                let Some((index, answer)) = answer else { break };
                pending.insert(index, answer);
                stop = fold_ready(&mut pending, &mut folded).err();
            }
            if done {
                break;
            }
        }
        drop(sender.take());
        // The batches still in flight come before any splitting error.
        while folded < sent && stop.is_none() {
            let Ok((index, answer)) = answered.recv() else { break };
            pending.insert(index, answer);
            stop = fold_ready(&mut pending, &mut folded).err();
        }
        match stop {
            Some(Stop::Error(error)) => stopped = Some(error),
            Some(Stop::Panic(panic)) => panicked = Some(panic),
            None => {}
        }
    });
    if let Some(panic) = panicked {
        std::panic::resume_unwind(panic);
    }
    if let Some(error) = stopped {
        return Err(error);
    }
    if let Some(error) = split_failed {
        return Err(error.into());
    }
    Ok(rows_read)
}

/// [`Table::map_batches`] on the calling thread alone.
fn sequential<R: Read, T, E: From<LoadCsvError>>(
    splitter: &mut Splitter<R>,
    schema: &Schema,
    options: &BatchOptions,
    typed: &Typed,
    map: &impl Fn(TableBatch) -> Result<T, E>,
    fold: &mut impl FnMut(T) -> Result<(), E>,
) -> Result<u64, E> {
    let width = schema.columns.len();
    let mut batch = Batch::default();
    let mut first_row = 0usize;
    loop {
        batch.fields.clear();
        batch.rows.clear();
        let filled =
            fill_batch_up_to(splitter, width, &mut batch, options.batch_rows.max(1), BatchOptions::MAX_BATCH_BYTES);
        // Even when splitting failed, the rows before the failure are typed first:
        // a bad cell there is the first problem.
        if !batch.rows.is_empty() {
            let table = type_batch(schema, &batch, first_row, typed)?;
            first_row += batch.rows.len();
            fold(map(table)?)?;
        }
        if filled? {
            return Ok(first_row as u64);
        }
    }
}
