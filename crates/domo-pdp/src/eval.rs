//! Evaluating a compiled policy set on a table: per-policy row sets, then the four questions.

use domo_model::{FilterOperator, UserId};
use fixedbitset::FixedBitSet;
use hashbrown::HashMap;
use rayon::prelude::*;

use crate::compile::{Access, CompiledPolicy, Membership, PdpMode, PolicySet, Principal, Reason};
use crate::filter::{CompiledFilter, Test};
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
        let rows = self.policies.par_iter().map(|policy| policy_rows(table, policy)).collect();
        Ok(Evaluation { table, set: self, rows })
    }
}

/// A filter bound to a table column.
enum Bound<'t> {
    /// A STRING filter as the set of dictionary codes that pass it (`not` applied).
    Codes {
        column: &'t StringColumn,
        mask: FixedBitSet,
        estimate: usize,
    },
    Typed {
        data: &'t ColumnData,
        filter: &'t CompiledFilter,
    },
}

impl Bound<'_> {
    fn passes(&self, row: usize) -> bool {
        match self {
            Bound::Codes { column, mask, .. } => {
                column.codes.get(row).is_some_and(|&code| code != NULL_CODE && mask.contains(code as usize))
            }
            Bound::Typed { data, filter } => typed_passes(data, filter, row),
        }
    }
}

fn typed_passes(data: &ColumnData, filter: &CompiledFilter, row: usize) -> bool {
    let not = filter.filter.not;
    match (data, &filter.test) {
        (ColumnData::Long(c), Test::Long(t)) => c.get(row).is_some_and(|v| t.test(&v) != not),
        (ColumnData::Double(c), Test::Double(t)) => c.get(row).is_some_and(|v| t.test(&v) != not),
        (ColumnData::Decimal(c), Test::Decimal(t)) => c.get(row).is_some_and(|v| t.test(&v) != not),
        (ColumnData::Date(c), Test::Date(t)) => c.get(row).is_some_and(|v| t.test(&v) != not),
        (ColumnData::Datetime(c), Test::Datetime(t)) => c.get(row).is_some_and(|v| t.test(&v) != not),
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
            let mut mask = FixedBitSet::with_capacity(column.dict.len());
            let mut estimate = 0usize;
            let not = filter.filter.not;
            let equals = match &filter.test {
                Test::String(crate::filter::OrdTest::AnyOf(values)) if !not => Some(values),
                _ => None,
            };
            if let Some(values) = equals {
                // EQUALS: look the values up instead of testing every distinct string.
                for value in values {
                    if let Some(code) = column.dict.lookup(value)
                        && !mask.put(code as usize)
                    {
                        estimate += column.counts.get(code as usize).copied().unwrap_or(0) as usize;
                    }
                }
            } else {
                for (code, s) in column.dict.iter().enumerate() {
                    if filter.test.test_str(s) != not {
                        mask.insert(code);
                        estimate += column.counts.get(code).copied().unwrap_or(0) as usize;
                    }
                }
            }
            Bound::Codes { column, mask, estimate }
        }
        data => Bound::Typed { data, filter },
    })
}

/// The rows one policy admits.
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
    match driver {
        Some((driver, estimate)) if estimate.saturating_mul(4) <= n => {
            let Some(Bound::Codes { column, mask, .. }) = bound.get(driver) else {
                return RowSet::empty(n);
            };
            let postings = column.postings();
            let others: Vec<&Bound<'_>> =
                bound.iter().enumerate().filter(|&(i, _)| i != driver).map(|(_, b)| b).collect();
            let keep = |row: &u32| others.iter().all(|b| b.passes(*row as usize));
            let codes: Vec<usize> = mask.ones().collect();
            let rows: Vec<u32> = match codes.as_slice() {
                [one] => postings.rows(u32::try_from(*one).unwrap_or(NULL_CODE)).iter().copied().filter(keep).collect(),
                _ => {
                    let mut rows: Vec<u32> = codes
                        .iter()
                        .flat_map(|&code| postings.rows(u32::try_from(code).unwrap_or(NULL_CODE)).iter().copied())
                        .filter(keep)
                        .collect();
                    rows.sort_unstable();
                    rows
                }
            };
            RowSet::from_sorted(n, rows)
        }
        _ => {
            let mut bits = FixedBitSet::with_capacity(n);
            for row in 0..n {
                if bound.iter().all(|b| b.passes(row)) {
                    bits.insert(row);
                }
            }
            RowSet::from_bits(n, bits)
        }
    }
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

    /// Question 2: for every directory user (in directory order), how many rows they see and why.
    ///
    /// Users whose sets of policies are equal share one computation.
    pub fn visible_counts(&self) -> Vec<VisibleCount> {
        let n = self.table.row_count();
        let accesses: Vec<(UserId, Access)> =
            self.set.directory.users.iter().map(|u| (u.id, self.set.access(u.id))).collect();
        let mut distinct: HashMap<Vec<usize>, usize> = HashMap::new();
        for (_, access) in &accesses {
            if access.reason == Reason::Policies {
                let key: Vec<usize> = access.policies.iter().map(|m| m.policy).collect();
                distinct.entry(key).or_insert(0);
            }
        }
        let keys: Vec<Vec<usize>> = distinct.keys().cloned().collect();
        let counts: Vec<usize> = keys
            .par_iter()
            .map(|key| {
                let sets: Vec<&RowSet> = key.iter().filter_map(|&p| self.rows.get(p)).collect();
                RowSet::union_len(n, &sets)
            })
            .collect();
        for (key, count) in keys.into_iter().zip(counts) {
            distinct.insert(key, count);
        }
        accesses
            .into_iter()
            .map(|(user, access)| {
                let rows = match access.reason {
                    Reason::Policies => {
                        let key: Vec<usize> = access.policies.iter().map(|m| m.policy).collect();
                        distinct.get(&key).copied().unwrap_or(0)
                    }
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
