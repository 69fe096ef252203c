//! Reconciling local policies with live ones, without I/O: which local policy
//! is which live one (by id, else by name), what is created, updated, deleted
//! or kept, the order that fails closed, and a fingerprint of the live set.
//!
//! `domo pdp plan` reads the files and the live policies, calls these, and adds
//! the effect on users; the functions here decide nothing about the network.

use domo_model::{Policy, PolicyId, PolicyType};

/// Why local policies cannot be matched to live ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    /// Two local policies carry the same id.
    #[error("two policies with id {id}")]
    DuplicateId {
        /// The id given twice.
        id: PolicyId,
    },
    /// A local policy without a matching id has the name of several live policies.
    #[error(
        "policy `{name}` has no id matching a live policy, and {count} live policies have that name: give it the id of \
         the one it is"
    )]
    AmbiguousName {
        /// The local policy's name.
        name: String,
        /// How many unmatched live policies have that name.
        count: usize,
    },
    /// A live policy was listed without an id.
    #[error("a live policy has no id")]
    LiveWithoutId,
}

/// A local policy matched to a live one: the local fields, the live id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The live policy's id.
    pub id: PolicyId,
    /// The local policy, its id set to `id`.
    pub policy: Policy,
}

/// A live user policy that the local policies leave out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    /// The live policy's id.
    pub id: PolicyId,
    /// The live policy's name.
    pub name: String,
}

/// Local policies matched to live ones ([`reconcile`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconciliation {
    /// Local policies that match a live one (to be updated when they differ):
    /// those whose change can only narrow access first, then the others, each
    /// in local order, so that an apply stopped between two updates never
    /// shows more than before and after (a user moved from one policy to
    /// another loses the old rows before gaining the new ones).
    pub matched: Vec<Matched>,
    /// Local policies that match no live one, their id cleared, in local order.
    pub creates: Vec<Policy>,
    /// Live user policies no local policy matches, in live order.
    pub deletes: Vec<Unmatched>,
    /// Live policies no local policy matches that are Domo's own (All Rows,
    /// system): never deleted.
    pub kept: Vec<Policy>,
    /// The live policies once everything is applied: the local ones (matched
    /// with their live id, created without one), then the kept ones.
    pub after: Vec<Policy>,
}

impl Reconciliation {
    /// Whether applying leaves no policy on a DataSet that had some, which turns
    /// PDP off: everyone with access then sees every row.
    pub fn leaves_no_policy(&self, live: usize) -> bool {
        live > 0 && self.after.is_empty()
    }
}

/// Matches each local policy to a live one: by id, else by name (an error
/// when several unmatched live policies have that name). Unmatched live user
/// policies are deleted; unmatched built-in ones are kept.
///
/// # Errors
///
/// [`ReconcileError`] when two local policies share an id, a name is
/// ambiguous, or a matched live policy has no id.
pub fn reconcile(local: &[Policy], live: &[Policy]) -> Result<Reconciliation, ReconcileError> {
    let mut seen = std::collections::HashSet::new();
    for policy in local {
        if let Some(id) = policy.id
            && !seen.insert(id)
        {
            return Err(ReconcileError::DuplicateId { id });
        }
    }
    let mut used = vec![false; live.len()];
    let mut out = Reconciliation::default();
    for policy in local {
        let by_id =
            policy.id.and_then(|id| live.iter().enumerate().position(|(i, l)| l.id == Some(id) && !is_used(&used, i)));
        let index = match by_id {
            Some(index) => Some(index),
            None => {
                let same_name: Vec<usize> = live
                    .iter()
                    .enumerate()
                    .filter(|(i, l)| !is_used(&used, *i) && l.name == policy.name)
                    .map(|(i, _)| i)
                    .collect();
                if same_name.len() > 1 {
                    return Err(ReconcileError::AmbiguousName { name: policy.name.clone(), count: same_name.len() });
                }
                same_name.first().copied()
            }
        };
        match index.and_then(|i| live.get(i).map(|l| (i, l))) {
            Some((i, live_policy)) => {
                if let Some(slot) = used.get_mut(i) {
                    *slot = true;
                }
                let id = live_policy.id.ok_or(ReconcileError::LiveWithoutId)?;
                let target = Policy { id: Some(id), ..policy.clone() };
                out.matched.push(Matched { id, policy: target.clone() });
                out.after.push(target);
            }
            None => {
                let target = Policy { id: None, ..policy.clone() };
                out.creates.push(target.clone());
                out.after.push(target);
            }
        }
    }
    for (i, policy) in live.iter().enumerate() {
        if is_used(&used, i) {
            continue;
        }
        if policy.policy_type != PolicyType::User {
            // The built-in All Rows (and system) policies are Domo's: never deleted by a plan.
            out.kept.push(policy.clone());
            out.after.push(policy.clone());
        } else if let Some(id) = policy.id {
            out.deletes.push(Unmatched { id, name: policy.name.clone() });
        }
    }
    // A stable sort: narrowing updates first, each group in local order.
    out.matched.sort_by_key(|m| !live.iter().find(|l| l.id == Some(m.id)).is_some_and(|l| only_narrows(l, &m.policy)));
    Ok(out)
}

