//! `domo pdp matrix`: every directory user, how many rows they see, and why.

use std::io::Write;

use clap::Args;
use serde::Serialize;

use crate::engine as common;
use crate::exit::Outcome;
use crate::folder::Inputs;
use crate::folder::{InputArgs, LimitArgs};
use crate::output::Format;
use crate::output::{self, Align};

/// Options of `domo pdp matrix`.
#[derive(Debug, Args)]
pub(crate) struct MatrixArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// Output format: table (the default), json or csv.
    #[arg(long, value_parser = crate::output::formats(crate::output::TABULAR), default_value = "table")]
    pub(crate) format: Format,
}

/// The name shown for a user that policies or groups name but the directory does not list.
const NOT_IN_DIRECTORY: &str = "(not in the directory)";

/// `{"rows": N, "users": [...]}`, fields in this order; `virtualUsers` when policies name some.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Matrix {
    pub(super) rows: usize,
    pub(super) users: Vec<MatrixUser>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) virtual_users: Vec<MatrixVirtualUser>,
}

#[derive(Debug, Serialize)]
pub(super) struct MatrixVirtualUser {
    pub(super) name: String,
    pub(super) visible: usize,
    pub(super) reason: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct MatrixUser {
    pub(super) id: u64,
    /// Null for a user the policies name but the directory does not list.
    pub(super) name: Option<String>,
    pub(super) visible: usize,
    pub(super) reason: &'static str,
}

pub(crate) fn run(args: &MatrixArgs) -> anyhow::Result<Outcome> {
    let inputs = Inputs::read_limited(&args.input, &args.limits)?;
    let set = common::compile(&inputs)?;
    // Streamed a batch of rows at a time: memory does not grow with the file.
    let counts = common::all_counts(&inputs, &set)?;
    let matrix = matrix_of(&inputs, &counts);
    print(args.format, &matrix, counts.beyond_directory.len())
}

/// The matrix of these counts: every user's visible rows and why, the numbers of `domo pdp matrix`, which
/// `domo pdp report` shows too. Principals the policies grant rows to although the directory does
/// not list them are in it: leaving them out would under-report who sees what.
pub(super) fn matrix_of(inputs: &Inputs, counts: &domo_pdp::AllCounts) -> Matrix {
    let names = common::Names::new(&inputs.directory);
    let listed = counts.users.iter().map(|count| (count, Some(names.get(count.user))));
    let beyond = counts.beyond_directory.iter().map(|count| (count, None));
    let users: Vec<MatrixUser> = listed
        .chain(beyond)
        .map(|(count, name)| MatrixUser {
            id: count.user.get(),
            name,
            visible: count.rows,
            reason: common::reason_word(count.reason),
        })
        .collect();
    let virtual_users: Vec<MatrixVirtualUser> = counts
        .virtual_users
        .iter()
        .map(|v| MatrixVirtualUser { name: v.name.clone(), visible: v.rows, reason: common::reason_word(v.reason) })
        .collect();
    Matrix { rows: counts.rows, users, virtual_users }
}

fn print(format: Format, matrix: &Matrix, beyond: usize) -> anyhow::Result<Outcome> {
    let header = ["id", "name", "visible", "reason"];
    let cells = |u: &MatrixUser| {
        vec![
            u.id.to_string(),
            u.name.clone().unwrap_or_else(|| NOT_IN_DIRECTORY.to_owned()),
            u.visible.to_string(),
            u.reason.to_owned(),
        ]
    };
    let virtual_cells =
        |v: &MatrixVirtualUser| vec!["virtual".to_owned(), v.name.clone(), v.visible.to_string(), v.reason.to_owned()];
    let all_cells = || matrix.users.iter().map(cells).chain(matrix.virtual_users.iter().map(virtual_cells));
    match format {
        Format::Json => output::json(&matrix)?,
        Format::Csv => output::write_csv(output::plain_stdout(), &header, all_cells())?,
        Format::Table | Format::Markdown => {
            let mut out = output::stdout();
            let rows = all_cells().map(|mut row| {
                if let Some(visible) = row.get_mut(2) {
                    *visible = format!("{visible} / {}", matrix.rows);
                }
                row
            });
            let align = [Align::Right, Align::Left, Align::Right, Align::Left];
            writeln!(out, "{}", output::table(&["user", "name", "visible rows", "reason"], &align, rows))?;
            let mut outside = Vec::new();
            if beyond > 0 {
                outside.push(format!("{beyond} not in the directory"));
            }
            if !matrix.virtual_users.is_empty() {
                outside.push(format!("{} virtual", matrix.virtual_users.len()));
            }
            let outside = if outside.is_empty() { String::new() } else { format!(" ({})", outside.join(", ")) };
            let users = matrix.users.len() + matrix.virtual_users.len();
            writeln!(
                out,
                "{}, {}{outside}",
                output::count(matrix.rows, "row", "rows"),
                output::count(users, "user", "users")
            )?;
            out.flush()?;
        }
    }
    Ok(Outcome::Ok)
}
