//! The scan kernel: one policy's rows, from posting lists or column scans into bitmaps.

use std::borrow::Cow;

use fixedbitset::FixedBitSet;
use rust_decimal::Decimal;

use crate::compile::CompiledPolicy;
use crate::filter::{Cmp, CompiledFilter, OrdTest, Test};
use crate::rowset::RowSet;
use crate::table::{ColumnData, NULL_CODE, StringColumn, Table};

use super::integer_tests::{narrow_test, scaled_test};
use super::ranges::{Decided, Ranges};
use super::string_tests::StringTests;

/// Which dictionary codes pass a STRING filter.
enum Pass {
    /// One answer per code (the dictionary's length).
    Each(Vec<bool>),
    /// The passing codes, ascending, when the filter named them (EQUALS): spares a
    /// vector as long as the dictionary, built for every policy of every batch.
    Named(Vec<u32>),
    /// The passing codes in any order, and the same as one bit per code (from the
    /// answers kept across batches: only the passing strings are mapped to codes).
    Set { codes: Vec<u32>, bits: Vec<u64> },
}

impl Pass {
    /// The passing codes given as a list, and a bit per code.
    fn set(codes: Vec<u32>, dictionary: usize) -> Self {
        let mut bits = vec![0u64; dictionary.div_ceil(64)];
        for &code in codes.iter() {
            if let Some(word) = bits.get_mut(code as usize / 64) {
                *word |= 1 << (code % 64);
            }
        }
        Pass::Set { codes, bits }
    }

    fn codes(&self) -> Cow<'_, [u32]> {
        match self {
            Pass::Named(codes) | Pass::Set { codes, .. } => Cow::Borrowed(codes),
            Pass::Each(pass) => Cow::Owned(
                pass.iter().enumerate().filter(|(_, p)| **p).filter_map(|(c, _)| u32::try_from(c).ok()).collect(),
            ),
        }
    }

    /// Calls `f` with a test of one code, monomorphised for each kind of answer.
    fn with_test<R>(&self, f: impl CodeVisitor<R>) -> R {
        match self {
            Pass::Each(pass) => f.visit(|code| pass.get(code as usize).copied().unwrap_or(false)),
            Pass::Named(codes) | Pass::Set { codes, .. } if codes.len() <= 1 => match codes.as_slice() {
                &[one] => f.visit(move |code| code == one),
                _ => f.visit(|_| false),
            },
            Pass::Named(many) => f.visit(|code| many.binary_search(&code).is_ok()),
            // NULL's code is past the bits: it never passes.
            Pass::Set { bits, .. } => {
                f.visit(|code| bits.get(code as usize / 64).is_some_and(|word| word >> (code % 64) & 1 == 1))
            }
        }
    }
}

/// Something done with a test of one code (a generic closure, which Rust lacks).
trait CodeVisitor<R> {
    fn visit(self, test: impl Fn(u32) -> bool + Copy) -> R;
}

/// A filter bound to a table column.
enum Bound<'t> {
    /// A STRING filter as the dictionary codes that pass it (`not` applied, NULL never passes).
    Codes {
        column: &'t StringColumn,
        pass: Pass,
        estimate: usize,
    },
    Typed {
        data: &'t ColumnData,
        filter: &'t CompiledFilter,
    },
    /// A filter every value passes (the batch's value range decided it): only NULLs fail.
    NotNull(&'t FixedBitSet),
}

impl Bound<'_> {
    /// The filter over every row, as bitmap blocks.
    fn scan(&self, n: usize) -> Vec<usize> {
        match self {
            Bound::Codes { column, pass, .. } => {
                struct Scan<'c>(&'c [u32]);
                impl CodeVisitor<Vec<usize>> for Scan<'_> {
                    fn visit(self, test: impl Fn(u32) -> bool + Copy) -> Vec<usize> {
                        scan(self.0, test)
                    }
                }
                pass.with_test(Scan(&column.codes))
            }
            Bound::Typed { data, filter } => scan_typed(data, filter, n),
            Bound::NotNull(nulls) => {
                let nulls = nulls.as_slice();
                let mut blocks: Vec<usize> =
                    (0..n.div_ceil(BITS)).map(|i| !nulls.get(i).copied().unwrap_or(0)).collect();
                // Bits past the last row stay clear.
                if let Some(last) = blocks.last_mut()
                    && !n.is_multiple_of(BITS)
                {
                    *last &= (1usize << (n % BITS)) - 1;
                }
                blocks
            }
        }
    }
}

