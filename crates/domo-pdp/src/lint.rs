//! Lint: compile diagnostics plus analyses of what the policies do to the data and the users.

use std::cmp::Ordering;
use std::fmt;

use domo_model::{ColumnType, Dataset, Directory, FilterOperator, Policy, PolicyId, UserId};
use rust_decimal::Decimal;

use crate::compile::{PolicySet, Reason, did_you_mean};
use crate::parse;
use crate::rowset::RowSet;
use crate::table::{Table, Value};

/// How serious a lint finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LintSeverity {
    /// Certainly wrong: the policies do not compile, or a policy can never match.
    Error,
    /// Probably wrong: worth a look before uploading.
    Warning,
    /// Worth knowing, often intended.
    Note,
}

impl LintSeverity {
    /// `error`, `warning` or `note`.
    pub fn as_str(self) -> &'static str {
        match self {
            LintSeverity::Error => "error",
            LintSeverity::Warning => "warning",
            LintSeverity::Note => "note",
        }
    }
}

impl fmt::Display for LintSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a lint finding is about. [`LintKind::as_str`] gives a stable kebab-case name for tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum LintKind {
    /// A compile error (see the diagnostic's own code in the message).
    CompileError,
    /// A compile warning.
    CompileWarning,
    /// Rows that no one but the owner and Admins sees.
    RowsOnlyPrivileged,
    /// A user of the directory who sees no row.
    UserSeesNothing,
    /// A policy that applies to no one.
    PolicyWithoutMembers,
    /// A policy that admits no row of the data.
    PolicyMatchesNoRow,
    /// A policy with filters that admits every row of the data.
    PolicyMatchesEveryRow,
    /// A policy whose rows and members are all covered by another policy.
    RedundantPolicy,
    /// Two policies with the same filters and the same members.
    IdenticalPolicies,
    /// Filters that no row can ever pass, whatever the data.
    FilterNeverMatches,
    /// EQUALS on a value that no row of the data holds.
    ValueNotInData,
    /// LIKE with a pattern that has no `%` or `_`: it behaves like EQUALS.
    LikeWithoutWildcards,
    /// A policy's values exceed Domo's 255-character limit: the API rejects it (error).
    ValuesTooLong,
    /// The directory lists a user or group twice, or a group lists an unknown user or itself (error).
    InvalidDirectory,
}

impl LintKind {
    /// The kind as a stable name: `filter-never-matches`.
    pub fn as_str(self) -> &'static str {
        match self {
            LintKind::CompileError => "compile-error",
            LintKind::CompileWarning => "compile-warning",
            LintKind::RowsOnlyPrivileged => "rows-only-privileged",
            LintKind::UserSeesNothing => "user-sees-nothing",
            LintKind::PolicyWithoutMembers => "policy-without-members",
            LintKind::PolicyMatchesNoRow => "policy-matches-no-row",
            LintKind::PolicyMatchesEveryRow => "policy-matches-every-row",
            LintKind::RedundantPolicy => "redundant-policy",
            LintKind::IdenticalPolicies => "identical-policies",
            LintKind::FilterNeverMatches => "filter-never-matches",
            LintKind::ValueNotInData => "value-not-in-data",
            LintKind::LikeWithoutWildcards => "like-without-wildcards",
            LintKind::ValuesTooLong => "values-too-long",
            LintKind::InvalidDirectory => "invalid-directory",
        }
    }
}

impl fmt::Display for LintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy named in a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRef {
    /// The policy's 0-based position in the policies file.
    pub index: usize,
    /// Its id, if it has one.
    pub id: Option<PolicyId>,
    /// Its name.
    pub name: String,
}

impl PolicyRef {
    fn new(index: usize, policy: &Policy) -> Self {
        Self { index, id: policy.id, name: policy.name.clone() }
    }
}

impl fmt::Display for PolicyRef {
    /// `policy 8 `Only Show Attendees``, or `policy #3 `West`` without an id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id {
            Some(id) => write!(f, "policy {id} `{}`", self.name),
            None => write!(f, "policy #{} `{}`", self.index + 1, self.name),
        }
    }
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintFinding {
    /// How serious it is.
    pub severity: LintSeverity,
    /// What it is about.
    pub kind: LintKind,
    /// The policy it is about, if one.
    pub policy: Option<PolicyRef>,
    /// The filter's 0-based index in that policy, if about one filter.
    pub filter_index: Option<usize>,
    /// The user it is about, if one.
    pub user: Option<UserId>,
    /// What was found, in words (user input in backticks).
    pub message: String,
    /// Data rows involved (1-based), when the finding is about rows; at most a sample.
    pub rows: Vec<u64>,
}

