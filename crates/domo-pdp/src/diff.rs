//! Diff of two policy sets over the same data: per user rows gained and lost, and which policies changed.

use domo_model::{Policy, PolicyFilter, PolicyId, UserId};
use hashbrown::HashMap;

use crate::compile::{Access, Principal, Reason};
use crate::eval::Evaluation;
use crate::rowset::RowSet;

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
    /// Rows (0-based, DataSet order) they see now and did not before.
    pub gained: Vec<usize>,
    /// Rows (0-based, DataSet order) they saw before and do not now.
    pub lost: Vec<usize>,
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
    /// Rows (0-based, DataSet order) they see now and did not before.
    pub gained: Vec<usize>,
    /// Rows (0-based, DataSet order) they saw before and do not now.
    pub lost: Vec<usize>,
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

/// Users that either side names (in policies or group members) but the new directory's user list lacks, by id.
fn users_beyond_directory(old: &Evaluation<'_>, new: &Evaluation<'_>) -> Vec<UserId> {
    let known: hashbrown::HashSet<UserId> = new.policy_set().directory().users.iter().map(|u| u.id).collect();
    let mut extra: Vec<UserId> = Vec::new();
    for set in [old.policy_set(), new.policy_set()] {
        extra.extend(set.policies().iter().flat_map(|p| p.source().users.iter().copied()));
        extra.extend(set.directory().groups.iter().flat_map(|g| g.user_ids.iter().copied()));
    }
    extra.retain(|u| !known.contains(u));
    extra.sort_unstable();
    extra.dedup();
    extra
}

/// Virtual users that either side's policies name, by name.
fn virtual_users(old: &Evaluation<'_>, new: &Evaluation<'_>) -> Vec<String> {
    let mut names: Vec<String> = [old.policy_set(), new.policy_set()]
        .iter()
        .flat_map(|set| set.policies().iter().flat_map(|p| p.source().virtual_users.iter().cloned()))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Compares what each user of the new evaluation's directory sees under `old`
/// and under `new`. Both must be evaluated on the same table; users with the
/// same policies on both sides share one computation.
pub fn diff_policies(old: &Evaluation<'_>, new: &Evaluation<'_>) -> PolicyDiff {
    let policies = policy_changes(
        &old.policy_set().policies().iter().map(|p| p.source()).collect::<Vec<_>>(),
        &new.policy_set().policies().iter().map(|p| p.source()).collect::<Vec<_>>(),
    );
    let mut memo: HashMap<(AccessKey, AccessKey), Change> = HashMap::new();
    let mut users = Vec::new();
    let directory_users = new.policy_set().directory().users.iter().map(|u| u.id);
    for user in directory_users.chain(users_beyond_directory(old, new)) {
        let old_access = old.policy_set().access(user);
        let new_access = new.policy_set().access(user);
        let key = (AccessKey::of(&old_access), AccessKey::of(&new_access));
        let (gained, lost, old_visible, new_visible) = memo
            .entry(key)
            .or_insert_with(|| {
                let before = old.rows_for(&old_access);
                let after = new.rows_for(&new_access);
                let (gained, lost) = difference(&before, &after);
                (gained, lost, before.len(), after.len())
            })
            .clone();
        if gained.is_empty() && lost.is_empty() {
            continue;
        }
        users.push(UserChange {
            user,
            old_reason: old_access.reason,
            new_reason: new_access.reason,
            old_visible,
            new_visible,
            gained,
            lost,
        });
    }
    let mut virtual_changes = Vec::new();
    for name in virtual_users(old, new) {
        let before = old.rows_for(&old.policy_set().access(Principal::Virtual(&name)));
        let after = new.rows_for(&new.policy_set().access(Principal::Virtual(&name)));
        let (gained, lost) = difference(&before, &after);
        if gained.is_empty() && lost.is_empty() {
            continue;
        }
        virtual_changes.push(VirtualUserChange {
            name,
            old_visible: before.len(),
            new_visible: after.len(),
            gained,
            lost,
        });
    }
    PolicyDiff { policies, users, virtual_users: virtual_changes }
}

/// Rows gained, rows lost, and the counts before and after.
type Change = (Vec<usize>, Vec<usize>, usize, usize);

/// What decides a user's rows: everything, or a set of policies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum AccessKey {
    Everything,
    Policies(Vec<usize>),
}

impl AccessKey {
    fn of(access: &Access) -> Self {
        if access.sees_everything() {
            AccessKey::Everything
        } else {
            AccessKey::Policies(access.policies.iter().map(|m| m.policy.index()).collect())
        }
    }
}

/// Rows only in `after` (gained) and only in `before` (lost), both in order.
fn difference(before: &RowSet, after: &RowSet) -> (Vec<usize>, Vec<usize>) {
    let mut gained = Vec::new();
    let mut lost = Vec::new();
    let mut a = before.iter().peekable();
    let mut b = after.iter().peekable();
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (Some(x), Some(y)) if x == y => {
                a.next();
                b.next();
            }
            (Some(x), Some(y)) if x < y => {
                lost.push(x);
                a.next();
            }
            (Some(_), Some(y)) => {
                gained.push(y);
                b.next();
            }
            (Some(x), None) => {
                lost.push(x);
                a.next();
            }
            (None, Some(y)) => {
                gained.push(y);
                b.next();
            }
            (None, None) => break,
        }
    }
    (gained, lost)
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
    fn difference_of_sorted_sets() {
        let before = RowSet::from_sorted(10, vec![1, 3, 5]);
        let after = RowSet::from_sorted(10, vec![3, 4, 5, 9]);
        assert_eq!(difference(&before, &after), (vec![4, 9], vec![1]));
    }

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
                    assert_eq!((&change.gained, &change.lost), (&gained, &lost), "user {}", user.id);
                    assert_eq!((change.old_visible, change.new_visible), (before.len(), after.len()));
                }
                None => assert!(gained.is_empty() && lost.is_empty(), "user {} changed but is not listed", user.id),
            }
        }
        assert_eq!(diff.users.iter().map(|u| u.user.get()).collect::<Vec<_>>(), [2, 3, 4, 5]);
        assert!(diff.grants_new_access());
    }
}
