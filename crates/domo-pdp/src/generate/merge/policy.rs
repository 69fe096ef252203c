//! A DataSet's policies built from their rows: each member's filters gathered, members compared, the result compiled.

use std::collections::BTreeSet;

use domo_model::{Dataset, Directory, FilterOperator, Policy, PolicyFilter, PolicyType};

use super::{FilterKey, Interned, NONE, PolicyAcc};
use crate::compile::{DiagnosticCode, PolicySet};
use crate::generate::error::{EntitlementField, Problems};
use crate::generate::members::{Member, Members};
use crate::generate::row;
use crate::table::shorten;

/// The filters the rows give one member of a policy: filter ids with their value ids, in filter id order.
#[derive(Debug)]
struct MemberFilters {
    member: Member,
    first_line: u64,
    signature: Vec<(u32, Vec<u32>)>,
    /// The first line of each filter, in the signature's order.
    lines: Vec<u64>,
}

/// The lines a generated policy and each of its filters come from.
#[derive(Debug, Clone)]
pub(super) struct Provenance {
    line: u64,
    filters: Vec<u64>,
}

/// What building a DataSet's policies reads.
pub(super) struct Context<'c> {
    pub(super) dataset: &'c Dataset,
    /// Whether the table may name several DataSets (messages then name the DataSet).
    pub(super) many: bool,
    pub(super) members: &'c Members<'c>,
    pub(super) interned: &'c Interned,
}

/// One policy from its rows, or `None` (with problems pushed) when its rows disagree.
pub(super) fn build_policy(
    context: &Context<'_>,
    name: String,
    mut policy: PolicyAcc,
    problems: &mut Problems,
) -> Option<(Policy, Provenance)> {
    let shown = shorten(name.as_bytes());
    let of = if context.many {
        format!(" of DataSet `{}`", shorten(context.dataset.id.as_str().as_bytes()))
    } else {
        String::new()
    };
    if let (Some(all), Some(filter)) = (policy.all_rows_line, policy.filter_line) {
        let (first, later, what) = if all < filter {
            (all, filter, "makes it the All Rows policy, and this line gives it a filter")
        } else {
            (filter, all, "gives it a filter, and this line makes it the All Rows policy")
        };
        problems.push(
            later,
            None,
            format!(
                "policy `{shown}`{of}: line {first} {what} (the All Rows policy shows every row and has no filters)"
            ),
        );
        return None;
    }
    policy.entries.sort_unstable();
    let interned = context.interned;
    let mut ok = true;
    let mut reported: BTreeSet<(u64, u64)> = BTreeSet::new();
    let mut per_member: Vec<MemberFilters> = Vec::new();
    for rows in policy.entries.chunk_by(|a, b| a.member == b.member) {
        let Some(first) = rows.first() else { continue };
        let mut filters = MemberFilters {
            member: first.member,
            first_line: rows.iter().map(|e| e.line).min().unwrap_or(first.line),
            signature: Vec::new(),
            lines: Vec::new(),
        };
        for same in rows.chunk_by(|a, b| a.filter == b.filter) {
            let Some(entry) = same.first() else { continue };
            let Some(key) = interned.key(entry.filter) else { continue };
            let line = same.iter().map(|e| e.line).min().unwrap_or(entry.line);
            if row::is_list(key.operator) {
                let mut ids: Vec<u32> = same.iter().map(|e| e.values[0]).collect();
                ids.dedup();
                filters.signature.push((entry.filter, ids));
            } else {
                // Entries are sorted by value: each run is one distinct value list, with its first line.
                let mut distinct: Vec<([u32; 2], u64)> = Vec::new();
                for run in same.chunk_by(|a, b| a.values == b.values) {
                    if let Some(e) = run.first() {
                        distinct.push((e.values, run.iter().map(|e| e.line).min().unwrap_or(e.line)));
                    }
                }
                distinct.sort_by_key(|(_, line)| *line);
                if let [(first_values, first_line), (other_values, other_line), ..] = distinct.as_slice() {
                    if reported.insert((*first_line, *other_line)) {
                        let text = |v: &[u32; 2]| {
                            v.iter()
                                .filter(|&&v| v != NONE)
                                .map(|&v| format!("`{}`", shorten(interned.text(v).as_bytes())))
                                .collect::<Vec<_>>()
                                .join(" & ")
                        };
                        problems.push(
                            *other_line,
                            Some(EntitlementField::Value),
                            format!(
                                "conflicts with line {first_line}: both give the same users `{}` {}{} in one policy, line {first_line} with {} and this line with {} (a policy's filters are ANDed; use two policy names for two ranges)",
                                shorten(key.column.as_bytes()),
                                if key.not { "NOT " } else { "" },
                                key.operator,
                                text(first_values),
                                text(other_values),
                            ),
                        );
                    }
                    ok = false;
                    continue;
                }
                let values = entry.values.iter().copied().filter(|&v| v != NONE).collect();
                filters.signature.push((entry.filter, values));
            }
            filters.lines.push(line);
        }
        per_member.push(filters);
    }
    if !ok {
        return None;
    }
    let users =
        per_member.iter().filter_map(|m| if let Member::User(id) = m.member { Some(id) } else { None }).collect();
    let groups =
        per_member.iter().filter_map(|m| if let Member::Group(id) = m.member { Some(id) } else { None }).collect();
    per_member.sort_by_key(|m| (m.first_line, m.member));
    let reference = per_member.first()?;
    let differing: Vec<&MemberFilters> =
        per_member.iter().skip(1).filter(|m| m.signature != reference.signature).collect();
    if let Some(other) = differing.first() {
        let more = match differing.len() {
            1 => String::new(),
            n => format!(" (and {} more members differ)", n - 1),
        };
        problems.push(
            other.first_line,
            None,
            format!(
                "policy `{shown}`{of}: {} gets {}, but {} (line {}) gets {}{more}; a policy's filters apply to all its members, so give them different policy names",
                context.members.describe(other.member),
                describe(&other.signature, interned),
                context.members.describe(reference.member),
                reference.first_line,
                describe(&reference.signature, interned),
            ),
        );
        return None;
    }
    let mut filters: Vec<(&FilterKey, Vec<String>, u64)> = reference
        .signature
        .iter()
        .zip(&reference.lines)
        .filter_map(|((filter, ids), line)| {
            let key = interned.key(*filter)?;
            let mut values: Vec<String> = ids.iter().map(|&v| interned.text(v).to_owned()).collect();
            if row::is_list(key.operator) {
                values.sort();
                values.dedup();
            }
            Some((key, values, *line))
        })
        .collect();
    filters.sort_by(|a, b| a.0.cmp(b.0));
    let provenance = Provenance { line: reference.first_line, filters: filters.iter().map(|f| f.2).collect() };
    let policy_type = if policy.all_rows_line.is_some() { PolicyType::Open } else { PolicyType::User };
    let policy = Policy {
        id: None,
        policy_type,
        name,
        filters: filters
            .into_iter()
            .map(|(key, values, _)| PolicyFilter {
                column: key.column.clone(),
                values,
                operator: key.operator,
                not: key.not,
            })
            .collect(),
        users,
        virtual_users: Vec::new(),
        groups,
    };
    Some((policy, provenance))
}