impl fmt::Display for LintFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(policy) = &self.policy {
            write!(f, "{policy}")?;
            if let Some(filter) = self.filter_index {
                write!(f, ", filters[{filter}]")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every finding of a lint run, errors first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintReport {
    /// The findings, sorted by severity, then in policy order.
    pub findings: Vec<LintFinding>,
}

impl LintReport {
    /// How many findings have this severity.
    pub fn count(&self, severity: LintSeverity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.count(LintSeverity::Error) > 0
    }
}

/// At most this many sample rows are listed in a finding.
const SAMPLE_ROWS: usize = 10;

/// Lints `policies` for `dataset` and `directory` against the data in `table`.
///
/// Reports every compile error and warning; then, on the policies that
/// compile, the analyses: rows only the owner and Admins see, users who see
/// nothing and why, policies without members, policies matching no row or
/// every row, redundant and identical policies, filters that can never match,
/// EQUALS on values absent from the data (with a "did you mean"), and LIKE
/// without wildcards. Never fails: problems are findings.
pub fn lint(dataset: &Dataset, policies: &[Policy], directory: &Directory, table: &Table) -> LintReport {
    let mut findings = Vec::new();
    let schema = &dataset.schema;

    // A directory that lists a user twice cannot say what that user sees.
    for problem in directory.problems() {
        let user = match &problem {
            domo_model::DirectoryProblem::DuplicateUser { id, .. } => Some(*id),
            domo_model::DirectoryProblem::UnknownMember { user, .. } => Some(*user),
            _ => None,
        };
        findings.push(LintFinding {
            severity: LintSeverity::Error,
            kind: LintKind::InvalidDirectory,
            policy: None,
            filter_index: None,
            user,
            message: format!("directory: {problem}"),
            rows: Vec::new(),
        });
    }

    // Compile; when some policies fail, report their errors and analyse the rest.
    let mut failed = vec![false; policies.len()];
    let set = match PolicySet::compile(dataset, policies, directory) {
        Ok(set) => {
            findings.extend(set.warnings().iter().map(|d| diagnostic_finding(d, LintSeverity::Warning)));
            Some(set)
        }
        Err(err) => {
            for d in &err.errors {
                if let Some(slot) = d.policy_index.and_then(|i| failed.get_mut(i)) {
                    *slot = true;
                }
            }
            findings.extend(err.errors.iter().map(|d| diagnostic_finding(d, LintSeverity::Error)));
            findings.extend(err.warnings.iter().map(|d| diagnostic_finding(d, LintSeverity::Warning)));
            let rest: Vec<Policy> =
                policies.iter().zip(&failed).filter(|(_, failed)| !**failed).map(|(p, _)| p.clone()).collect();
            PolicySet::compile(dataset, &rest, directory).ok()
        }
    };
    // Positions in the compiled set map back to positions in the file.
    let original: Vec<usize> = (0..policies.len()).filter(|i| !failed.get(*i).copied().unwrap_or(true)).collect();
    let policy_ref = |compiled_index: usize| -> Option<PolicyRef> {
        let index = *original.get(compiled_index)?;
        Some(PolicyRef::new(index, policies.get(index)?))
    };

    // Static checks on filters: contradictions and LIKE without wildcards.
    let mut column_values: hashbrown::HashMap<usize, ColumnValues> = hashbrown::HashMap::new();
    for (index, policy) in policies.iter().enumerate() {
        if failed.get(index).copied().unwrap_or(true) || policy.is_all_rows() {
            continue;
        }
        for (filter_index, message) in contradictions(policy, schema) {
            findings.push(LintFinding {
                severity: LintSeverity::Error,
                kind: LintKind::FilterNeverMatches,
                policy: Some(PolicyRef::new(index, policy)),
                filter_index,
                user: None,
                message,
                rows: Vec::new(),
            });
        }
        for (filter_index, filter) in policy.filters.iter().enumerate() {
            if filter.operator != FilterOperator::Like {
                continue;
            }
            for value in &filter.values {
                if !has_like_wildcard(value) {
                    findings.push(LintFinding {
                        severity: LintSeverity::Warning,
                        kind: LintKind::LikeWithoutWildcards,
                        policy: Some(PolicyRef::new(index, policy)),
                        filter_index: Some(filter_index),
                        user: None,
                        message: format!(
                            "LIKE `{value}` has no `%` or `_`, so it only matches the exact text `{value}` (use EQUALS, or add `%` for CONTAINS-like matching)"
                        ),
                        rows: Vec::new(),
                    });
                }
            }
        }
        for (filter_index, filter) in policy.filters.iter().enumerate() {
            if filter.operator != FilterOperator::Equals {
                continue;
            }
            let Some(column) = table.column_index(&filter.column) else { continue };
            let Some(column_type) = schema.columns.get(column).map(|c| c.column_type) else { continue };
            for value in &filter.values {
                if let Some(message) = value_not_in_data(table, &mut column_values, column, column_type, value) {
                    findings.push(LintFinding {
                        severity: LintSeverity::Warning,
                        kind: LintKind::ValueNotInData,
                        policy: Some(PolicyRef::new(index, policy)),
                        filter_index: Some(filter_index),
                        user: None,
                        message,
                        rows: Vec::new(),
                    });
                }
            }
        }
    }

    // The policies that did not compile and name the user (directly or through a group): such a
    // user is not "in no policy", their policy is broken.
    let broken_policies_of = |user: domo_model::UserId| -> Vec<String> {
        policies
            .iter()
            .enumerate()
            .filter(|(index, _)| failed.get(*index).copied().unwrap_or(false))
            .filter(|(_, p)| {
                p.users.contains(&user)
                    || p.groups.iter().any(|g| directory.group(*g).is_some_and(|g| g.user_ids.contains(&user)))
            })
            .map(|(index, p)| PolicyRef::new(index, p).to_string())
            .collect()
    };
    if let Some(set) = &set {
        findings.extend(data_findings(set, table, directory, &policy_ref, &broken_policies_of, &findings));
    }

    findings.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then_with(|| a.policy.as_ref().map(|p| p.index).cmp(&b.policy.as_ref().map(|p| p.index)))
    });
    LintReport { findings }
}

fn diagnostic_finding(d: &crate::compile::Diagnostic, severity: LintSeverity) -> LintFinding {
    // Domo's API refuses such a policy: compiling may go on, but lint must fail.
    if d.code == crate::compile::DiagnosticCode::ValuesTooLong {
        let policy = match (d.policy_index, &d.policy_name) {
            (Some(index), Some(name)) => Some(PolicyRef { index, id: d.policy_id, name: name.clone() }),
            _ => None,
        };
        return LintFinding {
            severity: LintSeverity::Error,
            kind: LintKind::ValuesTooLong,
            policy,
            filter_index: d.filter_index,
            user: None,
            message: format!("{} (Domo's API rejects the policy)", d.message),
            rows: Vec::new(),
        };
    }
    let kind = if severity == LintSeverity::Error { LintKind::CompileError } else { LintKind::CompileWarning };
    let policy = match (d.policy_index, &d.policy_name) {
        (Some(index), Some(name)) => Some(PolicyRef { index, id: d.policy_id, name: name.clone() }),
        _ => None,
    };
    LintFinding {
        severity,
        kind,
        policy,
        filter_index: d.filter_index,
        user: None,
        message: d.message.clone(),
        rows: Vec::new(),
    }
}

