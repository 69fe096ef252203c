//! A whole-tree plan and its apply report as a person reads them.

use std::fmt::Write as _;

use super::super::render::render;
use super::super::{Change, Plan};
use super::{Entry, TreePlan, TreeReport};
use crate::output::{self, BOLD, ERROR, GOOD, WARNING, paint};

/// `+2 ~1 -0`: a DataSet's changes, counted.
fn counts_text(plan: &Plan) -> String {
    let counts = plan.counts();
    let switch = if plan.changes.iter().any(|c| matches!(c, Change::EnablePdp)) {
        ", PDP on"
    } else if plan.turns_pdp_off() {
        ", PDP off"
    } else {
        ""
    };
    format!("+{} ~{} -{}{switch}", counts.creates, counts.updates, counts.deletes)
}

/// Users of the sample who gain and who lose rows.
fn movers(plan: &Plan) -> (usize, usize) {
    let movers = plan.effect.movers();
    (movers.gaining, movers.losing)
}

/// The plan: a line per DataSet, the full plan of each that changes (indented), and the totals, like terraform.
pub(super) fn render_tree(plan: &TreePlan) -> String {
    let mut text = String::new();
    let summary = plan.summary();
    let _ = writeln!(
        text,
        "{}",
        paint(
            BOLD,
            format!(
                "plan for the instance tree `{}` at {}: {}",
                plan.root,
                plan.api,
                output::count(summary.datasets, "DataSet", "DataSets")
            )
        )
    );
    for entry in &plan.datasets {
        match entry {
            Entry::Planned { plan: one, .. } if one.changes.is_empty() => {
                let _ = writeln!(text, "  = DataSet {} `{}`: no changes", one.dataset_id, one.dataset_name);
            }
            Entry::Planned { plan: one, .. } => {
                let (gain, lose) = movers(one);
                let effect = if one.no_sample {
                    "no sample".to_owned()
                } else {
                    format!(
                        "{}, {}",
                        output::count(gain, "user gains rows", "users gain rows"),
                        output::count(lose, "user loses rows", "users lose rows")
                    )
                };
                let _ = writeln!(
                    text,
                    "  {} DataSet {} `{}`: {} ({effect})",
                    paint(WARNING, "~"),
                    one.dataset_id,
                    one.dataset_name,
                    counts_text(one)
                );
                for line in render(one).lines().skip(1) {
                    let _ = writeln!(text, "      {line}");
                }
            }
            Entry::Refused { dataset_id, name, reason, .. } => {
                let _ = writeln!(text, "  {} DataSet {dataset_id} `{name}`: {reason}", paint(ERROR, "! refused"));
            }
        }
    }
    let _ = writeln!(text, "{}", paint(BOLD, summary_line(plan)));
    text
}

/// `Plan: 2 DataSets to change (+3 to create, ~1 to update, -2 to delete), 1 unchanged, 1 refused.`
fn summary_line(plan: &TreePlan) -> String {
    let summary = plan.summary();
    if summary.converged() {
        return format!(
            "No changes: the live policies of {} match the tree.",
            output::count(summary.datasets, "DataSet", "DataSets")
        );
    }
    let changes = summary.changes;
    let switches = if changes.pdp_switches == 0 {
        String::new()
    } else {
        format!(", PDP switched on {}", output::count(changes.pdp_switches, "DataSet", "DataSets"))
    };
    format!(
        "Plan: {} to change (+{} to create, ~{} to update, -{} to delete{switches}), {} unchanged, {} refused.",
        output::count(summary.to_change, "DataSet", "DataSets"),
        changes.creates,
        changes.updates,
        changes.deletes,
        summary.unchanged,
        summary.refused
    )
}