/// What a member gets, in words: `` `Region` EQUALS `East|West` and `Amount` LESS_THAN `10` ``.
fn describe(signature: &[(u32, Vec<u32>)], interned: &Interned) -> String {
    if signature.is_empty() {
        return "every row (All Rows)".to_owned();
    }
    let mut parts: Vec<(&FilterKey, String)> = signature
        .iter()
        .filter_map(|(filter, ids)| {
            let key = interned.key(*filter)?;
            let mut values: Vec<&str> = ids.iter().map(|&v| interned.text(v)).collect();
            let joiner = if key.operator == FilterOperator::Between { " & " } else { "|" };
            if row::is_list(key.operator) {
                values.sort_unstable();
            }
            Some((key, values.join(joiner)))
        })
        .collect();
    parts.sort_by(|a, b| a.0.cmp(b.0));
    parts
        .iter()
        .map(|(key, values)| {
            format!(
                "`{}` {}{} `{}`",
                shorten(key.column.as_bytes()),
                if key.not { "NOT " } else { "" },
                key.operator,
                shorten(values.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Compiles one DataSet's generated policies, the engine's own check; each error
/// and each warning that would make the policy wrong or refused is a problem at
/// the line the policy or filter comes from.
pub(super) fn compile_check(
    dataset: &Dataset,
    policies: &[Policy],
    provenance: &[Provenance],
    directory: &Directory,
    problems: &mut Problems,
) {
    // Compiled against the users and groups the policies name, not the whole directory: compiling
    // copies its directory, and a thousand DataSets would copy ten thousand users each.
    let named = named_members(policies, directory);
    let (errors, warnings) = match PolicySet::compile(dataset, policies, &named) {
        Ok(set) => (Vec::new(), set.warnings().to_vec()),
        Err(error) => (error.errors, error.warnings),
    };
    let fatal_warning = |code: DiagnosticCode| {
        matches!(
            code,
            DiagnosticCode::BetweenReversed
                | DiagnosticCode::ValuesTooLong
                | DiagnosticCode::UnknownUser
                | DiagnosticCode::UnknownGroup
        )
    };
    for diagnostic in errors.iter().chain(warnings.iter().filter(|w| fatal_warning(w.code))) {
        let from = diagnostic.policy.as_ref().and_then(|p| provenance.get(p.handle.index()));
        let line = match (from, diagnostic.filter_index) {
            (Some(p), Some(f)) => p.filters.get(f).copied().unwrap_or(p.line),
            (Some(p), None) => p.line,
            (None, _) => 1,
        };
        let hint = if diagnostic.code == DiagnosticCode::ValuesTooLong {
            " (split the policy: fewer values each)"
        } else {
            ""
        };
        problems.push(line, None, format!("DataSet `{}`, {diagnostic}{hint}", shorten(dataset.id.as_str().as_bytes())));
    }
}

/// The directory's entries for the users and groups `policies` name (groups without their members).
fn named_members(policies: &[Policy], directory: &Directory) -> Directory {
    let users: BTreeSet<_> = policies.iter().flat_map(|p| &p.users).copied().collect();
    let groups: BTreeSet<_> = policies.iter().flat_map(|p| &p.groups).copied().collect();
    Directory {
        users: directory.users.iter().filter(|u| users.contains(&u.id)).cloned().collect(),
        groups: directory
            .groups
            .iter()
            .filter(|g| groups.contains(&g.id))
            .map(|g| domo_model::DirectoryGroup { id: g.id, name: g.name.clone(), user_ids: Vec::new() })
            .collect(),
        roles: Vec::new(),
    }
}
