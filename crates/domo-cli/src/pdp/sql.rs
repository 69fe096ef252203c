//! `domo pdp sql`: the policies compiled to SQL (one user, counts, hidden rows, a row's viewers, a diff) and the load of the CSV.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use domo_model::UserId;
use domo_pdp::{CsvSource, Dialect, MembershipSource, SqlOptions};

use crate::engine as common;
use crate::exit::Outcome;
use crate::folder::{InputArgs, LimitArgs};
use crate::folder::{Inputs, read_policies};
use crate::output;

/// The `--dialect` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DialectArg {
    /// DuckDB.
    Duckdb,
    /// PostgreSQL.
    Postgres,
    /// Spark SQL 3.3 or newer (Databricks).
    Spark,
    /// Snowflake.
    Snowflake,
    /// BigQuery (GoogleSQL).
    Bigquery,
    /// Trino and Presto.
    Trino,
}

impl From<DialectArg> for Dialect {
    fn from(arg: DialectArg) -> Self {
        match arg {
            DialectArg::Duckdb => Dialect::DuckDb,
            DialectArg::Postgres => Dialect::PostgreSql,
            DialectArg::Spark => Dialect::SparkSql,
            DialectArg::Snowflake => Dialect::Snowflake,
            DialectArg::Bigquery => Dialect::BigQuery,
            DialectArg::Trino => Dialect::Trino,
        }
    }
}

/// Options of `domo pdp sql`: exactly one mode of --user, --counts, --create-table, --load, --hidden,
/// --viewers and --diff.
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("mode")
        .required(true)
        .args(["user", "counts", "create_table", "load", "hidden", "viewers", "diff"])
))]
pub(crate) struct SqlArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// Print the query returning the rows this user sees (a user id of the directory).
    #[arg(long, value_name = "ID")]
    pub(crate) user: Option<UserId>,
    /// Print the query returning, for every user, how many rows they see and why.
    #[arg(long, conflicts_with_all = ["user", "where_only"])]
    pub(crate) counts: bool,
    /// Print CREATE TABLE for the DataSet's schema, with the column types the queries expect.
    #[arg(long, conflicts_with_all = ["user", "counts", "where_only"])]
    pub(crate) create_table: bool,
    /// Print the statements that create the table and load the DataSet's CSV at PATH into
    /// it exactly as the engine reads it (PATH as the warehouse names it; see docs/sql.md).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["user", "counts", "create_table", "where_only"])]
    pub(crate) load: Option<String>,
    /// Print the query returning the rows no user sees (but the owner, Admins and role grants).
    #[arg(long, conflicts_with_all = ["user", "counts", "create_table", "load", "where_only"])]
    pub(crate) hidden: bool,
    /// Print the query returning the users who see the row whose --key column holds VALUE.
    #[arg(long, value_name = "VALUE", requires = "key", conflicts_with_all = ["user", "counts", "create_table", "load", "hidden", "where_only"])]
    pub(crate) viewers: Option<String>,
    /// The key column of --viewers.
    #[arg(long, value_name = "COLUMN", requires = "viewers")]
    pub(crate) key: Option<String>,
    /// Print the query returning each user's gained and lost rows when the policies
    /// at OLD (a policies.json file, or a folder holding one) are replaced by these.
    #[arg(long, value_name = "OLD", conflicts_with_all = ["user", "counts", "create_table", "load", "hidden", "viewers", "where_only"])]
    pub(crate) diff: Option<PathBuf>,
    /// The SQL dialect.
    #[arg(long, value_enum, default_value_t = DialectArg::Duckdb)]
    pub(crate) dialect: DialectArg,
    /// The table holding the DataSet's rows; dots separate catalog, schema and table.
    #[arg(long, value_name = "NAME", default_value = "data")]
    pub(crate) table: String,
    /// With --user, print only the condition (the WHERE clause without the keyword).
    #[arg(long, requires = "user")]
    pub(crate) where_only: bool,
    /// With --counts, write the user/policy membership table to FILE (CSV with a
    /// header) and read it from --membership-table instead of inline VALUES.
    #[arg(long, value_name = "FILE", requires = "counts")]
    pub(crate) membership_csv: Option<PathBuf>,
    /// The table the membership CSV is loaded into.
    #[arg(long, value_name = "NAME", default_value = "domo_pdp_membership", requires = "membership_csv")]
    pub(crate) membership_table: String,
    /// The scale of DECIMAL columns: DECIMAL(38, N).
    #[arg(long, value_name = "N", default_value_t = 9)]
    pub(crate) decimal_scale: u8,
    /// Fractional-second digits the DATETIME column keeps [default: 9 for snowflake, else 6].
    #[arg(long, value_name = "N")]
    pub(crate) timestamp_digits: Option<u8>,
}

pub(crate) fn run(args: &SqlArgs) -> anyhow::Result<Outcome> {
    let inputs = Inputs::read_limited(&args.input, &args.limits)?;
    let dialect = Dialect::from(args.dialect);
    let mut options = SqlOptions::new(dialect);
    options.decimal_scale = args.decimal_scale;
    if let Some(digits) = args.timestamp_digits {
        options.timestamp_digits = digits;
    }
    let table: Vec<&str> = args.table.split('.').collect();
    let sql = if args.create_table {
        domo_pdp::sql_create_table(&inputs.dataset.schema, &table, &options)? + ";"
    } else if let Some(path) = &args.load {
        let source = CsvSource { path, header: inputs.header };
        let statements = domo_pdp::sql_load(&inputs.dataset.schema, &table, &source, &options)?;
        let lines: Vec<String> =
            statements.into_iter().map(|s| if s.starts_with("--") { s } else { s + ";" }).collect();
        lines.join("\n")
    } else if args.hidden {
        common::compile(&inputs)?.sql_hidden_rows(&table, &options)? + ";"
    } else if let (Some(value), Some(key)) = (&args.viewers, &args.key) {
        common::compile(&inputs)?.sql_viewers(&table, key, value, &options)? + ";"
    } else if let Some(old) = &args.diff {
        let old_path = if old.is_dir() { old.join("policies.json") } else { old.clone() };
        let old_policies = read_policies(&old_path, inputs.limits.json_bytes)?;
        let new_set = common::compile(&inputs)?;
        let old_set = common::compile_policies(&inputs, &old_policies, &old_path)?;
        new_set.sql_diff(&old_set, &table, &options)? + ";"
    } else {
        let set = common::compile(&inputs)?;
        match args.user {
            Some(user) if !args.counts => {
                common::require_user(&inputs, user)?;
                if args.where_only {
                    set.sql_predicate(user, &options)?
                } else {
                    set.sql_select(user, &table, &options)? + ";"
                }
            }
            _ => {
                let membership_table: Vec<&str> = args.membership_table.split('.').collect();
                let source = match args.membership_csv {
                    Some(_) => MembershipSource::Table(&membership_table),
                    None => MembershipSource::Inline,
                };
                let counts = set.sql_visible_counts(&table, source, &options)?;
                if let Some(path) = &args.membership_csv {
                    std::fs::write(path, counts.membership_csv())
                        .with_context(|| format!("cannot write `{}`", path.display()))?;
                }
                counts.sql + ";"
            }
        }
    };
    let mut out = output::plain_stdout();
    writeln!(out, "{sql}")?;
    out.flush()?;
    Ok(Outcome::Ok)
}
