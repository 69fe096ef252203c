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
    /// Per key: its principal's other groups of several policies (each group's union is
    /// built once per batch), and the key's policies in neither them nor the anchor.
    parts: Vec<(Vec<GroupId>, Vec<usize>)>,
    /// Every group whose union some count reads, ascending.
    groups: Vec<GroupId>,
    work: Vec<(Option<GroupId>, Vec<usize>)>,
}

/// At most this many groups' unions are built up front for each batch and shared between keys (about 3 KB
/// each at the default batch size): past it, each anchor's union is built when its keys are counted and
/// released after, and a key's other groups count as their policies, so that memory per batch does not grow
/// with the directory's groups.
const SHARED_UNIONS: usize = 1024;

impl CountPlan {
    /// A plan for these principals (the user, when the principal is one, picks the anchor group).
    pub(crate) fn new(set: &PolicySet, principals: impl IntoIterator<Item = (Option<UserId>, Access)>) -> Self {
        Self::with_shared_unions(set, principals, SHARED_UNIONS)
    }

    /// [`CountPlan::new`] sharing at most `cap` groups' unions.
    fn with_shared_unions(
        set: &PolicySet,
        principals: impl IntoIterator<Item = (Option<UserId>, Access)>,
        cap: usize,
    ) -> Self {
        let mut key_index: HashMap<Vec<usize>, usize> = HashMap::new();
        let mut keys: Vec<Vec<usize>> = Vec::new();
        let mut anchors: Vec<Option<GroupId>> = Vec::new();
        let mut parts: Vec<(Vec<GroupId>, Vec<usize>)> = Vec::new();
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
                let anchor_policies: &[usize] = anchor.map_or(&[], |g| set.group_policies(g));
                // The principal's other groups whose policies are all in the key.
                let others: Vec<GroupId> = user
                    .map(|user| set.groups_of(user))
                    .unwrap_or_default()
                    .iter()
                    .copied()
                    .filter(|&g| Some(g) != anchor)
                    .filter(|&g| set.group_policies(g).len() > 1)
                    .filter(|&g| set.group_policies(g).iter().all(|p| key.contains(p)))
                    .collect();
                let rest: Vec<usize> = key
                    .iter()
                    .copied()
                    .filter(|p| !anchor_policies.contains(p))
                    .filter(|p| !others.iter().any(|&g| set.group_policies(g).contains(p)))
                    .collect();
                parts.push((others, rest));
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
        let mut groups: Vec<GroupId> = anchors
            .iter()
            .flatten()
            .copied()
            .chain(parts.iter().flat_map(|(others, _)| others.iter().copied()))
            .collect();
        groups.sort_unstable();
        groups.dedup();
        if groups.len() > cap {
            // Too many to hold at once: no union is shared; the other groups' policies join the rest.
            for (index, (others, rest)) in parts.iter_mut().enumerate() {
                let anchor_policies = anchors.get(index).copied().flatten().map_or(&[][..], |g| set.group_policies(g));
                for group in others.drain(..) {
                    for &policy in set.group_policies(group) {
                        if !anchor_policies.contains(&policy) && !rest.contains(&policy) {
                            rest.push(policy);
                        }
                    }
                }
            }
            groups.clear();
        }
        Self { reasons, principal_key, keys, parts, groups, work }
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
        // Each group's union, built once for the keys it anchors and the keys of its other members.
        let union_of =
            |&group: &GroupId| (group, RowSet::union(n, set.group_policies(group).iter().filter_map(|&p| rows.get(p))));
        let unions: HashMap<GroupId, RowSet> = match parallel {
            Parallel::Rayon => self.groups.par_iter().map(union_of).collect::<Vec<_>>().into_iter().collect(),
            Parallel::No => self.groups.iter().map(union_of).collect(),
        };
        let count_anchor = |(anchor, members): &(Option<GroupId>, Vec<usize>)| {
            // An anchor whose union is not shared (past [`SHARED_UNIONS`]) is built here, for its keys only.
            let built;
            let anchor_rows = match anchor {
                Some(group) if !unions.contains_key(group) => {
                    built = union_of(group).1;
                    Some(&built)
                }
                Some(group) => unions.get(group),
                None => None,
            };
            members
                .iter()
                .map(|&index| {
                    let (others, rest) = self.parts.get(index).map_or((&[][..], &[][..]), |(o, r)| (o, r));
                    let mut sets: Vec<&RowSet> = anchor_rows.into_iter().collect();
                    sets.extend(others.iter().filter_map(|g| unions.get(g)));
                    sets.extend(rest.iter().filter_map(|&p| rows.get(p)));
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

#[cfg(test)]
mod tests {
    use domo_model::{
        Column, ColumnType, Dataset, Directory, DirectoryGroup, FilterOperator, GroupId, Policy, PolicyFilter,
        PolicyType, Role, Schema, User, UserId,
    };
    use proptest::prelude::*;

    use super::*;
    use crate::table::{HeaderRow, Table};

    const USERS: u64 = 6;
    const GROUPS: u64 = 3;

    proptest! {
        /// Every user's count, with groups' unions shared between keys (a user in several groups of
        /// several policies each), is the size of the union of the user's policies' rows.
        #[test]
        fn counts_are_the_sizes_of_each_users_union(
            cells in prop::collection::vec(prop::option::of(0i64..8), 0..40),
            policies in prop::collection::vec(
                (0i64..8, any::<bool>(), prop::collection::vec(1..=USERS, 0..2), prop::collection::vec(1..=GROUPS, 0..3)),
                1..9,
            ),
            members in prop::collection::vec(prop::collection::vec(1..=USERS, 0..5), GROUPS as usize),
        ) {
            let schema = Schema { columns: vec![Column::new(ColumnType::Long, "n")] };
            let dataset = Dataset {
                id: "d".into(),
                name: "d".into(),
                description: None,
                rows: 0,
                columns: 1,
                schema: schema.clone(),
                owner: None,
                created_at: None,
                updated_at: None,
                data_current_at: None,
                pdp_enabled: true,
                policies: None,
            };
            let policies: Vec<Policy> = policies
                .into_iter()
                .enumerate()
                .map(|(i, (value, greater, users, groups))| Policy {
                    id: None,
                    policy_type: PolicyType::User,
                    name: format!("p{i}"),
                    filters: vec![PolicyFilter {
                        column: "n".into(),
                        values: vec![value.to_string()],
                        operator: if greater { FilterOperator::GreaterThan } else { FilterOperator::Equals },
                        not: false,
                    }],
                    users: users.into_iter().map(UserId).collect(),
                    virtual_users: vec![],
                    groups: groups.into_iter().map(GroupId).collect(),
                })
                .collect();
            let directory = Directory {
                users: (1..=USERS).map(|id| User::new(UserId(id), format!("u{id}"), Role::Participant)).collect(),
                groups: members
                    .into_iter()
                    .zip(1..)
                    .map(|(members, id)| DirectoryGroup {
                        id: GroupId(id),
                        name: format!("g{id}"),
                        user_ids: members.into_iter().map(UserId).collect(),
                    })
                    .collect(),
                roles: Vec::new(),
            };
            let set = PolicySet::compile(&dataset, &policies, &directory).unwrap();
            let csv: String = cells.iter().map(|c| c.map(|v| v.to_string()).unwrap_or_default() + "\n").collect();
            let table = Table::from_csv(csv.as_bytes(), &schema, HeaderRow::Absent).unwrap();
            let evaluation = set.evaluate(&table).unwrap();
            let n = table.row_count();
            let users: Vec<UserId> = (1..=USERS).map(UserId).collect();
            // Unions shared, and (a cap of none) each anchor's built for its own keys.
            for cap in [SHARED_UNIONS, 0] {
                let plan = CountPlan::with_shared_unions(&set, users.iter().map(|&u| (Some(u), set.access(u))), cap);
                for parallel in [Parallel::Rayon, Parallel::No] {
                    let counted = plan.finish(&plan.count_keys(&set, &evaluation.rows, n, parallel), n);
                    for (&user, (count, _)) in users.iter().zip(counted) {
                        prop_assert_eq!(
                            count,
                            evaluation.visible_rows(user).len(),
                            "user {} ({:?}, cap {})",
                            user,
                            parallel,
                            cap
                        );
                    }
                }
            }
        }
    }
}
