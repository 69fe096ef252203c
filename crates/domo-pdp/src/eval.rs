//! Evaluating a compiled policy set on a table: per-policy row sets, then the four questions.

use domo_model::{FilterOperator, UserId};
use fixedbitset::FixedBitSet;
use hashbrown::HashMap;
use rayon::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::compile::{Access, CompiledPolicy, Membership, PdpMode, PolicySet, Principal, Reason};
use crate::filter::{Cmp, CompiledFilter, OrdTest, Test};
use crate::rowset::RowSet;
use crate::table::{ColumnData, NULL_CODE, StringColumn, Table};

/// The table's schema is not the one the policies were compiled against.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the table's schema does not match the DataSet's: {difference}")]
pub struct SchemaMismatchError {
    /// The first difference, in words.
    pub difference: String,
}

/// A policy set evaluated on a table: each policy's rows, and answers per principal and row.
///
/// Built by [`PolicySet::evaluate`], which computes every policy's [`RowSet`]
/// once (in parallel); the questions then combine those sets.
#[derive(Debug)]
pub struct Evaluation<'a> {
    table: &'a Table,
    set: &'a PolicySet,
    rows: Vec<RowSet>,
}

/// How many rows a directory user sees, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisibleCount {
    /// The user.
    pub user: UserId,
    /// How many rows they see.
    pub rows: usize,
    /// Why.
    pub reason: Reason,
}

/// A policy that admits the row, and how the principal is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The policy's index in [`PolicySet::policies`].
    pub policy: usize,
    /// Each way the principal is in it.
    pub via: Vec<Membership>,
}

/// A policy that does not admit the row: its first failing filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The policy's index in [`PolicySet::policies`].
    pub policy: usize,
    /// Each way the principal is in it.
    pub via: Vec<Membership>,
    /// The failing filter's 0-based index in the policy's `filters`.
    pub filter: usize,
    /// The filter's column.
    pub column: String,
    /// The filter's operator.
    pub operator: FilterOperator,
    /// Whether the filter is negated.
    pub not: bool,
    /// The cell's value as text; `None` for NULL (which fails every filter).
    pub cell: Option<String>,
    /// The values the filter expects.
    pub expected: Vec<String>,
}

/// Why a principal does or does not see one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Whether the row is visible.
    pub visible: bool,
    /// The principal's reason ([`Reason::Owner`], [`Reason::Policies`], …).
    pub reason: Reason,
    /// The policies the principal is in that admit the row.
    pub grants: Vec<Grant>,
    /// The policies the principal is in that do not admit it, each with its first failing filter.
    pub refusals: Vec<Refusal>,
}

impl PolicySet {
    /// Evaluates every policy on `table`, in parallel.
    ///
    /// # Errors
    ///
    /// When the table's columns (names and types, in order) differ from the schema
    /// the policies were compiled against.
    pub fn evaluate<'a>(&'a self, table: &'a Table) -> Result<Evaluation<'a>, SchemaMismatchError> {
        let ours = &self.schema.columns;
        let theirs = &table.schema().columns;
        if ours != theirs {
            let difference = ours
                .iter()
                .zip(theirs.iter())
                .enumerate()
                .find(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| {
                    format!(
                        "column {} is `{}` {} in the table, `{}` {} in the DataSet",
                        i + 1,
                        b.name,
                        b.column_type,
                        a.name,
                        a.column_type
                    )
                })
                .unwrap_or_else(|| format!("the table has {} columns, the DataSet {}", theirs.len(), ours.len()));
            return Err(SchemaMismatchError { difference });
        }
        // Policies with equal filters share one evaluation and one row set.
        let mut first_with_key: HashMap<String, usize> = HashMap::new();
        let mut alias: Vec<Option<usize>> = Vec::with_capacity(self.policies.len());
        for (index, policy) in self.policies.iter().enumerate() {
            alias.push(filters_key(policy).and_then(|key| match first_with_key.get(&key) {
                Some(&first) => Some(first),
                None => {
                    first_with_key.insert(key, index);
                    None
                }
            }));
        }
        let n = table.row_count();
        let mut rows: Vec<RowSet> = self
            .policies
            .par_iter()
            .zip(alias.par_iter())
            .map(|(policy, alias)| if alias.is_some() { RowSet::empty(n) } else { policy_rows(table, policy) })
            .collect();
        for (index, alias) in alias.iter().enumerate() {
            if let Some(first) = alias
                && let Some(shared) = rows.get(*first).cloned()
                && let Some(slot) = rows.get_mut(index)
            {
                *slot = shared;
            }
        }
        Ok(Evaluation { table, set: self, rows })
    }
}

