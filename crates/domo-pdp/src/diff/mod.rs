//! Diff of two policy sets over the same data: per user rows gained and lost, and which policies changed.

use domo_model::{Policy, PolicyFilter, PolicyId, UserId};

use crate::compile::Reason;
use crate::eval::Evaluation;

mod accumulate;
mod stream;

pub use accumulate::{DiffAccumulator, MergeDiffError};
pub use stream::DiffCsvError;

/// How one policy differs between the old and the new set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyChangeKind {
    /// Only in the new set.
    Added,
    /// Only in the old set.
    Removed,
    /// In both (same id, or same name when ids are absent), with these differences in words.
    Changed(Vec<String>),
}

/// A policy that was added, removed or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    /// The policy's id, if it has one.
    pub id: Option<PolicyId>,
    /// The policy's name (the new name when it changed).
    pub name: String,
    /// What happened to it.
    pub kind: PolicyChangeKind,
}

/// Rows (0-based, DataSet order) gained or lost: how many, and the first of them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangedRows {
    /// How many rows.
    pub count: usize,
    /// The first rows, in DataSet order: at most [`DiffOptions::example_rows`] of them.
    pub first: Vec<usize>,
}

impl ChangedRows {
    /// How many rows (all of them, not only the [`ChangedRows::first`] kept).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// How one user's visible rows change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChange {
    /// The user.
    pub user: UserId,
    /// Why they saw their rows before.
    pub old_reason: Reason,
    /// Why they see their rows now.
    pub new_reason: Reason,
    /// How many rows they saw before.
    pub old_visible: usize,
    /// How many rows they see now.
    pub new_visible: usize,
    /// Rows they see now and did not before.
    pub gained: ChangedRows,
    /// Rows they saw before and do not now.
    pub lost: ChangedRows,
}

/// How one virtual user's visible rows change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualUserChange {
    /// The virtual user, as policies name it in `virtualUsers`.
    pub name: String,
    /// How many rows they saw before.
    pub old_visible: usize,
    /// How many rows they see now.
    pub new_visible: usize,
    /// Rows they see now and did not before.
    pub gained: ChangedRows,
    /// Rows they saw before and do not now.
    pub lost: ChangedRows,
}

/// The difference between two policy sets evaluated on the same table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyDiff {
    /// Policies added, removed or changed, old order first, then the new ones.
    pub policies: Vec<PolicyChange>,
    /// Every user whose visible rows change: the directory's users in directory
    /// order, then users that policies or groups name but the directory's user
    /// list lacks, by id (a change grants them rows all the same).
    pub users: Vec<UserChange>,
    /// Every virtual user named by either side whose visible rows change, by name.
    pub virtual_users: Vec<VirtualUserChange>,
}

impl PolicyDiff {
    /// Whether anyone gains a row: a user or a virtual user.
    pub fn grants_new_access(&self) -> bool {
        self.users.iter().any(|u| !u.gained.is_empty()) || self.virtual_users.iter().any(|v| !v.gained.is_empty())
    }
}

/// How a diff is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffOptions {
    /// How many of each principal's gained rows, and of their lost rows, to keep as examples
    /// ([`ChangedRows::first`]): the first ones in DataSet order. Memory grows with this, never with the rows.
    pub example_rows: usize,
}

impl Default for DiffOptions {
    /// Ten example rows each way.
    fn default() -> Self {
        Self { example_rows: 10 }
    }
}

/// Compares what each user of the new evaluation's directory sees under `old`
/// and under `new`, keeping the first ten rows gained and lost of each
/// ([`DiffOptions::default`]). Both must be evaluated on the same table.
///
/// Only principals whose policies differ between the sets are computed, and
/// those with equal (before, after) policies share one computation. To diff a
/// table too large to hold, feed it batch by batch to a [`DiffAccumulator`].
pub fn diff_policies(old: &Evaluation<'_>, new: &Evaluation<'_>) -> PolicyDiff {
    diff_policies_with(old, new, DiffOptions::default())
}