const BITS: usize = usize::BITS as usize;

/// One bit per value: whether `pred` holds.
fn scan<T: Copy>(values: &[T], pred: impl Fn(T) -> bool) -> Vec<usize> {
    let mut blocks = vec![0usize; values.len().div_ceil(BITS)];
    // Whole blocks of 64 values: a fixed trip count the compiler can vectorise.
    let (whole, tail) = values.as_chunks::<BITS>();
    for (block, chunk) in blocks.iter_mut().zip(whole) {
        let mut word = 0usize;
        for (j, &value) in chunk.iter().enumerate() {
            word |= usize::from(pred(value)) << j;
        }
        *block = word;
    }
    if let Some(block) = blocks.get_mut(whole.len()) {
        let mut word = 0usize;
        for (j, &value) in tail.iter().enumerate() {
            word |= usize::from(pred(value)) << j;
        }
        *block = word;
    }
    blocks
}

fn scan_ord<T: Copy + PartialOrd>(values: &[T], test: &OrdTest<T>) -> Vec<usize> {
    match test {
        OrdTest::AnyOf(list) => match list.as_slice() {
            [one] => {
                let one = *one;
                scan(values, |v| v == one)
            }
            _ => scan(values, |v| list.contains(&v)),
        },
        OrdTest::Cmp(cmp, bound) => {
            let b = *bound;
            match cmp {
                Cmp::Gt => scan(values, |v| v > b),
                Cmp::Lt => scan(values, |v| v < b),
                Cmp::Ge => scan(values, |v| v >= b),
                Cmp::Le => scan(values, |v| v <= b),
            }
        }
        OrdTest::Between(low, high) => {
            let (l, h) = (*low, *high);
            scan(values, |v| v >= l && v <= h)
        }
    }
}

/// A non-STRING filter over every row: the test, then `not`, then NULLs cleared.
fn scan_typed(data: &ColumnData, filter: &CompiledFilter, n: usize) -> Vec<usize> {
    let (mut blocks, nulls) = match (data, &filter.test) {
        (ColumnData::Long(c), Test::Long(t)) => (scan_ord(&c.values, t), &c.nulls),
        (ColumnData::Double(c), Test::Double(t)) => (scan_ord(&c.values, t), &c.nulls),
        (ColumnData::Decimal(c), Test::Decimal(t)) => (scan_ord(&c.values, t), &c.nulls),
        (ColumnData::ScaledDecimal { scale, data }, Test::Decimal(t)) => {
            (scan_ord(&data.values, &scaled_test(t, *scale)), &data.nulls)
        }
        (ColumnData::Date(c), Test::Date(t)) => (scan_ord(&c.values, t), &c.nulls),
        (ColumnData::Datetime(c), Test::Datetime(t)) => (scan_ord(&c.values, t), &c.nulls),
        (ColumnData::NarrowDatetime(c), Test::Datetime(t)) => (scan_ord(&c.values, &narrow_test(t)), &c.nulls),
        _ => return vec![0; n.div_ceil(BITS)],
    };
    let not = if filter.filter.not { usize::MAX } else { 0 };
    let null_blocks = nulls.as_slice();
    for (i, block) in blocks.iter_mut().enumerate() {
        *block = (*block ^ not) & !null_blocks.get(i).copied().unwrap_or(0);
    }
    // Bits past the last row stay clear.
    if let Some(last) = blocks.last_mut()
        && !n.is_multiple_of(BITS)
    {
        *last &= (1usize << (n % BITS)) - 1;
    }
    blocks
}

/// Rows a filter is applied to: a list filtered in place, or a list (a posting list)
/// whose passing rows are appended to another, which spares copying it first.
enum Rows<'r> {
    InPlace(&'r mut Vec<u32>),
    From(&'r [u32], &'r mut Vec<u32>),
}

