//! `domo pdp sql`: the policies compiled to SQL, for one user or as whole-DataSet counts.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use domo_model::UserId;
use domo_pdp::{Dialect, MembershipSource, SqlOptions};

use super::input::Inputs;
use super::output;
use super::{InputArgs, LimitArgs, common};
use crate::exit::Outcome;

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

/// Options of `domo pdp sql`.
#[derive(Debug, Args)]
pub(crate) struct SqlArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// Print the query returning the rows this user sees (a user id of the directory).
    #[arg(long, value_name = "ID", required_unless_present_any = ["counts", "create_table"])]
    pub(crate) user: Option<UserId>,
    /// Print the query returning, for every user, how many rows they see and why.
    #[arg(long, conflicts_with_all = ["user", "where_only"])]
    pub(crate) counts: bool,
    /// Print CREATE TABLE for the DataSet's schema, with the column types the queries expect.
    #[arg(long, conflicts_with_all = ["user", "counts", "where_only"])]
    pub(crate) create_table: bool,
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