/// Whether changing `before` into `after` can only take access away: the same
/// type, no member added, and every filter of `before` still there (more
/// filters admit fewer rows). `false` when unsure.
fn only_narrows(before: &Policy, after: &Policy) -> bool {
    fn subset<T: PartialEq>(small: &[T], large: &[T]) -> bool {
        small.iter().all(|item| large.contains(item))
    }
    before.policy_type == after.policy_type
        && subset(&after.users, &before.users)
        && subset(&after.groups, &before.groups)
        && subset(&after.virtual_users, &before.virtual_users)
        && subset(&before.filters, &after.filters)
}

/// One write of a policy update ([`update_steps`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateStep {
    /// The live policy written.
    pub id: PolicyId,
    /// What it becomes.
    pub policy: Policy,
    /// Whether this is the first of the update's two writes ([`narrowing_step`]); the second, the
    /// update itself, comes later in the order.
    pub narrowing_first: bool,
}

/// The updates of `matched` (each one a change of the live policy with its id in `live`) in
/// the order that fails closed: first the updates that only narrow, then the first step
/// ([`narrowing_step`]) of each other update, then those updates themselves. An apply stopped
/// anywhere in the first part leaves every user no more than they saw before, and anywhere in
/// the second no more than they will see after: never more than both, as a user moved from one
/// policy to another could otherwise see, between two updates, the rows of both.
pub fn update_steps(live: &[Policy], matched: &[Matched]) -> Vec<UpdateStep> {
    let mut narrowing = Vec::new();
    let mut first = Vec::new();
    let mut others = Vec::new();
    for Matched { id, policy } in matched {
        let step = |policy: &Policy, narrowing_first| UpdateStep { id: *id, policy: policy.clone(), narrowing_first };
        match live.iter().find(|l| l.id == Some(*id)) {
            Some(before) if only_narrows(before, policy) => narrowing.push(step(policy, false)),
            Some(before) => {
                first.extend(narrowing_step(before, policy).map(|cut| step(&cut, true)));
                others.push(step(policy, false));
            }
            // Never reached (matched policies are live ones); as is, with the others.
            None => others.push(step(policy, false)),
        }
    }
    narrowing.extend(first);
    narrowing.extend(others);
    narrowing
}

/// What `before` can be cut to before it becomes `after`, when the update does not only narrow:
/// what both versions admit, that is the members of both (users, groups, virtual users) with
/// the filters of both, ANDed. `None` when there is nothing to cut (the update only widens).
/// When the update changes the policy's type (an All Rows policy admits every row whatever its
/// filters), or both versions' filters together would pass Domo's limit on a policy's values
/// ([`Policy::MAX_VALUES_LEN`]), the cut keeps no member at all: it admits nobody for a moment,
/// which shows fewer rows, never more.
pub fn narrowing_step(before: &Policy, after: &Policy) -> Option<Policy> {
    fn both<T: PartialEq + Clone>(before: &[T], after: &[T]) -> Vec<T> {
        before.iter().filter(|item| after.contains(item)).cloned().collect()
    }
    if only_narrows(before, after) {
        return None;
    }
    if before.policy_type != after.policy_type {
        // Left as it is until its update, the policy could add its old rows to the new ones of
        // the policies updated before it.
        let cut = Policy { users: Vec::new(), groups: Vec::new(), virtual_users: Vec::new(), ..before.clone() };
        return (cut != *before).then_some(cut);
    }
    let mut cut = Policy {
        users: both(&before.users, &after.users),
        groups: both(&before.groups, &after.groups),
        virtual_users: both(&before.virtual_users, &after.virtual_users),
        ..before.clone()
    };
    let nobody = cut.users.is_empty() && cut.groups.is_empty() && cut.virtual_users.is_empty();
    if !nobody {
        cut.filters.extend(after.filters.iter().filter(|f| !before.filters.contains(f)).cloned());
        if cut.values_len() >= Policy::MAX_VALUES_LEN {
            cut = Policy { users: Vec::new(), groups: Vec::new(), virtual_users: Vec::new(), ..before.clone() };
        }
    }
    // The update only widens: cutting would change nothing.
    (cut != *before).then_some(cut)
}

fn is_used(used: &[bool], index: usize) -> bool {
    used.get(index).copied().unwrap_or(true)
}

/// The order that fails closed: an apply that stops half-way must leave access
/// narrower, not wider. Deletes run first and creates last, so a user moved from
/// one policy to another loses the old rows before gaining the new ones. The one
/// exception: deleting every live policy would turn PDP off and show every row,
/// so when the deletes would leave none (of `live` policies), the last of them
/// runs after the creates.
pub fn order_changes<T>(live: usize, creates: Vec<T>, updates: Vec<T>, mut deletes: Vec<T>) -> Vec<T> {
    let kept_through = live.saturating_sub(deletes.len()) > 0 || creates.is_empty();
    let deferred = if kept_through { None } else { deletes.pop() };
    let mut changes = deletes;
    changes.extend(updates);
    changes.extend(creates);
    changes.extend(deferred);
    changes
}

