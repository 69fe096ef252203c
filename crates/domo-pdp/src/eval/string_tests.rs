//! STRING filter results kept across the batches of one pass: each distinct string is tested once per filter.

use hashbrown::HashMap;

use crate::filter::CompiledFilter;
use crate::table::StringColumn;

/// The most distinct strings kept per column; past it, new strings are tested in every batch.
const MAX_STRINGS_PER_COLUMN: usize = 1 << 18;
/// The most bytes of strings kept per column.
const MAX_BYTES_PER_COLUMN: usize = 16 << 20;

/// One column's strings seen so far in the pass, numbered in order of first sight.
#[derive(Debug, Default)]
struct Seen {
    codes: HashMap<Box<str>, u32>,
    bytes: usize,
    /// This batch's dictionary code to the pass's number (`u32::MAX`: not kept).
    batch: Vec<u32>,
    /// Whether `batch` is for the current batch.
    mapped: bool,
}

/// What each STRING filter said about each string kept, across batches.
///
/// A pass over many batches of one CSV tests every distinct string of a batch
/// against every non-EQUALS STRING filter (LIKE, BEGINS_WITH, … and any `not`);
/// the batches share most strings, so the answers are kept by string and only
/// new strings are tested. Memory is bounded by the caps on distinct strings.
#[derive(Debug, Default)]
pub(crate) struct StringTests {
    columns: HashMap<usize, Seen>,
    /// Per filter (by address, stable for the pass): per pass number, 0 unknown, 1 fails, 2 passes.
    results: HashMap<usize, Vec<u8>>,
}

impl StringTests {
    /// Forgets the mapping of the previous batch's codes (the strings and answers stay).
    pub(crate) fn next_batch(&mut self) {
        for seen in self.columns.values_mut() {
            seen.mapped = false;
        }
    }

    /// For each dictionary code of `column` (this batch's column `index`), whether the string passes `filter` (`not` applied).
    pub(crate) fn passes(&mut self, index: usize, column: &StringColumn, filter: &CompiledFilter) -> Vec<bool> {
        let seen = self.columns.entry(index).or_default();
        if !seen.mapped {
            seen.batch.clear();
            for s in column.dict.iter() {
                let next = u32::try_from(seen.codes.len()).unwrap_or(u32::MAX);
                let code = match seen.codes.get(s) {
                    Some(&code) => code,
                    None if seen.codes.len() < MAX_STRINGS_PER_COLUMN
                        && seen.bytes + s.len() <= MAX_BYTES_PER_COLUMN =>
                    {
                        seen.bytes += s.len();
                        seen.codes.insert(s.into(), next);
                        next
                    }
                    None => u32::MAX,
                };
                seen.batch.push(code);
            }
            seen.mapped = true;
        }
        let not = filter.filter.not;
        let known = self.results.entry(std::ptr::from_ref(filter) as usize).or_default();
        // The strings themselves are read only for the answers not known yet.
        seen.batch
            .iter()
            .enumerate()
            .map(|(local, &code)| {
                let slot = (code != u32::MAX).then_some(code as usize);
                if let Some(slot) = slot
                    && let Some(&answer) = known.get(slot)
                    && answer != 0
                {
                    return answer == 2;
                }
                let text = u32::try_from(local).ok().and_then(|local| column.dict.get(local)).unwrap_or_default();
                let answer = filter.test.test_str(text) != not;
                if let Some(slot) = slot {
                    if known.len() <= slot {
                        known.resize(slot + 1, 0);
                    }
                    if let Some(entry) = known.get_mut(slot) {
                        *entry = if answer { 2 } else { 1 };
                    }
                }
                answer
            })
            .collect()
    }
}
