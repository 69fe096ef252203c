//! Data findings: what the policies, evaluated on the data, do to rows and users, gathered as the
//! rows stream by in batches.

use std::cmp::Ordering;

use domo_model::{ColumnType, FilterOperator, Policy, UserId};
use hashbrown::{HashMap, HashSet};

use super::contradiction::typed_values;
use crate::compile::{PdpMode, PolicyHandle, PolicyRef, PolicySet, Reason};
use crate::eval::SchemaMismatchError;
use crate::rowset::RowSet;
use crate::table::{ColumnData, Table, Value};

mod findings;

/// At most this many sample rows are listed in a finding.
const SAMPLE_ROWS: usize = 10;

/// At most this many distinct values of a STRING column are kept for a "did you mean" (the first
/// ones in DataSet order; `did_you_mean` weighs no more).
const SUGGESTION_VALUES: usize = 10_000;

/// What the data findings need, worked out from the compiled policies before the first row.
#[derive(Debug, Default)]
pub(super) struct DataPlan {
    /// Each compiled policy as the policies file names it.
    refs: Vec<PolicyRef>,
    /// Whether lint already found that a policy's filters can never match.
    never_matches: Vec<bool>,
    members: Vec<Members>,
    /// The earlier policy a policy is identical to (same filters, same members).
    identical_to: Vec<Option<usize>>,
    /// Ordered pairs `(a, b)` whose members `a`'s are a non-empty subset of: is `a` redundant by
    /// `b`? Sorted, to be found by binary search (policies squared at worst, so kept small); a
    /// pair `(b, a)` is here exactly when `b`'s members are also a subset of `a`'s.
    pairs: Vec<(u32, u32)>,
    /// The policies of the users who see rows through policies, when every row some of them see
    /// is what the owner and Admins share; `None` when no row can be theirs alone.
    hidden_policies: Option<Vec<usize>>,
    /// Values of EQUALS filters, to look for in the data.
    wanted: Vec<Wanted>,
    /// STRING columns holding some wanted value: their first distinct values make the "did you mean".
    text_columns: Vec<usize>,
    /// The policies that did not compile, with the users and groups they name.
    broken: Vec<(PolicyRef, Policy)>,
}

/// One value of an EQUALS filter, typed as the column.
#[derive(Debug)]
struct Wanted {
    policy: usize,
    filter: usize,
    column: usize,
    column_type: ColumnType,
    /// As written in the policy.
    text: String,
    /// As compiled; a STRING value is `text`.
    value: Option<Value<'static>>,
}

