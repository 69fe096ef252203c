//! `domo query ID "SQL"`: Domo's SQL query API, printed as a table, CSV or JSON.

use clap::Args;
use domo_model::{DatasetId, QueryResponse};
use serde_json::Value;

use super::config::ConnectionArgs;
use crate::exit::Outcome;
use crate::output::{self, Align, Format};

/// `domo query`.
#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// The DataSet id.
    id: String,
    /// The SQL; the DataSet is called `table`.
    sql: String,
    /// Output format: table (the default); csv (a header row, NULL an unquoted
    /// empty field, the empty string `""`); json (Domo's answer as it came).
    #[arg(long, value_parser = output::formats(output::TABULAR), default_value = "table")]
    format: Format,
}

pub(crate) fn run(args: QueryArgs) -> anyhow::Result<Outcome> {
    let connection = args.connection.connect()?;
    let id = DatasetId::from(args.id);
    let answer = super::block_on(async { Ok(connection.client.query(&id, &args.sql).await?) })?;
    if answer.rows.iter().any(|row| row.len() != answer.columns.len()) {
        anyhow::bail!(
            "Domo's answer to the query on DataSet `{id}` has rows that do not have its {} columns",
            answer.columns.len()
        );
    }
    match args.format {
        Format::Json => output::json(&answer)?,
        Format::Csv => output::text(csv(&answer).trim_end_matches('\n'))?,
        Format::Table | Format::Markdown => {
            let align: Vec<Align> = (0..answer.columns.len())
                .map(|i| {
                    if answer.rows.iter().any(|r| r.get(i).is_some_and(Value::is_number)) {
                        Align::Right
                    } else {
                        Align::Left
                    }
                })
                .collect();
            let header: Vec<&str> = answer.columns.iter().map(String::as_str).collect();
            let rows = answer.rows.iter().map(|row| row.iter().map(cell).collect());
            let table = output::table(&header, &align, rows);
            let count = output::plural(answer.num_rows, "row", "rows");
            output::text(&format!("{table}\n{count}"))?;
        }
    }
    Ok(Outcome::Ok)
}

/// A value as a table shows it: NULL as nothing, text as it is.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The answer as CSV: an unquoted empty field for NULL, `""` for the empty string.
fn csv(answer: &QueryResponse) -> String {
    let mut out = String::new();
    let line = |fields: Vec<String>| fields.join(",") + "\n";
    out.push_str(&line(answer.columns.iter().map(|c| quote(c, true)).collect()));
    for row in &answer.rows {
        out.push_str(&line(
            row.iter()
                .map(|v| match v {
                    Value::Null => String::new(),
                    Value::String(text) => quote(text, true),
                    other => quote(&other.to_string(), false),
                })
                .collect(),
        ));
    }
    out
}

/// A CSV field: quoted when it must be, and always when it is an empty string (to tell it from NULL).
fn quote(text: &str, text_value: bool) -> String {
    let needs = text.contains([',', '"', '\n', '\r']) || (text_value && text.is_empty());
    if needs { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}