/// The analyses that need the policies evaluated against the data.
fn data_findings(
    set: &PolicySet,
    table: &Table,
    directory: &Directory,
    policy_ref: &dyn Fn(usize) -> Option<PolicyRef>,
    broken_policies_of: &dyn Fn(domo_model::UserId) -> Vec<String>,
    earlier: &[LintFinding],
) -> Vec<LintFinding> {
    let mut findings = Vec::new();
    let rows = table.row_count();
    let Ok(evaluation) = set.evaluate(table) else { return findings };
    let policy_rows: Vec<&RowSet> = (0..set.policies().len()).filter_map(|i| evaluation.policy_rows(i)).collect();
    let members: Vec<Members> = (0..set.policies().len()).map(|i| Members::of(set, i)).collect();
    let never_matches = |index: usize| {
        let Some(policy) = policy_ref(index) else { return false };
        earlier
            .iter()
            .any(|f| f.kind == LintKind::FilterNeverMatches && f.policy.as_ref().map(|p| p.index) == Some(policy.index))
    };

    for (index, compiled) in set.policies().iter().enumerate() {
        let Some(this) = policy_ref(index) else { continue };
        let Some(matched) = policy_rows.get(index) else { continue };
        let Some(who) = members.get(index) else { continue };
        if who.is_empty() {
            findings.push(LintFinding {
                severity: LintSeverity::Warning,
                kind: LintKind::PolicyWithoutMembers,
                policy: Some(this.clone()),
                filter_index: None,
                user: None,
                message: who.why_empty(compiled.source()),
                rows: Vec::new(),
            });
        }
        if matched.is_empty() && rows > 0 && !never_matches(index) {
            findings.push(LintFinding {
                severity: LintSeverity::Warning,
                kind: LintKind::PolicyMatchesNoRow,
                policy: Some(this.clone()),
                filter_index: None,
                user: None,
                message: if rows == 1 {
                    "matches not even the 1 row, so it grants nothing".to_owned()
                } else {
                    format!("matches none of the {rows} rows, so it grants nothing")
                },
                rows: Vec::new(),
            });
        }
        if matched.is_all() && rows > 0 && !compiled.filters().is_empty() {
            findings.push(LintFinding {
                severity: LintSeverity::Note,
                kind: LintKind::PolicyMatchesEveryRow,
                policy: Some(this.clone()),
                filter_index: None,
                user: None,
                message: if rows == 1 {
                    "its filters admit the 1 row, so they restrict nothing".to_owned()
                } else {
                    format!("its filters admit all {rows} rows, so they restrict nothing")
                },
                rows: Vec::new(),
            });
        }
    }

    // Identical policies (same filters and same members), then redundancy (covered by another).
    let count = set.policies().len();
    let mut identical_to: Vec<Option<usize>> = vec![None; count];
    // Group by (filters, members) in one pass instead of comparing every pair.
    let mut first_with: hashbrown::HashMap<(FiltersKey, &Members), usize> = hashbrown::HashMap::new();
    for (b, (compiled, who)) in set.policies().iter().zip(&members).enumerate() {
        let key = (filters_key(compiled.source()), who);
        match first_with.get(&key) {
            None => {
                first_with.insert(key, b);
            }
            Some(&a) => {
                if let Some(slot) = identical_to.get_mut(b) {
                    *slot = Some(a);
                }
                if let (Some(ra), Some(rb)) = (policy_ref(a), policy_ref(b)) {
                    findings.push(LintFinding {
                        severity: LintSeverity::Warning,
                        kind: LintKind::IdenticalPolicies,
                        policy: Some(rb),
                        filter_index: None,
                        user: None,
                        message: format!("is identical to {ra} (same filters, same members); keep one"),
                        rows: Vec::new(),
                    });
                }
            }
        }
    }
    for a in 0..count {
        if identical_to.get(a).copied().flatten().is_some() {
            continue;
        }
        let (Some(rows_a), Some(members_a)) = (policy_rows.get(a), members.get(a)) else { continue };
        if members_a.is_empty() || rows_a.is_empty() {
            continue;
        }
        for b in 0..count {
            if a == b
                || identical_to.get(b).copied().flatten() == Some(a)
                || identical_to.get(a).copied().flatten() == Some(b)
            {
                continue;
            }
            let (Some(rows_b), Some(members_b)) = (policy_rows.get(b), members.get(b)) else { continue };
            let covered = rows_a.len() <= rows_b.len()
                && members_a.len() <= members_b.len()
                && members_a.is_subset(members_b)
                && is_subset(rows_a, rows_b);
            // Two policies covering each other are identical in effect; report the later one only.
            let mutual = covered && members_b.is_subset(members_a) && is_subset(rows_b, rows_a);
            if covered && (!mutual || a > b) {
                if let (Some(ra), Some(rb)) = (policy_ref(a), policy_ref(b)) {
                    findings.push(LintFinding {
                        severity: LintSeverity::Warning,
                        kind: LintKind::RedundantPolicy,
                        policy: Some(ra),
                        filter_index: None,
                        user: None,
                        message: format!(
                            "is redundant: {rb} already grants its members ({}) every row it admits ({})",
                            plural(members_a.len(), "principal", "principals"),
                            plural(rows_a.len(), "row", "rows")
                        ),
                        rows: Vec::new(),
                    });
                }
                break;
            }
        }
    }

    // Rows that only the owner and Admins see.
    if set.mode() == crate::compile::PdpMode::Enabled && rows > 0 {
        let hidden: Vec<u64> =
            crate::policy_tests::rows_only_privileged(&evaluation).into_iter().map(|r| r as u64 + 1).collect();
        if !hidden.is_empty() {
            findings.push(LintFinding {
                severity: LintSeverity::Warning,
                kind: LintKind::RowsOnlyPrivileged,
                policy: None,
                filter_index: None,
                user: None,
                message: format!(
                    "{} of {} seen by no one but the owner and Admins: {}",
                    hidden.len(),
                    if rows == 1 { "1 row is".to_owned() } else { format!("{rows} rows are") },
                    row_list(&hidden)
                ),
                rows: hidden.into_iter().take(SAMPLE_ROWS).collect(),
            });
        }
    }

    // Users who see nothing, and why.
    if set.mode() == crate::compile::PdpMode::Enabled && rows > 0 {
        let missing_groups: Vec<String> = set
            .policies()
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                p.source()
                    .groups
                    .iter()
                    .filter(|g| directory.group(**g).is_none())
                    .map(move |g| (i, *g))
                    .collect::<Vec<_>>()
            })
            .filter_map(|(i, g)| Some(format!("group `{g}` of {}", policy_ref(i)?)))
            .collect();
        for user in &directory.users {
            let access = set.access(user.id);
            let broken = broken_policies_of(user.id);
            let message = match access.reason {
                Reason::NoPolicy if !broken.is_empty() => format!(
                    "user {} `{}` sees no row: {} {} not compile (fix the compile {} above)",
                    user.id,
                    user.name,
                    broken.join(", "),
                    if broken.len() == 1 { "names them but does" } else { "name them but do" },
                    if broken.len() == 1 { "error" } else { "errors" },
                ),
                Reason::NoPolicy => {
                    let mut message = format!("user {} `{}` is in no policy and sees no row", user.id, user.name);
                    if !missing_groups.is_empty() {
                        message.push_str(&format!(
                            "; the directory lacks {}: is the user meant to be a member?",
                            missing_groups.join(", ")
                        ));
                    }
                    message
                }
                Reason::Policies => {
                    let sees = access.policies.iter().any(|m| policy_rows.get(m.policy).is_some_and(|r| !r.is_empty()));
                    if sees {
                        continue;
                    }
                    let names: Vec<String> =
                        access.policies.iter().filter_map(|m| policy_ref(m.policy)).map(|p| p.to_string()).collect();
                    let mut message = format!(
                        "user {} `{}` sees no row: their only policies match nothing ({})",
                        user.id,
                        user.name,
                        names.join(", ")
                    );
                    if !broken.is_empty() {
                        message.push_str(&format!("; {} also names them but does not compile", broken.join(", ")));
                    }
                    message
                }
                _ => continue,
            };
            let severity = if access.reason == Reason::NoPolicy && missing_groups.is_empty() && broken.is_empty() {
                LintSeverity::Note
            } else {
                LintSeverity::Warning
            };
            findings.push(LintFinding {
                severity,
                kind: LintKind::UserSeesNothing,
                policy: None,
                filter_index: None,
                user: Some(user.id),
                message,
                rows: Vec::new(),
            });
        }
    }
    findings
}