/// A filter bound to a table column.
enum Bound<'t> {
    /// A STRING filter as the dictionary codes that pass it (`not` applied, NULL never passes).
    Codes {
        column: &'t StringColumn,
        pass: Vec<bool>,
        estimate: usize,
    },
    Typed {
        data: &'t ColumnData,
        filter: &'t CompiledFilter,
    },
}

impl Bound<'_> {
    /// The filter over every row, as bitmap blocks.
    fn scan(&self, n: usize) -> Vec<usize> {
        match self {
            Bound::Codes { column, pass, .. } => {
                scan(&column.codes, |code| pass.get(code as usize).copied().unwrap_or(false))
            }
            Bound::Typed { data, filter } => scan_typed(data, filter, n),
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

/// Where a DECIMAL literal falls among integers at `scale`: below them all, at or just
/// above one (`floor`, and whether it is exact), or above them all.
enum Scaled {
    Below,
    Floor(i64, bool),
    Above,
}

fn scale_literal(value: Decimal, scale: u32) -> Scaled {
    let floor = value.round_dp_with_strategy(scale, RoundingStrategy::ToNegativeInfinity);
    let exact = floor == value;
    let factor = scale.checked_sub(floor.scale()).and_then(|d| 10i128.checked_pow(d));
    match factor.and_then(|f| floor.mantissa().checked_mul(f)).map(i64::try_from) {
        Some(Ok(v)) => Scaled::Floor(v, exact),
        _ if value.is_sign_negative() => Scaled::Below,
        _ => Scaled::Above,
    }
}

/// A DATETIME test on `i128` nanoseconds as the same test on `i64` nanoseconds.
fn narrow_test(test: &OrdTest<i128>) -> OrdTest<i64> {
    integer_test(test, |&v| match i64::try_from(v) {
        Ok(v) => Scaled::Floor(v, true),
        Err(_) if v < 0 => Scaled::Below,
        Err(_) => Scaled::Above,
    })
}

/// A DECIMAL test as the same test on integers at `scale` (cells are integers there, so a
/// literal between two integers moves to the right side of the comparison).
fn scaled_test(test: &OrdTest<Decimal>, scale: u32) -> OrdTest<i64> {
    integer_test(test, |v| scale_literal(*v, scale))
}

/// A test as the same test on `i64` cells, given where each literal falls among them.
fn integer_test<T>(test: &OrdTest<T>, place: impl Fn(&T) -> Scaled) -> OrdTest<i64> {
    const NEVER: OrdTest<i64> = OrdTest::AnyOf(Vec::new());
    const ALWAYS: OrdTest<i64> = OrdTest::Between(i64::MIN, i64::MAX);
    match test {
        OrdTest::AnyOf(values) => OrdTest::AnyOf(
            values
                .iter()
                .filter_map(|v| match place(v) {
                    Scaled::Floor(v, true) => Some(v),
                    _ => None,
                })
                .collect(),
        ),
        OrdTest::Cmp(cmp, value) => match (place(value), cmp) {
            (Scaled::Below, Cmp::Gt | Cmp::Ge) | (Scaled::Above, Cmp::Lt | Cmp::Le) => ALWAYS,
            (Scaled::Below, _) | (Scaled::Above, _) => NEVER,
            (Scaled::Floor(f, _), Cmp::Gt) => OrdTest::Cmp(Cmp::Gt, f),
            (Scaled::Floor(f, true), Cmp::Ge) => OrdTest::Cmp(Cmp::Ge, f),
            (Scaled::Floor(f, false), Cmp::Ge) => OrdTest::Cmp(Cmp::Gt, f),
            (Scaled::Floor(f, true), Cmp::Lt) => OrdTest::Cmp(Cmp::Lt, f),
            (Scaled::Floor(f, false), Cmp::Lt) => OrdTest::Cmp(Cmp::Le, f),
            (Scaled::Floor(f, _), Cmp::Le) => OrdTest::Cmp(Cmp::Le, f),
        },
        OrdTest::Between(low, high) => {
            let low = match place(low) {
                Scaled::Below => Some(i64::MIN),
                Scaled::Floor(f, true) => Some(f),
                Scaled::Floor(f, false) => f.checked_add(1),
                Scaled::Above => None,
            };
            let high = match place(high) {
                Scaled::Below => None,
                Scaled::Floor(f, _) => Some(f),
                Scaled::Above => Some(i64::MAX),
            };
            match (low, high) {
                (Some(l), Some(h)) => OrdTest::Between(l, h),
                _ => NEVER,
            }
        }
    }
}

/// Keeps the rows whose value passes `pred` (then `not`; NULLs never pass).
fn retain_with<T: Copy>(values: &[T], nulls: &FixedBitSet, not: bool, rows: &mut Vec<u32>, pred: impl Fn(T) -> bool) {
    rows.retain(|&row| {
        let row = row as usize;
        !nulls.contains(row) && values.get(row).is_some_and(|&v| pred(v) != not)
    });
}

/// Keeps the rows whose value passes an ordered test.
fn retain_ord<T: Copy + PartialOrd>(
    values: &[T],
    nulls: &FixedBitSet,
    test: &OrdTest<T>,
    not: bool,
    rows: &mut Vec<u32>,
) {
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
    fn retain(&self, rows: &mut Vec<u32>) {
        match self {
            Bound::Codes { column, pass, .. } => rows.retain(|&row| {
                column.codes.get(row as usize).is_some_and(|&code| pass.get(code as usize).copied().unwrap_or(false))
            }),
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
                    _ => rows.clear(),
                }
            }
        }
    }
}

