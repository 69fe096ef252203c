//! The data findings made from what the rows showed: values not in the data, policies matching no
//! row or every row, identical and redundant policies, hidden rows and users who see nothing.

use domo_model::{ColumnType, UserId};

use super::{DataPlan, LintRows, SAMPLE_ROWS};
use crate::compile::{Diagnostic, DiagnosticCode, PdpMode, PolicySet, Reason, Severity, did_you_mean};

impl LintRows<'_> {
    /// The data findings, in the order lint reports them before sorting.
    pub(in crate::lint) fn findings(self, set: &PolicySet, plan: &DataPlan) -> Vec<Diagnostic> {
        let mut findings = Vec::new();
        if self.mismatch {
            return findings;
        }
        let rows = self.rows;
        let policy_ref = |index: usize| plan.refs.get(index).cloned();

        // EQUALS on values no row holds, with the nearest value of a STRING column.
        for (wanted, found) in plan.wanted.iter().zip(&self.found) {
            if *found {
                continue;
            }
            let Some(this) = policy_ref(wanted.policy) else { continue };
            let name = set.schema().columns.get(wanted.column).map_or("", |c| c.name.as_str());
            let hint = match self.texts.get(&wanted.column) {
                Some((_, texts)) if wanted.column_type == ColumnType::String => {
                    did_you_mean(&wanted.text, texts.iter().map(String::as_str))
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default()
                }
                _ => String::new(),
            };
            let value = &wanted.text;
            findings.push(
                Diagnostic::new(
                    Severity::Warning,
                    DiagnosticCode::ValueNotInData,
                    format!("EQUALS `{value}`: no row has this value in `{name}`{hint}"),
                )
                .on_policy(this)
                .on_filter(Some(wanted.filter)),
            );
        }

        for (index, compiled) in set.policies().iter().enumerate() {
            let Some(this) = policy_ref(index) else { continue };
            let (Some(&matched), Some(who)) = (self.matched.get(index), plan.members.get(index)) else { continue };
            if who.is_empty() {
                findings.push(
                    Diagnostic::new(
                        Severity::Warning,
                        DiagnosticCode::PolicyWithoutMembers,
                        who.why_empty(compiled.source()),
                    )
                    .on_policy(this.clone()),
                );
            }
            if matched == 0 && rows > 0 && !plan.never_matches.get(index).copied().unwrap_or(false) {
                let message = if rows == 1 {
                    "matches not even the 1 row, so it grants nothing".to_owned()
                } else {
                    format!("matches none of the {rows} rows, so it grants nothing")
                };
                findings.push(
                    Diagnostic::new(Severity::Warning, DiagnosticCode::PolicyMatchesNoRow, message)
                        .on_policy(this.clone()),
                );
            }
            if matched == rows && rows > 0 && !compiled.filters().is_empty() {
                let message = if rows == 1 {
                    "its filters admit the 1 row, so they restrict nothing".to_owned()
                } else {
                    format!("its filters admit all {rows} rows, so they restrict nothing")
                };
                findings.push(
                    Diagnostic::new(Severity::Note, DiagnosticCode::PolicyMatchesEveryRow, message).on_policy(this),
                );
            }
        }

        // Identical policies (same filters and same members), then redundancy (covered by another).
        for (b, a) in plan.identical_to.iter().enumerate() {
            let Some(a) = *a else { continue };
            if let (Some(ra), Some(rb)) = (policy_ref(a), policy_ref(b)) {
                findings.push(
                    Diagnostic::new(
                        Severity::Warning,
                        DiagnosticCode::IdenticalPolicies,
                        format!("is identical to {ra} (same filters, same members); keep one"),
                    )
                    .on_policy(rb),
                );
            }
        }
        let subset = |a: usize, b: usize| match (u32::try_from(a), u32::try_from(b)) {
            (Ok(a), Ok(b)) => {
                plan.pairs.binary_search(&(a, b)).ok().and_then(|k| self.subset.get(k)).copied().unwrap_or(false)
            }
            _ => false,
        };
        let count = plan.refs.len();
        for a in 0..count {
            let identical_to = |i: usize| plan.identical_to.get(i).copied().flatten();
            if identical_to(a).is_some() {
                continue;
            }
            let (Some(&rows_a), Some(members_a)) = (self.matched.get(a), plan.members.get(a)) else { continue };
            if members_a.is_empty() || rows_a == 0 {
                continue;
            }
            // The policies whose members hold `a`'s are its pairs' `b`s, in policy order.
            let first = plan.pairs.partition_point(|&(x, _)| usize::try_from(x).is_ok_and(|x| x < a));
            let pairs =
                plan.pairs.get(first..).unwrap_or_default().iter().zip(self.subset.get(first..).unwrap_or_default());
            for (&(pair_a, b), &still) in pairs {
                let (Ok(pair_a), Ok(b)) = (usize::try_from(pair_a), usize::try_from(b)) else { break };
                if pair_a != a {
                    break;
                }
                if identical_to(b) == Some(a) || identical_to(a) == Some(b) {
                    continue;
                }
                let Some(&rows_b) = self.matched.get(b) else { continue };
                let covered = still && rows_a <= rows_b;
                // Two policies covering each other are identical in effect; report the later one only
                // (the pair `(b, a)` exists only if `b`'s members are also `a`'s).
                let mutual = covered && subset(b, a);
                if covered && (!mutual || a > b) {
                    if let (Some(ra), Some(rb)) = (policy_ref(a), policy_ref(b)) {
                        findings.push(
                            Diagnostic::new(
                                Severity::Warning,
                                DiagnosticCode::RedundantPolicy,
                                format!(
                                    "is redundant: {rb} already grants its members ({}) every row it admits ({})",
                                    plural(members_a.len() as u64, "principal", "principals"),
                                    plural(rows_a, "row", "rows")
                                ),
                            )
                            .on_policy(ra),
                        );
                    }
                    break;
                }
            }
        }

        // Rows that only the owner and Admins see.
        if set.mode() == PdpMode::Enabled && rows > 0 && self.hidden > 0 {
            findings.push(
                Diagnostic::new(
                    Severity::Warning,
                    DiagnosticCode::RowsOnlyPrivileged,
                    format!(
                        "{} of {} seen by no one but the owner and Admins: {}",
                        self.hidden,
                        if rows == 1 { "1 row is".to_owned() } else { format!("{rows} rows are") },
                        row_list(&self.hidden_sample, self.hidden)
                    ),
                )
                .with_rows(self.hidden_sample.clone()),
            );
        }

        // Users who see nothing, and why.
        if set.mode() == PdpMode::Enabled && rows > 0 {
            findings.extend(users_who_see_nothing(set, plan, &self.matched));
        }
        findings
    }
}