/// `1 row`, `6 rows`.
fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

fn is_subset(a: &RowSet, b: &RowSet) -> bool {
    if b.is_all() {
        return true;
    }
    a.len() <= b.len() && a.iter().all(|r| b.contains(r))
}

/// `2, 5, 7` or `2, 5, 7, … (12 rows)`.
fn row_list(rows: &[u64]) -> String {
    if let [only] = rows {
        return format!("row {only}");
    }
    let shown: Vec<String> = rows.iter().take(SAMPLE_ROWS).map(u64::to_string).collect();
    if rows.len() > SAMPLE_ROWS {
        format!("rows {}, …", shown.join(", "))
    } else {
        format!("rows {}", shown.join(", "))
    }
}

/// The users and virtual users a policy applies to, resolved through the directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Members {
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

/// A policy's filters in a canonical order (values sorted), for finding identical policies.
/// The All Rows policy has no filters that count.
type FiltersKey = (bool, Vec<(String, FilterOperator, bool, Vec<String>)>);

fn filters_key(policy: &Policy) -> FiltersKey {
    if policy.is_all_rows() {
        return (true, Vec::new());
    }
    let mut filters: Vec<_> = policy
        .filters
        .iter()
        .map(|f| {
            let mut values = f.values.clone();
            values.sort();
            (f.column.clone(), f.operator, f.not, values)
        })
        .collect();
    filters.sort();
    (false, filters)
}

/// Whether a LIKE pattern has an unescaped `%` or `_`.
fn has_like_wildcard(pattern: &str) -> bool {
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

/// A filter value or cell parsed by column type, ordered within its type.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Str(String),
    Long(i64),
    Double(f64),
    Decimal(Decimal),
    Date(i32),
    Datetime(i128),
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Key::Str(a), Key::Str(b)) => a.partial_cmp(b),
            (Key::Long(a), Key::Long(b)) => a.partial_cmp(b),
            (Key::Double(a), Key::Double(b)) => a.partial_cmp(b),
            (Key::Decimal(a), Key::Decimal(b)) => a.partial_cmp(b),
            (Key::Date(a), Key::Date(b)) => a.partial_cmp(b),
            (Key::Datetime(a), Key::Datetime(b)) => a.partial_cmp(b),
            _ => None,
        }
    }
}

fn key(column_type: ColumnType, text: &str) -> Option<Key> {
    let bytes = text.as_bytes();
    Some(match column_type {
        ColumnType::String => Key::Str(text.to_owned()),
        ColumnType::Long => Key::Long(parse::parse_long(bytes)?),
        ColumnType::Double => Key::Double(parse::parse_double(bytes)?),
        ColumnType::Decimal => Key::Decimal(parse::parse_decimal(bytes)?),
        ColumnType::Date => Key::Date(parse::parse_date(bytes)?),
        ColumnType::Datetime => Key::Datetime(parse::parse_datetime(bytes)?),
    })
}

