//! Compiling policies against a DataSet and a directory: diagnostics, compiled policies, who is in which policy.

use std::fmt;

pub(crate) use domo_model::did_you_mean;
use domo_model::{Dataset, Directory, GroupId, Policy, PolicyId, PolicyType, Schema, UserId};
use hashbrown::{HashMap, HashSet};

use crate::authority::{ManageAuthority, authority_of};
use crate::filter::{CompiledFilter, between_reversed, compile_test};
use crate::table::shorten;

mod diagnostic;

pub use diagnostic::*;

/// The policies do not compile. Holds every error and every warning found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CompilePolicyError {
    /// Every error, in policy and filter order (never empty).
    pub errors: Vec<Diagnostic>,
    /// Every warning found along the way.
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for CompilePolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.as_slice() {
            [] => f.write_str("the policies do not compile"),
            [only] => write!(f, "{only}"),
            [first, rest @ ..] => write!(f, "{first} (and {} more errors)", rest.len()),
        }
    }
}

/// Who is asking: a directory user, or a virtual user named by policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Principal<'a> {
    /// A user, by id. A user missing from the directory's user list is not an admin; the policies and groups that name them still apply.
    User(UserId),
    /// A virtual user, by the name policies give in `virtualUsers`.
    Virtual(&'a str),
}

impl From<UserId> for Principal<'_> {
    fn from(id: UserId) -> Self {
        Principal::User(id)
    }
}

/// Why a principal sees the rows they see, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// PDP is off for the DataSet (`pdpEnabled: false`, or no policies): every row.
    PdpDisabled,
    /// The DataSet's owner: every row.
    Owner,
    /// An `Admin`: every row.
    Admin,
    /// Their role holds the `dataset.manage.all` grant: every row (see [`crate::manage_authority`]).
    RoleGrant,
    /// In the All Rows policy: every row.
    AllRows,
    /// The rows admitted by the policies the principal is in.
    Policies,
    /// In no policy: no rows.
    NoPolicy,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::PdpDisabled => "PDP disabled",
            Reason::Owner => "owner",
            Reason::Admin => "admin",
            Reason::RoleGrant => "role grant",
            Reason::AllRows => "All Rows policy",
            Reason::Policies => "policies",
            Reason::NoPolicy => "no policy",
        })
    }
}

/// How a principal comes to be in a policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Membership {
    /// Named in the policy's `users`.
    Direct,
    /// A member of this group, named in the policy's `groups`.
    Group(GroupId),
    /// Named in the policy's `virtualUsers`.
    Virtual,
}

impl fmt::Display for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Membership::Direct => f.write_str("direct"),
            Membership::Group(g) => write!(f, "via group {g}"),
            Membership::Virtual => f.write_str("as a virtual user"),
        }
    }
}

/// A policy of a [`PolicySet`]: its position in [`PolicySet::policies`], which is
/// its position in the list compiled. A type of its own so that it is never
/// taken for a row number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyHandle(usize);

impl PolicyHandle {
    /// The handle of the policy at `index` (0-based) in the list compiled.
    pub fn from_index(index: usize) -> Self {
        Self(index)
    }

    /// The policy's 0-based position in [`PolicySet::policies`].
    pub fn index(self) -> usize {
        self.0
    }
}

/// A policy that applies to a principal, and every path by which it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyMembership {
    /// The policy.
    pub policy: PolicyHandle,
    /// Each way the principal is in it (directly, via one or more groups).
    pub via: Vec<Membership>,
}

/// What a principal sees, before looking at any row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Why they see what they see.
    pub reason: Reason,
    /// The policies that apply to them, in policy order (listed whatever the reason).
    pub policies: Vec<PolicyMembership>,
}

impl Access {
    /// Whether the principal sees every row.
    pub fn sees_everything(&self) -> bool {
        !matches!(self.reason, Reason::Policies | Reason::NoPolicy)
    }
}

/// One compiled policy.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub(crate) policy: Policy,
    pub(crate) filters: Vec<CompiledFilter>,
    pub(crate) all_rows: bool,
}

impl CompiledPolicy {
    /// The policy as given (id, name, type, filters, users, groups, virtual users).
    pub fn source(&self) -> &Policy {
        &self.policy
    }

    /// The policy's id, if it has one.
    pub fn id(&self) -> Option<PolicyId> {
        self.policy.id
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.policy.name
    }

