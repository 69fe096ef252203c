//! Every principal's visible count from a CSV read in batches: memory bounded by a batch, not the file.

use std::io::Read;

use domo_model::UserId;

use crate::compile::{Access, PolicySet, Principal, Reason};
use crate::table::{BatchOptions, LoadCsvError, Typed, map_batches_typing};

use super::{CountPlan, Evaluation, Parallel, StringTests, VisibleCount};

/// How many rows a virtual user sees, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualCount {
    /// The virtual user's name.
    pub name: String,
    /// How many rows they see.
    pub rows: usize,
    /// Why.
    pub reason: Reason,
}

/// How many rows every principal sees: the directory's users, the users the
/// policies name beyond it, and the virtual users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllCounts {
    /// How many data rows the table has.
    pub rows: usize,
    /// Every directory user, in directory order, as [`Evaluation::visible_counts`] gives them.
    pub users: Vec<VisibleCount>,
    /// The users of [`PolicySet::users_beyond_directory`], in that order.
    pub beyond_directory: Vec<VisibleCount>,
    /// The virtual users of [`PolicySet::virtual_users`], in that order.
    pub virtual_users: Vec<VirtualCount>,
}

/// Every principal counted, in the order of [`AllCounts`]: directory users, users beyond it, virtual users.
struct Principals<'s> {
    users: Vec<UserId>,
    beyond: Vec<UserId>,
    virtuals: Vec<&'s str>,
}

impl<'s> Principals<'s> {
    fn of(set: &'s PolicySet) -> Self {
        Self {
            users: set.directory.users.iter().map(|u| u.id).collect(),
            beyond: set.users_beyond_directory(),
            virtuals: set.virtual_users(),
        }
    }

    fn plan(&self, set: &PolicySet) -> CountPlan {
        let users = self.users.iter().chain(&self.beyond).map(|&user| (Some(user), set.access(user)));
        let virtuals = self.virtuals.iter().map(|&name| (None, set.access(Principal::Virtual(name))));
        CountPlan::new(set, users.chain(virtuals).collect::<Vec<(Option<UserId>, Access)>>())
    }

    fn counts(&self, counted: Vec<(usize, Reason)>, rows: usize) -> AllCounts {
        let mut counted = counted.into_iter();
        let mut users_of = |ids: &[UserId]| -> Vec<VisibleCount> {
            ids.iter()
                .zip(counted.by_ref())
                .map(|(&user, (rows, reason))| VisibleCount { user, rows, reason })
                .collect()
        };
        let users = users_of(&self.users);
        let beyond_directory = users_of(&self.beyond);
        let virtual_users = self
            .virtuals
            .iter()
            .zip(counted)
            .map(|(name, (rows, reason))| VirtualCount { name: (*name).to_owned(), rows, reason })
            .collect();
        AllCounts { rows, users, beyond_directory, virtual_users }
    }
}

impl PolicySet {
    /// How many rows every principal sees, from CSV read a batch at a time:
    /// the answer of [`Evaluation::all_counts`] without holding the table.
    ///
    /// Each batch is evaluated on its own (on the worker threads of
    /// [`BatchOptions::threads`]) and its counts added; memory holds a few
    /// batches and one row set per policy for a batch, whatever the file's size.
    /// Only the columns the counted policies' filters read are typed: the
    /// others are split (quoting and field counts are checked) but their cells
    /// are not, as no count depends on them.
    ///
    /// # Errors
    ///
    /// The first problem in the CSV, as [`crate::Table::from_csv_with_limits`]
    /// reports it, in the columns read.
    pub fn all_counts_csv<R: Read>(&self, reader: R, options: BatchOptions) -> Result<AllCounts, LoadCsvError> {
        let principals = Principals::of(self);
        let plan = principals.plan(self);
        let aliases = self.filter_aliases();
        let needed = plan.needed_policies(self.policies.len());
        let mut totals = vec![0usize; plan.key_count()];
        // Each worker keeps its STRING filters' answers across the batches it evaluates.
        let pool: std::sync::Mutex<Vec<StringTests>> = std::sync::Mutex::new(Vec::new());
        // Only the columns some counted policy's filters read are typed.
        let mut read: Vec<usize> = self
            .policies
            .iter()
            .zip(&needed)
            .filter(|(_, needed)| **needed)
            .flat_map(|(policy, _)| policy.filters.iter().map(|f| f.column))
            .collect();
        read.sort_unstable();
        read.dedup();
        let rows = map_batches_typing(
            reader,
            &self.schema,
            options,
            &Typed::Only(read),
            |batch| {
                let table = batch.table();
                let n = table.row_count();
                let mut tests = pool.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_default();
                let sets = self.row_sets(table, &aliases, Some(&needed), Parallel::No, Some(&mut tests));
                if let Ok(mut pool) = pool.lock() {
                    pool.push(tests);
                }
                Ok::<_, LoadCsvError>(plan.count_keys(self, &sets, n, Parallel::No))
            },
            |counts| {
                for (total, count) in totals.iter_mut().zip(counts) {
                    *total += count;
                }
                Ok(())
            },
        )?;
        let rows = usize::try_from(rows).unwrap_or(usize::MAX);
        Ok(principals.counts(plan.finish(&totals, rows), rows))
    }
}

impl Evaluation<'_> {
    /// How many rows every principal sees: the directory's users (as
    /// [`Evaluation::visible_counts`]), the users the policies name beyond the
    /// directory, and the virtual users.
    pub fn all_counts(&self) -> AllCounts {
        let principals = Principals::of(self.set);
        let plan = principals.plan(self.set);
        let n = self.table.row_count();
        let key_counts = plan.count_keys(self.set, &self.rows, n, Parallel::Rayon);
        principals.counts(plan.finish(&key_counts, n), n)
    }
}
