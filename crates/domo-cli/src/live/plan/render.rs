//! The plan and the apply report as a person reads them.

use std::fmt::Write as _;

use domo_model::Policy;

use super::{Change, Plan, Steps, show_id};
use crate::any_row;
use crate::live::policies::filters_text;
use crate::output::{self, BOLD, ERROR, GOOD, WARNING, paint};

/// What an apply did, change by change.
pub(super) fn render_report(report: &Steps, total: usize) -> String {
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
            Change::Narrow { id, policy } => {
                let _ = writeln!(
                    text,
                    "  {} policy {id} `{}` first, to what its live and new versions both admit (updated below)",
                    paint(WARNING, "~ narrow"),
                    policy.name
                );
                let _ = writeln!(text, "      filters: {}", filters_text(&policy.filters));
                let _ = writeln!(text, "      applies to: {}", principals(policy));
            }
            Change::Delete { id, name } => {
                let _ = writeln!(text, "  {} policy {id} `{name}`", paint(ERROR, "- delete"));
            }
            Change::EnablePdp => {
                let _ = writeln!(
                    text,
                    "  {} (dataset.json says so; after the policies exist)",
                    paint(GOOD, "+ enable PDP")
                );
            }
            Change::DisablePdp => {
                let _ = writeln!(
                    text,
                    "  {}: everyone with access sees every row (dataset.json says so; needs --turn-pdp-off)",
                    paint(ERROR, "- disable PDP")
                );
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
    if plan.no_sample {
        let _ = writeln!(text, "{}", paint(BOLD, "effect on users: no sample (the folder has no data.csv)"));
    } else {
        write_row_effect(&mut text, effect);
    }
    if let Some(any_row) = &plan.any_row {
        let mut lines = Vec::new();
        let _ = any_row::write_text(&mut lines, &any_row.users, &any_row.counts);
        text.push_str(&String::from_utf8_lossy(&lines));
        if any_row.users_left_out > 0 {
            let _ = writeln!(
                text,
                "  ({} left out of the plan, which keeps the first {}: `domo pdp diff --for-any-row` lists them all)",
                output::count(
                    any_row.users_left_out,
                    "more user whose access changes is",
                    "more users whose access changes are"
                ),
                super::WITNESS_USERS
            );
        }
    }
    for note in &plan.notes {
        let _ = writeln!(text, "{}: {note}", paint(WARNING, "note"));
    }
    text
}

/// Who gains and loses rows of the sample.
fn write_row_effect(text: &mut String, effect: &super::Effect) {
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
    if effect.left_out() > 0 {
        let _ = writeln!(
            text,
            "  ({} left out of the plan, which keeps the {} who gain most, then lose most)",
            output::count(effect.left_out(), "more user whose rows change is", "more users whose rows change are"),
            super::EFFECT_USERS
        );
    }
    let movers = effect.movers();
    let _ = writeln!(
        text,
        "{} of {} {}: {} rows, {} rows",
        movers.changed,
        output::count(effect.users_total, "user", "users"),
        if movers.changed == 1 { "changes" } else { "change" },
        output::how_many(movers.gaining, "gains", "gain"),
        output::how_many(movers.losing, "loses", "lose"),
    );
}

/// The plan as a pull-request comment: the verdict, the counts, then a block per change to the
/// live policies and per user whose rows change, gains first.
pub(super) fn markdown(plan: &Plan) -> String {
    use output::{Align, Section, md_cell, md_code, md_table};
    let effect = &plan.effect;
    let super::Movers { gaining: gainers, losing: losers, .. } = effect.movers();
    let count = |f: fn(&Change) -> bool| plan.changes.iter().filter(|c| f(c)).count();
    let (creates, updates, deletes) = (
        count(|c| matches!(c, Change::Create { .. })),
        count(|c| matches!(c, Change::Update { .. })),
        count(|c| matches!(c, Change::Delete { .. })),
    );
    let verdict = if plan.changes.is_empty() {
        "No changes: the live policies match policies.json".to_owned()
    } else {
        format!(
            "{}, {} ({creates} to create, {updates} to update, {deletes} to delete)",
            output::count(gainers, "user gains rows", "users gain rows"),
            output::count(losers, "user loses rows", "users lose rows"),
        )
    };
    let mut context = vec![format!(
        "`domo pdp plan` for DataSet {} `{}` at {}: {} live, effect on the {} and {}.",
        plan.dataset_id,
        md_code(&plan.dataset_name),
        md_code(&plan.api),
        output::count(plan.live.len(), "policy", "policies"),
        output::count(effect.rows, "local row", "local rows"),
        output::count(effect.users_total, "user", "users"),
    )];
    for note in &plan.notes {
        context.push(format!("\n> **Note**: {}", md_cell(note)));
    }
    if effect.left_out() > 0 {
        context.push(format!(
            "\n{} left out of the plan, which keeps the {} who gain most, then lose most.",
            output::count(effect.left_out(), "more user whose rows change is", "more users whose rows change are"),
            super::EFFECT_USERS
        ));
    }
    if plan.leaves_no_policy() {
        context.push(
            "\n> **Warning**: the plan deletes every policy: Domo then turns PDP off and everyone with access \
             sees every row."
                .to_owned(),
        );
    }
    let mut sections = Vec::new();
    for change in &plan.changes {
        sections.push(match change {
            Change::Create { policy } => Section {
                summary: format!("+ create `{}`", md_code(&policy.name)),
                body: format!(
                    "- filters: {}\n- applies to: {}",
                    md_cell(&filters_text(&policy.filters)),
                    md_cell(&principals(policy))
                ),
            },
            Change::Update { id, details, policy } => Section {
                summary: format!("~ update policy {id} `{}`", md_code(&policy.name)),
                body: details.iter().map(|d| format!("- {}", md_cell(d))).collect::<Vec<_>>().join("\n"),
            },
            Change::Narrow { id, policy } => Section {
                summary: format!("~ narrow policy {id} `{}` first", md_code(&policy.name)),
                body: format!(
                    "To what its live and new versions both admit, before any update that widens access (updated \
                     below), so that a stopped apply never shows more than before and after.\n- filters: {}\n- \
                     applies to: {}",
                    md_cell(&filters_text(&policy.filters)),
                    md_cell(&principals(policy))
                ),
            },
            Change::Delete { id, name } => Section {
                summary: format!("- delete policy {id} `{}`", md_code(name)),
                body: "The live policy is deleted.".to_owned(),
            },
            Change::EnablePdp => Section {
                summary: "+ enable PDP".to_owned(),
                body: "dataset.json says `pdpEnabled: true`: PDP is turned on once the policies exist.".to_owned(),
            },
            Change::DisablePdp => Section {
                summary: "- disable PDP".to_owned(),
                body: "dataset.json says `pdpEnabled: false`: everyone with access sees every row.".to_owned(),
            },
        });
    }
    let mut users: Vec<_> = effect.users.iter().collect();
    users.sort_by_key(|u| (u.gained == 0, std::cmp::Reverse(u.gained), std::cmp::Reverse(u.lost)));
    for user in users {
        sections.push(Section {
            summary: format!(
                "{} user {} `{}`: {} → {} rows (+{}, -{})",
                if user.gained > 0 { "+" } else { "-" },
                user.id,
                md_code(&user.name),
                user.before,
                user.after,
                user.gained,
                user.lost
            ),
            body: md_table(
                &["before", "after", "gained", "lost"],
                &[Align::Right; 4],
                [vec![user.before.to_string(), user.after.to_string(), user.gained.to_string(), user.lost.to_string()]],
            ),
        });
    }
    if let Some(any_row) = &plan.any_row {
        context.push(format!("\n{}.", any_row::markdown_verdict(&any_row.counts)));
        if any_row.users_left_out > 0 {
            context.push(format!(
                "\n{} left out of the plan, which keeps the first {} (`domo pdp diff --for-any-row` lists them all).",
                output::count(
                    any_row.users_left_out,
                    "more user whose access changes is",
                    "more users whose access changes are"
                ),
                super::WITNESS_USERS
            ));
        }
        sections.extend(any_row::markdown_sections(&any_row.users));
    }
    output::Comment {
        verdict,
        context,
        sections,
        full_command: format!("domo pdp plan DIR --dataset-id {}", plan.dataset_id),
    }
    .render()
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