fn typed_passes(data: &ColumnData, filter: &CompiledFilter, row: usize) -> bool {
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

fn bind<'t>(table: &'t Table, filter: &'t CompiledFilter) -> Option<Bound<'t>> {
    let data = table.column_data(filter.column)?;
    Some(match data {
        ColumnData::String(column) => {
            let mut pass = vec![false; column.dict.len()];
            let mut estimate = 0usize;
            let not = filter.filter.not;
            let equals = match &filter.test {
                Test::String(OrdTest::AnyOf(values)) if !not => Some(values),
                _ => None,
            };
            if let Some(values) = equals {
                // EQUALS: look the values up instead of testing every distinct string.
                for value in values {
                    if let Some(code) = column.dict.lookup(value)
                        && let Some(slot) = pass.get_mut(code as usize)
                        && !*slot
                    {
                        *slot = true;
                        estimate += column.counts.get(code as usize).copied().unwrap_or(0) as usize;
                    }
                }
            } else {
                for ((slot, s), &count) in pass.iter_mut().zip(column.dict.iter()).zip(column.counts.iter()) {
                    if filter.test.test_str(s) != not {
                        *slot = true;
                        estimate += count as usize;
                    }
                }
            }
            Bound::Codes { column, pass, estimate }
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
fn policy_rows(table: &Table, policy: &CompiledPolicy) -> RowSet {
    let n = table.row_count();
    if policy.all_rows || policy.filters.is_empty() {
        return RowSet::all(n);
    }
    let bound: Vec<Bound<'_>> = policy.filters.iter().filter_map(|f| bind(table, f)).collect();
    if bound.len() != policy.filters.len() {
        return RowSet::empty(n);
    }
    let driver = bound
        .iter()
        .enumerate()
        .filter_map(|(i, b)| match b {
            Bound::Codes { estimate, .. } => Some((i, *estimate)),
            Bound::Typed { .. } => None,
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
            let codes: Vec<u32> =
                pass.iter().enumerate().filter(|(_, p)| **p).filter_map(|(c, _)| u32::try_from(c).ok()).collect();
            let rest: Vec<&Bound<'_>> = others(driver).collect();
            if let ([code], []) = (codes.as_slice(), rest.as_slice()) {
                // One value, nothing else to check: the posting list itself, shared.
                let (start, end) = postings.range(*code);
                if (end - start).saturating_mul(32) <= n {
                    return RowSet::shared_slice(n, postings.rows.clone(), start, end);
                }
                return RowSet::from_sorted(n, postings.rows(*code).to_vec());
            }
            // Candidates in row order: one posting list as is, several merged through
            // a sort (few rows) or a bitmap (many); then the other filters, one at a time.
            let mut rows: Vec<u32> = match codes.as_slice() {
                [code] => postings.rows(*code).to_vec(),
                _ if estimate.saturating_mul(16) <= n => {
                    let mut rows: Vec<u32> = Vec::with_capacity(estimate);
                    for &code in &codes {
                        rows.extend_from_slice(postings.rows(code));
                    }
                    rows.sort_unstable();
                    rows
                }
                _ => {
                    let mut bits = FixedBitSet::with_capacity(n);
                    for &code in &codes {
                        for &row in postings.rows(code) {
                            bits.insert(row as usize);
                        }
                    }
                    if rest.is_empty() {
                        return RowSet::from_bits(n, bits);
                    }
                    bits.ones().filter_map(|r| u32::try_from(r).ok()).collect()
                }
            };
            for other in &rest {
                other.retain(&mut rows);
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

/// A key for policies whose filters are equal (ANDed filters in any order).
fn filters_key(policy: &CompiledPolicy) -> Option<String> {
    if policy.all_rows || policy.filters.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = policy.filters.iter().map(|f| format!("{:?}", f.filter)).collect();
    parts.sort();
    Some(parts.join("\u{1}"))
}

impl<'a> Evaluation<'a> {
    /// The table evaluated.
    pub fn table(&self) -> &'a Table {
        self.table
    }

    /// The policy set evaluated.
    pub fn policy_set(&self) -> &'a PolicySet {
        self.set
    }

    /// The rows a policy admits (its filters only, whoever is in it); `None` if out of range.
    pub fn policy_rows(&self, policy: usize) -> Option<&RowSet> {
        self.rows.get(policy)
    }

    /// Question 1: the rows a principal sees, in DataSet order.
    pub fn visible_rows<'p>(&self, who: impl Into<Principal<'p>>) -> RowSet {
        let access = self.set.access(who);
        self.rows_for(&access)
    }

    /// The rows behind an [`Access`] (from [`PolicySet::access`]).
    pub fn rows_for(&self, access: &Access) -> RowSet {
        let n = self.table.row_count();
        if access.sees_everything() {
            return RowSet::all(n);
        }
        RowSet::union(n, access.policies.iter().filter_map(|m| self.rows.get(m.policy)))
    }

    /// How many rows a principal sees and why: for principals that
    /// [`Evaluation::visible_counts`] does not cover (see
    /// [`PolicySet::users_beyond_directory`] and [`PolicySet::virtual_users`]).
    pub fn visible_count_of<'p>(&self, who: impl Into<Principal<'p>>) -> (usize, Reason) {
        let access = self.set.access(who);
        (self.rows_for(&access).len(), access.reason)
    }

    /// Question 2: for every directory user (in directory order), how many rows they see and why.
    ///
    /// Users whose sets of policies are equal share one computation, and the
    /// union of a group's policies is built once for all the users it anchors.
    pub fn visible_counts(&self) -> Vec<VisibleCount> {
        let n = self.table.row_count();
        let accesses: Vec<(UserId, Access)> =
            self.set.directory.users.iter().map(|u| (u.id, self.set.access(u.id))).collect();
        // Distinct policy sets, each anchored on the user's group with the most policies.
        let mut key_index: HashMap<Vec<usize>, usize> = HashMap::new();
        let mut keys: Vec<(Vec<usize>, Option<domo_model::GroupId>)> = Vec::new();
        let mut user_key: Vec<Option<usize>> = Vec::with_capacity(accesses.len());
        for (user, access) in &accesses {
            if access.reason != Reason::Policies {
                user_key.push(None);
                continue;
            }
            let key: Vec<usize> = access.policies.iter().map(|m| m.policy).collect();
            let index = *key_index.entry(key.clone()).or_insert_with(|| {
                let anchor = self
                    .set
                    .groups_of(*user)
                    .iter()
                    .copied()
                    .filter(|g| self.set.group_policies(*g).len() > 1)
                    .max_by_key(|g| self.set.group_policies(*g).len());
                keys.push((key, anchor));
                keys.len() - 1
            });
            user_key.push(Some(index));
        }
        let mut by_anchor: HashMap<Option<domo_model::GroupId>, Vec<usize>> = HashMap::new();
        for (index, (_, anchor)) in keys.iter().enumerate() {
            by_anchor.entry(*anchor).or_default().push(index);
        }
        let work: Vec<(Option<domo_model::GroupId>, Vec<usize>)> = by_anchor.into_iter().collect();
        let counted: Vec<(usize, usize)> = work
            .par_iter()
            .flat_map_iter(|(anchor, members)| {
                let anchor_policies: &[usize] = anchor.map_or(&[], |g| self.set.group_policies(g));
                let anchor_rows =
                    anchor.map(|_| RowSet::union(n, anchor_policies.iter().filter_map(|&p| self.rows.get(p))));
                members
                    .iter()
                    .map(|&index| {
                        let key = keys.get(index).map_or(&[][..], |(key, _)| key.as_slice());
                        let mut sets: Vec<&RowSet> = anchor_rows.iter().collect();
                        sets.extend(
                            key.iter().filter(|p| !anchor_policies.contains(p)).filter_map(|&p| self.rows.get(p)),
                        );
                        (index, RowSet::union_len(n, &sets))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut key_counts = vec![0usize; keys.len()];
        for (index, count) in counted {
            if let Some(slot) = key_counts.get_mut(index) {
                *slot = count;
            }
        }
        accesses
            .into_iter()
            .zip(user_key)
            .map(|((user, access), key)| {
                let rows = match access.reason {
                    Reason::Policies => key.and_then(|k| key_counts.get(k).copied()).unwrap_or(0),
                    Reason::NoPolicy => 0,
                    _ => n,
                };
                VisibleCount { user, rows, reason: access.reason }
            })
            .collect()
    }

    /// Question 3: the directory users who see `row`, in directory order (empty if out of range).
    pub fn viewers(&self, row: usize) -> Vec<UserId> {
        if row >= self.table.row_count() {
            return Vec::new();
        }
        let admits: Vec<bool> = self.rows.iter().map(|r| r.contains(row)).collect();
        self.set
            .directory
            .users
            .iter()
            .filter(|user| {
                let access = self.set.access(user.id);
                access.sees_everything()
                    || access.policies.iter().any(|m| admits.get(m.policy).copied().unwrap_or(false))
            })
            .map(|user| user.id)
            .collect()
    }

    /// Question 4: why a principal does or does not see `row`; `None` if the row is out of range.
    pub fn explain<'p>(&self, who: impl Into<Principal<'p>>, row: usize) -> Option<Explanation> {
        if row >= self.table.row_count() {
            return None;
        }
        let access = self.set.access(who);
        let mut grants = Vec::new();
        let mut refusals = Vec::new();
        for membership in &access.policies {
            let Some(policy) = self.set.policies.get(membership.policy) else { continue };
            let failing = policy
                .filters
                .iter()
                .enumerate()
                .find(|(_, f)| !self.table.column_data(f.column).is_some_and(|data| typed_passes(data, f, row)));
            match failing {
                _ if policy.all_rows => {
                    grants.push(Grant { policy: membership.policy, via: membership.via.clone() });
                }
                None => grants.push(Grant { policy: membership.policy, via: membership.via.clone() }),
                Some((index, filter)) => {
                    let cell = self.table.value(row, filter.column).filter(|v| !v.is_null()).map(|v| v.to_string());
                    refusals.push(Refusal {
                        policy: membership.policy,
                        via: membership.via.clone(),
                        filter: index,
                        column: filter.filter.column.clone(),
                        operator: filter.filter.operator,
                        not: filter.filter.not,
                        cell,
                        expected: filter.filter.values.clone(),
                    });
                }
            }
        }
        let visible = access.sees_everything() || !grants.is_empty();
        Some(Explanation { visible, reason: access.reason, grants, refusals })
    }

    /// Whether PDP restricts rows for this DataSet.
    pub fn mode(&self) -> PdpMode {
        self.set.mode
    }
}

impl PolicySet {
    /// Users that the policies, the directory's groups or the DataSet's owner
    /// name but the directory's user list lacks, by id. They are in no answer
    /// that goes over the directory's users ([`Evaluation::visible_counts`],
    /// [`Evaluation::viewers`]), yet they see rows.
    pub fn users_beyond_directory(&self) -> Vec<UserId> {
        let known: hashbrown::HashSet<UserId> = self.directory.users.iter().map(|u| u.id).collect();
        let mut extra: Vec<UserId> = self
            .policies
            .iter()
            .flat_map(|p| p.policy.users.iter().copied())
            .chain(self.directory.groups.iter().flat_map(|g| g.user_ids.iter().copied()))
            .chain(self.owner)
            .filter(|u| !known.contains(u))
            .collect();
        extra.sort_unstable();
        extra.dedup();
        extra
    }

    /// The virtual users the policies name, sorted and each once.
    pub fn virtual_users(&self) -> Vec<&str> {
        let mut names: Vec<&str> =
            self.policies.iter().flat_map(|p| p.policy.virtual_users.iter().map(String::as_str)).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}
