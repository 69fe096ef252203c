//! `domo pdp who`: the users who see one row, and why each does.

use std::io::Write;

use clap::Args;
use domo_pdp::Reason;
use serde::Serialize;

use crate::engine as common;
use crate::exit::Outcome;
use crate::folder::Inputs;
use crate::folder::{InputArgs, LimitArgs};
use crate::output::Format;
use crate::output::{self, Align};

/// Options of `domo pdp who`.
#[derive(Debug, Args)]
pub(crate) struct WhoArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// The data row, numbered from 1 (the header does not count).
    #[arg(long, value_name = "N")]
    pub(crate) row: u64,
    /// Output format: table (the default), json or csv.
    #[arg(long, value_parser = crate::output::formats(crate::output::TABULAR), default_value = "table")]
    pub(crate) format: Format,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Who {
    row: u64,
    users: Vec<Viewer>,
    /// Virtual users who see the row (`virtualUsers`, left out when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    virtual_users: Vec<VirtualViewer>,
}

#[derive(Debug, Serialize)]
struct VirtualViewer {
    name: String,
    reason: &'static str,
    policies: Vec<common::PolicyRef>,
}

#[derive(Debug, Serialize)]
struct Viewer {
    id: u64,
    /// Null for a user the policies name but the directory does not list.
    name: Option<String>,
    reason: &'static str,
    /// The granting policies (for reason `policies`).
    policies: Vec<common::PolicyRef>,
}

/// The name shown for a user that policies name but the directory does not list.
const NOT_IN_DIRECTORY: &str = "(not in the directory)";

pub(crate) fn run(args: &WhoArgs) -> anyhow::Result<Outcome> {
    let inputs = Inputs::read_limited(&args.input, &args.limits)?;
    let set = common::compile(&inputs)?;
    // Only the batch of rows holding the row is kept: memory does not grow with the file.
    let (table, index) = common::batch_holding_row(&inputs, args.row)?;
    let evaluation = set.evaluate(&table)?;
    let names = common::Names::new(&inputs.directory);
    // Why a principal sees the row: the reason and the granting policies; `None` if they do not.
    let grant = |who: domo_pdp::Principal<'_>| {
        let explanation = evaluation.explain(who, index)?;
        if !explanation.visible {
            return None;
        }
        let policies = explanation.grants.iter().map(|g| common::PolicyRef::of(&set, g.policy.index())).collect();
        Some((common::reason_word(explanation.reason), policies))
    };
    let mut users: Vec<Viewer> = evaluation
        .viewers(index)
        .into_iter()
        .map(|user| {
            let (reason, policies) = grant(user.into()).unwrap_or((common::reason_word(Reason::Policies), Vec::new()));
            Viewer { id: user.get(), name: Some(names.get(user)), reason, policies }
        })
        .collect();
    let directory_seen = users.len();
    // Users the policies name although the directory does not list them see rows all the same.
    let beyond = set.users_beyond_directory();
    for &user in &beyond {
        if let Some((reason, policies)) = grant(user.into()) {
            users.push(Viewer { id: user.get(), name: None, reason, policies });
        }
    }
    let virtual_users: Vec<VirtualViewer> = set
        .virtual_users()
        .into_iter()
        .filter_map(|name| {
            let (reason, policies) = grant(domo_pdp::Principal::Virtual(name))?;
            Some(VirtualViewer { name: name.to_owned(), reason, policies })
        })
        .collect();
    let who = Who { row: args.row, users, virtual_users };
    let header = ["id", "name", "reason", "policies"];
    let row_cells = |id: String, name: &str, reason: &str, policies: &[common::PolicyRef]| {
        let policies = if reason == "policies" {
            policies.iter().map(|p| common::policy_label(&set, p.index)).collect::<Vec<_>>().join("; ")
        } else {
            String::new()
        };
        vec![id, name.to_owned(), reason.to_owned(), policies]
    };
    let all_cells = || {
        who.users
            .iter()
            .map(|v| row_cells(v.id.to_string(), v.name.as_deref().unwrap_or(NOT_IN_DIRECTORY), v.reason, &v.policies))
            .chain(who.virtual_users.iter().map(|v| row_cells("virtual".to_owned(), &v.name, v.reason, &v.policies)))
    };
    match args.format {
        Format::Json => output::json(&who)?,
        Format::Csv => output::write_csv(output::plain_stdout(), &header, all_cells())?,
        Format::Table | Format::Markdown => {
            let mut out = output::stdout();
            let align = [Align::Right];
            writeln!(out, "{}", output::table(&["user", "name", "reason", "granted by"], &align, all_cells()))?;
            let total = inputs.directory.users.len();
            let outside = who.users.len() + who.virtual_users.len() - directory_seen;
            let outside = if outside > 0 { format!(", and by {outside} outside the directory") } else { String::new() };
            writeln!(
                out,
                "row {}: seen by {directory_seen} of {}{outside}",
                who.row,
                output::count(total, "user", "users")
            )?;
            out.flush()?;
        }
    }
    Ok(Outcome::Ok)
}