impl DataPlan {
    pub(super) fn new(
        set: &PolicySet,
        refs: Vec<PolicyRef>,
        never_matches: Vec<bool>,
        broken: &[(PolicyRef, &Policy)],
    ) -> Self {
        let count = set.policies().len();
        let members: Vec<Members> = (0..count).map(|i| Members::of(set, i)).collect();
        // Identical policies: group by (filters, members) in one pass instead of comparing every pair.
        let mut identical_to: Vec<Option<usize>> = vec![None; count];
        let mut first_with: HashMap<(FiltersKey<'_>, Members), usize> = HashMap::new();
        for (b, (compiled, who)) in set.policies().iter().zip(&members).enumerate() {
            let key = (filters_key(compiled), who.clone());
            match first_with.get(&key) {
                None => {
                    first_with.insert(key, b);
                }
                Some(&a) => {
                    if let Some(slot) = identical_to.get_mut(b) {
                        *slot = Some(a);
                    }
                }
            }
        }
        let pairs = redundancy_pairs(&members);
        let mut wanted = Vec::new();
        for (policy, compiled) in set.policies().iter().enumerate() {
            if compiled.is_all_rows() {
                continue;
            }
            for (filter, compiled_filter) in compiled.filters().iter().enumerate() {
                if compiled_filter.operator() != FilterOperator::Equals {
                    continue;
                }
                let Some(values) = typed_values(compiled_filter) else { continue };
                for (text, value) in compiled_filter.source().values.iter().zip(values) {
                    wanted.push(Wanted {
                        policy,
                        filter,
                        column: compiled_filter.column(),
                        column_type: compiled_filter.column_type(),
                        text: text.clone(),
                        value: owned(value),
                    });
                }
            }
        }
        let mut text_columns: Vec<usize> =
            wanted.iter().filter(|w| w.column_type == ColumnType::String).map(|w| w.column).collect();
        text_columns.sort_unstable();
        text_columns.dedup();
        Self {
            refs,
            never_matches,
            members,
            identical_to,
            pairs,
            hidden_policies: hidden_policies(set),
            wanted,
            text_columns,
            broken: broken.iter().map(|(r, p)| (r.clone(), (*p).clone())).collect(),
        }
    }
}

/// The ordered pairs `(a, b)` of policies whose members `a`'s are a non-empty subset of, sorted.
fn redundancy_pairs(members: &[Members]) -> Vec<(u32, u32)> {
    // A policy whose members hold `a`'s first member is a candidate: look only at those (in
    // policy order) rather than at every pair of policies.
    let mut by_user: HashMap<UserId, Vec<usize>> = HashMap::new();
    let mut by_virtual: HashMap<&str, Vec<usize>> = HashMap::new();
    for (b, who) in members.iter().enumerate() {
        for user in &who.users {
            by_user.entry(*user).or_default().push(b);
        }
        for name in &who.virtual_users {
            by_virtual.entry(name.as_str()).or_default().push(b);
        }
    }
    let mut pairs = Vec::new();
    for (a, members_a) in members.iter().enumerate() {
        let candidates = match (members_a.users.first(), members_a.virtual_users.first()) {
            (Some(user), _) => by_user.get(user),
            (None, Some(name)) => by_virtual.get(name.as_str()),
            (None, None) => continue,
        };
        for &b in candidates.into_iter().flatten() {
            if a != b
                && let Some(members_b) = members.get(b)
                && members_a.len() <= members_b.len()
                && members_a.is_subset(members_b)
                && let (Ok(a), Ok(b)) = (u32::try_from(a), u32::try_from(b))
            {
                pairs.push((a, b));
            }
        }
    }
    pairs
}

/// What a batch still has to tell the data findings, from what earlier batches (or any other
/// batch) showed; every part only ever shrinks, so leaving out what is no longer needed changes
/// no finding.
#[derive(Debug, Clone)]
pub(super) struct Needs {
    /// Per policy: its rows are read (`false` only for a policy shown to admit some rows and miss
    /// some, whose rows no hidden-row count and no open pair reads).
    pub(super) policies: Vec<bool>,
    /// Per pair of the plan: still open (no batch has shown a row of `a` outside `b`).
    pub(super) pairs: Vec<bool>,
    /// Per wanted value: already found (no need to look for it).
    pub(super) found: Vec<bool>,
    /// Per STRING column of the plan: its first distinct values are still being collected.
    pub(super) texts: Vec<bool>,
    /// The sample of hidden rows is not yet full.
    pub(super) hidden_sample: bool,
}

impl Needs {
    /// Everything: what a batch needs when nothing is known yet.
    pub(super) fn everything(plan: &DataPlan) -> Self {
        Self {
            policies: vec![true; plan.refs.len()],
            pairs: vec![true; plan.pairs.len()],
            found: vec![false; plan.wanted.len()],
            texts: vec![true; plan.text_columns.len()],
            hidden_sample: true,
        }
    }
}

/// The policies whose rows the users without every row see, or `None` when PDP is off or someone
/// in the All Rows policy sees every row anyway.
fn hidden_policies(set: &PolicySet) -> Option<Vec<usize>> {
    let mut policies: Vec<usize> = Vec::new();
    for user in &set.directory().users {
        let access = set.access(user.id);
        match access.reason {
            Reason::Owner | Reason::Admin | Reason::RoleGrant | Reason::NoPolicy => {}
            Reason::PdpDisabled | Reason::AllRows => return None,
            Reason::Policies => policies.extend(access.policies.iter().map(|m| m.policy.index())),
        }
    }
    policies.sort_unstable();
    policies.dedup();
    Some(policies)
}

/// A value that borrows nothing (`None` for a STRING value, which is kept as text).
fn owned(value: Value<'_>) -> Option<Value<'static>> {
    Some(match value {
        Value::Null | Value::String(_) => return None,
        Value::Long(v) => Value::Long(v),
        Value::Double(v) => Value::Double(v),
        Value::Decimal(v) => Value::Decimal(v),
        Value::Date(v) => Value::Date(v),
        Value::Datetime(v) => Value::Datetime(v),
    })
}

/// The data findings of rows that arrive in batches: per-policy counts, which policies still cover
/// which, the rows only the owner and Admins see (a count and a sample), the EQUALS values seen,
/// and the first distinct values of the columns those read. Its memory grows with the policies
/// and is capped per column, never with the rows.
///
/// Made by [`super::Linter::rows`]; turned into findings by [`super::Linter::finish`].
#[derive(Debug)]
pub struct LintRows<'a> {
    set: Option<&'a PolicySet>,
    plan: &'a DataPlan,
    rows: u64,
    /// Per policy: the rows it admits, exact for every policy a finding reads it of (a policy no
    /// longer evaluated has admitted some rows and missed some, and is in no pair still open).
    matched: Vec<u64>,
    /// Per policy: some row taken was not admitted.
    missed: Vec<bool>,
    /// Per pair of the plan: every row of `a` seen so far is a row of `b`.
    subset: Vec<bool>,
    hidden: u64,
    /// 1-based, counted from this accumulator's first row.
    hidden_sample: Vec<u64>,
    found: Vec<bool>,
    /// Per STRING column of the plan: its distinct values in order of first appearance, up to a cap.
    texts: HashMap<usize, (HashSet<String>, Vec<String>)>,
    /// A batch did not match the schema: no data findings.
    mismatch: bool,
}

impl<'a> LintRows<'a> {
    pub(super) fn new(set: Option<&'a PolicySet>, plan: &'a DataPlan) -> Self {
        Self {
            set,
            plan,
            rows: 0,
            matched: vec![0; plan.refs.len()],
            missed: vec![false; plan.refs.len()],
            subset: vec![true; plan.pairs.len()],
            hidden: 0,
            hidden_sample: Vec::new(),
            found: vec![false; plan.wanted.len()],
            texts: plan.text_columns.iter().map(|c| (*c, (HashSet::new(), Vec::new()))).collect(),
            mismatch: false,
        }
    }

