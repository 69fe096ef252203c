//! Rows gained and lost per principal, accumulated batch by batch: only principals whose policies change are computed, each distinct (before, after) pair once.

use std::sync::Arc;

use domo_model::UserId;
use hashbrown::{HashMap, HashSet};
use rayon::prelude::*;

use super::{ChangedRows, DiffOptions, PolicyDiff, UserChange, VirtualUserChange, policy_changes};
use crate::compile::{Access, PolicyHandle, PolicySet, Principal, Reason};
use crate::eval::{Evaluation, Parallel, SchemaMismatchError, filters_key};
use crate::filter::CompiledFilter;
use crate::rowset::RowSet;
use crate::table::Table;

const BITS: usize = usize::BITS as usize;

/// An accumulator given a policy set it was not forked from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot merge diffs of different policy sets: merge only an accumulator made by `fork` of this one")]
pub struct MergeDiffError;

/// A diff of two policy sets accumulated over a table's rows, batch by batch.
///
/// Feed the batches in DataSet order with [`DiffAccumulator::add_batch`]; rows
/// are numbered across batches, and no row is kept: memory grows with the
/// principals whose policies change and with [`DiffOptions::example_rows`],
/// never with the rows. For parallel work, [`DiffAccumulator::fork`] makes an
/// empty accumulator for the batches that follow, and
/// [`DiffAccumulator::merge`] appends it back. [`DiffAccumulator::finish`]
/// gives the same [`PolicyDiff`] as [`crate::diff_policies`] on the whole table.
///
/// ```
/// # use domo_model::{Column, ColumnType, Dataset, Directory, Policy, Role, Schema, User, UserId};
/// # use domo_pdp::{DiffAccumulator, DiffOptions, HeaderRow, PolicySet, Table};
/// let dataset: Dataset = serde_json::from_value(serde_json::json!({
///     "id": "d", "name": "n", "pdpEnabled": true,
///     "schema": {"columns": [{"type": "STRING", "name": "Region"}]}
/// }))?;
/// let policies = |values: &[&str]| -> Vec<Policy> {
///     serde_json::from_value(serde_json::json!([{"id": 1, "name": "p", "users": [7],
///         "filters": [{"column": "Region", "operator": "EQUALS", "values": values}]}]))
///     .unwrap()
/// };
/// let directory = Directory { users: vec![User::new(UserId(7), "Ada", Role::Participant)], groups: vec![], roles: vec![] };
/// let old = PolicySet::compile(&dataset, &policies(&["East"]), &directory)?;
/// let new = PolicySet::compile(&dataset, &policies(&["East", "West"]), &directory)?;
///
/// let mut diff = DiffAccumulator::new(&old, &new, DiffOptions::default());
/// for batch in ["East\nWest\n", "North\nWest\n"] {
///     diff.add_batch(&Table::from_csv(batch.as_bytes(), &dataset.schema, HeaderRow::Absent)?)?;
/// }
/// let diff = diff.finish();
/// assert_eq!((diff.users[0].old_visible, diff.users[0].new_visible), (1, 3));
/// assert_eq!(diff.users[0].gained.first, [1, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DiffAccumulator<'a> {
    plan: Arc<Plan<'a>>,
    /// Rows seen so far.
    rows: usize,
    /// Per pair of [`Plan::pairs`].
    totals: Vec<Totals>,
}

impl std::fmt::Debug for DiffAccumulator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiffAccumulator")
            .field("rows", &self.rows)
            .field("changing_principals", &self.plan.principals.len())
            .field("distinct_changes", &self.plan.pairs.len())
            .finish_non_exhaustive()
    }
}

/// What one distinct (before, after) pair has accumulated.
#[derive(Debug, Clone, Default)]
struct Totals {
    before: usize,
    after: usize,
    gained: ChangedRows,
    lost: ChangedRows,
}

/// The rows a principal sees on one side: every row, or the union of these row-set keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Side {
    Everything,
    /// Indices into [`Plan::sources`], sorted and each once.
    Keys(Vec<usize>),
}