/// [`diff_policies`] with options.
pub fn diff_policies_with(old: &Evaluation<'_>, new: &Evaluation<'_>, options: DiffOptions) -> PolicyDiff {
    let mut accumulator = DiffAccumulator::new(old.policy_set(), new.policy_set(), options);
    accumulator.add_evaluated(old, new);
    accumulator.finish()
}

/// Matches policies by id (or by name when either has no id) and lists what changed.
pub fn policy_changes(old: &[&Policy], new: &[&Policy]) -> Vec<PolicyChange> {
    let find = |list: &[&Policy], p: &Policy| -> Option<usize> {
        match p.id {
            Some(id) => list.iter().position(|q| q.id == Some(id)),
            None => list.iter().position(|q| q.id.is_none() && q.name == p.name),
        }
    };
    let mut changes = Vec::new();
    for policy in old {
        match find(new, policy).and_then(|i| new.get(i)) {
            None => {
                changes.push(PolicyChange { id: policy.id, name: policy.name.clone(), kind: PolicyChangeKind::Removed })
            }
            Some(after) => {
                let details = policy_details(policy, after);
                if !details.is_empty() {
                    changes.push(PolicyChange {
                        id: after.id,
                        name: after.name.clone(),
                        kind: PolicyChangeKind::Changed(details),
                    });
                }
            }
        }
    }
    for policy in new {
        if find(old, policy).is_none() {
            changes.push(PolicyChange { id: policy.id, name: policy.name.clone(), kind: PolicyChangeKind::Added });
        }
    }
    changes
}

fn policy_details(before: &Policy, after: &Policy) -> Vec<String> {
    let mut details = Vec::new();
    if before.name != after.name {
        details.push(format!("renamed from `{}`", before.name));
    }
    if before.policy_type != after.policy_type {
        details.push(format!("type `{}` -> `{}`", before.policy_type, after.policy_type));
    }
    if before.filters != after.filters {
        details.push(format!("filters {} -> {}", filters_text(&before.filters), filters_text(&after.filters)));
    }
    list_changes(&mut details, "user", &before.users, &after.users);
    list_changes(&mut details, "group", &before.groups, &after.groups);
    list_changes(&mut details, "virtual user", &before.virtual_users, &after.virtual_users);
    details
}

fn list_changes<T: PartialEq + std::fmt::Display>(details: &mut Vec<String>, what: &str, before: &[T], after: &[T]) {
    let added: Vec<String> = after.iter().filter(|x| !before.contains(x)).map(|x| format!("`{x}`")).collect();
    let removed: Vec<String> = before.iter().filter(|x| !after.contains(x)).map(|x| format!("`{x}`")).collect();
    if !added.is_empty() {
        details.push(format!("{what}s added: {}", added.join(", ")));
    }
    if !removed.is_empty() {
        details.push(format!("{what}s removed: {}", removed.join(", ")));
    }
}