    /// How many rows it has taken.
    pub fn row_count(&self) -> u64 {
        self.rows
    }

    /// Takes the next rows (after those already taken, in DataSet order).
    ///
    /// # Errors
    ///
    /// The batch's schema is not the DataSet's; the report then has no data findings.
    pub fn add(&mut self, batch: &Table) -> Result<(), SchemaMismatchError> {
        let Some(set) = self.set else {
            self.rows += batch.row_count() as u64;
            return Ok(());
        };
        let evaluation = match set.evaluate(batch) {
            Ok(evaluation) => evaluation,
            Err(err) => {
                self.mismatch = true;
                return Err(err);
            }
        };
        let policy_rows: Vec<Option<&RowSet>> =
            (0..self.matched.len()).map(|i| evaluation.policy_rows(PolicyHandle::from_index(i))).collect();
        self.take(set, batch, &policy_rows, &Needs::everything(self.plan));
        Ok(())
    }

    /// Takes the next rows, `batch`, whose policies' rows are `policy_rows` (those `needs` leaves
    /// out may be empty and are not read).
    pub(super) fn take(&mut self, set: &PolicySet, batch: &Table, policy_rows: &[Option<&RowSet>], needs: &Needs) {
        let rows = batch.row_count();
        for (index, (matched, rows_of)) in self.matched.iter_mut().zip(policy_rows).enumerate() {
            if !needs.policies.get(index).copied().unwrap_or(false) {
                continue;
            }
            let admitted = rows_of.map_or(0, RowSet::len);
            *matched += admitted as u64;
            if admitted < rows
                && let Some(missed) = self.missed.get_mut(index)
            {
                *missed = true;
            }
        }
        for ((still, (a, b)), live) in self.subset.iter_mut().zip(&self.plan.pairs).zip(&needs.pairs) {
            if *still && *live {
                let rows_of = |p: u32| usize::try_from(p).ok().and_then(|p| policy_rows.get(p).copied().flatten());
                *still = match (rows_of(*a), rows_of(*b)) {
                    (Some(ra), Some(rb)) => is_subset(ra, rb),
                    _ => false,
                };
            }
        }
        if set.mode() == PdpMode::Enabled
            && let Some(policies) = &self.plan.hidden_policies
        {
            let union = RowSet::union(rows, policies.iter().filter_map(|p| policy_rows.get(*p).copied().flatten()));
            let hidden = rows.saturating_sub(union.len());
            self.hidden += hidden as u64;
            if hidden > 0 && needs.hidden_sample && self.hidden_sample.len() < SAMPLE_ROWS {
                for row in (0..rows).filter(|r| !union.contains(*r)) {
                    if self.hidden_sample.len() >= SAMPLE_ROWS {
                        break;
                    }
                    self.hidden_sample.push(self.rows + row as u64 + 1);
                }
            }
        }
        self.look_for_values(batch, needs);
        self.rows += rows as u64;
    }