/// Keeps the rows that pass `keep`.
fn keep_rows(rows: Rows<'_>, keep: impl Fn(u32) -> bool) {
    match rows {
        Rows::InPlace(rows) => {
            // Branch-free as below: the kept rows move down over those dropped.
            let mut len = 0;
            for i in 0..rows.len() {
                let Some(&row) = rows.get(i) else { break };
                if let Some(slot) = rows.get_mut(len) {
                    *slot = row;
                }
                len += usize::from(keep(row));
            }
            rows.truncate(len);
        }
        Rows::From(source, out) => {
            // Branch-free: every row is written, and the end moves past it when it passes.
            let start = out.len();
            out.resize(start + source.len(), 0);
            let mut len = start;
            for &row in source {
                if let Some(slot) = out.get_mut(len) {
                    *slot = row;
                }
                len += usize::from(keep(row));
            }
            out.truncate(len);
        }
    }
}

/// Keeps the rows whose value passes `pred` (then `not`; NULLs never pass).
fn retain_with<T: Copy>(values: &[T], nulls: &FixedBitSet, not: bool, rows: Rows<'_>, pred: impl Fn(T) -> bool) {
    keep_rows(rows, |row| {
        let row = row as usize;
        !nulls.contains(row) && values.get(row).is_some_and(|&v| pred(v) != not)
    });
}

/// Keeps the rows whose value passes an ordered test.
fn retain_ord<T: Copy + PartialOrd>(values: &[T], nulls: &FixedBitSet, test: &OrdTest<T>, not: bool, rows: Rows<'_>) {
    match test {
        OrdTest::AnyOf(list) => retain_with(values, nulls, not, rows, |v| list.contains(&v)),
        OrdTest::Cmp(cmp, b) => {
            let b = *b;
            match cmp {
                Cmp::Gt => retain_with(values, nulls, not, rows, |v| v > b),
                Cmp::Lt => retain_with(values, nulls, not, rows, |v| v < b),
                Cmp::Ge => retain_with(values, nulls, not, rows, |v| v >= b),
                Cmp::Le => retain_with(values, nulls, not, rows, |v| v <= b),
            }
        }
        OrdTest::Between(l, h) => {
            let (l, h) = (*l, *h);
            retain_with(values, nulls, not, rows, |v| v >= l && v <= h)
        }
    }
}

impl Bound<'_> {
    /// Keeps the rows that pass this filter.
    fn retain(&self, rows: Rows<'_>) {
        match self {
            Bound::Codes { column, pass, .. } => {
                struct Keep<'c, 'r>(&'c [u32], Rows<'r>);
                impl CodeVisitor<()> for Keep<'_, '_> {
                    fn visit(self, test: impl Fn(u32) -> bool + Copy) {
                        let codes = self.0;
                        keep_rows(self.1, |row| codes.get(row as usize).is_some_and(|&code| test(code)));
                    }
                }
                pass.with_test(Keep(&column.codes, rows));
            }
            Bound::Typed { data, filter } => {
                let not = filter.filter.not;
                match (data, &filter.test) {
                    (ColumnData::Long(c), Test::Long(t)) => retain_ord(&c.values, &c.nulls, t, not, rows),
                    (ColumnData::Double(c), Test::Double(t)) => retain_ord(&c.values, &c.nulls, t, not, rows),
                    (ColumnData::Decimal(c), Test::Decimal(t)) => retain_ord(&c.values, &c.nulls, t, not, rows),
                    (ColumnData::ScaledDecimal { scale, data }, Test::Decimal(t)) => {
                        retain_ord(&data.values, &data.nulls, &scaled_test(t, *scale), not, rows)
                    }
                    (ColumnData::Date(c), Test::Date(t)) => retain_ord(&c.values, &c.nulls, t, not, rows),
                    (ColumnData::Datetime(c), Test::Datetime(t)) => retain_ord(&c.values, &c.nulls, t, not, rows),
                    (ColumnData::NarrowDatetime(c), Test::Datetime(t)) => {
                        retain_ord(&c.values, &c.nulls, &narrow_test(t), not, rows)
                    }
                    _ => keep_rows(rows, |_| false),
                }
            }
            Bound::NotNull(nulls) => keep_rows(rows, |row| !nulls.contains(row as usize)),
        }
    }
}