/// `[Attending EQUALS `TRUE`]`, filters in order, `AND` between them.
fn filters_text(filters: &[PolicyFilter]) -> String {
    let parts: Vec<String> = filters
        .iter()
        .map(|f| {
            let values: Vec<String> = f.values.iter().map(|v| format!("`{v}`")).collect();
            format!("{} {}{} {}", f.column, if f.not { "NOT " } else { "" }, f.operator, values.join(", "))
        })
        .collect();
    if parts.is_empty() { "(none)".to_owned() } else { format!("[{}]", parts.join(" AND ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_match_by_id_then_name() {
        let p = |json: &str| -> Policy { serde_json::from_str(json).unwrap() };
        let a = p(r#"{"id": 1, "name": "a", "users": [1]}"#);
        let a2 = p(r#"{"id": 1, "name": "a2", "users": [1, 2]}"#);
        let b = p(r#"{"name": "b"}"#);
        let c = p(r#"{"name": "c"}"#);
        let changes = policy_changes(&[&a, &b], &[&a2, &c]);
        assert_eq!(changes.len(), 3);
        assert_eq!(
            changes.first().map(|c| &c.kind),
            Some(&PolicyChangeKind::Changed(vec!["renamed from `a`".to_owned(), "users added: `2`".to_owned()]))
        );
        assert_eq!(changes.get(1).map(|c| &c.kind), Some(&PolicyChangeKind::Removed));
        assert_eq!(changes.get(2).map(|c| (&c.kind, c.name.as_str())), Some((&PolicyChangeKind::Added, "c")));
    }

    #[test]
    fn gained_and_lost_agree_with_visible_rows() {
        use crate::{HeaderRow, PolicySet, Table};
        use domo_model::{Dataset, Directory};
        let dataset: Dataset = serde_json::from_value(serde_json::json!({
            "id": "d", "name": "n", "pdpEnabled": true, "owner": {"id": 1},
            "schema": {"columns": [{"type": "STRING", "name": "Region"}, {"type": "LONG", "name": "Amount"}]}
        }))
        .unwrap();
        let directory: Directory = serde_json::from_value(serde_json::json!({
            "users": [{"id": 1, "name": "o"}, {"id": 2, "name": "a"}, {"id": 3, "name": "b"}, {"id": 4, "name": "c"}, {"id": 5, "name": "d"}],
            "groups": [{"id": 9, "name": "g", "userIds": [3, 4]}]
        }))
        .unwrap();
        let csv = "Region,Amount\nEast,10\nWest,20\nEast,30\nNorth,\nWest,50\n";
        let table = Table::from_csv(csv.as_bytes(), &dataset.schema, HeaderRow::Present).unwrap();
        let old: Vec<Policy> = serde_json::from_str(
            r#"[{"id": 1, "name": "east", "filters": [{"column": "Region", "operator": "EQUALS", "values": ["East"]}], "users": [2]},
                {"id": 2, "name": "big", "filters": [{"column": "Amount", "operator": "GREATER_THAN", "values": ["15"]}], "groups": [9]}]"#,
        )
        .unwrap();
        let new: Vec<Policy> = serde_json::from_str(
            r#"[{"id": 1, "name": "east", "filters": [{"column": "Region", "operator": "EQUALS", "values": ["East", "North"]}], "users": [2, 5]},
                {"id": 2, "name": "big", "filters": [{"column": "Amount", "operator": "GREATER_THAN", "values": ["25"]}], "groups": [9]}]"#,
        )
        .unwrap();
        let old_set = PolicySet::compile(&dataset, &old, &directory).unwrap();
        let new_set = PolicySet::compile(&dataset, &new, &directory).unwrap();
        let old_eval = old_set.evaluate(&table).unwrap();
        let new_eval = new_set.evaluate(&table).unwrap();
        let diff = diff_policies(&old_eval, &new_eval);
        for user in &directory.users {
            let before: Vec<usize> = old_eval.visible_rows(user.id).iter().collect();
            let after: Vec<usize> = new_eval.visible_rows(user.id).iter().collect();
            let gained: Vec<usize> = after.iter().copied().filter(|r| !before.contains(r)).collect();
            let lost: Vec<usize> = before.iter().copied().filter(|r| !after.contains(r)).collect();
            match diff.users.iter().find(|u| u.user == user.id) {
                Some(change) => {
                    assert_eq!((&change.gained.first, &change.lost.first), (&gained, &lost), "user {}", user.id);
                    assert_eq!((change.gained.count, change.lost.count), (gained.len(), lost.len()));
                    assert_eq!((change.old_visible, change.new_visible), (before.len(), after.len()));
                }
                None => assert!(gained.is_empty() && lost.is_empty(), "user {} changed but is not listed", user.id),
            }
        }
        assert_eq!(diff.users.iter().map(|u| u.user.get()).collect::<Vec<_>>(), [2, 3, 4, 5]);
        assert!(diff.grants_new_access());
    }
}
