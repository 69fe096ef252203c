//! Data findings: what the policies, evaluated on the data, do to rows and users.

use domo_model::{ColumnType, Directory, FilterOperator, Policy, UserId};

use super::finding::{LintFinding, LintKind, LintSeverity, PolicyRef};
use crate::compile::{PolicyHandle, PolicySet, Reason, did_you_mean};
use crate::rowset::RowSet;
use crate::table::{Table, Value};

/// At most this many sample rows are listed in a finding.
const SAMPLE_ROWS: usize = 10;

/// The analyses that need the policies evaluated against the data.
pub(super) fn data_findings(
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
    let policy_rows: Vec<&RowSet> =
        (0..set.policies().len()).filter_map(|i| evaluation.policy_rows(PolicyHandle::from_index(i))).collect();
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
                diagnostic: None,
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
                diagnostic: None,
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
                diagnostic: None,
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
                        diagnostic: None,
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
                        diagnostic: None,
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
                diagnostic: None,
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
                    let sees = access
                        .policies
                        .iter()
                        .any(|m| policy_rows.get(m.policy.index()).is_some_and(|r| !r.is_empty()));
                    if sees {
                        continue;
                    }
                    let names: Vec<String> = access
                        .policies
                        .iter()
                        .filter_map(|m| policy_ref(m.policy.index()))
                        .map(|p| p.to_string())
                        .collect();
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
                diagnostic: None,
            });
        }
    }
    findings
}

/// `1 row`, `6 rows`.
pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

pub(super) fn is_subset(a: &RowSet, b: &RowSet) -> bool {
    if b.is_all() {
        return true;
    }
    a.len() <= b.len() && a.iter().all(|r| b.contains(r))
}

/// `2, 5, 7` or `2, 5, 7, … (12 rows)`.
pub(super) fn row_list(rows: &[u64]) -> String {
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

/// A policy's filters in a canonical order (values sorted), for finding identical policies.
/// The All Rows policy has no filters that count.
pub(super) type FiltersKey = (bool, Vec<(String, FilterOperator, bool, Vec<String>)>);

pub(super) fn filters_key(policy: &Policy) -> FiltersKey {
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

/// The distinct values of one column, canonical (for lookup) and as text (for "did you mean").
#[derive(Debug, Default)]
pub(super) struct ColumnValues {
    canonical: hashbrown::HashSet<String>,
    texts: Vec<String>,
}

/// A typed value as text that is equal exactly when the values are equal (`1.50` and `1.5` agree).
pub(super) fn canonical(value: &Value<'_>) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => (*s).to_owned(),
        Value::Long(v) => v.to_string(),
        Value::Double(v) => v.to_string(),
        Value::Decimal(v) => v.normalize().to_string(),
        Value::Date(v) => v.to_string(),
        Value::Datetime(v) => v.to_string(),
    }
}

/// A message when no row holds `value` in `column`, with the nearest existing value.
/// Each column's distinct values are gathered once into `cache`.
pub(super) fn value_not_in_data(
    table: &Table,
    cache: &mut hashbrown::HashMap<usize, ColumnValues>,
    column: usize,
    column_type: ColumnType,
    value: &str,
) -> Option<String> {
    let wanted = canonical(&Value::parse(column_type, value).ok()?);
    let values = cache.entry(column).or_insert_with(|| {
        let mut values = ColumnValues::default();
        for (v, _) in table.distinct_values(column).unwrap_or_default() {
            if !v.is_null() {
                values.canonical.insert(canonical(&v));
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