pub(super) fn typed_passes(data: &ColumnData, filter: &CompiledFilter, row: usize) -> bool {
    let not = filter.filter.not;
    match (data, &filter.test) {
        (ColumnData::Long(c), Test::Long(t)) => c.get(row).is_some_and(|v| t.test(&v) != not),
        (ColumnData::Double(c), Test::Double(t)) => c.get(row).is_some_and(|v| t.test(&v) != not),
        (ColumnData::Decimal(c), Test::Decimal(t)) => c.get(row).is_some_and(|v| t.test(&v) != not),
        (ColumnData::ScaledDecimal { scale, data }, Test::Decimal(t)) => {
            data.get(row).and_then(|v| Decimal::try_new(v, *scale).ok()).is_some_and(|v| t.test(&v) != not)
        }
        (ColumnData::Date(c), Test::Date(t)) => c.get(row).is_some_and(|v| t.test(&v) != not),
        (ColumnData::Datetime(c), Test::Datetime(t)) => c.get(row).is_some_and(|v| t.test(&v) != not),
        (ColumnData::NarrowDatetime(c), Test::Datetime(t)) => c.get(row).is_some_and(|v| t.test(&i128::from(v)) != not),
        (ColumnData::String(c), test) => match c.codes.get(row) {
            Some(&code) if code != NULL_CODE => c.dict.get(code).is_some_and(|s| test.test_str(s) != not),
            _ => false,
        },
        _ => false,
    }
}

fn bind<'t>(table: &'t Table, filter: &'t CompiledFilter, tests: Option<&mut StringTests>) -> Option<Bound<'t>> {
    let data = table.column_data(filter.column)?;
    Some(match data {
        ColumnData::String(column) => {
            let mut estimate = 0usize;
            let not = filter.filter.not;
            let equals = match &filter.test {
                Test::String(OrdTest::AnyOf(values)) if !not => Some(values),
                _ => None,
            };
            if let Some(values) = equals {
                // EQUALS: look the values up instead of testing every distinct string.
                let mut codes: Vec<u32> = values.iter().filter_map(|value| column.dict.lookup(value)).collect();
                codes.sort_unstable();
                codes.dedup();
                estimate =
                    codes.iter().map(|&code| column.counts.get(code as usize).copied().unwrap_or(0) as usize).sum();
                Bound::Codes { column, pass: Pass::Named(codes), estimate }
            } else if let Some(tests) = tests {
                let codes = tests.passes(filter.column, column, filter);
                estimate =
                    codes.iter().map(|&code| column.counts.get(code as usize).copied().unwrap_or(0) as usize).sum();
                Bound::Codes { column, pass: Pass::set(codes, column.dict.len()), estimate }
            } else {
                let mut pass = vec![false; column.dict.len()];
                for ((slot, s), &count) in pass.iter_mut().zip(column.dict.iter()).zip(column.counts.iter()) {
                    if filter.test.test_str(s) != not {
                        *slot = true;
                        estimate += count as usize;
                    }
                }
                Bound::Codes { column, pass: Pass::Each(pass), estimate }
            }
        }
        data => Bound::Typed { data, filter },
    })
}

fn blocks_to_bits(n: usize, blocks: Vec<usize>) -> FixedBitSet {
    FixedBitSet::with_capacity_and_blocks(n, blocks)
}