    /// Marks the wanted EQUALS values the batch holds, and keeps the first distinct values of the
    /// STRING columns they read while some value of the column is still missing.
    fn look_for_values(&mut self, batch: &Table, needs: &Needs) {
        let unfound = |found: &[bool], index: usize| {
            !found.get(index).copied().unwrap_or(true) && !needs.found.get(index).copied().unwrap_or(true)
        };
        let mut typed: Vec<usize> = Vec::new();
        for (index, wanted) in self.plan.wanted.iter().enumerate() {
            if unfound(&self.found, index) && wanted.column_type != ColumnType::String {
                typed.push(index);
            }
        }
        for (position, column) in self.plan.text_columns.iter().enumerate() {
            let missing: Vec<usize> = (0..self.plan.wanted.len())
                .filter(|&i| self.plan.wanted.get(i).is_some_and(|w| w.column == *column) && unfound(&self.found, i))
                .collect();
            // The first values only make the "did you mean" of a value no row holds.
            if missing.is_empty() {
                continue;
            }
            let Some(ColumnData::String(strings)) = batch.column_data(*column) else { continue };
            for index in missing {
                if let Some(wanted) = self.plan.wanted.get(index)
                    && strings.dict.lookup(&wanted.text).is_some()
                    && let Some(found) = self.found.get_mut(index)
                {
                    *found = true;
                }
            }
            if !needs.texts.get(position).copied().unwrap_or(true) {
                continue;
            }
            let (seen, list) = self.texts.entry(*column).or_default();
            for text in strings.dict.iter() {
                if list.len() >= SUGGESTION_VALUES {
                    break;
                }
                if !seen.contains(text) {
                    seen.insert(text.to_owned());
                    list.push(text.to_owned());
                }
            }
        }
        // Typed columns: one scan per column, until each wanted value turns up.
        let mut columns: Vec<usize> = typed.iter().filter_map(|i| self.plan.wanted.get(*i)).map(|w| w.column).collect();
        columns.sort_unstable();
        columns.dedup();
        for column in columns {
            // The values not yet seen, sorted, each with its place in the plan: a cell finds its
            // equals by binary search (`1.5` and `1.50` compare equal). NaN, equal to no value,
            // is looked for apart.
            let mut open: Vec<(Value<'static>, usize)> = Vec::new();
            let mut nan: Vec<usize> = Vec::new();
            for index in typed.iter().copied() {
                let Some(wanted) = self.plan.wanted.get(index).filter(|w| w.column == column) else { continue };
                match wanted.value {
                    Some(Value::Double(v)) if v.is_nan() => nan.push(index),
                    Some(value) => open.push((value, index)),
                    None => {}
                }
            }
            open.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
            for row in 0..batch.row_count() {
                if open.is_empty() && nan.is_empty() {
                    break;
                }
                let Some(cell) = batch.value(row, column) else { break };
                if cell.is_null() {
                    continue;
                }
                if let Value::Double(v) = cell
                    && v.is_nan()
                {
                    for index in nan.drain(..) {
                        if let Some(slot) = self.found.get_mut(index) {
                            *slot = true;
                        }
                    }
                    continue;
                }
                let low = open.partition_point(|(v, _)| v.partial_cmp(&cell) == Some(Ordering::Less));
                let high = open.partition_point(|(v, _)| v.partial_cmp(&cell) != Some(Ordering::Greater));
                if low < high {
                    for (_, index) in open.drain(low..high) {
                        if let Some(slot) = self.found.get_mut(index) {
                            *slot = true;
                        }
                    }
                }
            }
        }
    }

    /// What the next batches still have to tell, by what this accumulator has taken.
    pub(super) fn needs(&self) -> Needs {
        let mut policies: Vec<bool> =
            self.matched.iter().zip(&self.missed).map(|(matched, missed)| *matched == 0 || !*missed).collect();
        if self.set.is_some_and(|set| set.mode() == PdpMode::Enabled)
            && let Some(hidden) = &self.plan.hidden_policies
        {
            for policy in hidden {
                if let Some(slot) = policies.get_mut(*policy) {
                    *slot = true;
                }
            }
        }
        for ((a, b), open) in self.plan.pairs.iter().zip(&self.subset) {
            if *open {
                for policy in [a, b] {
                    if let Some(slot) = usize::try_from(*policy).ok().and_then(|p| policies.get_mut(p)) {
                        *slot = true;
                    }
                }
            }
        }
        Needs {
            policies,
            pairs: self.subset.clone(),
            found: self.found.clone(),
            texts: self
                .plan
                .text_columns
                .iter()
                .map(|column| self.texts.get(column).is_none_or(|(_, list)| list.len() < SUGGESTION_VALUES))
                .collect(),
            hidden_sample: self.hidden_sample.len() < SAMPLE_ROWS,
        }
    }

    /// Counts rows taken without a compiled policy set (no data findings to gather).
    pub(super) fn skip_rows(&mut self, rows: u64) {
        self.rows += rows;
    }

    /// Adds what `later` took, the rows right after this one's (two threads may each take a part).
    pub fn merge(&mut self, later: LintRows<'_>) {
        for (m, l) in self.matched.iter_mut().zip(&later.matched) {
            *m += l;
        }
        for (m, l) in self.missed.iter_mut().zip(&later.missed) {
            *m |= l;
        }
        for (s, l) in self.subset.iter_mut().zip(&later.subset) {
            *s &= l;
        }
        for row in later.hidden_sample {
            if self.hidden_sample.len() < SAMPLE_ROWS {
                self.hidden_sample.push(self.rows + row);
            }
        }
        self.hidden += later.hidden;
        for (f, l) in self.found.iter_mut().zip(&later.found) {
            *f |= l;
        }
        for (column, (_, list)) in later.texts {
            let (seen, mine) = self.texts.entry(column).or_default();
            for text in list {
                if mine.len() >= SUGGESTION_VALUES {
                    break;
                }
                if !seen.contains(&text) {
                    seen.insert(text.clone());
                    mine.push(text);
                }
            }
        }
        self.mismatch |= later.mismatch;
        self.rows += later.rows;
    }
}

pub(super) fn is_subset(a: &RowSet, b: &RowSet) -> bool {
    if b.is_all() {
        return true;
    }
    a.len() <= b.len() && a.iter().all(|r| b.contains(r))
}

/// The users and virtual users a policy applies to, resolved through the directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Members {
    users: Vec<UserId>,
    virtual_users: Vec<String>,
}

impl Members {
    fn of(set: &PolicySet, index: usize) -> Self {
        let Some(policy) = set.policies().get(index).map(|p| p.source()) else {
            return Self { users: Vec::new(), virtual_users: Vec::new() };
        };
        let directory = set.directory();
        let mut users: Vec<UserId> = policy.users.clone();
        for group in &policy.groups {
            if let Some(g) = directory.group(*group) {
                users.extend(&g.user_ids);
            }
            for user in &directory.users {
                if user.groups.iter().flatten().any(|r| r.id == *group) {
                    users.push(user.id);
                }
            }
        }
        users.sort_unstable();
        users.dedup();
        let mut virtual_users = policy.virtual_users.clone();
        virtual_users.sort_unstable();
        virtual_users.dedup();
        Self { users, virtual_users }
    }

