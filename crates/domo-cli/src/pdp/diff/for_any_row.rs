//! `domo pdp diff --for-any-row`: the change judged on every possible row, each verdict with a witness row.

use std::io::Write;
use std::path::Path;

use domo_pdp::{ImpactOptions, PolicyChangeKind, PolicySet};
use serde::Serialize;

use super::{DiffArgs, PolicyJson};
use crate::any_row::{self, Counts, UnknownIs, UserImpactJson};
use crate::engine as common;
use crate::exit::Outcome;
use crate::folder::Inputs;
use crate::output::{self, BOLD, Format, paint};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ForAnyRowJson {
    mode: &'static str,
    policies: Vec<PolicyJson>,
    users: Vec<UserImpactJson>,
    counts: Counts,
    new_access: bool,
    gate_failed: bool,
}

/// The options for `--budget N`: N branches per question and N STRING states per column.
fn budget(given: Option<usize>) -> ImpactOptions {
    let defaults = ImpactOptions::default();
    match given {
        Some(n) => ImpactOptions { branch_budget: n, string_budget: n, ..defaults },
        None => defaults,
    }
}

pub(super) fn run(
    args: &DiffArgs,
    inputs: &Inputs,
    old_path: &Path,
    old_policies: &[domo_model::Policy],
    old_set: &PolicySet,
    new_set: &PolicySet,
) -> anyhow::Result<Outcome> {
    let report = domo_pdp::impact(old_set, new_set, &budget(args.budget))?;
    let changes = &report.policies;
    let names = common::Names::new(&inputs.directory);
    let users = any_row::users_json(&report, &names);
    let counts = any_row::counts(&report);
    let unknown = if args.allow_unknown { UnknownIs::Allowed } else { UnknownIs::Failure };
    let gate_failed = args.fail_on_new_access && any_row::gate_fails(&report, unknown);
    if let Some(dir) = &args.witnesses {
        any_row::write_witnesses(dir, &report)?;
    }
    match args.format {
        Format::Json => {
            let json = ForAnyRowJson {
                mode: "for-any-row",
                policies: changes.iter().map(|p| PolicyJson::of(p, old_policies, &inputs.policies)).collect(),
                users,
                counts,
                new_access: report.grants_new_access(),
                gate_failed,
            };
            output::json(&json)?;
        }
        Format::Markdown => {
            let mut sections: Vec<output::Section> = changes.iter().map(policy_section).collect();
            sections.extend(any_row::markdown_sections(&users));
            let comment = output::Comment {
                verdict: any_row::markdown_verdict(&counts),
                context: vec![format!(
                    "`domo pdp diff --for-any-row` of `{}` against `{}`: {}, {} checked.",
                    output::md_code(&inputs.paths.policies.display().to_string()),
                    output::md_code(&old_path.display().to_string()),
                    output::count(changes.len(), "policy changes", "policies change"),
                    output::count(counts.users, "user", "users"),
                )],
                sections,
                full_command: format!(
                    "domo pdp diff {} --against {} --for-any-row",
                    args.input.dir.display(),
                    old_path.display()
                ),
            };
            output::text(&comment.render())?;
        }
        Format::Table | Format::Csv => {
            let mut out = output::stdout();
            writeln!(
                out,
                "{}",
                paint(
                    BOLD,
                    format!(
                        "policies: `{}` against `{}`, for every possible row",
                        inputs.paths.policies.display(),
                        old_path.display()
                    )
                )
            )?;
            super::write_policy_changes(&mut out, changes)?;
            writeln!(out)?;
            any_row::write_text(&mut out, &users, &counts)?;
            if args.fail_on_new_access {
                any_row::write_gate(&mut out, &report, unknown)?;
            }
            out.flush()?;
        }
    }
    Ok(if gate_failed { Outcome::Findings } else { Outcome::Ok })
}

/// A policy change as a block of a pull-request comment: `+ added policy 3 `Attendees``.
pub(crate) fn policy_section(change: &domo_pdp::PolicyChange) -> output::Section {
    let label = match change.id {
        Some(id) => format!("policy {id} `{}`", output::md_code(&change.name)),
        None => format!("policy `{}`", output::md_code(&change.name)),
    };
    let (summary, body) = match &change.kind {
        PolicyChangeKind::Added => (format!("+ added {label}"), "The policy is added.".to_owned()),
        PolicyChangeKind::Removed => (format!("- removed {label}"), "The policy is removed.".to_owned()),
        PolicyChangeKind::Changed(details) => (
            format!("~ changed {label}"),
            details.iter().map(|d| format!("- {}", output::md_cell(d))).collect::<Vec<_>>().join("\n"),
        ),
    };
    output::Section { summary, body }
}