/// Which way a plan switches PDP on a DataSet (its `pdpEnabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdpSwitch {
    /// Turn PDP on: the policies decide who sees which rows.
    Enable,
    /// Turn PDP off: everyone with access sees every row.
    Disable,
}

impl PdpSwitch {
    /// The switch that takes a DataSet from its `live` state to the `wanted`
    /// one (`true` is PDP on), or `None` when they agree.
    pub fn between(live: bool, wanted: bool) -> Option<Self> {
        match (live, wanted) {
            (false, true) => Some(Self::Enable),
            (true, false) => Some(Self::Disable),
            _ => None,
        }
    }
}

/// One DataSet's whole apply in the order that fails closed: the policy
/// changes in [`order_changes`]'s order, then the PDP switch. Enabling comes
/// after the policies it turns on exist; disabling comes last so that an apply
/// stopped half-way leaves PDP on (fewer rows shown, never more).
pub fn order_with_switch<T>(
    live: usize,
    creates: Vec<T>,
    updates: Vec<T>,
    deletes: Vec<T>,
    switch: Option<T>,
) -> Vec<T> {
    let mut changes = order_changes(live, creates, updates, deletes);
    changes.extend(switch);
    changes
}

/// A short hash of policies, whatever their order (sorted by id): FNV-1a over
/// their JSON, 16 hex digits.
pub fn fingerprint(policies: &[Policy]) -> String {
    let mut sorted: Vec<&Policy> = policies.iter().collect();
    sorted.sort_by_key(|p| p.id);
    let bytes = serde_json::to_vec(&sorted).unwrap_or_default();
    let hash = bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("{hash:016x}")
}

/// What differs between the live policies `then` and `now`, in words
/// (`policy 9 `Regrets` was deleted`).
pub fn live_changes(then: &[Policy], now: &[Policy]) -> Vec<String> {
    let mut changes = Vec::new();
    for policy in now {
        match then.iter().find(|p| p.id == policy.id) {
            None => changes.push(format!("policy {} `{}` was added", show_id(policy.id), policy.name)),
            Some(old) if old != policy => {
                changes.push(format!("policy {} `{}` was changed", show_id(policy.id), policy.name));
            }
            Some(_) => {}
        }
    }
    for policy in then {
        if !now.iter().any(|p| p.id == policy.id) {
            changes.push(format!("policy {} `{}` was deleted", show_id(policy.id), policy.name));
        }
    }
    if changes.is_empty() {
        changes.push("their order or form changed".to_owned());
    }
    changes
}

/// Whether the live policies are still those a plan saw: `None` when their
/// fingerprint is the planned one, else what changed, in words. An apply
/// writes nothing to a DataSet whose policies changed since its plan.
pub fn staleness(planned_fingerprint: &str, then: &[Policy], now: &[Policy]) -> Option<Vec<String>> {
    (fingerprint(now) != planned_fingerprint).then(|| live_changes(then, now))
}

/// The changes one DataSet's plan makes, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangeCounts {
    /// Policies to create.
    pub creates: usize,
    /// Policies to update.
    pub updates: usize,
    /// Policies to delete.
    pub deletes: usize,
    /// PDP switched on or off (0 or 1 for one DataSet).
    pub pdp_switches: usize,
}

impl ChangeCounts {
    /// All changes.
    pub fn total(&self) -> usize {
        self.creates + self.updates + self.deletes + self.pdp_switches
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Whether applying these changes to `live` policies leaves none, which
    /// turns PDP off (everyone with access sees every row): the same answer as
    /// [`Reconciliation::leaves_no_policy`], from a saved plan's counts.
    pub fn leave_no_policy(&self, live: usize) -> bool {
        live > 0 && live.saturating_sub(self.deletes) + self.creates == 0
    }
}

impl std::ops::AddAssign for ChangeCounts {
    fn add_assign(&mut self, other: Self) {
        self.creates += other.creates;
        self.updates += other.updates;
        self.deletes += other.deletes;
        self.pdp_switches += other.pdp_switches;
    }
}

/// How one DataSet of a whole-instance plan came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetPlan {
    /// Planned: these changes (none when the live policies already match).
    Planned(ChangeCounts),
    /// A check failed (schema, a change the live instance would refuse, an
    /// ambiguous match, a read that failed): nothing is planned for it.
    Refused,
}

/// A whole-instance plan, counted: how many DataSets change, how many
/// policies are created, updated and deleted in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanSummary {
    /// DataSets in the plan.
    pub datasets: usize,
    /// DataSets with at least one change.
    pub to_change: usize,
    /// DataSets whose live policies already match.
    pub unchanged: usize,
    /// DataSets that failed a check.
    pub refused: usize,
    /// The changes of every DataSet.
    pub changes: ChangeCounts,
}