/// Which of the two policy sets.
#[derive(Debug, Clone, Copy)]
enum Version {
    Old,
    New,
}

/// The policy whose rows stand for a key: its set and its index there.
#[derive(Debug, Clone, Copy)]
struct Source {
    version: Version,
    policy: usize,
}

#[derive(Debug, Clone)]
enum Who {
    User(UserId),
    Virtual(String),
}

/// A principal whose policies differ between the sets.
#[derive(Debug)]
struct Changing {
    who: Who,
    old_reason: Reason,
    new_reason: Reason,
    pair: usize,
}

/// Everything decided before the first row: who may change, and which policies' rows that takes.
#[derive(Debug)]
struct Plan<'a> {
    old: &'a PolicySet,
    new: &'a PolicySet,
    options: DiffOptions,
    /// The policies whose rows some pair needs, each distinct set of filters once.
    sources: Vec<Source>,
    /// Distinct (before, after) pairs with different sides.
    pairs: Vec<(Side, Side)>,
    /// In output order: directory users, users beyond the directory, virtual users.
    principals: Vec<Changing>,
}

/// Interns policies by their filters (policies with equal filters admit the same rows on any table).
struct Keys<'a> {
    old: &'a PolicySet,
    new: &'a PolicySet,
    by_filters: HashMap<Vec<&'a CompiledFilter>, usize>,
    sources: Vec<Source>,
}

impl<'a> Keys<'a> {
    /// The side of an access: every row, or the keys of its policies.
    fn side(&mut self, access: &Access, version: Version) -> Side {
        if access.sees_everything() {
            return Side::Everything;
        }
        let set = match version {
            Version::Old => self.old,
            Version::New => self.new,
        };
        let mut keys = Vec::with_capacity(access.policies.len());
        for membership in &access.policies {
            let index = membership.policy.index();
            let Some(policy) = set.policies().get(index) else { continue };
            // A policy that admits every row makes the whole side every row.
            let Some(filters) = filters_key(policy) else { return Side::Everything };
            let next = self.sources.len();
            let key = *self.by_filters.entry(filters).or_insert(next);
            if key == next {
                self.sources.push(Source { version, policy: index });
            }
            keys.push(key);
        }
        keys.sort_unstable();
        keys.dedup();
        Side::Keys(keys)
    }
}

/// Users that either side names (in policies or group members) but the new directory's user list lacks, by id.
fn users_beyond_directory(old: &PolicySet, new: &PolicySet) -> Vec<UserId> {
    let known: HashSet<UserId> = new.directory().users.iter().map(|u| u.id).collect();
    let mut extra: Vec<UserId> = Vec::new();
    for set in [old, new] {
        extra.extend(set.policies().iter().flat_map(|p| p.source().users.iter().copied()));
        extra.extend(set.directory().groups.iter().flat_map(|g| g.user_ids.iter().copied()));
    }
    extra.retain(|u| !known.contains(u));
    extra.sort_unstable();
    extra.dedup();
    extra
}

