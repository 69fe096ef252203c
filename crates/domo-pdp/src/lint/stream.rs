//! The data findings from a CSV read in batches on the worker threads, evaluating only what a
//! finding still needs.

use std::io::Read;
use std::sync::{Arc, Mutex};

use super::Linter;
use super::data::{LintRows, Needs};
use crate::eval::{Parallel, StringTests};
use crate::rowset::RowSet;
use crate::table::{BatchOptions, LoadCsvError, Table, Typed, map_batches_typing};

/// The most rows a batch of [`Linter::rows_csv`] holds: lint types every column and keeps a row set
/// per policy and their union for a batch, so its batches are smaller than the counts' to stay
/// within the same memory (measured at 1M rows on two threads: 35 MB against 42 MB with the default
/// 24,576, for no measurable CPU).
const LINT_BATCH_ROWS: usize = 16_384;

impl Linter {
    /// The data findings' accumulator filled from CSV read a batch at a time (on the worker threads
    /// of [`BatchOptions::threads`]): the same [`LintRows`] as [`LintRows::add`] of every batch in
    /// order, so [`Linter::finish`] gives the same report, in memory that does not grow with the rows.
    ///
    /// Each batch evaluates only the policies some finding still needs: once a policy has admitted
    /// some rows and missed others, and no hidden-row count or possible redundancy reads its rows,
    /// later batches leave it out; values already found and samples already full are not looked for
    /// again. Every cell is typed and checked, as [`Table::from_csv`] does. Batches hold at most
    /// 16,384 rows (fewer if [`BatchOptions::batch_rows`] says so).
    ///
    /// # Errors
    ///
    /// The first problem in the CSV, as [`Table::from_csv_with_limits`] reports it.
    ///
    /// ```
    /// # use domo_pdp::{BatchOptions, HeaderRow, Linter};
    /// # let dataset: domo_model::Dataset = serde_json::from_str(r#"{"id": "d", "name": "n", "pdpEnabled": true,
    /// #     "schema": {"columns": [{"type": "LONG", "name": "n"}]}}"#).unwrap();
    /// # let policies: Vec<domo_model::Policy> = serde_json::from_str(r#"[{"id": 1, "name": "big",
    /// #     "filters": [{"column": "n", "operator": "GREATER_THAN", "values": ["100"]}], "users": [1]}]"#).unwrap();
    /// # let directory: domo_model::Directory = serde_json::from_str(r#"{"users": [{"id": 1, "name": "Ann"}]}"#).unwrap();
    /// let linter = Linter::new(&dataset, &policies, &directory);
    /// let options = BatchOptions { header: HeaderRow::Present, batch_rows: 2, ..BatchOptions::default() };
    /// let rows = linter.rows_csv("n\n1\n2\n3\n".as_bytes(), options)?;
    /// assert_eq!(rows.row_count(), 3);
    /// let report = linter.finish(rows);
    /// let texts: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    /// assert!(texts.contains(&"policy 1 `big`: matches none of the 3 rows, so it grants nothing".to_owned()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rows_csv<R: Read>(&self, reader: R, options: BatchOptions) -> Result<LintRows<'_>, LoadCsvError> {
        let mut rows = self.rows();
        let Some(set) = &self.set else {
            Table::map_batches(
                reader,
                &self.schema,
                options,
                |batch| Ok::<_, LoadCsvError>(batch.table().row_count() as u64),
                |n| {
                    rows.skip_rows(n);
                    Ok(())
                },
            )?;
            return Ok(rows);
        };
        let options = BatchOptions { batch_rows: options.batch_rows.min(LINT_BATCH_ROWS), ..options };
        let aliases = set.filter_aliases();
        // What the batches still have to tell, by the batches folded so far (a hint that only shrinks).
        let needs: Mutex<Arc<Needs>> = Mutex::new(Arc::new(rows.needs()));
        // Each worker keeps its STRING filters' answers across the batches it evaluates.
        let pool: Mutex<Vec<StringTests>> = Mutex::new(Vec::new());
        map_batches_typing(
            reader,
            set.schema(),
            options,
            &Typed::Every,
            |batch| {
                let needs = match needs.lock() {
                    Ok(needs) => Arc::clone(&needs),
                    Err(_) => Arc::new(Needs::everything(&self.plan)),
                };
                let table = batch.table();
                let mut tests = pool.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_default();
                let sets = set.row_sets(table, &aliases, Some(&needs.policies), Parallel::No, Some(&mut tests));
                if let Ok(mut pool) = pool.lock() {
                    pool.push(tests);
                }
                let policy_rows: Vec<Option<&RowSet>> = sets.iter().map(Some).collect();
                let mut part = self.rows();
                part.take(set, table, &policy_rows, &needs);
                Ok::<_, LoadCsvError>(part)
            },
            |part| {
                rows.merge(part);
                if let Ok(mut needs) = needs.lock() {
                    *needs = Arc::new(rows.needs());
                }
                Ok(())
            },
        )?;
        Ok(rows)
    }
}
