//! `domo pdp explain`: why a user sees a row (granting policy and membership), or why not.

use std::io::Write;

use clap::Args;
use domo_model::UserId;
use domo_pdp::{Explanation, PolicySet, Reason};
use serde::Serialize;

use crate::engine as common;
use crate::exit::Outcome;
use crate::folder::Inputs;
use crate::folder::{InputArgs, LimitArgs};
use crate::output::Format;
use crate::output::{self, BOLD, ERROR, GOOD, paint};

/// Options of `domo pdp explain`.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// The user (a user id of the directory).
    #[arg(long, value_name = "ID")]
    pub(crate) user: UserId,
    /// The data row, numbered from 1 (the header does not count).
    #[arg(long, value_name = "N")]
    pub(crate) row: u64,
    /// Output format: table (the default) or json.
    #[arg(long, value_parser = crate::output::formats(crate::output::REPORT), default_value = "table")]
    pub(crate) format: Format,
}

#[derive(Debug, Serialize)]
struct ExplainJson {
    user: common::UserRef,
    row: u64,
    visible: bool,
    reason: &'static str,
    grants: Vec<GrantJson>,
    refusals: Vec<RefusalJson>,
}

#[derive(Debug, Serialize)]
struct GrantJson {
    policy: common::PolicyRef,
    via: Vec<common::MembershipRef>,
}

#[derive(Debug, Serialize)]
struct RefusalJson {
    policy: common::PolicyRef,
    via: Vec<common::MembershipRef>,
    filter: usize,
    column: String,
    operator: &'static str,
    not: bool,
    cell: Option<String>,
    expected: Vec<String>,
}

pub(crate) fn run(args: &ExplainArgs) -> anyhow::Result<Outcome> {
    let inputs = Inputs::read_limited(&args.input, &args.limits)?;
    let set = common::compile(&inputs)?;
    common::require_user(&inputs, args.user)?;
    // Only the batch of rows holding the row is kept: memory does not grow with the file.
    let (table, index) = common::batch_holding_row(&inputs, args.row)?;
    let evaluation = set.evaluate(&table)?;
    let Some(explanation) = evaluation.explain(args.user, index) else {
        anyhow::bail!("row {} is out of range", args.row);
    };
    let directory = &inputs.directory;
    match args.format {
        Format::Json => {
            let json = ExplainJson {
                user: common::UserRef::of(directory, args.user),
                row: args.row,
                visible: explanation.visible,
                reason: common::reason_word(explanation.reason),
                grants: explanation
                    .grants
                    .iter()
                    .map(|g| GrantJson {
                        policy: common::PolicyRef::of(&set, g.policy.index()),
                        via: common::membership_refs(directory, &g.via),
                    })
                    .collect(),
                refusals: explanation
                    .refusals
                    .iter()
                    .map(|r| RefusalJson {
                        policy: common::PolicyRef::of(&set, r.policy.index()),
                        via: common::membership_refs(directory, &r.via),
                        filter: r.filter,
                        column: r.column.clone(),
                        operator: r.operator.as_str(),
                        not: r.not,
                        cell: r.cell.clone(),
                        expected: r.expected.clone(),
                    })
                    .collect(),
            };
            output::json(&json)?;
        }
        Format::Table | Format::Csv | Format::Markdown => {
            let mut out = output::stdout();
            writeln!(out, "row {}: {}", args.row, common::row_text(&table, index))?;
            write_text(&mut out, &set, args, directory, &explanation)?;
            out.flush()?;
        }
    }
    Ok(Outcome::Ok)
}

fn write_text(
    out: &mut impl Write,
    set: &PolicySet,
    args: &ExplainArgs,
    directory: &domo_model::Directory,
    explanation: &Explanation,
) -> anyhow::Result<()> {
    let who = format!("user {} `{}`", args.user, common::user_name(directory, args.user));
    let verdict = if explanation.visible { paint(GOOD, "sees") } else { paint(ERROR, "does not see") };
    writeln!(out, "{} {verdict} row {}", paint(BOLD, &who), args.row)?;
    let because = match explanation.reason {
        Reason::PdpDisabled => Some("PDP is disabled for this DataSet, so everyone sees every row".to_owned()),
        Reason::Owner => Some("they own the DataSet; PDP does not restrict the owner".to_owned()),
        Reason::Admin => Some("they are an Admin; PDP does not restrict Admins".to_owned()),
        Reason::RoleGrant => Some(match set.manage_authority(args.user) {
            Some(authority) => format!("their {authority}; PDP does not restrict those who may manage the DataSet"),
            None => "their role may manage the DataSet; PDP does not restrict them".to_owned(),
        }),
        Reason::NoPolicy => Some("they are in no policy, so they see no row".to_owned()),
        Reason::AllRows | Reason::Policies => None,
    };
    if let Some(because) = because {
        writeln!(out, "  because {because}")?;
    }
    for grant in &explanation.grants {
        let policy = common::policy_label(set, grant.policy.index());
        let all_rows =
            set.policies().get(grant.policy.index()).is_some_and(|p| p.is_all_rows() || p.filters().is_empty());
        let what = if all_rows { "it admits every row" } else { "every filter passes" };
        writeln!(out, "  granted by {policy} ({}): {what}", common::membership_text(directory, &grant.via))?;
    }
    for refusal in &explanation.refusals {
        let policy = common::policy_label(set, refusal.policy.index());
        let expected: Vec<String> = refusal.expected.iter().map(|v| format!("`{v}`")).collect();
        let not = if refusal.not { "NOT " } else { "" };
        let cell = match &refusal.cell {
            Some(cell) => format!("the cell is `{cell}`"),
            None => "the cell is NULL, and NULL passes no filter".to_owned(),
        };
        writeln!(
            out,
            "  {policy} ({}) does not admit it: filters[{}] `{}` {not}{} {} fails: {cell}",
            common::membership_text(directory, &refusal.via),
            refusal.filter,
            refusal.column,
            refusal.operator,
            expected.join(", ")
        )?;
    }
    Ok(())
}
