//! The plan and the apply report as a person reads them.

use std::fmt::Write as _;

use domo_model::Policy;

use super::{Change, Plan, Report, show_id};
use crate::any_row;
use crate::live::policies::filters_text;
use crate::output::{self, BOLD, ERROR, GOOD, WARNING, paint};

/// What an apply did, change by change.
pub(super) fn render_report(report: &Report<'_>, total: usize) -> String {
    let mut text = String::new();
    let applied = format!("applied {} of {}:", report.applied.len(), output::count(total, "change", "changes"));
    let _ = writeln!(text, "{}", paint(BOLD, applied));
    for done in &report.applied {
        let _ = writeln!(text, "  {} {}", paint(GOOD, "done"), done.done());
    }
    if let Some(failed) = &report.failed {
        let _ = writeln!(text, "  {} {}: {}", paint(ERROR, "failed"), failed.change.describe(), failed.error);
    }
    if !report.not_applied.is_empty() {
        let _ = writeln!(text, "{}", paint(BOLD, "not applied:"));
        for change in &report.not_applied {
            let _ = writeln!(text, "  {} {}", paint(WARNING, "skipped"), change.describe());
        }
    }
    text
}

/// The plan as a person reads it.
pub(super) fn render(plan: &Plan) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{}",
        paint(BOLD, format!("plan for DataSet {} `{}` at {}", plan.dataset_id, plan.dataset_name, plan.api))
    );
    let _ = writeln!(text, "live policies: {} (fingerprint {})", plan.live.len(), plan.fingerprint);
    let count = |f: fn(&Change) -> bool| plan.changes.iter().filter(|c| f(c)).count();
    if plan.changes.is_empty() {
        let _ = writeln!(text, "no changes: the live policies match the local policies.json");
    } else {
        let _ = writeln!(
            text,
            "{}",
            paint(
                BOLD,
                format!(
                    "changes: {} to create, {} to update, {} to delete",
                    count(|c| matches!(c, Change::Create { .. })),
                    count(|c| matches!(c, Change::Update { .. })),
                    count(|c| matches!(c, Change::Delete { .. })),
                )
            )
        );
    }
    for change in &plan.changes {
        match change {
            Change::Create { policy } => {
                let _ = writeln!(text, "  {} `{}`", paint(GOOD, "+ create"), policy.name);
                let _ = writeln!(text, "      filters: {}", filters_text(&policy.filters));
                let _ = writeln!(text, "      applies to: {}", principals(policy));
            }
            Change::Update { id, details, policy } => {
                let _ = writeln!(text, "  {} policy {id} `{}`", paint(WARNING, "~ update"), policy.name);
                for detail in details {
                    let _ = writeln!(text, "      {detail}");
                }
            }
            Change::Delete { id, name } => {
                let _ = writeln!(text, "  {} policy {id} `{name}`", paint(ERROR, "- delete"));
            }
        }
    }
    for policy in &plan.kept {
        let _ = writeln!(
            text,
            "  = keep built-in policy {} `{}` (type {}, not in policies.json)",
            show_id(policy.id),
            policy.name,
            policy.policy_type
        );
    }
    let effect = &plan.effect;
    let _ = writeln!(
        text,
        "{}",
        paint(BOLD, format!("effect on users, on the {}:", output::count(effect.rows, "local row", "local rows")))
    );
    if effect.users.is_empty() {
        let _ = writeln!(text, "  no user's rows change");
    }
    for user in &effect.users {
        let _ = writeln!(
            text,
            "  user {} `{}`: {} -> {} rows ({}, -{} lost)",
            user.id,
            user.name,
            user.before,
            user.after,
            paint(if user.gained > 0 { WARNING } else { BOLD }, format!("+{} gained", user.gained)),
            user.lost
        );
    }
    let gainers = effect.users.iter().filter(|u| u.gained > 0).count();
    let losers = effect.users.iter().filter(|u| u.lost > 0).count();
    let _ = writeln!(
        text,
        "{} of {} {}: {} rows, {} rows",
        effect.users.len(),
        output::count(effect.users_total, "user", "users"),
        if effect.users.len() == 1 { "changes" } else { "change" },
        output::how_many(gainers, "gains", "gain"),
        output::how_many(losers, "loses", "lose"),
    );
    if let Some(any_row) = &plan.any_row {
        let mut lines = Vec::new();
        let _ = any_row::write_text(&mut lines, &any_row.users, &any_row.counts);
        text.push_str(&String::from_utf8_lossy(&lines));
    }
    for note in &plan.notes {
        let _ = writeln!(text, "{}: {note}", paint(WARNING, "note"));
    }
    text
}

fn principals(policy: &Policy) -> String {
    let mut parts = Vec::new();
    if !policy.users.is_empty() {
        parts.push(format!("users {}", policy.users.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")));
    }
    if !policy.groups.is_empty() {
        parts.push(format!("groups {}", policy.groups.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")));
    }
    if !policy.virtual_users.is_empty() {
        parts.push(format!("virtual users {}", policy.virtual_users.join(", ")));
    }
    if parts.is_empty() { "nobody".to_owned() } else { parts.join("; ") }
}
