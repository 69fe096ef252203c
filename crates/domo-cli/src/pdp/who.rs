//! `domo pdp who`: the users who see one row, and why each does.

use std::io::Write;

use clap::Args;
use domo_pdp::Reason;
use serde::Serialize;

use super::input::Inputs;
use super::output::{self, Align};
use super::{Format, InputArgs, LimitArgs, common};
use crate::exit::Outcome;

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
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

#[derive(Debug, Serialize)]
struct Who {
    row: u64,
    users: Vec<Viewer>,
}

#[derive(Debug, Serialize)]
struct Viewer {
    id: u64,
    name: String,
    reason: &'static str,
    /// The granting policies (for reason `policies`).
    policies: Vec<String>,
}

pub(crate) fn run(args: &WhoArgs) -> anyhow::Result<Outcome> {
    let inputs = Inputs::read_limited(&args.input, &args.limits)?;
    let set = common::compile(&inputs)?;
    let table = inputs.load_table()?;
    let index = common::row_index(args.row, table.row_count(), &inputs.paths.data)?;
    let evaluation = set.evaluate(&table)?;
    let names = common::Names::new(&inputs.directory);
    let users: Vec<Viewer> = evaluation
        .viewers(index)
        .into_iter()
        .map(|user| {
            let explanation = evaluation.explain(user, index);
            let reason = explanation.as_ref().map_or(Reason::Policies, |e| e.reason);
            let policies = explanation
                .map(|e| e.grants.iter().map(|g| common::policy_label(&set, g.policy)).collect())
                .unwrap_or_default();
            Viewer { id: user.get(), name: names.get(user), reason: common::reason_word(reason), policies }
        })
        .collect();
    let who = Who { row: args.row, users };
    let header = ["id", "name", "reason", "policies"];
    let cells = |v: &Viewer| {
        let policies = if v.reason == "policies" { v.policies.join("; ") } else { String::new() };
        vec![v.id.to_string(), v.name.clone(), v.reason.to_owned(), policies]
    };
    match args.format {
        Format::Json => output::write_json(output::plain_stdout(), &who)?,
        Format::Csv => output::write_csv(output::plain_stdout(), &header, who.users.iter().map(cells))?,
        Format::Table => {
            let mut out = output::stdout();
            let align = [Align::Right];
            writeln!(
                out,
                "{}",
                output::table(&["user", "name", "reason", "granted by"], &align, who.users.iter().map(cells))
            )?;
            let total = inputs.directory.users.len();
            writeln!(out, "row {}: seen by {} of {total} users", who.row, who.users.len())?;
            out.flush()?;
        }
    }
    Ok(Outcome::Ok)
}
