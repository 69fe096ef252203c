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
/// (measured at 1M rows on two threads: 36 MB against 39 to 43 MB with the default 24,576, for
/// about 3% more CPU).
pub(super) const DIFF_BATCH_ROWS: usize = 16_384;

/// A worker's STRING filter answers kept across the batches it evaluates, one cache per policy set.
type Caches = (StringTests, StringTests);

impl DiffAccumulator<'_> {
    /// Accumulates the rows of a CSV read a batch at a time (with the new set's schema), each batch
    /// evaluated and counted on the worker threads of [`BatchOptions::threads`] and appended in file
    /// order: the same as [`DiffAccumulator::add_batch`] of every batch. Memory holds a few batches
    /// and one batch's row sets, whatever the file's size; batches hold at most 16,384 rows
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
        let (old, new) = self.policy_sets();
        if old.schema() != new.schema() {
            let empty = Table::from_csv(&b""[..], new.schema(), crate::HeaderRow::Absent)?;
            old.check_schema(&empty)?;
        }
        let (old_needed, new_needed) = self.needed_policies();
        let (old_aliases, new_aliases) = (old.filter_aliases(), new.filter_aliases());
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
        let options = BatchOptions { batch_rows: options.batch_rows.min(DIFF_BATCH_ROWS), ..options };
        let pool: Mutex<Vec<Caches>> = Mutex::new(Vec::new());
        let template = self.fork();
        let rows = map_batches_typing(
            reader,
            new.schema(),
            options,
            &Typed::Only(read),
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
                Ok::<_, DiffCsvError>(part)
            },
            |part| Ok(self.merge(part)?),
        )?;
        Ok(rows)
    }
}