/// Virtual users that either side's policies name, by name.
fn virtual_users(old: &PolicySet, new: &PolicySet) -> Vec<String> {
    let mut names: Vec<String> = [old, new]
        .iter()
        .flat_map(|set| set.policies().iter().flat_map(|p| p.source().virtual_users.iter().cloned()))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

impl<'a> Plan<'a> {
    fn new(old: &'a PolicySet, new: &'a PolicySet, options: DiffOptions) -> Self {
        let mut keys = Keys { old, new, by_filters: HashMap::new(), sources: Vec::new() };
        let mut pair_index: HashMap<(Side, Side), usize> = HashMap::new();
        let mut pairs = Vec::new();
        let mut principals = Vec::new();
        let users = new.directory().users.iter().map(|u| Who::User(u.id));
        let beyond = users_beyond_directory(old, new).into_iter().map(Who::User);
        let virtuals = virtual_users(old, new).into_iter().map(Who::Virtual);
        for who in users.chain(beyond).chain(virtuals) {
            let principal = || match &who {
                Who::User(user) => Principal::User(*user),
                Who::Virtual(name) => Principal::Virtual(name),
            };
            let (old_access, new_access) = (old.access(principal()), new.access(principal()));
            let before = keys.side(&old_access, Version::Old);
            let after = keys.side(&new_access, Version::New);
            if before == after {
                // The same filters on both sides admit the same rows: nothing to compute.
                continue;
            }
            let next = pairs.len();
            let pair = *pair_index.entry((before.clone(), after.clone())).or_insert(next);
            if pair == next {
                pairs.push((before, after));
            }
            principals.push(Changing { who, old_reason: old_access.reason, new_reason: new_access.reason, pair });
        }
        // Only the keys some pair uses are computed per batch: renumber them densely, in first use order.
        let mut dense: HashMap<usize, usize> = HashMap::new();
        let mut sources = Vec::new();
        for (before, after) in &mut pairs {
            for side in [before, after] {
                let Side::Keys(list) = side else { continue };
                for key in list.iter_mut() {
                    *key = match keys.sources.get(*key) {
                        Some(&source) => *dense.entry(*key).or_insert_with(|| {
                            sources.push(source);
                            sources.len() - 1
                        }),
                        // Never: every key was interned into `keys.sources`.
                        None => usize::MAX,
                    };
                }
            }
        }
        Self { old, new, options, sources, pairs, principals }
    }
}

impl<'a> DiffAccumulator<'a> {
    /// An accumulator of the change from `old` to `new`, before any row. Both sets must be
    /// compiled against the same schema; the principals are the new set's directory users,
    /// the users either side names beyond it, and the virtual users either side names.
    pub fn new(old: &'a PolicySet, new: &'a PolicySet, options: DiffOptions) -> Self {
        let plan = Plan::new(old, new, options);
        let totals = vec![Totals::default(); plan.pairs.len()];
        Self { plan: Arc::new(plan), rows: 0, totals }
    }

    /// An empty accumulator of the same change, for rows that follow this one's: fill it,
    /// then give it to [`DiffAccumulator::merge`].
    pub fn fork(&self) -> Self {
        Self { plan: Arc::clone(&self.plan), rows: 0, totals: vec![Totals::default(); self.plan.pairs.len()] }
    }

    /// How many rows have been accumulated.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Accumulates the next rows of the DataSet.
    ///
    /// # Errors
    ///
    /// When the batch's columns (names and types, in order) differ from the schema the
    /// policy sets were compiled against; nothing is accumulated then.
    pub fn add_batch(&mut self, batch: &Table) -> Result<(), SchemaMismatchError> {
        self.plan.old.check_schema(batch)?;
        self.plan.new.check_schema(batch)?;
        let n = batch.row_count();
        let (old, new) = (self.plan.old, self.plan.new);
        let sets: Vec<RowSet> = self
            .plan
            .sources
            .par_iter()
            .map(|source| {
                match source.version {
                    Version::Old => old.policy_rows_on(batch, source.policy),
                    Version::New => new.policy_rows_on(batch, source.policy),
                }
                // Never reached (sources index their set); no rows is the safe answer.
                .unwrap_or_else(|| RowSet::empty(n))
            })
            .collect();
        self.add_sets(n, &sets.iter().collect::<Vec<_>>(), Parallel::Rayon);
        Ok(())
    }

    /// Accumulates a whole table from two evaluations of it, reusing their row sets.
    pub(super) fn add_evaluated(&mut self, old: &Evaluation<'_>, new: &Evaluation<'_>) {
        self.add_looked_up(old.table().row_count(), Parallel::Rayon, |version, policy| {
            let handle = PolicyHandle::from_index(policy);
            match version {
                Version::Old => old.policy_rows(handle),
                Version::New => new.policy_rows(handle),
            }
        });
    }

    /// Accumulates `n` rows given where each source's row set is (no rows when it is nowhere).
    fn add_looked_up<'r>(
        &mut self,
        n: usize,
        parallel: Parallel,
        rows_of: impl Fn(Version, usize) -> Option<&'r RowSet>,
    ) {
        let empty = RowSet::empty(n);
        let sets: Vec<&RowSet> =
            self.plan.sources.iter().map(|source| rows_of(source.version, source.policy).unwrap_or(&empty)).collect();
        self.add_sets(n, &sets, parallel);
    }

    /// Accumulates `n` rows given the row set of every source, in [`Plan::sources`] order.
    fn add_sets(&mut self, n: usize, sets: &[&RowSet], parallel: Parallel) {
        let words = n.div_ceil(BITS);
        let (offset, examples) = (self.rows, self.plan.options.example_rows);
        let add = |(before, after): &mut (Vec<usize>, Vec<usize>),
                   (totals, (old, new)): (&mut Totals, &(Side, Side))| {
            fill(before, old, sets, n);
            fill(after, new, sets, n);
            totals.before += ones(before);
            totals.after += ones(after);
            let gained = after.iter().zip(before.iter()).map(|(a, b)| a & !b);
            totals.gained.add_words(gained, offset, examples);
            let lost = before.iter().zip(after.iter()).map(|(b, a)| b & !a);
            totals.lost.add_words(lost, offset, examples);
        };
        match parallel {
            Parallel::Rayon => self
                .totals
                .par_iter_mut()
                .zip(self.plan.pairs.par_iter())
                .for_each_init(|| (vec![0usize; words], vec![0usize; words]), add),
            Parallel::No => {
                let mut buffers = (vec![0usize; words], vec![0usize; words]);
                for pair in self.totals.iter_mut().zip(self.plan.pairs.iter()) {
                    add(&mut buffers, pair);
                }
            }
        }
        self.rows += n;
    }

    /// The two policy sets, old and new.
    pub(super) fn policy_sets(&self) -> (&'a PolicySet, &'a PolicySet) {
        (self.plan.old, self.plan.new)
    }

    /// Per policy of the old set and of the new: whether some pair reads its rows.
    pub(super) fn needed_policies(&self) -> (Vec<bool>, Vec<bool>) {
        let mut old = vec![false; self.plan.old.policies().len()];
        let mut new = vec![false; self.plan.new.policies().len()];
        for source in &self.plan.sources {
            let needed = match source.version {
                Version::Old => old.get_mut(source.policy),
                Version::New => new.get_mut(source.policy),
            };
            if let Some(slot) = needed {
                *slot = true;
            }
        }
        (old, new)
    }

    /// Accumulates the next `n` rows on this thread, given every policy's rows in the old set and in
    /// the new (those [`DiffAccumulator::needed_policies`] leaves out are not read).
    pub(super) fn add_policy_rows(&mut self, n: usize, old: &[RowSet], new: &[RowSet]) {
        self.add_looked_up(n, Parallel::No, |version, policy| match version {
            Version::Old => old.get(policy),
            Version::New => new.get(policy),
        });
    }

    /// The example rows kept so far ([`ChangedRows::first`] of every principal) numbered `first` or
    /// later, sorted and each once. Called with [`DiffAccumulator::rows`] before a batch and right
    /// after it, these are the rows of that batch whose text a report may show: a streaming caller
    /// copies them out while the batch is at hand, then lets the batch go.
    pub fn example_rows_from(&self, first: usize) -> Vec<usize> {
        let mut rows: Vec<usize> = self
            .totals
            .iter()
            .flat_map(|t| t.gained.first.iter().chain(&t.lost.first))
            .copied()
            .filter(|&row| row >= first)
            .collect();
        rows.sort_unstable();
        rows.dedup();
        rows
    }

    /// Appends `later`, an accumulator [forked](DiffAccumulator::fork) from this one (or from a fork
    /// of it) that holds the rows right after this one's.
    ///
    /// # Errors
    ///
    /// When `later` diffs other policy sets; nothing is merged then.
    pub fn merge(&mut self, later: DiffAccumulator<'a>) -> Result<(), MergeDiffError> {
        if !Arc::ptr_eq(&self.plan, &later.plan) {
            return Err(MergeDiffError);
        }
        let (offset, examples) = (self.rows, self.plan.options.example_rows);
        for (totals, more) in self.totals.iter_mut().zip(later.totals) {
            totals.before += more.before;
            totals.after += more.after;
            totals.gained.append(more.gained, offset, examples);
            totals.lost.append(more.lost, offset, examples);
        }
        self.rows += later.rows;
        Ok(())
    }

    /// The diff of every row accumulated.
    pub fn finish(self) -> PolicyDiff {
        let plan = &self.plan;
        let policies = policy_changes(
            &plan.old.policies().iter().map(|p| p.source()).collect::<Vec<_>>(),
            &plan.new.policies().iter().map(|p| p.source()).collect::<Vec<_>>(),
        );
        let mut users = Vec::new();
        let mut virtual_users = Vec::new();
        for principal in &plan.principals {
            let Some(totals) = self.totals.get(principal.pair) else { continue };
            if totals.gained.is_empty() && totals.lost.is_empty() {
                continue;
            }
            let totals = totals.clone();
            match &principal.who {
                Who::User(user) => users.push(UserChange {
                    user: *user,
                    old_reason: principal.old_reason,
                    new_reason: principal.new_reason,
                    old_visible: totals.before,
                    new_visible: totals.after,
                    gained: totals.gained,
                    lost: totals.lost,
                }),
                Who::Virtual(name) => virtual_users.push(VirtualUserChange {
                    name: name.clone(),
                    old_visible: totals.before,
                    new_visible: totals.after,
                    gained: totals.gained,
                    lost: totals.lost,
                }),
            }
        }
        PolicyDiff { policies, users, virtual_users }
    }
}