    /// Whether it admits every row (the All Rows policy, type `open`).
    pub fn is_all_rows(&self) -> bool {
        self.all_rows
    }

    /// The compiled filters, in order (empty for All Rows).
    pub fn filters(&self) -> &[CompiledFilter] {
        &self.filters
    }
}

/// Whether policies restrict rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdpMode {
    /// Policies decide.
    Enabled,
    /// Everyone with access sees every row (`pdpEnabled: false`, or no policies).
    Disabled,
}

/// A DataSet's policies compiled against its schema, owner and PDP switch, and a directory.
///
/// Compile once with [`PolicySet::compile`]; evaluate against a [`crate::Table`]
/// with [`PolicySet::evaluate`], or stream one principal's rows with
/// [`PolicySet::write_visible_csv`].
#[derive(Debug, Clone)]
pub struct PolicySet {
    pub(crate) schema: Schema,
    pub(crate) mode: PdpMode,
    pub(crate) owner: Option<UserId>,
    pub(crate) policies: Vec<CompiledPolicy>,
    pub(crate) directory: Directory,
    warnings: Vec<Diagnostic>,
    direct: HashMap<UserId, Vec<usize>>,
    by_group: HashMap<GroupId, Vec<usize>>,
    by_virtual: HashMap<String, Vec<usize>>,
    user_groups: HashMap<UserId, Vec<GroupId>>,
    managers: HashMap<UserId, ManageAuthority>,
}