/// The plan as a pull-request comment: the totals, then a block per DataSet that changes or is refused.
pub(super) fn tree_markdown(plan: &TreePlan) -> String {
    use output::{Section, md_cell, md_code};
    let summary = plan.summary();
    let context = vec![format!(
        "`domo pdp plan` for the instance tree `{}` at {}: {}.",
        md_code(&plan.root),
        md_code(&plan.api),
        output::count(summary.datasets, "DataSet", "DataSets")
    )];
    let mut sections = Vec::new();
    for entry in &plan.datasets {
        match entry {
            Entry::Planned { plan: one, .. } if one.changes.is_empty() => {}
            Entry::Planned { plan: one, .. } => {
                let mut body = Vec::new();
                for change in &one.changes {
                    body.push(match change {
                        Change::Create { policy } => format!("- + create `{}`", md_code(&policy.name)),
                        Change::Update { id, policy, details } => format!(
                            "- ~ update policy {id} `{}`: {}",
                            md_code(&policy.name),
                            md_cell(&details.join("; "))
                        ),
                        Change::Narrow { id, policy } => format!(
                            "- ~ narrow policy {id} `{}` first, to what its live and new versions both admit",
                            md_code(&policy.name)
                        ),
                        Change::Delete { id, name } => format!("- - delete policy {id} `{}`", md_code(name)),
                        Change::EnablePdp => "- + enable PDP (after the policies exist)".to_owned(),
                        Change::DisablePdp => {
                            "- - disable PDP: everyone with access sees every row (needs `--turn-pdp-off`)".to_owned()
                        }
                    });
                }
                if one.no_sample {
                    body.push("\nNo sample: the folder has no data.csv.".to_owned());
                } else {
                    for user in &one.effect.users {
                        body.push(format!(
                            "- user {} `{}`: {} → {} rows (+{}, -{})",
                            user.id,
                            md_code(&user.name),
                            user.before,
                            user.after,
                            user.gained,
                            user.lost
                        ));
                    }
                }
                if one.leaves_no_policy() {
                    body.push(
                        "\n> **Warning**: every policy is deleted: Domo turns PDP off and everyone with access \
                         sees every row."
                            .to_owned(),
                    );
                }
                sections.push(Section {
                    summary: format!("~ DataSet `{}` {}", md_code(&one.dataset_name), counts_text(one)),
                    body: body.join("\n"),
                });
            }
            Entry::Refused { name, reason, .. } => sections
                .push(Section { summary: format!("! refused: DataSet `{}`", md_code(name)), body: md_cell(reason) }),
        }
    }
    output::Comment {
        verdict: summary_line(plan),
        context,
        sections,
        full_command: format!("domo pdp plan {}", plan.root),
    }
    .render()
}

/// What an apply did, DataSet by DataSet, and the counts.
pub(super) fn render_apply(report: &TreeReport) -> String {
    let mut text = String::new();
    for dataset in &report.datasets {
        let name = format!("DataSet {} `{}`", dataset.dataset_id, dataset.name);
        match dataset.status {
            "unchanged" => continue,
            "done" => {
                let _ = writeln!(
                    text,
                    "{} {name}: {}",
                    paint(GOOD, "done"),
                    output::count(dataset.steps.applied.len(), "change applied", "changes applied")
                );
            }
            status => {
                let style = if status == "failed" { ERROR } else { WARNING };
                let reason = dataset.reason.as_deref().unwrap_or_default();
                let _ = writeln!(text, "{} {name}: {reason}", paint(style, status));
            }
        }
        for step in &dataset.steps.applied {
            let _ = writeln!(text, "    {} {}", paint(GOOD, "done"), step.done());
        }
        if let Some(failed) = &dataset.steps.failed {
            let _ = writeln!(text, "    {} {}: {}", paint(ERROR, "failed"), failed.change.describe(), failed.error);
        }
        if dataset.status != "skipped" {
            for step in &dataset.steps.not_applied {
                let _ = writeln!(text, "    {} {}", paint(WARNING, "not applied"), step.describe());
            }
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        text,
        "{}",
        paint(
            BOLD,
            format!("Apply: {} done, {} failed, {} skipped, {} unchanged.", s.done, s.failed, s.skipped, s.unchanged)
        )
    );
    text
}
