//! `domo pdp matrix`: every directory user, how many rows they see, and why.

use std::io::Write;

use clap::Args;
use serde::Serialize;

use super::input::Inputs;
use super::output::{self, Align};
use super::{Format, InputArgs, LimitArgs, common};
use crate::exit::Outcome;

/// Options of `domo pdp matrix`.
#[derive(Debug, Args)]
pub(crate) struct MatrixArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// `{"rows": N, "users": [...]}`, fields in this order.
#[derive(Debug, Serialize)]
struct Matrix {
    rows: usize,
    users: Vec<MatrixUser>,
}

#[derive(Debug, Serialize)]
struct MatrixUser {
    id: u64,
    name: String,
    visible: usize,
    reason: &'static str,
}

pub(crate) fn run(args: &MatrixArgs) -> anyhow::Result<Outcome> {
    let inputs = Inputs::read_limited(&args.input, &args.limits)?;
    let set = common::compile(&inputs)?;
    let table = inputs.load_table()?;
    let evaluation = set.evaluate(&table)?;
    let names = common::Names::new(&inputs.directory);
    let users: Vec<MatrixUser> = evaluation
        .visible_counts()
        .into_iter()
        .map(|count| MatrixUser {
            id: count.user.get(),
            name: names.get(count.user),
            visible: count.rows,
            reason: common::reason_word(count.reason),
        })
        .collect();
    let matrix = Matrix { rows: table.row_count(), users };
    let header = ["id", "name", "visible", "reason"];
    let cells = |u: &MatrixUser| vec![u.id.to_string(), u.name.clone(), u.visible.to_string(), u.reason.to_owned()];
    match args.format {
        Format::Json => output::write_json(output::plain_stdout(), &matrix)?,
        Format::Csv => output::write_csv(output::plain_stdout(), &header, matrix.users.iter().map(cells))?,
        Format::Table => {
            let mut out = output::stdout();
            let rows = matrix.users.iter().map(|u| {
                let mut row = cells(u);
                if let Some(visible) = row.get_mut(2) {
                    *visible = format!("{visible} / {}", matrix.rows);
                }
                row
            });
            let align = [Align::Right, Align::Left, Align::Right, Align::Left];
            writeln!(out, "{}", output::table(&["user", "name", "visible rows", "reason"], &align, rows))?;
            writeln!(out, "{} rows, {} users", matrix.rows, matrix.users.len())?;
            out.flush()?;
        }
    }
    Ok(Outcome::Ok)
}