    fn is_empty(&self) -> bool {
        self.users.is_empty() && self.virtual_users.is_empty()
    }

    fn len(&self) -> usize {
        self.users.len() + self.virtual_users.len()
    }

    fn is_subset(&self, other: &Members) -> bool {
        self.users.iter().all(|u| other.users.binary_search(u).is_ok())
            && self.virtual_users.iter().all(|v| other.virtual_users.binary_search(v).is_ok())
    }

    fn why_empty(&self, policy: &Policy) -> String {
        if policy.users.is_empty() && policy.groups.is_empty() && policy.virtual_users.is_empty() {
            "applies to no one: it names no users, groups or virtual users".to_owned()
        } else {
            "applies to no one: its groups are empty or not in the directory".to_owned()
        }
    }
}

/// A policy's compiled filters in a canonical order (values sorted), for finding identical
/// policies. The All Rows policy has no filters that count.
type FiltersKey<'a> = (bool, Vec<(usize, FilterOperator, bool, Vec<&'a str>)>);

fn filters_key(policy: &crate::compile::CompiledPolicy) -> FiltersKey<'_> {
    if policy.is_all_rows() {
        return (true, Vec::new());
    }
    let mut filters: Vec<_> = policy
        .filters()
        .iter()
        .map(|f| {
            let mut values: Vec<&str> = f.source().values.iter().map(String::as_str).collect();
            values.sort_unstable();
            (f.column(), f.operator(), f.not(), values)
        })
        .collect();
    filters.sort();
    (false, filters)
}

