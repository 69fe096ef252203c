//! STRING filter results kept across the batches of one pass: each distinct string is tested once per filter.

use hashbrown::{HashMap, HashTable};

use crate::filter::CompiledFilter;
use crate::table::{StringColumn, short_eq};

/// The most distinct strings kept per column; past it, new strings are tested in every batch.
const MAX_STRINGS_PER_COLUMN: usize = 1 << 18;
/// The most bytes of strings kept per column.
const MAX_BYTES_PER_COLUMN: usize = 16 << 20;

/// A code or number that is not there: a string not kept (past the caps), or not in this batch.
const NONE: u32 = u32::MAX;

/// One column's strings seen so far in the pass, numbered in order of first sight.
#[derive(Debug, Default)]
struct Seen {
    /// The strings end to end, by number (one allocation, read in order when testing new ones).
    text: String,
    /// Where each string ends in `text`.
    ends: Vec<usize>,
    /// The numbers, by the hash of their string.
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    /// This batch's dictionary code to the pass's number (`NONE`: not kept).
    number_of: Vec<u32>,
    /// The pass's number to this batch's dictionary code (`NONE`: not in this batch).
    code_of: Vec<u32>,
    /// This batch's codes whose strings are not kept (tested in every batch).
    unkept: Vec<u32>,
    /// Whether the three maps above are for the current batch.
    mapped: bool,
}

impl Seen {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn string(&self, number: usize) -> Option<&str> {
        let end = *self.ends.get(number)?;
        let start = number.checked_sub(1).map_or(Some(0), |previous| self.ends.get(previous).copied())?;
        self.text.get(start..end)
    }

    /// The number of `s`, numbering it if it is new and the caps allow; `NONE` otherwise.
    fn number(&mut self, s: &str, caps: Caps) -> u32 {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(s.as_bytes());
        let (text, ends) = (&self.text, &self.ends);
        let is = |&number: &u32| {
            let end = ends.get(number as usize).copied().unwrap_or(0);
            let start = (number as usize).checked_sub(1).and_then(|previous| ends.get(previous)).copied().unwrap_or(0);
            text.as_bytes().get(start..end).is_some_and(|kept| short_eq(kept, s.as_bytes()))
        };
        if let Some(&number) = self.index.find(hash, is) {
            return number;
        }
        let Some(number) = u32::try_from(self.len()).ok().filter(|&n| n != NONE) else { return NONE };
        if self.len() >= caps.strings || self.text.len() + s.len() > caps.bytes {
            return NONE;
        }
        self.text.push_str(s);
        self.ends.push(self.text.len());
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.index.insert_unique(hash, number, |&n| {
            let end = ends.get(n as usize).copied().unwrap_or(0);
            let start = (n as usize).checked_sub(1).and_then(|previous| ends.get(previous)).copied().unwrap_or(0);
            hasher.hash_one(text.as_bytes().get(start..end).unwrap_or_default())
        });
        number
    }

    /// Numbers this batch's strings (new ones while under the caps) and maps codes to numbers and back.
    fn map(&mut self, column: &StringColumn, caps: Caps) {
        self.number_of.clear();
        self.unkept.clear();
        for (code, s) in column.dict.iter().enumerate() {
            let number = self.number(s, caps);
            if number == NONE {
                self.unkept.extend(u32::try_from(code).ok());
            }
            self.number_of.push(number);
        }
        self.code_of.clear();
        self.code_of.resize(self.len(), NONE);
        for (code, &number) in self.number_of.iter().enumerate() {
            if let Some(slot) = self.code_of.get_mut(number as usize) {
                *slot = u32::try_from(code).unwrap_or(NONE);
            }
        }
        self.mapped = true;
    }
}

/// One filter's answers, by the pass's number of each string.
#[derive(Debug, Default)]
struct Answers {
    /// How many of the column's strings (by number) have been tested.
    tested: usize,
    /// One bit per tested string: whether it passes (`not` applied).
    bits: Vec<u64>,
    /// The passing numbers, ascending, kept while they take no more than a byte per tested string
    /// (a filter passing few strings then maps few numbers per batch, not the whole dictionary).
    passing: Option<Vec<u32>>,
}

impl Answers {
    /// Tests the strings numbered since the last call.
    fn catch_up(&mut self, seen: &Seen, filter: &CompiledFilter) {
        let not = filter.filter.not;
        self.bits.resize(seen.len().div_ceil(64), 0);
        for number in self.tested..seen.len() {
            if seen.string(number).is_some_and(|s| filter.test.test_str(s) != not) {
                if let Some(word) = self.bits.get_mut(number / 64) {
                    *word |= 1 << (number % 64);
                }
                if let Some(passing) = &mut self.passing {
                    passing.extend(u32::try_from(number).ok());
                }
            }
        }
        self.tested = seen.len();
        if self.passing.as_ref().is_some_and(|passing| passing.len() * 4 > self.tested) {
            self.passing = None;
        }
    }

    fn passes(&self, number: u32) -> bool {
        self.bits.get(number as usize / 64).is_some_and(|word| word >> (number % 64) & 1 == 1)
    }
}

/// The caps on the strings kept per column.
#[derive(Debug, Clone, Copy)]
struct Caps {
    strings: usize,
    bytes: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Self { strings: MAX_STRINGS_PER_COLUMN, bytes: MAX_BYTES_PER_COLUMN }
    }
}

