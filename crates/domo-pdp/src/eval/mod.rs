//! Evaluating a compiled policy set on a table: per-policy row sets, then the four questions.

use domo_model::{FilterOperator, UserId};
use hashbrown::HashMap;
use rayon::prelude::*;

use crate::compile::{Access, CompiledPolicy, Membership, PdpMode, PolicyHandle, PolicySet, Principal, Reason};
use crate::filter::CompiledFilter;
use crate::rowset::RowSet;
use crate::table::Table;

mod counts;
mod integer_tests;
mod ranges;
mod scan;
mod stream;
mod string_tests;

pub(crate) use counts::{CountPlan, Parallel};
use ranges::Ranges;
use scan::{policy_rows, typed_passes};
pub use stream::{AllCounts, VirtualCount};
pub(crate) use string_tests::StringTests;

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
    /// The policy.
    pub policy: PolicyHandle,
    /// Each way the principal is in it.
    pub via: Vec<Membership>,
}

/// A policy that does not admit the row: its first failing filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The policy.
    pub policy: PolicyHandle,
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
        self.check_schema(table)?;
        Ok(self.evaluate_on(table, Parallel::Rayon))
    }

    /// [`PolicySet::evaluate`] on a table loaded with this set's schema (a batch).
    pub(crate) fn evaluate_on<'a>(&'a self, table: &'a Table, parallel: Parallel) -> Evaluation<'a> {
        let rows = self.row_sets(table, &self.filter_aliases(), None, parallel, None);
        Evaluation { table, set: self, rows }
    }
}

impl PolicySet {
    /// For each policy, an earlier policy with equal filters whose row set it shares.
    pub(crate) fn filter_aliases(&self) -> Vec<Option<usize>> {
        let mut first_with_key: HashMap<Vec<&CompiledFilter>, usize> = HashMap::new();
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
        alias
    }

    /// Every policy's rows in `table` (policies with equal filters share one evaluation and one
    /// row set); a policy that `needed` leaves out gets an empty set.
    pub(crate) fn row_sets(
        &self,
        table: &Table,
        aliases: &[Option<usize>],
        needed: Option<&[bool]>,
        parallel: Parallel,
        tests: Option<&mut StringTests>,
    ) -> Vec<RowSet> {
        let n = table.row_count();
        // A needed policy that shares an earlier one's set makes that one needed.
        let needed: Option<Vec<bool>> = needed.map(|needed| {
            let mut closed = needed.to_vec();
            for (index, alias) in aliases.iter().enumerate() {
                if let Some(first) = alias
                    && needed.get(index).copied().unwrap_or(false)
                    && let Some(slot) = closed.get_mut(*first)
                {
                    *slot = true;
                }
            }
            closed
        });
        let skipped = |index: usize| {
            aliases.get(index).copied().flatten().is_some()
                || needed.as_ref().is_some_and(|needed| !needed.get(index).copied().unwrap_or(false))
        };
        let ranges = Ranges::new(table);
        let ranges = &ranges;
        let mut rows: Vec<RowSet> = match (parallel, tests) {
            (_, Some(tests)) => {
                tests.next_batch();
                let mut rows = Vec::with_capacity(self.policies.len());
                for (index, policy) in self.policies.iter().enumerate() {
                    rows.push(if skipped(index) {
                        RowSet::empty(n)
                    } else {
                        policy_rows(table, policy, ranges, Some(tests))
                    });
                }
                rows
            }
            (Parallel::Rayon, None) => self
                .policies
                .par_iter()
                .enumerate()
                .map(
                    |(index, policy)| {
                        if skipped(index) { RowSet::empty(n) } else { policy_rows(table, policy, ranges, None) }
                    },
                )
                .collect(),
            (Parallel::No, None) => self
                .policies
                .iter()
                .enumerate()
                .map(
                    |(index, policy)| {
                        if skipped(index) { RowSet::empty(n) } else { policy_rows(table, policy, ranges, None) }
                    },
                )
                .collect(),
        };
        for (index, alias) in aliases.iter().enumerate() {
            if let Some(first) = alias
                && let Some(shared) = rows.get(*first).cloned()
                && let Some(slot) = rows.get_mut(index)
            {
                *slot = shared;
            }
        }
        rows
    }

    /// Fails unless `table`'s columns (names and types, in order) are the schema the policies were compiled against.
    pub(crate) fn check_schema(&self, table: &Table) -> Result<(), SchemaMismatchError> {
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
        Ok(())
    }

    /// The rows one policy admits on `table` (its filters only), for analyses that need only a few policies
    /// of each batch; `None` if the policy is out of range. The table's schema must have been checked.
    pub(crate) fn policy_rows_on(&self, table: &Table, policy: usize) -> Option<RowSet> {
        self.policies.get(policy).map(|policy| policy_rows(table, policy, &Ranges::none(table), None))
    }
}

/// A key for policies whose filters are equal (ANDed filters in any order); `None` for a policy that admits every row.
pub(crate) fn filters_key(policy: &CompiledPolicy) -> Option<Vec<&CompiledFilter>> {
    if policy.all_rows || policy.filters.is_empty() {
        return None;
    }
    let mut parts: Vec<&CompiledFilter> = policy.filters.iter().collect();
    parts.sort();
    Some(parts)
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
    pub fn policy_rows(&self, policy: PolicyHandle) -> Option<&RowSet> {
        self.rows.get(policy.index())
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
        RowSet::union(n, access.policies.iter().filter_map(|m| self.rows.get(m.policy.index())))
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
        let users = &self.set.directory.users;
        let plan = CountPlan::new(self.set, users.iter().map(|u| (Some(u.id), self.set.access(u.id))));
        let key_counts = plan.count_keys(self.set, &self.rows, n, Parallel::Rayon);
        users
            .iter()
            .zip(plan.finish(&key_counts, n))
            .map(|(user, (rows, reason))| VisibleCount { user: user.id, rows, reason })
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
                    || access.policies.iter().any(|m| admits.get(m.policy.index()).copied().unwrap_or(false))
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
            let Some(policy) = self.set.policies.get(membership.policy.index()) else { continue };
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
