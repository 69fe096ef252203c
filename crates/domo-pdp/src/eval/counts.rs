//! Counting visible rows for many principals at once: equal policy sets share one count, anchored on a group's union.

use domo_model::{GroupId, UserId};
use hashbrown::HashMap;
use rayon::prelude::*;

use crate::compile::{Access, PolicySet, Reason};
use crate::rowset::RowSet;

/// Whether a computation spreads over rayon's threads or stays on the calling one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parallel {
    Rayon,
    No,
}

/// Who is counted and how, worked out once before any row is read.
///
/// Principals whose policy sets are equal share a key; each key is anchored on
/// the principal's group with the most policies, whose union is built once
/// for all the keys it anchors.
#[derive(Debug)]
pub(crate) struct CountPlan {
    reasons: Vec<Reason>,
    principal_key: Vec<Option<usize>>,
    keys: Vec<Vec<usize>>,
    work: Vec<(Option<GroupId>, Vec<usize>)>,
}

impl CountPlan {
    /// A plan for these principals (the user, when the principal is one, picks the anchor group).
    pub(crate) fn new(set: &PolicySet, principals: impl IntoIterator<Item = (Option<UserId>, Access)>) -> Self {
        let mut key_index: HashMap<Vec<usize>, usize> = HashMap::new();
        let mut keys: Vec<Vec<usize>> = Vec::new();
        let mut anchors: Vec<Option<GroupId>> = Vec::new();
        let mut reasons = Vec::new();
        let mut principal_key = Vec::new();
        for (user, access) in principals {
            reasons.push(access.reason);
            if access.reason != Reason::Policies {
                principal_key.push(None);
                continue;
            }
            let key: Vec<usize> = access.policies.iter().map(|m| m.policy.index()).collect();
            let index = *key_index.entry(key.clone()).or_insert_with(|| {
                let anchor = user.and_then(|user| {
                    set.groups_of(user)
                        .iter()
                        .copied()
                        .filter(|g| set.group_policies(*g).len() > 1)
                        .max_by_key(|g| set.group_policies(*g).len())
                });
                keys.push(key);
                anchors.push(anchor);
                keys.len() - 1
            });
            principal_key.push(Some(index));
        }
        let mut by_anchor: HashMap<Option<GroupId>, Vec<usize>> = HashMap::new();
        for (index, anchor) in anchors.iter().enumerate() {
            by_anchor.entry(*anchor).or_default().push(index);
        }
        let mut work: Vec<(Option<GroupId>, Vec<usize>)> = by_anchor.into_iter().collect();
        // A fixed order, so that every pass splits the work alike.
        work.sort_unstable_by_key(|(anchor, _)| *anchor);
        Self { reasons, principal_key, keys, work }
    }

    /// How many keys the plan counts.
    pub(crate) fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Which policies some count reads (the others need not be evaluated).
    pub(crate) fn needed_policies(&self, policies: usize) -> Vec<bool> {
        let mut needed = vec![false; policies];
        for &policy in self.keys.iter().flatten() {
            if let Some(slot) = needed.get_mut(policy) {
                *slot = true;
            }
        }
        needed
    }

    /// Each key's number of visible rows among `n` rows, given every policy's rows.
    pub(crate) fn count_keys(&self, set: &PolicySet, rows: &[RowSet], n: usize, parallel: Parallel) -> Vec<usize> {
        let count_anchor = |(anchor, members): &(Option<GroupId>, Vec<usize>)| {
            let anchor_policies: &[usize] = anchor.map_or(&[], |g| set.group_policies(g));
            let anchor_rows = anchor.map(|_| RowSet::union(n, anchor_policies.iter().filter_map(|&p| rows.get(p))));
            members
                .iter()
                .map(|&index| {
                    let key = self.keys.get(index).map_or(&[][..], Vec::as_slice);
                    let mut sets: Vec<&RowSet> = anchor_rows.iter().collect();
                    sets.extend(key.iter().filter(|p| !anchor_policies.contains(p)).filter_map(|&p| rows.get(p)));
                    (index, RowSet::union_len(n, &sets))
                })
                .collect::<Vec<_>>()
        };
        let counted: Vec<(usize, usize)> = match parallel {
            Parallel::Rayon => self.work.par_iter().flat_map_iter(count_anchor).collect(),
            Parallel::No => self.work.iter().flat_map(count_anchor).collect(),
        };
        let mut key_counts = vec![0usize; self.keys.len()];
        for (index, count) in counted {
            if let Some(slot) = key_counts.get_mut(index) {
                *slot = count;
            }
        }
        key_counts
    }

    /// Each principal's count and reason, in the plan's order, from its keys' counts among `n` rows.
    pub(crate) fn finish(&self, key_counts: &[usize], n: usize) -> Vec<(usize, Reason)> {
        self.reasons
            .iter()
            .zip(&self.principal_key)
            .map(|(&reason, key)| {
                let rows = match reason {
                    Reason::Policies => key.and_then(|k| key_counts.get(k).copied()).unwrap_or(0),
                    Reason::NoPolicy => 0,
                    _ => n,
                };
                (rows, reason)
            })
            .collect()
    }
}