/// The rows one policy admits.
///
/// The most selective STRING filter drives: its rows come from the column's
/// posting lists. Small candidate sets are checked row by row; large ones,
/// and policies without a selective STRING filter, are evaluated a column at
/// a time into bitmaps that are ANDed.
pub(super) fn policy_rows(
    table: &Table,
    policy: &CompiledPolicy,
    ranges: &Ranges<'_>,
    mut tests: Option<&mut StringTests>,
) -> RowSet {
    let n = table.row_count();
    if policy.all_rows || policy.filters.is_empty() {
        return RowSet::all(n);
    }
    // Filters the table's value ranges decide first: one that no row passes empties the policy unread.
    let mut decided = Vec::with_capacity(policy.filters.len());
    for filter in &policy.filters {
        match ranges.decide(filter) {
            Some(Decided::NoRow) => return RowSet::empty(n),
            other => decided.push(other),
        }
    }
    let mut bound: Vec<Bound<'_>> = Vec::with_capacity(policy.filters.len());
    for (filter, decided) in policy.filters.iter().zip(decided) {
        match decided {
            Some(Decided::EveryValue(nulls)) => bound.push(Bound::NotNull(nulls)),
            _ => match bind(table, filter, tests.as_deref_mut()) {
                Some(b) => bound.push(b),
                None => return RowSet::empty(n),
            },
        }
    }
    let driver = bound
        .iter()
        .enumerate()
        .filter_map(|(i, b)| match b {
            Bound::Codes { estimate, .. } => Some((i, *estimate)),
            Bound::Typed { .. } | Bound::NotNull(_) => None,
        })
        .min_by_key(|&(_, estimate)| estimate);
    let others = |driver: usize| bound.iter().enumerate().filter(move |&(i, _)| i != driver).map(|(_, b)| b);
    match driver {
        Some((_, 0)) => RowSet::empty(n),
        Some((driver, estimate)) if estimate.saturating_mul(4) <= n => {
            let Some(Bound::Codes { column, pass, .. }) = bound.get(driver) else {
                return RowSet::empty(n);
            };
            let postings = column.postings();
            let codes = pass.codes();
            let rest: Vec<&Bound<'_>> = others(driver).collect();
            if let ([code], []) = (&*codes, rest.as_slice()) {
                // One value, nothing else to check: the posting list itself, shared.
                let (start, end) = postings.range(*code);
                if (end - start).saturating_mul(32) <= n {
                    return RowSet::shared_slice(n, postings.rows.clone(), start, end);
                }
                return RowSet::from_sorted(n, postings.rows(*code).to_vec());
            }
            // Candidates in row order: one posting list as is, several merged through
            // a sort (few rows) or a bitmap (many); then the other filters, one at a time.
            let mut rest = rest.into_iter();
            let mut rows: Vec<u32> = match &*codes {
                // One posting list: the first other filter reads it where it lies.
                [code] => match rest.next() {
                    Some(first) => {
                        let source = postings.rows(*code);
                        let mut rows = Vec::with_capacity(source.len());
                        first.retain(Rows::From(source, &mut rows));
                        rows
                    }
                    None => postings.rows(*code).to_vec(),
                },
                _ if estimate.saturating_mul(16) <= n => {
                    let mut rows: Vec<u32> = Vec::with_capacity(estimate);
                    for &code in codes.iter() {
                        rows.extend_from_slice(postings.rows(code));
                    }
                    rows.sort_unstable();
                    rows
                }
                _ => {
                    let mut bits = FixedBitSet::with_capacity(n);
                    for &code in codes.iter() {
                        for &row in postings.rows(code) {
                            bits.insert(row as usize);
                        }
                    }
                    if rest.len() == 0 {
                        return RowSet::from_bits(n, bits);
                    }
                    bits.ones().filter_map(|r| u32::try_from(r).ok()).collect()
                }
            };
            for other in rest {
                other.retain(Rows::InPlace(&mut rows));
            }
            RowSet::from_sorted(n, rows)
        }
        _ => {
            let mut blocks: Option<Vec<usize>> = None;
            for b in &bound {
                let next = b.scan(n);
                blocks = Some(match blocks {
                    None => next,
                    Some(mut acc) => {
                        for (block, other) in acc.iter_mut().zip(next) {
                            *block &= other;
                        }
                        acc
                    }
                });
            }
            RowSet::from_bits(n, blocks_to_bits(n, blocks.unwrap_or_default()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Both ways of filtering a row list keep exactly the rows that pass, in order,
        /// after what the output already held.
        #[test]
        fn row_filters_keep_the_passing_rows(
            rows in proptest::collection::vec(0u32..200, 0..300),
            held in proptest::collection::vec(0u32..200, 0..4),
            modulus in 1u32..5,
        ) {
            let keep = |row: u32| row.is_multiple_of(modulus);
            let expected: Vec<u32> = rows.iter().copied().filter(|&r| keep(r)).collect();
            let mut in_place = rows.clone();
            keep_rows(Rows::InPlace(&mut in_place), keep);
            proptest::prop_assert_eq!(&in_place, &expected);
            let mut out = held.clone();
            keep_rows(Rows::From(&rows, &mut out), keep);
            let mut appended = held.clone();
            appended.extend(&expected);
            proptest::prop_assert_eq!(out, appended);
        }
    }
}