fn value_key(value: &Value<'_>) -> Option<Key> {
    Some(match value {
        Value::Null => return None,
        Value::String(s) => Key::Str((*s).to_owned()),
        Value::Long(v) => Key::Long(*v),
        Value::Double(v) => Key::Double(*v),
        Value::Decimal(v) => Key::Decimal(*v),
        Value::Date(_) => Key::Date(parse::parse_date(value.to_string().as_bytes())?),
        Value::Datetime(v) => Key::Datetime(v.as_nanosecond()),
    })
}

/// One side of an interval: the bound and whether it is included.
#[derive(Debug, Clone)]
struct Bound {
    key: Key,
    inclusive: bool,
    filter: usize,
}

/// Why the filters of a policy can never all pass, whatever the data: per column,
/// the intersection of the ranges and EQUALS sets the (un-negated) filters allow is empty.
fn contradictions(policy: &Policy, schema: &domo_model::Schema) -> Vec<(Option<usize>, String)> {
    use FilterOperator as Op;
    let mut out = Vec::new();
    let mut columns: Vec<&str> = policy.filters.iter().map(|f| f.column.as_str()).collect();
    columns.sort_unstable();
    columns.dedup();
    for column in columns {
        let Some(column_type) = schema.columns.iter().find(|c| c.name == column).map(|c| c.column_type) else {
            continue;
        };
        let mut lower: Option<Bound> = None;
        let mut upper: Option<Bound> = None;
        let mut allowed: Option<(Vec<Key>, usize)> = None;
        let mut excluded: Vec<Key> = Vec::new();
        let mut disjoint: Option<(usize, usize)> = None;
        for (index, filter) in policy.filters.iter().enumerate().filter(|(_, f)| f.column == column) {
            let keys: Option<Vec<Key>> = filter.values.iter().map(|v| key(column_type, v)).collect();
            let Some(keys) = keys else { continue };
            let one = keys.first().cloned();
            let (lo, hi): (Option<Bound>, Option<Bound>) = match (filter.operator, filter.not) {
                (Op::GreaterThan, false) | (Op::LessThanEqual, true) => {
                    (one.map(|k| Bound { key: k, inclusive: false, filter: index }), None)
                }
                (Op::GreaterThanEqual, false) | (Op::LessThan, true) => {
                    (one.map(|k| Bound { key: k, inclusive: true, filter: index }), None)
                }
                (Op::LessThan, false) | (Op::GreaterThanEqual, true) => {
                    (None, one.map(|k| Bound { key: k, inclusive: false, filter: index }))
                }
                (Op::LessThanEqual, false) | (Op::GreaterThan, true) => {
                    (None, one.map(|k| Bound { key: k, inclusive: true, filter: index }))
                }
                (Op::Between, false) => match keys.as_slice() {
                    [low, high] => {
                        if low.partial_cmp(high) == Some(Ordering::Greater) {
                            out.push((
                                Some(index),
                                format!(
                                    "can never match: BETWEEN `{}` and `{}` has its low bound above its high bound",
                                    filter.values.first().map_or("", String::as_str),
                                    filter.values.get(1).map_or("", String::as_str)
                                ),
                            ));
                        }
                        (
                            Some(Bound { key: low.clone(), inclusive: true, filter: index }),
                            Some(Bound { key: high.clone(), inclusive: true, filter: index }),
                        )
                    }
                    _ => (None, None),
                },
                (Op::Equals, false) => {
                    allowed = Some(match allowed.take() {
                        None => (keys, index),
                        Some((previous, first)) => {
                            let common: Vec<Key> =
                                previous.into_iter().filter(|k| keys.iter().any(|n| n == k)).collect();
                            if common.is_empty() && disjoint.is_none() {
                                disjoint = Some((first, index));
                            }
                            (common, first)
                        }
                    });
                    (None, None)
                }
                (Op::Equals, true) => {
                    excluded.extend(keys);
                    (None, None)
                }
                _ => (None, None),
            };
            if let Some(lo) = lo {
                let tighter = match &lower {
                    None => true,
                    Some(current) => match lo.key.partial_cmp(&current.key) {
                        Some(Ordering::Greater) => true,
                        Some(Ordering::Equal) => !lo.inclusive,
                        _ => false,
                    },
                };
                if tighter {
                    lower = Some(lo);
                }
            }
            if let Some(hi) = hi {
                let tighter = match &upper {
                    None => true,
                    Some(current) => match hi.key.partial_cmp(&current.key) {
                        Some(Ordering::Less) => true,
                        Some(Ordering::Equal) => !hi.inclusive,
                        _ => false,
                    },
                };
                if tighter {
                    upper = Some(hi);
                }
            }
        }
        let in_range = |k: &Key| {
            let above = lower.as_ref().is_none_or(|b| match k.partial_cmp(&b.key) {
                Some(Ordering::Greater) => true,
                Some(Ordering::Equal) => b.inclusive,
                _ => false,
            });
            let below = upper.as_ref().is_none_or(|b| match k.partial_cmp(&b.key) {
                Some(Ordering::Less) => true,
                Some(Ordering::Equal) => b.inclusive,
                _ => false,
            });
            above && below
        };
        if let (Some(lo), Some(hi)) = (&lower, &upper)
            && lo.filter != hi.filter
        {
            let empty = match lo.key.partial_cmp(&hi.key) {
                Some(Ordering::Greater) => true,
                Some(Ordering::Equal) => !(lo.inclusive && hi.inclusive),
                _ => false,
            };
            if empty {
                out.push((
                    Some(hi.filter.max(lo.filter)),
                    format!(
                        "can never match: `{column}` must be {} `{}` (filters[{}]) and {} `{}` (filters[{}])",
                        if lo.inclusive { "at least" } else { "above" },
                        policy_value(policy, lo.filter, 0),
                        lo.filter,
                        if hi.inclusive { "at most" } else { "below" },
                        policy_value(policy, hi.filter, if is_between(policy, hi.filter) { 1 } else { 0 }),
                        hi.filter
                    ),
                ));
                continue;
            }
        }
        if let Some((first, second)) = disjoint {
            out.push((
                Some(second),
                format!(
                    "can never match: EQUALS on `{column}` in filters[{first}] and filters[{second}] share no value"
                ),
            ));
        } else if let Some((allowed, first)) = &allowed {
            let survivors = allowed.iter().filter(|k| in_range(k) && !excluded.contains(k)).count();
            if survivors == 0 {
                out.push((
                    Some(*first),
                    format!(
                        "can never match: each value filters[{first}] allows for `{column}` (EQUALS) is excluded or out of range by the other filters on `{column}`"
                    ),
                ));
            }
        }
    }
    out
}

