//! The diff accumulated from a CSV read in batches, each batch evaluated and counted on a worker thread.

use std::io::Read;
use std::sync::Mutex;

use super::{DiffAccumulator, MergeDiffError};
use crate::eval::{Parallel, SchemaMismatchError, StringTests};
use crate::table::{BatchOptions, LoadCsvError, Table, Typed, map_batches_typing};

/// Why a diff of rows read from CSV failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffCsvError {
    /// The input is not valid CSV for the schema.
    #[error(transparent)]
    Load(#[from] LoadCsvError),
    /// The two policy sets were compiled against different schemas.
    #[error(transparent)]
    Schema(#[from] SchemaMismatchError),
    /// Never: every batch's part is forked from the accumulator it is merged into.
    #[error(transparent)]
    Merge(#[from] MergeDiffError),
}

/// The most rows a batch of [`DiffAccumulator::add_csv`] holds: the diff holds two compiled policy
/// sets where the counts hold one, so its batches are smaller to stay within the same memory
/// (measured at 1M rows on two threads: 33 to 34 MB against 39 to 43 MB with the default 24,576
/// and 34 to 38 MB with 16,384, for about 3% more CPU than 24,576).
pub(super) const DIFF_BATCH_ROWS: usize = 12_288;

/// A worker's STRING filter answers kept across the batches it evaluates, one cache per policy set.
type Caches = (StringTests, StringTests);

impl DiffAccumulator<'_> {
    /// Accumulates the rows of a CSV read a batch at a time (with the new set's schema), each batch
    /// evaluated and counted on the worker threads of [`BatchOptions::threads`] and appended in file
    /// order: the same as [`DiffAccumulator::add_batch`] of every batch. Memory holds a few batches
    /// and one batch's row sets, whatever the file's size; batches hold at most 12,288 rows
    /// (fewer if [`BatchOptions::batch_rows`] says so).
    ///
    /// Only the policies of principals whose rows may change are evaluated, and only the columns
    /// their filters read are typed: the others are split (quoting and field counts are checked)
    /// but their cells are not, as no answer depends on them. Returns the rows read.
    ///
    /// # Errors
    ///
    /// The first problem in the CSV, as [`Table::from_csv_with_limits`] reports it, in the columns
    /// read; or the old set's schema is not the new set's (nothing is read then).
    pub fn add_csv<R: Read>(&mut self, reader: R, options: BatchOptions) -> Result<u64, DiffCsvError> {
        let read = Typed::Only(self.columns_read());
        self.add_csv_typing(reader, options, &read, |_, _| (), |_, _, ()| {})
    }

    /// [`DiffAccumulator::add_csv`] for a caller that shows the example rows (their text, say):
    /// every column is typed and checked, and while a batch is at hand on a worker, `keep` gets it
    /// with the rows (0-based in the batch) that may become examples; once the batch is appended,
    /// `take` gets, on the calling thread in file order, the batch's first row (0-based in the
    /// file), those of its rows that are examples now (0-based in the file, as
    /// [`ChangedRows::first`](super::ChangedRows::first) holds them) and what `keep` returned. An
    /// example row stays one, so what `take` keeps never grows past the examples.
    ///
    /// # Errors
    ///
    /// As [`DiffAccumulator::add_csv`], in every column.
    pub fn add_csv_keeping<R: Read, T: Send>(
        &mut self,
        reader: R,
        options: BatchOptions,
        keep: impl Fn(&Table, &[usize]) -> T + Sync,
        take: impl FnMut(usize, &[usize], T),
    ) -> Result<u64, DiffCsvError> {
        self.add_csv_typing(reader, options, &Typed::Every, keep, take)
    }

    /// The columns the policies of the changing pairs read, ascending.
    fn columns_read(&self) -> Vec<usize> {
        let (old, new) = self.policy_sets();
        let (old_needed, new_needed) = self.needed_policies();
        let mut read: Vec<usize> = [(old, &old_needed), (new, &new_needed)]
            .into_iter()
            .flat_map(|(set, needed)| {
                set.policies()
                    .iter()
                    .zip(needed)
                    .filter(|(_, needed)| **needed)
                    .flat_map(|(policy, _)| policy.filters().iter().map(|f| f.column()))
            })
            .collect();
        read.sort_unstable();
        read.dedup();
        read
    }

    fn add_csv_typing<R: Read, T: Send>(
        &mut self,
        reader: R,
        options: BatchOptions,
        typed: &Typed,
        keep: impl Fn(&Table, &[usize]) -> T + Sync,
        mut take: impl FnMut(usize, &[usize], T),
    ) -> Result<u64, DiffCsvError> {
        let (old, new) = self.policy_sets();
        if old.schema() != new.schema() {
            let empty = Table::from_csv(&b""[..], new.schema(), crate::HeaderRow::Absent)?;
            old.check_schema(&empty)?;
        }
        let (old_needed, new_needed) = self.needed_policies();
        let (old_aliases, new_aliases) = (old.filter_aliases(), new.filter_aliases());
        let options = BatchOptions { batch_rows: options.batch_rows.min(DIFF_BATCH_ROWS), ..options };
        let pool: Mutex<Vec<Caches>> = Mutex::new(Vec::new());
        let template = self.fork();
        let rows = map_batches_typing(
            reader,
            new.schema(),
            options,
            typed,
            |batch| {
                let table = batch.table();
                let n = table.row_count();
                let (mut old_tests, mut new_tests) =
                    pool.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_default();
                let old_rows = old.row_sets(table, &old_aliases, Some(&old_needed), Parallel::No, Some(&mut old_tests));
                let new_rows = new.row_sets(table, &new_aliases, Some(&new_needed), Parallel::No, Some(&mut new_tests));
                if let Ok(mut pool) = pool.lock() {
                    pool.push((old_tests, new_tests));
                }
                let mut part = template.fork();
                part.add_policy_rows(n, &old_rows, &new_rows);
                let kept = keep(table, &part.example_rows_from(0));
                Ok::<_, DiffCsvError>((part, kept))
            },
            |(part, kept)| {
                let first = self.rows();
                self.merge(part)?;
                take(first, &self.example_rows_from(first), kept);
                Ok(())
            },
        )?;
        Ok(rows)
    }
}