impl PolicySet {
    /// Compiles `policies` for `dataset` (its schema, owner and `pdpEnabled`) and `directory`.
    ///
    /// `dataset.policies` is not read: pass the policies to judge (for example
    /// a proposed change). Group membership comes from `directory.groups` and
    /// from each user's `groups`, if filled.
    ///
    /// # Errors
    ///
    /// Every error in every policy, each naming the policy (id and name), the
    /// filter index and the problem: an unknown column (with a "did you mean"),
    /// no values, the wrong number of values for the operator, a value that
    /// does not parse as the column's type, a text operator on a non-STRING
    /// column. Warnings do not fail the compile; see [`PolicySet::warnings`].
    pub fn compile(
        dataset: &Dataset,
        policies: &[Policy],
        directory: &Directory,
    ) -> Result<PolicySet, CompilePolicyError> {
        let schema = &dataset.schema;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let known_users: HashSet<UserId> = directory.users.iter().map(|u| u.id).collect();
        let known_groups: HashSet<GroupId> = directory.groups.iter().map(|g| g.id).collect();
        let mut compiled = Vec::with_capacity(policies.len());
        for (index, policy) in policies.iter().enumerate() {
            let diagnostic = |severity, code, filter_index, message| {
                Diagnostic::new(severity, code, message)
                    .on_policy(PolicyRef::new(PolicyHandle(index), policy))
                    .on_filter(filter_index)
            };
            let all_rows = policy.policy_type == PolicyType::Open;
            if let PolicyType::Other(other) = &policy.policy_type {
                let hint = if other.eq_ignore_ascii_case("open") {
                    " (types are case-sensitive: the All Rows policy is `open`)"
                } else {
                    ""
                };
                warnings.push(diagnostic(
                    Severity::Warning,
                    DiagnosticCode::UnknownPolicyType,
                    None,
                    format!(
                        "unknown policy type `{}`: its filters apply as for a `user` policy{hint}",
                        shorten(other.as_bytes())
                    ),
                ));
            }
            let mut filters = Vec::new();
            if all_rows {
                if !policy.filters.is_empty() {
                    warnings.push(diagnostic(
                        Severity::Warning,
                        DiagnosticCode::AllRowsWithFilters,
                        None,
                        "the All Rows policy has filters; they are ignored and its members see every row".to_owned(),
                    ));
                }
            } else {
                if policy.filters.is_empty() {
                    warnings.push(diagnostic(
                        Severity::Warning,
                        DiagnosticCode::NoFilters,
                        None,
                        "the policy has no filters, so its members see every row".to_owned(),
                    ));
                }
                for (filter_index, filter) in policy.filters.iter().enumerate() {
                    let Some(column) = schema.columns.iter().position(|c| c.name == filter.column) else {
                        let hint = did_you_mean(&filter.column, schema.columns.iter().map(|c| c.name.as_str()))
                            .map(|name| format!(" (did you mean `{name}`?)"))
                            .unwrap_or_default();
                        errors.push(diagnostic(
                            Severity::Error,
                            DiagnosticCode::UnknownColumn,
                            Some(filter_index),
                            format!("unknown column `{}`{hint}", shorten(filter.column.as_bytes())),
                        ));
                        continue;
                    };
                    // Two columns of one name: the filter could test either, so it compiles to neither.
                    if let Some(again) = schema.columns.iter().skip(column + 1).position(|c| c.name == filter.column) {
                        errors.push(diagnostic(
                            Severity::Error,
                            DiagnosticCode::AmbiguousColumn,
                            Some(filter_index),
                            format!(
                                "column `{}` appears more than once in the schema (columns {} and {}), so the filter is ambiguous",
                                shorten(filter.column.as_bytes()),
                                column + 1,
                                column + again + 2
                            ),
                        ));
                        continue;
                    }
                    let column_type =
                        schema.columns.get(column).map_or(domo_model::ColumnType::String, |c| c.column_type);
                    match compile_test(filter, column_type) {
                        Ok(test) => {
                            if between_reversed(&test) {
                                warnings.push(diagnostic(
                                    Severity::Warning,
                                    DiagnosticCode::BetweenReversed,
                                    Some(filter_index),
                                    format!(
                                        "BETWEEN `{}` and `{}`: the low bound is above the high bound, so the filter matches no row{}",
                                        shorten(filter.values.first().map_or("", String::as_str).as_bytes()),
                                        shorten(filter.values.get(1).map_or("", String::as_str).as_bytes()),
                                        if filter.not { " (negated: every non-NULL row)" } else { "" }
                                    ),
                                ));
                            }
                            filters.push(CompiledFilter { column, column_type, filter: filter.clone(), test });
                        }
                        Err(problem) => {
                            use crate::filter::FilterProblem as P;
                            let code = match problem {
                                P::EmptyValues => DiagnosticCode::EmptyValues,
                                P::ValueCount { .. } => DiagnosticCode::ValueCount,
                                P::TextOperatorOnNonString => DiagnosticCode::TextOperatorOnNonString,
                                P::BadValue { .. } => DiagnosticCode::BadValue,
                            };
                            errors.push(diagnostic(
                                Severity::Error,
                                code,
                                Some(filter_index),
                                problem.message(filter, column_type),
                            ));
                        }
                    }
                }
            }
            let values_len = policy.values_len();
            if values_len >= Policy::MAX_VALUES_LEN {
                warnings.push(diagnostic(
                    Severity::Warning,
                    DiagnosticCode::ValuesTooLong,
                    None,
                    format!(
                        "the values add up to {values_len} characters (one separator per value); Domo requires under {}",
                        Policy::MAX_VALUES_LEN
                    ),
                ));
            }
            for user in &policy.users {
                if !known_users.contains(user) {
                    warnings.push(diagnostic(
                        Severity::Warning,
                        DiagnosticCode::UnknownUser,
                        None,
                        format!("user `{user}` is not in the directory"),
                    ));
                }
            }
            for group in &policy.groups {
                if !known_groups.contains(group) {
                    warnings.push(diagnostic(
                        Severity::Warning,
                        DiagnosticCode::UnknownGroup,
                        None,
                        format!("group `{group}` is not in the directory"),
                    ));
                }
            }
            compiled.push(CompiledPolicy { policy: policy.clone(), filters, all_rows });
        }
        if !errors.is_empty() {
            return Err(CompilePolicyError { errors, warnings });
        }
        let mode = if !dataset.pdp_enabled {
            PdpMode::Disabled
        } else if policies.is_empty() {
            warnings.push(Diagnostic::new(
                Severity::Warning,
                DiagnosticCode::NoPolicies,
                "PDP is enabled but there are no policies: PDP is off and everyone sees every row".to_owned(),
            ));
            PdpMode::Disabled
        } else {
            PdpMode::Enabled
        };
        let mut direct: HashMap<UserId, Vec<usize>> = HashMap::new();
        let mut by_group: HashMap<GroupId, Vec<usize>> = HashMap::new();
        let mut by_virtual: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, policy) in policies.iter().enumerate() {
            for user in &policy.users {
                push_unique(direct.entry(*user).or_default(), index);
            }
            for group in &policy.groups {
                push_unique(by_group.entry(*group).or_default(), index);
            }
            for name in &policy.virtual_users {
                push_unique(by_virtual.entry(name.clone()).or_default(), index);
            }
        }
        let mut user_groups: HashMap<UserId, Vec<GroupId>> = HashMap::new();
        for group in &directory.groups {
            for user in &group.user_ids {
                push_unique(user_groups.entry(*user).or_default(), group.id);
            }
        }
        for user in &directory.users {
            for group in user.groups.iter().flatten() {
                push_unique(user_groups.entry(user.id).or_default(), group.id);
            }
        }
        let owner = dataset.owner.as_ref().map(|o| o.id);
        let mut entries: HashMap<UserId, Vec<&domo_model::User>> = HashMap::new();
        for user in &directory.users {
            entries.entry(user.id).or_default().push(user);
        }
        let mut managers = HashMap::new();
        for (&user, copies) in &entries {
            if let Some(authority) = authority_of(owner, user, copies, directory) {
                managers.insert(user, authority);
            }
        }
        if let Some(owner) = owner {
            managers.insert(owner, ManageAuthority::Owner);
        }
        Ok(PolicySet {
            schema: schema.clone(),
            mode,
            owner,
            policies: compiled,
            directory: directory.clone(),
            warnings,
            direct,
            by_group,
            by_virtual,
            user_groups,
            managers,
        })
    }

    /// The warnings found while compiling.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The compiled policies, in the order given.
    pub fn policies(&self) -> &[CompiledPolicy] {
        &self.policies
    }

    /// Whether policies restrict rows.
    pub fn mode(&self) -> PdpMode {
        self.mode
    }

    /// The DataSet's owner, if known.
    pub fn owner(&self) -> Option<UserId> {
        self.owner
    }

    /// Why `user` may manage the DataSet and so sees every row despite PDP
    /// (owner, Admin, or a role grant), or `None`. The rule is [`crate::manage_authority`].
    pub fn manage_authority(&self, user: UserId) -> Option<&ManageAuthority> {
        self.managers.get(&user)
    }

    /// The schema the policies were compiled against.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The directory the policies were compiled with.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The policies (by index) given to a group.
    pub(crate) fn group_policies(&self, group: GroupId) -> &[usize] {
        self.by_group.get(&group).map_or(&[], Vec::as_slice)
    }

    /// The groups a user is in, per the directory.
    pub fn groups_of(&self, user: UserId) -> &[GroupId] {
        self.user_groups.get(&user).map_or(&[], Vec::as_slice)
    }

    /// Which policies apply to a principal, by which paths, and why they see what they see.
    pub fn access<'a>(&self, who: impl Into<Principal<'a>>) -> Access {
        let who = who.into();
        let mut memberships: Vec<PolicyMembership> = Vec::new();
        let mut add = |index: usize, via: Membership| match memberships.iter_mut().find(|m| m.policy.index() == index) {
            Some(m) => {
                if !m.via.contains(&via) {
                    m.via.push(via);
                }
            }
            None => memberships.push(PolicyMembership { policy: PolicyHandle(index), via: vec![via] }),
        };
        match who {
            Principal::User(user) => {
                for &policy in self.direct.get(&user).into_iter().flatten() {
                    add(policy, Membership::Direct);
                }
                for &group in self.groups_of(user) {
                    for &policy in self.by_group.get(&group).into_iter().flatten() {
                        add(policy, Membership::Group(group));
                    }
                }
            }
            Principal::Virtual(name) => {
                for &policy in self.by_virtual.get(name).into_iter().flatten() {
                    add(policy, Membership::Virtual);
                }
            }
        }
        memberships.sort_by_key(|m| m.policy);
        let user = match who {
            Principal::User(user) => Some(user),
            Principal::Virtual(_) => None,
        };
        let reason = if self.mode == PdpMode::Disabled {
            Reason::PdpDisabled
        } else if let Some(authority) = user.and_then(|u| self.managers.get(&u)) {
            match authority {
                ManageAuthority::Owner => Reason::Owner,
                ManageAuthority::Admin => Reason::Admin,
                ManageAuthority::RoleGrant(_) => Reason::RoleGrant,
            }
        } else if memberships
            .iter()
            .any(|m| self.policies.get(m.policy.index()).is_some_and(|p| p.all_rows || p.filters.is_empty()))
        {
            Reason::AllRows
        } else if memberships.is_empty() {
            Reason::NoPolicy
        } else {
            Reason::Policies
        };
        Access { reason, policies: memberships }
    }
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, value: T) {
    if !list.contains(&value) {
        list.push(value);
    }
}