impl ChangedRows {
    /// Counts the rows of a bitmap of the batch starting at row `offset`, keeping the first ones.
    fn add_words(&mut self, words: impl Iterator<Item = usize>, offset: usize, examples: usize) {
        for (index, word) in words.enumerate() {
            self.count += word.count_ones() as usize;
            let mut rest = word;
            while rest != 0 && self.first.len() < examples {
                self.first.push(offset + index * BITS + rest.trailing_zeros() as usize);
                rest &= rest - 1;
            }
        }
    }

    /// Appends the rows of a later range that starts at row `offset`.
    fn append(&mut self, later: ChangedRows, offset: usize, examples: usize) {
        self.count += later.count;
        let room = examples.saturating_sub(self.first.len());
        self.first.extend(later.first.into_iter().take(room).map(|row| offset + row));
    }
}

fn ones(words: &[usize]) -> usize {
    words.iter().map(|w| w.count_ones() as usize).sum()
}

/// Sets `words` to the bitmap of a side's rows among the batch's `n`.
fn fill(words: &mut [usize], side: &Side, sets: &[&RowSet], n: usize) {
    let keys = match side {
        Side::Everything => return fill_all(words, n),
        Side::Keys(keys) => keys,
    };
    words.fill(0);
    for set in keys.iter().filter_map(|&key| sets.get(key)) {
        if set.is_all() {
            return fill_all(words, n);
        }
        if let Some(bits) = set.as_dense() {
            for (word, other) in words.iter_mut().zip(bits.as_slice()) {
                *word |= other;
            }
        } else {
            for &row in set.as_sparse().unwrap_or_default() {
                let row = row as usize;
                if let Some(word) = words.get_mut(row / BITS) {
                    *word |= 1 << (row % BITS);
                }
            }
        }
    }
}

fn fill_all(words: &mut [usize], n: usize) {
    words.fill(usize::MAX);
    if let Some(last) = words.last_mut()
        && !n.is_multiple_of(BITS)
    {
        *last &= (1usize << (n % BITS)) - 1;
    }
}