impl PlanSummary {
    /// Counts the DataSets of a plan.
    pub fn of(datasets: impl IntoIterator<Item = DatasetPlan>) -> Self {
        let mut summary = Self::default();
        for dataset in datasets {
            summary.datasets += 1;
            match dataset {
                DatasetPlan::Refused => summary.refused += 1,
                DatasetPlan::Planned(counts) if counts.is_empty() => summary.unchanged += 1,
                DatasetPlan::Planned(counts) => {
                    summary.to_change += 1;
                    summary.changes += counts;
                }
            }
        }
        summary
    }

    /// Whether the instance matches the tree: nothing to change and nothing refused
    /// (what a second plan after a complete apply shows).
    pub fn converged(&self) -> bool {
        self.to_change == 0 && self.refused == 0
    }
}

/// How applying one DataSet's part of a plan came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyStatus {
    /// Every change was applied.
    Done,
    /// The plan had nothing to do for it.
    Unchanged,
    /// Nothing was written: its live policies changed since the plan, or the
    /// plan refused it.
    Skipped,
    /// A check or a write failed; the changes before it were applied.
    Failed,
}

/// An apply over many DataSets, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplySummary {
    /// DataSets whose changes were all applied.
    pub done: usize,
    /// DataSets with nothing to do.
    pub unchanged: usize,
    /// DataSets left alone.
    pub skipped: usize,
    /// DataSets where a check or a write failed.
    pub failed: usize,
}

impl ApplySummary {
    /// Counts the DataSets of an apply.
    pub fn of(statuses: impl IntoIterator<Item = ApplyStatus>) -> Self {
        let mut summary = Self::default();
        for status in statuses {
            match status {
                ApplyStatus::Done => summary.done += 1,
                ApplyStatus::Unchanged => summary.unchanged += 1,
                ApplyStatus::Skipped => summary.skipped += 1,
                ApplyStatus::Failed => summary.failed += 1,
            }
        }
        summary
    }

    /// Whether every DataSet now matches the plan (none failed or skipped).
    pub fn complete(&self) -> bool {
        self.failed == 0 && self.skipped == 0
    }
}