/// Whether a LIKE pattern has an unescaped `%` or `_`.
pub(super) fn has_like_wildcard(pattern: &str) -> bool {
    let mut escaped = false;
    for c in pattern.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '%' | '_' => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The pairs found through each policy's first member are those of comparing every two
        /// policies, in the same order.
        #[test]
        fn redundancy_pairs_are_those_of_every_pair(
            policies in proptest::collection::vec(
                (proptest::collection::vec(0u64..6, 0..4), proptest::collection::vec(0u8..3, 0..3)),
                0..12,
            ),
        ) {
            let members: Vec<Members> = policies
                .into_iter()
                .map(|(users, virtuals)| {
                    let mut users: Vec<UserId> = users.into_iter().map(UserId).collect();
                    users.sort_unstable();
                    users.dedup();
                    let mut virtual_users: Vec<String> = virtuals.into_iter().map(|v| format!("v{v}")).collect();
                    virtual_users.sort_unstable();
                    virtual_users.dedup();
                    Members { users, virtual_users }
                })
                .collect();
            let mut every = Vec::new();
            for (a, members_a) in members.iter().enumerate() {
                for (b, members_b) in members.iter().enumerate() {
                    if a != b && !members_a.is_empty() && members_a.is_subset(members_b) {
                        every.push((a as u32, b as u32));
                    }
                }
            }
            proptest::prop_assert_eq!(redundancy_pairs(&members), every);
        }
    }
}