/// A finding per directory user who sees no row, saying why.
fn users_who_see_nothing(set: &PolicySet, plan: &DataPlan, matched: &[u64]) -> Vec<Diagnostic> {
    let directory = set.directory();
    let policy_ref = |index: usize| plan.refs.get(index).cloned();
    // The policies that did not compile and name the user (directly or through a group): such a
    // user is not "in no policy", their policy is broken.
    let broken_policies_of = |user: UserId| -> Vec<String> {
        plan.broken
            .iter()
            .filter(|(_, p)| {
                p.users.contains(&user)
                    || p.groups.iter().any(|g| directory.group(*g).is_some_and(|g| g.user_ids.contains(&user)))
            })
            .map(|(r, _)| r.to_string())
            .collect()
    };
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
    let mut findings = Vec::new();
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
                if access.policies.iter().any(|m| matched.get(m.policy.index()).is_some_and(|n| *n > 0)) {
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
            Severity::Note
        } else {
            Severity::Warning
        };
        findings.push(Diagnostic::new(severity, DiagnosticCode::UserSeesNothing, message).on_user(user.id));
    }
    findings
}

/// `1 row`, `6 rows`.
fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// `row 2`, `rows 2, 5, 7` or `rows 2, 5, 7, …` for `count` rows of which `sample` are the first.
fn row_list(sample: &[u64], count: u64) -> String {
    if let ([only], 1) = (sample, count) {
        return format!("row {only}");
    }
    let shown: Vec<String> = sample.iter().take(SAMPLE_ROWS).map(u64::to_string).collect();
    if count > SAMPLE_ROWS as u64 {
        format!("rows {}, …", shown.join(", "))
    } else {
        format!("rows {}", shown.join(", "))
    }
}