fn show_id(id: Option<PolicyId>) -> String {
    id.map_or_else(|| "?".to_owned(), |id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(id: Option<u64>, name: &str) -> Policy {
        Policy {
            id: id.map(PolicyId),
            policy_type: PolicyType::User,
            name: name.to_owned(),
            filters: vec![],
            users: vec![],
            virtual_users: vec![],
            groups: vec![],
        }
    }

    fn all_rows(id: u64) -> Policy {
        Policy { policy_type: PolicyType::Open, ..policy(Some(id), "All Rows") }
    }

    /// One change, as the plan applies it.
    #[derive(Debug, Clone, PartialEq)]
    enum Change {
        Create(Policy),
        Update(Matched),
        Delete(Unmatched),
    }

    fn describe(change: &Change) -> String {
        match change {
            Change::Create(p) => format!("create `{}`", p.name),
            Change::Update(m) => format!("update policy {} `{}`", m.id, m.policy.name),
            Change::Delete(u) => format!("delete policy {} `{}`", u.id, u.name),
        }
    }

    /// The changes of a reconciliation in the order they are applied (every matched policy updated).
    fn ordered(live: usize, r: &Reconciliation) -> Vec<Change> {
        order_changes(
            live,
            r.creates.iter().cloned().map(Change::Create).collect(),
            r.matched.iter().cloned().map(Change::Update).collect(),
            r.deletes.iter().cloned().map(Change::Delete).collect(),
        )
    }

    fn apply(set: &mut Vec<Policy>, change: &Change) {
        match change {
            Change::Create(p) => set.push(p.clone()),
            Change::Update(m) => {
                if let Some(slot) = set.iter_mut().find(|p| p.id == Some(m.id)) {
                    *slot = m.policy.clone();
                }
            }
            Change::Delete(u) => set.retain(|p| p.id != Some(u.id)),
        }
    }

    fn sorted(mut set: Vec<Policy>) -> Vec<String> {
        set.sort_by_key(|p| p.id);
        let mut out: Vec<String> = set.iter().map(|p| serde_json::to_string(p).unwrap_or_default()).collect();
        out.sort();
        out
    }

    #[test]
    fn a_local_policy_matches_by_id_before_name() {
        let live = [policy(Some(1), "East"), policy(Some(2), "West")];
        // Named like 1 but carrying 2's id: it is 2, renamed; 1 is deleted.
        let r = reconcile(&[policy(Some(2), "East")], &live).unwrap_or_default();
        assert_eq!(r.matched, [Matched { id: PolicyId(2), policy: policy(Some(2), "East") }]);
        assert_eq!(r.deletes, [Unmatched { id: PolicyId(1), name: "East".to_owned() }]);
        assert!(r.creates.is_empty());
    }

    #[test]
    fn a_local_policy_without_id_matches_by_name_and_takes_the_live_id() {
        let live = [policy(Some(7), "East")];
        let r = reconcile(&[policy(None, "East"), policy(Some(99), "North")], &live).unwrap_or_default();
        assert_eq!(r.matched, [Matched { id: PolicyId(7), policy: policy(Some(7), "East") }]);
        // An id Domo does not know is cleared: Domo assigns one on create.
        assert_eq!(r.creates, [policy(None, "North")]);
        assert_eq!(r.after, [policy(Some(7), "East"), policy(None, "North")]);
    }

    #[test]
    fn a_name_shared_by_two_live_policies_is_refused() {
        let live = [policy(Some(1), "East"), policy(Some(2), "East")];
        let error = reconcile(&[policy(None, "East")], &live).err();
        assert_eq!(error, Some(ReconcileError::AmbiguousName { name: "East".to_owned(), count: 2 }));
        assert_eq!(
            error.map(|e| e.to_string()).unwrap_or_default(),
            "policy `East` has no id matching a live policy, and 2 live policies have that name: give it the id of \
             the one it is"
        );
    }

    #[test]
    fn two_local_policies_with_one_id_are_refused() {
        let error = reconcile(&[policy(Some(3), "A"), policy(Some(3), "B")], &[]).err();
        assert_eq!(error.map(|e| e.to_string()).unwrap_or_default(), "two policies with id 3");
    }

    #[test]
    fn built_in_policies_are_kept_not_deleted() {
        let live = [all_rows(1), policy(Some(2), "East")];
        let r = reconcile(&[], &live).unwrap_or_default();
        assert_eq!(r.kept, [all_rows(1)]);
        assert_eq!(r.deletes, [Unmatched { id: PolicyId(2), name: "East".to_owned() }]);
        assert!(!r.leaves_no_policy(live.len()));
        let only_user = reconcile(&[], &live[1..]).unwrap_or_default();
        assert!(only_user.leaves_no_policy(1));
    }

    fn with(mut policy: Policy, users: &[u64], region: &str) -> Policy {
        policy.users = users.iter().map(|u| domo_model::UserId(*u)).collect();
        policy.filters = vec![domo_model::PolicyFilter {
            column: "Region".to_owned(),
            values: vec![region.to_owned()],
            operator: domo_model::FilterOperator::Equals,
            not: false,
        }];
        policy
    }

    #[test]
    fn updates_that_only_narrow_run_before_the_others_so_a_stopped_apply_narrows_access() {
        // User 1 moves from East to West; West comes first in the file.
        let live = [with(policy(Some(1), "East"), &[1, 2], "East"), with(policy(Some(2), "West"), &[3], "West")];
        let local = [with(policy(None, "West"), &[1, 3], "West"), with(policy(None, "East"), &[2], "East")];
        let r = reconcile(&local, &live).unwrap_or_default();
        let order: Vec<String> = ordered(live.len(), &r).iter().map(describe).collect();
        assert_eq!(order, ["update policy 1 `East`", "update policy 2 `West`"]);
        // `after` keeps the file's order.
        assert_eq!(r.after.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["West", "East"]);
        // A filter changed is not known to narrow: local order.
        let local = [with(policy(None, "West"), &[3], "North"), with(policy(None, "East"), &[2], "East")];
        let r = reconcile(&local, &live).unwrap_or_default();
        let order: Vec<String> = ordered(live.len(), &r).iter().map(describe).collect();
        assert_eq!(order, ["update policy 1 `East`", "update policy 2 `West`"]);
        let local = [with(policy(None, "West"), &[3, 4], "West"), with(policy(None, "East"), &[1, 2, 5], "East")];
        let r = reconcile(&local, &live).unwrap_or_default();
        let order: Vec<String> = ordered(live.len(), &r).iter().map(describe).collect();
        assert_eq!(order, ["update policy 2 `West`", "update policy 1 `East`"], "neither narrows: file order");
    }

    #[test]
    fn deletes_run_before_creates_so_a_stopped_apply_narrows_access() {
        let live = [policy(Some(1), "p1"), policy(Some(2), "p2"), all_rows(3)];
        let r = reconcile(&[policy(None, "new")], &live).unwrap_or_default();
        let order: Vec<String> = ordered(live.len(), &r).iter().map(describe).collect();
        assert_eq!(order, ["delete policy 1 `p1`", "delete policy 2 `p2`", "create `new`"]);
    }

    #[test]
    fn the_last_policy_is_deleted_only_after_the_creates() {
        // Deleting every live policy first would turn PDP off and show every row.
        let live = [policy(Some(1), "p1"), policy(Some(2), "p2")];
        let r = reconcile(&[policy(None, "new")], &live).unwrap_or_default();
        let order: Vec<String> = ordered(live.len(), &r).iter().map(describe).collect();
        assert_eq!(order, ["delete policy 1 `p1`", "create `new`", "delete policy 2 `p2`"]);
        let r = reconcile(&[], &live[..1]).unwrap_or_default();
        let order: Vec<String> = ordered(1, &r).iter().map(describe).collect();
        assert_eq!(order, ["delete policy 1 `p1`"]);
    }

    #[test]
    fn the_fingerprint_ignores_order_and_sees_any_change() {
        let a = [policy(Some(1), "East"), policy(Some(2), "West")];
        let b = [policy(Some(2), "West"), policy(Some(1), "East")];
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a).len(), 16);
        assert_ne!(fingerprint(&a), fingerprint(&[policy(Some(1), "East"), policy(Some(2), "West ")]));
        assert_ne!(fingerprint(&a), fingerprint(&a[..1]));
    }

    #[test]
    fn live_changes_name_each_policy_added_changed_or_deleted() {
        let then = [policy(Some(1), "East"), policy(Some(2), "West")];
        let now = [policy(Some(1), "East "), policy(Some(3), "North")];
        assert_eq!(
            live_changes(&then, &now),
            ["policy 1 `East ` was changed", "policy 3 `North` was added", "policy 2 `West` was deleted"]
        );
        assert_eq!(live_changes(&then, &then), ["their order or form changed"]);
    }

    fn counts(creates: usize, updates: usize, deletes: usize) -> ChangeCounts {
        ChangeCounts { creates, updates, deletes, pdp_switches: 0 }
    }

    #[test]
    fn a_plan_summary_counts_datasets_to_change_unchanged_and_refused() {
        let summary = PlanSummary::of([
            DatasetPlan::Planned(counts(2, 1, 0)),
            DatasetPlan::Planned(counts(0, 0, 0)),
            DatasetPlan::Refused,
            DatasetPlan::Planned(counts(1, 0, 3)),
        ]);
        assert_eq!(
            summary,
            PlanSummary { datasets: 4, to_change: 2, unchanged: 1, refused: 1, changes: counts(3, 1, 3) }
        );
        assert!(!summary.converged());
        assert!(PlanSummary::of([DatasetPlan::Planned(counts(0, 0, 0))]).converged());
        assert!(!PlanSummary::of([DatasetPlan::Refused]).converged(), "a refused DataSet is not converged");
        assert!(PlanSummary::of([]).converged());
    }

    #[test]
    fn an_apply_is_complete_only_when_nothing_failed_or_was_skipped() {
        use ApplyStatus::{Done, Failed, Skipped, Unchanged};
        let summary = ApplySummary::of([Done, Unchanged, Done, Skipped, Failed]);
        assert_eq!(summary, ApplySummary { done: 2, unchanged: 1, skipped: 1, failed: 1 });
        assert!(!summary.complete());
        assert!(ApplySummary::of([Done, Unchanged]).complete());
        assert!(!ApplySummary::of([Done, Skipped]).complete());
    }

    #[test]
    fn a_stale_plan_says_what_changed_live() {
        let then = [policy(Some(1), "East")];
        let planned = fingerprint(&then);
        assert_eq!(staleness(&planned, &then, &then), None);
        let now = [policy(Some(1), "East"), policy(Some(2), "West")];
        assert_eq!(staleness(&planned, &then, &now), Some(vec!["policy 2 `West` was added".to_owned()]));
    }

    #[test]
    fn pdp_is_switched_only_when_the_tree_and_live_disagree() {
        assert_eq!(PdpSwitch::between(false, true), Some(PdpSwitch::Enable));
        assert_eq!(PdpSwitch::between(true, false), Some(PdpSwitch::Disable));
        assert_eq!(PdpSwitch::between(true, true), None);
        assert_eq!(PdpSwitch::between(false, false), None);
    }

    /// An apply's steps as words, in order (`switch` last whichever way it goes).
    fn check_switch_order(live: usize, switch: &str, expected: &[&str]) {
        let words = |names: &[&'static str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<String>>();
        let switch = (!switch.is_empty()).then(|| switch.to_owned());
        let order = order_with_switch(live, words(&["create A"]), words(&["update B"]), words(&["delete C"]), switch);
        assert_eq!(order, expected);
    }

    #[test]
    fn pdp_is_switched_after_every_policy_change() {
        // Enabled once the policies it turns on exist; disabled last, so a stopped apply leaves PDP on.
        check_switch_order(2, "enable PDP", &["delete C", "update B", "create A", "enable PDP"]);
        check_switch_order(2, "disable PDP", &["delete C", "update B", "create A", "disable PDP"]);
        check_switch_order(1, "enable PDP", &["update B", "create A", "delete C", "enable PDP"]);
        check_switch_order(2, "", &["delete C", "update B", "create A"]);
    }

    #[test]
    fn a_pdp_switch_alone_is_a_change() {
        let switch = ChangeCounts { pdp_switches: 1, ..ChangeCounts::default() };
        assert!(!switch.is_empty());
        let summary = PlanSummary::of([DatasetPlan::Planned(switch), DatasetPlan::Planned(counts(0, 0, 0))]);
        assert_eq!(summary.to_change, 1);
        assert_eq!(summary.changes.pdp_switches, 1);
        assert!(!summary.converged(), "a DataSet whose PDP switch differs is not converged");
    }

    #[test]
    fn leaving_no_policy_is_counted_like_the_reconciliation_says() {
        assert!(counts(0, 0, 1).leave_no_policy(1));
        assert!(!counts(1, 0, 1).leave_no_policy(1));
        assert!(!counts(0, 0, 1).leave_no_policy(2));
        assert!(!counts(0, 0, 0).leave_no_policy(0), "no policy before: nothing turns off");
    }

    fn arb_policy(ids: std::ops::Range<u64>) -> impl proptest::strategy::Strategy<Value = Policy> {
        use proptest::prelude::*;
        (proptest::option::of(ids), 0..4usize, proptest::bool::weighted(0.15), 0..3u64).prop_map(
            |(id, name, built_in, user)| Policy {
                policy_type: if built_in { PolicyType::Open } else { PolicyType::User },
                users: vec![domo_model::UserId(user)],
                ..policy(id, ["East", "West", "North", "South"].get(name).copied().unwrap_or("East"))
            },
        )
    }

    /// A user (or All Rows) policy of users among 0..4 with up to two EQUALS filters on `Region` (values among A, B, C).
    fn arb_region_policy() -> impl proptest::strategy::Strategy<Value = Policy> {
        use proptest::prelude::*;
        let filter =
            (proptest::collection::btree_set(0..3usize, 1..3), proptest::bool::ANY).prop_map(|(values, not)| {
                domo_model::PolicyFilter {
                    column: "Region".to_owned(),
                    values: values
                        .into_iter()
                        .map(|v| ["A", "B", "C"].get(v).copied().unwrap_or("A").to_owned())
                        .collect(),
                    operator: domo_model::FilterOperator::Equals,
                    not,
                }
            });
        let policy_type = prop_oneof![4 => Just(PolicyType::User), 1 => Just(PolicyType::Open)];
        (proptest::collection::btree_set(0..4u64, 0..4), proptest::collection::vec(filter, 0..3), policy_type).prop_map(
            |(users, filters, policy_type)| Policy {
                users: users.into_iter().map(domo_model::UserId).collect(),
                filters,
                policy_type,
                ..policy(Some(1), "P")
            },
        )
    }

    /// Whether `p` admits `region` to `user` in the tiny evaluator of the tests above: an All Rows
    /// policy admits every row to its members, a user policy the rows all its filters pass.
    fn admits_region(p: &Policy, user: u64, region: &str) -> bool {
        p.users.contains(&domo_model::UserId(user))
            && (p.policy_type == PolicyType::Open
                || p.filters.iter().all(|f| f.values.iter().any(|v| v == region) != f.not))
    }

    proptest::proptest! {
        /// Applying the ordered changes to the live set yields the planned set,
        /// the local policies and the kept ones; and no prefix of the order
        /// leaves zero policies unless the plan ends with none.
        #[test]
        fn applying_the_order_yields_the_local_set_and_never_turns_pdp_off_midway(
            live in proptest::collection::vec(arb_policy(1..8), 0..6),
            local in proptest::collection::vec(arb_policy(1..12), 0..6),
        ) {
            // Live policies have distinct ids, local ones are user policies.
            let mut live_ids = std::collections::HashSet::new();
            let live: Vec<Policy> = live
                .into_iter()
                .enumerate()
                .map(|(i, p)| Policy { id: Some(p.id.unwrap_or(PolicyId(100 + i as u64))), ..p })
                .filter(|p| live_ids.insert(p.id))
                .collect();
            let local: Vec<Policy> = local.into_iter().map(|p| Policy { policy_type: PolicyType::User, ..p }).collect();
            let r = match reconcile(&local, &live) {
                Ok(r) => r,
                Err(ReconcileError::AmbiguousName { .. } | ReconcileError::DuplicateId { .. }) => return Ok(()),
                Err(e) => { proptest::prop_assert!(false, "{e}"); return Ok(()); }
            };
            let changes = ordered(live.len(), &r);
            let mut set = live.clone();
            let ends_empty = r.after.is_empty();
            for change in &changes {
                apply(&mut set, change);
                proptest::prop_assert!(
                    !set.is_empty() || ends_empty || live.is_empty(),
                    "PDP off after {change:?}"
                );
            }
            proptest::prop_assert_eq!(sorted(set.clone()), sorted(r.after.clone()));
            // The planned set is the local policies (names and fields) plus the kept ones.
            let mut expected: Vec<Policy> =
                local.iter().map(|p| Policy { id: None, ..p.clone() }).collect();
            expected.extend(r.kept.iter().map(|p| Policy { id: None, ..p.clone() }));
            let planned: Vec<Policy> = r.after.iter().map(|p| Policy { id: None, ..p.clone() }).collect();
            proptest::prop_assert_eq!(sorted(planned), sorted(expected));
            // A re-run converges: once applied (Domo giving each created policy a new id), the same local
            // policies reconcile to nothing to create or delete and every match already equal. Local names are
            // distinct here: two local policies named alike without ids are ambiguous on the second run.
            let mut names = std::collections::HashSet::new();
            if local.iter().all(|p| names.insert(p.name.clone())) {
                let applied: Vec<Policy> = set
                    .iter()
                    .enumerate()
                    .map(|(i, p)| Policy { id: Some(p.id.unwrap_or(PolicyId(1000 + i as u64))), ..p.clone() })
                    .collect();
                let again = reconcile(&local, &applied);
                proptest::prop_assert!(again.is_ok(), "{again:?}");
                let again = again.unwrap_or_default();
                proptest::prop_assert!(again.creates.is_empty() && again.deletes.is_empty(), "{again:?}");
                for m in &again.matched {
                    let live_one = applied.iter().find(|p| p.id == Some(m.id));
                    proptest::prop_assert_eq!(live_one, Some(&m.policy));
                }
            }
            // A saved plan's counts say the same as the reconciliation about PDP turning off.
            let counts = ChangeCounts {
                creates: r.creates.len(),
                updates: r.matched.len(),
                deletes: r.deletes.len(),
                pdp_switches: 0,
            };
            proptest::prop_assert_eq!(counts.leave_no_policy(live.len()), r.leaves_no_policy(live.len()));
        }

        /// An update said to only narrow admits no (user, row) that the policy before it did not admit
        /// (checked with a tiny evaluator: users only, EQUALS on one column, with `not`).
        #[test]
        fn an_update_said_to_only_narrow_admits_nothing_new(
            before in arb_region_policy(),
            after in arb_region_policy(),
        ) {
            let admits = admits_region;
            if only_narrows(&before, &after) {
                for user in 0..4 {
                    for region in ["A", "B", "C"] {
                        proptest::prop_assert!(
                            !admits(&after, user, region) || admits(&before, user, region),
                            "user {user}, region {region}: {before:?} -> {after:?}"
                        );
                    }
                }
            }
        }

        /// Updates run as [`update_steps`] orders them never show anyone more than both before and after:
        /// every state on the way admits no more than the policies before, or no more than those after (a
        /// tiny evaluator: users only, EQUALS on one column, with `not`; several policies at once, so that a
        /// user moved from one to another is covered), and the last state is the one after.
        #[test]
        fn updates_in_steps_never_show_more_than_before_and_after_at_once(
            changes in proptest::collection::vec((arb_region_policy(), arb_region_policy()), 1..5),
        ) {
            let live: Vec<Policy> = changes
                .iter()
                .enumerate()
                .map(|(i, (before, _))| Policy { id: Some(PolicyId(i as u64 + 1)), ..before.clone() })
                .collect();
            let matched: Vec<Matched> = changes
                .iter()
                .enumerate()
                .map(|(i, (_, after))| {
                    let id = PolicyId(i as u64 + 1);
                    Matched { id, policy: Policy { id: Some(id), ..after.clone() } }
                })
                .collect();
            let admitted = |set: &[Policy]| {
                let mut seen = std::collections::BTreeSet::new();
                for user in 0..4 {
                    for region in ["A", "B", "C"] {
                        let admits = |p: &Policy| admits_region(p, user, region);
                        if set.iter().any(admits) {
                            seen.insert((user, region));
                        }
                    }
                }
                seen
            };
            let (before, after) = (admitted(&live), admitted(&matched.iter().map(|m| m.policy.clone()).collect::<Vec<_>>()));
            let mut set = live.clone();
            for step in update_steps(&live, &matched) {
                if let Some(slot) = set.iter_mut().find(|p| p.id == Some(step.id)) {
                    *slot = step.policy.clone();
                }
                let now = admitted(&set);
                proptest::prop_assert!(
                    now.is_subset(&before) || now.is_subset(&after),
                    "after {step:?}: {now:?}, before {before:?}, after {after:?}"
                );
            }
            let last: Vec<Policy> = matched.iter().map(|m| m.policy.clone()).collect();
            proptest::prop_assert_eq!(set, last);
        }

        /// Every DataSet of a plan is counted once, and the converged plan is the one with nothing to do.
        #[test]
        fn a_plan_summary_counts_every_dataset_once(
            plans in proptest::collection::vec(proptest::option::of((0..3usize, 0..3usize, 0..3usize)), 0..12),
        ) {
            let entries: Vec<DatasetPlan> = plans
                .iter()
                .map(|p| p.map_or(DatasetPlan::Refused, |(c, u, d)| DatasetPlan::Planned(counts(c, u, d))))
                .collect();
            let summary = PlanSummary::of(entries.iter().copied());
            proptest::prop_assert_eq!(summary.datasets, entries.len());
            proptest::prop_assert_eq!(summary.to_change + summary.unchanged + summary.refused, entries.len());
            let total: usize = plans.iter().flatten().map(|(c, u, d)| c + u + d).sum();
            proptest::prop_assert_eq!(summary.changes.total(), total);
            proptest::prop_assert_eq!(summary.converged(), total == 0 && plans.iter().all(Option::is_some));
        }
    }
}