fn is_between(policy: &Policy, filter: usize) -> bool {
    policy.filters.get(filter).is_some_and(|f| f.operator == FilterOperator::Between)
}

fn policy_value(policy: &Policy, filter: usize, value: usize) -> &str {
    policy.filters.get(filter).and_then(|f| f.values.get(value)).map_or("", String::as_str)
}

/// The distinct values of one column, canonical (for lookup) and as text (for "did you mean").
#[derive(Debug, Default)]
struct ColumnValues {
    canonical: hashbrown::HashSet<String>,
    texts: Vec<String>,
}

/// A typed value as text that is equal exactly when the values are equal (`1.50` and `1.5` agree).
fn canonical(key: &Key) -> String {
    match key {
        Key::Str(s) => s.clone(),
        Key::Long(v) => v.to_string(),
        Key::Double(v) => v.to_string(),
        Key::Decimal(v) => v.normalize().to_string(),
        Key::Date(v) => v.to_string(),
        Key::Datetime(v) => v.to_string(),
    }
}

/// A message when no row holds `value` in `column`, with the nearest existing value.
/// Each column's distinct values are gathered once into `cache`.
fn value_not_in_data(
    table: &Table,
    cache: &mut hashbrown::HashMap<usize, ColumnValues>,
    column: usize,
    column_type: ColumnType,
    value: &str,
) -> Option<String> {
    let wanted = canonical(&key(column_type, value)?);
    let values = cache.entry(column).or_insert_with(|| {
        let mut values = ColumnValues::default();
        for (v, _) in table.distinct_values(column).unwrap_or_default() {
            if let Some(k) = value_key(&v) {
                values.canonical.insert(canonical(&k));
            }
            values.texts.push(v.to_string());
        }
        values
    });
    if values.canonical.contains(&wanted) {
        return None;
    }
    let name = table.schema().columns.get(column).map_or("", |c| c.name.as_str());
    let hint = if column_type == ColumnType::String {
        did_you_mean(value, values.texts.iter().map(String::as_str))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Some(format!("EQUALS `{value}`: no row has this value in `{name}`{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domo_model::{Column, Schema};

    fn policy(filters: &str) -> Policy {
        let text = format!(r#"{{"id": 1, "name": "p", "filters": {filters}, "users": [1]}}"#);
        serde_json::from_str(&text).unwrap()
    }

    fn schema() -> Schema {
        Schema {
            columns: vec![
                Column::new(ColumnType::Long, "n"),
                Column::new(ColumnType::String, "s"),
                Column::new(ColumnType::Date, "d"),
                Column::new(ColumnType::Decimal, "x"),
            ],
        }
    }

    fn check(filters: &str, expected: &[&str]) {
        let found: Vec<String> = contradictions(&policy(filters), &schema()).into_iter().map(|(_, m)| m).collect();
        assert_eq!(found, expected, "{filters}");
    }

    #[test]
    fn greater_than_ten_and_less_than_five_never_matches() {
        check(
            r#"[{"column":"n","operator":"GREATER_THAN","values":["10"]},{"column":"n","operator":"LESS_THAN","values":["5"]}]"#,
            &["can never match: `n` must be above `10` (filters[0]) and below `5` (filters[1])"],
        );
    }

    #[test]
    fn touching_bounds_match_only_when_both_inclusive() {
        check(
            r#"[{"column":"n","operator":"GREATER_THAN_EQUAL","values":["5"]},{"column":"n","operator":"LESS_THAN_EQUAL","values":["5"]}]"#,
            &[],
        );
        check(
            r#"[{"column":"n","operator":"GREATER_THAN","values":["5"]},{"column":"n","operator":"LESS_THAN_EQUAL","values":["5"]}]"#,
            &["can never match: `n` must be above `5` (filters[0]) and at most `5` (filters[1])"],
        );
    }

    #[test]
    fn negated_bound_flips() {
        check(
            r#"[{"column":"n","operator":"LESS_THAN_EQUAL","values":["10"],"not":true},{"column":"n","operator":"LESS_THAN","values":["5"]}]"#,
            &["can never match: `n` must be above `10` (filters[0]) and below `5` (filters[1])"],
        );
    }

    #[test]
    fn between_reversed_never_matches() {
        check(
            r#"[{"column":"d","operator":"BETWEEN","values":["2024-12-31","2024-01-01"]}]"#,
            &["can never match: BETWEEN `2024-12-31` and `2024-01-01` has its low bound above its high bound"],
        );
    }

    #[test]
    fn decimal_compares_exactly() {
        check(
            r#"[{"column":"x","operator":"EQUALS","values":["1.50"]},{"column":"x","operator":"GREATER_THAN","values":["1.5"]}]"#,
            &[
                "can never match: each value filters[0] allows for `x` (EQUALS) is excluded or out of range by the other filters on `x`",
            ],
        );
        check(
            r#"[{"column":"x","operator":"EQUALS","values":["1.50"]},{"column":"x","operator":"GREATER_THAN_EQUAL","values":["1.5"]}]"#,
            &[],
        );
    }

    #[test]
    fn disjoint_equals_never_match() {
        check(
            r#"[{"column":"s","operator":"EQUALS","values":["a","b"]},{"column":"s","operator":"EQUALS","values":["c"]}]"#,
            &["can never match: EQUALS on `s` in filters[0] and filters[1] share no value"],
        );
        check(
            r#"[{"column":"s","operator":"EQUALS","values":["a"]},{"column":"s","operator":"EQUALS","values":["a"],"not":true}]"#,
            &[
                "can never match: each value filters[0] allows for `s` (EQUALS) is excluded or out of range by the other filters on `s`",
            ],
        );
    }

    #[test]
    fn different_columns_do_not_interact() {
        check(
            r#"[{"column":"n","operator":"GREATER_THAN","values":["10"]},{"column":"x","operator":"LESS_THAN","values":["5"]}]"#,
            &[],
        );
    }

    #[test]
    fn like_wildcards() {
        assert!(has_like_wildcard("a%"));
        assert!(has_like_wildcard("a_b"));
        assert!(!has_like_wildcard("abc"));
        assert!(!has_like_wildcard(r"50\%"));
    }

    /// Lints `policies` over a two-column guest list and a small directory;
    /// returns `kind: message` per finding.
    fn lint_guests(policies: &str, pdp_enabled: bool) -> Vec<String> {
        let directory = serde_json::json!({
            "users": [
                {"id": 1, "name": "Owner"}, {"id": 2, "name": "Admin", "role": "Admin"},
                {"id": 3, "name": "Ann"}, {"id": 4, "name": "Bob"}, {"id": 5, "name": "Cy"}
            ],
            "groups": [{"id": 70, "name": "Team", "userIds": [4]}]
        });
        lint_guests_in(policies, pdp_enabled, directory).into_iter().map(|(_, text)| text).collect()
    }

    /// [`lint_guests`] with a given directory; returns each finding's severity and `kind: message`.
    fn lint_guests_in(policies: &str, pdp_enabled: bool, directory: serde_json::Value) -> Vec<(LintSeverity, String)> {
        let dataset: Dataset = serde_json::from_value(serde_json::json!({
            "id": "d", "name": "guests", "pdpEnabled": pdp_enabled, "owner": {"id": 1},
            "schema": {"columns": [{"type": "STRING", "name": "Friend"}, {"type": "LONG", "name": "Age"}]}
        }))
        .unwrap();
        let directory: Directory = serde_json::from_value(directory).unwrap();
        let policies: Vec<Policy> = serde_json::from_str(policies).unwrap();
        let csv = "Friend,Age\nAnn,30\nBob,40\nCy,\n";
        let table = Table::from_csv(csv.as_bytes(), &dataset.schema, crate::HeaderRow::Present).unwrap();
        let report = lint(&dataset, &policies, &directory, &table);
        report.findings.iter().map(|f| (f.severity, format!("{}: {f}", f.kind))).collect()
    }

    #[test]
    fn a_directory_with_problems_is_an_error_per_problem() {
        // User 3 is listed again as an Admin: before, the Admin copy decided and lint said nothing.
        let directory = serde_json::json!({
            "users": [{"id": 1, "name": "Owner"}, {"id": 3, "name": "Ann"}, {"id": 3, "name": "Ann", "role": "Admin"}],
            "groups": [{"id": 70, "name": "Team", "userIds": [3, 9, 70]}, {"id": 70, "name": "Again"}]
        });
        let policies = r#"[{"id": 1, "name": "adults", "filters": [{"column": "Age", "operator": "GREATER_THAN", "values": ["18"]}], "users": [3]}]"#;
        let found = lint_guests_in(policies, true, directory);
        let errors: Vec<&str> =
            found.iter().filter(|(s, _)| *s == LintSeverity::Error).map(|(_, text)| text.as_str()).collect();
        assert_eq!(
            errors,
            [
                "invalid-directory: directory: users[2]: user 3 `Ann` is listed again (first at users[1])",
                "invalid-directory: directory: groups[1]: group 70 `Again` is listed again (first at groups[0])",
                "invalid-directory: directory: groups[0].userIds[1]: group 70 `Team` lists user 9, who is not in `users`",
                "invalid-directory: directory: groups[0].userIds[2]: group 70 `Team` lists its own id among its members (`userIds` holds user ids, and groups cannot hold groups)",
            ]
        );
    }

    #[test]
    fn values_over_domos_limit_are_an_error() {
        let long = "x".repeat(300);
        let policies = format!(
            r#"[{{"id": 1, "name": "long", "filters": [{{"column": "Friend", "operator": "EQUALS", "values": ["{long}"]}}], "users": [3]}}]"#
        );
        let found = lint_guests_in(&policies, true, serde_json::json!({"users": [{"id": 3, "name": "Ann"}]}));
        assert!(
            found.contains(&(
                LintSeverity::Error,
                "values-too-long: policy 1 `long`: the values add up to 301 characters (one separator per value); Domo requires under 255 (Domo's API rejects the policy)".to_owned()
            )),
            "{found:#?}"
        );
    }

    #[test]
    fn users_who_see_nothing_say_why() {
        let found = lint_guests(
            r#"[
                {"id": 1, "name": "adults", "filters": [{"column": "Age", "operator": "GREATER_THAN", "values": ["18"]}], "users": [3]},
                {"id": 2, "name": "old", "filters": [{"column": "Age", "operator": "GREATER_THAN", "values": ["90"]}], "groups": [70]},
                {"id": 3, "name": "ghosts", "filters": [{"column": "Friend", "operator": "EQUALS", "values": ["Ann"]}], "groups": [99]}
            ]"#,
            true,
        );
        let expect = [
            "user-sees-nothing: user 4 `Bob` sees no row: their only policies match nothing (policy 2 `old`)",
            "user-sees-nothing: user 5 `Cy` is in no policy and sees no row; the directory lacks group `99` of policy 3 `ghosts`: is the user meant to be a member?",
            "policy-without-members: policy 3 `ghosts`: applies to no one: its groups are empty or not in the directory",
            "policy-matches-no-row: policy 2 `old`: matches none of the 3 rows, so it grants nothing",
            "compile-warning: policy 3 `ghosts`: group `99` is not in the directory",
            "rows-only-privileged: 1 of 3 rows are seen by no one but the owner and Admins: row 3",
        ];
        for line in expect {
            assert!(found.iter().any(|f| f == line), "missing {line:?} in {found:#?}");
        }
    }

    #[test]
    fn a_user_whose_policy_does_not_compile_is_not_called_in_no_policy() {
        // Bob is in `team` through group 70, Ann directly in `direct`; both policies misspell a column.
        let found = lint_guests(
            r#"[
                {"id": 1, "name": "fine", "filters": [{"column": "Age", "operator": "GREATER_THAN", "values": ["18"]}], "users": [5]},
                {"id": 2, "name": "team", "filters": [{"column": "Agee", "operator": "GREATER_THAN", "values": ["18"]}], "groups": [70]},
                {"id": 3, "name": "direct", "filters": [{"column": "Frend", "operator": "EQUALS", "values": ["Ann"]}], "users": [3]}
            ]"#,
            true,
        );
        let expect = [
            "user-sees-nothing: user 4 `Bob` sees no row: policy 2 `team` names them but does not compile (fix the compile error above)",
            "user-sees-nothing: user 3 `Ann` sees no row: policy 3 `direct` names them but does not compile (fix the compile error above)",
        ];
        for line in expect {
            assert!(found.iter().any(|f| f == line), "missing {line:?} in {found:#?}");
        }
        assert!(!found.iter().any(|f| f.contains("is in no policy")), "{found:#?}");
    }

    #[test]
    fn no_policy_alone_is_a_note_and_every_row_is_info() {
        let found = lint_guests(
            r#"[{"id": 1, "name": "named", "filters": [{"column": "Friend", "operator": "CONTAINS", "values": [""]}], "users": [3, 4]}]"#,
            true,
        );
        assert!(
            found.contains(&"user-sees-nothing: user 5 `Cy` is in no policy and sees no row".to_owned()),
            "{found:#?}"
        );
        assert!(
            found.contains(
                &"policy-matches-every-row: policy 1 `named`: its filters admit all 3 rows, so they restrict nothing"
                    .to_owned()
            ),
            "{found:#?}"
        );
    }

    #[test]
    fn compile_errors_do_not_stop_the_other_analyses() {
        let found = lint_guests(
            r#"[
                {"id": 1, "name": "typo", "filters": [{"column": "Agee", "operator": "EQUALS", "values": ["1"]}], "users": [3]},
                {"id": 2, "name": "empty", "filters": [{"column": "Friend", "operator": "EQUALS", "values": ["Zed"]}], "users": [4]}
            ]"#,
            true,
        );
        assert_eq!(
            found.first().map(String::as_str),
            Some("compile-error: policy 1 `typo`, filters[0]: unknown column `Agee` (did you mean `Age`?)")
        );
        assert!(found.iter().any(|f| f.starts_with("value-not-in-data: policy 2 `empty`")), "{found:#?}");
        assert!(found.iter().any(|f| f.starts_with("policy-matches-no-row: policy 2 `empty`")), "{found:#?}");
    }

    #[test]
    fn pdp_disabled_reports_no_user_findings() {
        let found = lint_guests(
            r#"[{"id": 1, "name": "p", "filters": [{"column": "Friend", "operator": "EQUALS", "values": ["Ann"]}], "users": [3]}]"#,
            false,
        );
        assert!(
            !found.iter().any(|f| f.starts_with("user-sees-nothing") || f.starts_with("rows-only-privileged")),
            "{found:#?}"
        );
    }

    proptest::proptest! {
        /// A policy lint calls impossible admits no row of any data: the analysis never cries wolf.
        #[test]
        fn never_matching_filters_admit_no_row(
            filters in proptest::collection::vec(
                (0usize..7, proptest::collection::vec(-3i64..4, 1..3), proptest::bool::ANY),
                1..4,
            ),
            cells in proptest::collection::vec(proptest::option::of(-4i64..5), 1..30),
        ) {
            const OPERATORS: [&str; 7] =
                ["EQUALS", "GREATER_THAN", "LESS_THAN", "GREATER_THAN_EQUAL", "LESS_THAN_EQUAL", "BETWEEN", "EQUALS"];
            let filters: Vec<serde_json::Value> = filters
                .into_iter()
                .map(|(op, values, not)| {
                    let operator = OPERATORS.get(op).copied().unwrap_or("EQUALS");
                    let count = match operator {
                        "BETWEEN" => 2,
                        "EQUALS" => values.len(),
                        _ => 1,
                    };
                    let mut values: Vec<String> = values.iter().map(i64::to_string).collect();
                    while values.len() < count {
                        values.push("0".to_owned());
                    }
                    values.truncate(count);
                    serde_json::json!({"column": "n", "operator": operator, "values": values, "not": not})
                })
                .collect();
            let policy: Policy = serde_json::from_value(serde_json::json!({"id": 1, "name": "p", "filters": filters, "users": [2]})).unwrap();
            let dataset: Dataset = serde_json::from_value(serde_json::json!({
                "id": "d", "name": "n", "pdpEnabled": true,
                "schema": {"columns": [{"type": "LONG", "name": "n"}]}
            }))
            .unwrap();
            let mut csv = String::from("n\n");
            for cell in &cells {
                csv.push_str(&cell.map(|v| v.to_string()).unwrap_or_default());
                csv.push('\n');
            }
            let table = Table::from_csv(csv.as_bytes(), &dataset.schema, crate::HeaderRow::Present).unwrap();
            let set = PolicySet::compile(&dataset, std::slice::from_ref(&policy), &Directory::default()).unwrap();
            let evaluation = set.evaluate(&table).unwrap();
            let admitted = evaluation.policy_rows(0).map_or(0, RowSet::len);
            if !contradictions(&policy, &dataset.schema).is_empty() {
                proptest::prop_assert_eq!(admitted, 0, "flagged as impossible but admits rows: {:?}", policy.filters);
            }
        }
    }
}