/// What each STRING filter said about each string kept, across batches.
///
/// A pass over many batches of one CSV tests every distinct string of a batch
/// against every non-EQUALS STRING filter (LIKE, BEGINS_WITH, … and any `not`);
/// the batches share most strings, so the answers are kept by string and only
/// new strings are tested. Filters that are equal (same column, operator,
/// values and `not`) share their answers. Memory is bounded by the caps on
/// distinct strings: per filter, at most a bit and a byte per string kept.
#[derive(Debug, Default)]
pub(crate) struct StringTests {
    caps: Caps,
    columns: HashMap<usize, Seen>,
    answers: HashMap<CompiledFilter, Answers>,
}

impl StringTests {
    /// Forgets the mapping of the previous batch's codes (the strings and answers stay).
    pub(crate) fn next_batch(&mut self) {
        for seen in self.columns.values_mut() {
            seen.mapped = false;
        }
    }

    /// The dictionary codes of `column` (this batch's column `index`) whose strings pass `filter`
    /// (`not` applied), in no particular order, each once.
    pub(crate) fn passes(&mut self, index: usize, column: &StringColumn, filter: &CompiledFilter) -> Vec<u32> {
        let caps = self.caps;
        let seen = self.columns.entry(index).or_default();
        if !seen.mapped {
            seen.map(column, caps);
        }
        let answers = match self.answers.get_mut(filter) {
            Some(answers) => answers,
            None => self
                .answers
                .entry(filter.clone())
                .or_insert_with(|| Answers { passing: Some(Vec::new()), ..Answers::default() }),
        };
        answers.catch_up(seen, filter);
        let mut codes = Vec::new();
        match &answers.passing {
            Some(passing) => {
                for &number in passing {
                    if let Some(&code) = seen.code_of.get(number as usize)
                        && code != NONE
                    {
                        codes.push(code);
                    }
                }
            }
            None => {
                for (code, &number) in seen.number_of.iter().enumerate() {
                    if number != NONE && answers.passes(number) {
                        codes.extend(u32::try_from(code).ok());
                    }
                }
            }
        }
        let not = filter.filter.not;
        for &code in &seen.unkept {
            if column.dict.get(code).is_some_and(|s| filter.test.test_str(s) != not) {
                codes.push(code);
            }
        }
        codes
    }
}

#[cfg(test)]
mod tests {
    use domo_model::{Column, ColumnType, FilterOperator, PolicyFilter, Schema};
    use proptest::prelude::*;

    use super::*;
    use crate::filter::compile_test;
    use crate::table::{ColumnData, HeaderRow, Table};

    /// A one-column STRING table of these cells (`None`: NULL).
    fn batch(cells: &[Option<String>]) -> Table {
        let schema = Schema { columns: vec![Column::new(ColumnType::String, "s")] };
        let mut csv = String::new();
        for cell in cells {
            if let Some(cell) = cell {
                csv.push('"');
                csv.push_str(cell);
                csv.push('"');
            }
            csv.push('\n');
        }
        Table::from_csv(csv.as_bytes(), &schema, HeaderRow::Absent).unwrap()
    }

    fn filter(operator: FilterOperator, values: Vec<String>, not: bool) -> CompiledFilter {
        let filter = PolicyFilter { column: "s".into(), values, operator, not };
        let test = compile_test(&filter, ColumnType::String).unwrap();
        CompiledFilter { column: 0, column_type: ColumnType::String, filter, test }
    }

    fn strings() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["", "a", "ab", "abc", "b", "ba", "bab", "c", "ca", "abab", "cab", "x"])
            .prop_map(str::to_owned)
    }

    fn filters() -> impl Strategy<Value = CompiledFilter> {
        let operator = prop::sample::select(vec![
            FilterOperator::Like,
            FilterOperator::BeginsWith,
            FilterOperator::EndsWith,
            FilterOperator::Contains,
            FilterOperator::Equals,
        ]);
        let pattern =
            prop::sample::select(vec!["a", "b", "ab", "a%", "%b", "_", "%", "c_", "x", ""]).prop_map(str::to_owned);
        (operator, prop::collection::vec(pattern, 1..3), any::<bool>())
            .prop_map(|(operator, values, not)| filter(operator, values, not))
    }

    proptest! {
        /// Over a pass of batches, each filter's codes are exactly those whose strings pass it,
        /// with answers shared between equal filters, and with caps small enough to leave strings unkept.
        #[test]
        fn kept_answers_are_the_answers_of_testing_each_string(
            batches in prop::collection::vec(prop::collection::vec(prop::option::of(strings()), 0..12), 1..6),
            filters in prop::collection::vec(filters(), 1..6),
            cap in 0usize..14,
            bytes in prop_oneof![Just(usize::MAX), 0usize..12],
        ) {
            let mut tests = StringTests { caps: Caps { strings: cap, bytes }, ..StringTests::default() };
            for cells in &batches {
                let table = batch(cells);
                let Some(ColumnData::String(column)) = table.column_data(0) else { panic!("a STRING column") };
                tests.next_batch();
                for filter in filters.iter().chain(&filters) {
                    let mut got = tests.passes(0, column, filter);
                    got.sort_unstable();
                    let expected: Vec<u32> = (0..column.dict.len() as u32)
                        .filter(|&code| filter.test.test_str(column.dict.get(code).unwrap()) != filter.filter.not)
                        .collect();
                    prop_assert_eq!(got, expected, "{:?} in {:?}", filter.filter, cells);
                }
            }
        }
    }
}
