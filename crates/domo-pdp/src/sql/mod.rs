//! Compiling a policy set to SQL: one principal's predicate and a whole-DataSet count query, in six dialects.
//!
//! Everything is built from the *compiled* policies, so every filter value is
//! already parsed by its column's type and every policy error has already been
//! reported by [`PolicySet::compile`]. The rules kept, and how each dialect
//! spells them, are documented in `docs/sql.md`.

use std::fmt;

use domo_model::{ColumnType, Schema, UserId};

use crate::compile::{PolicyHandle, PolicySet, Principal, Reason};

mod analyses;
mod grid;
mod load;
mod writer;

use grid::Cond;
use writer::{Writer, key_group_ctes};

pub use load::{CsvSource, SPARK_NULL_SENTINEL, sql_load};

/// A SQL dialect the policies can be compiled to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// DuckDB: `"ident"`, standard strings, `starts_with`/`ends_with`/`contains`, `LIKE … ESCAPE`.
    DuckDb,
    /// PostgreSQL: `"ident"`, `E'…'` when a backslash appears, `COLLATE "C"` on every string test.
    PostgreSql,
    /// Spark SQL (3.3 or newer): `` `ident` ``, backslash-escaped strings, `startswith`/`endswith`/`contains`.
    SparkSql,
    /// Snowflake: `"ident"`, backslash-escaped strings, `STARTSWITH`/`ENDSWITH`/`CONTAINS`.
    Snowflake,
    /// BigQuery (GoogleSQL): `` `ident` ``, backslash-escaped strings, `LIKE` without `ESCAPE` (backslash escapes).
    BigQuery,
    /// Trino (and Presto): `"ident"`, standard strings, `starts_with`, `strpos`, `LIKE … ESCAPE`.
    Trino,
}

impl Dialect {
    /// Every dialect, in documentation order.
    pub const ALL: [Dialect; 6] = [
        Dialect::DuckDb,
        Dialect::PostgreSql,
        Dialect::SparkSql,
        Dialect::Snowflake,
        Dialect::BigQuery,
        Dialect::Trino,
    ];

    /// The short name the command line uses: `duckdb`, `postgres`, `spark`, `snowflake`, `bigquery`, `trino`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
            Dialect::PostgreSql => "postgres",
            Dialect::SparkSql => "spark",
            Dialect::Snowflake => "snowflake",
            Dialect::BigQuery => "bigquery",
            Dialect::Trino => "trino",
        }
    }

    /// The dialect with this short name (see [`Dialect::name`]).
    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The most fractional-second digits a DATETIME column keeps in this dialect.
    pub fn max_timestamp_digits(self) -> u8 {
        match self {
            Dialect::DuckDb | Dialect::Snowflake | Dialect::Trino => 9,
            Dialect::PostgreSql | Dialect::SparkSql | Dialect::BigQuery => 6,
        }
    }

    /// The fractional-second digits assumed by default: 9 for Snowflake (`TIMESTAMP_NTZ(9)`), else 6.
    pub fn default_timestamp_digits(self) -> u8 {
        match self {
            Dialect::Snowflake => 9,
            _ => 6,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::DuckDb => "DuckDB",
            Dialect::PostgreSql => "PostgreSQL",
            Dialect::SparkSql => "Spark SQL",
            Dialect::Snowflake => "Snowflake",
            Dialect::BigQuery => "BigQuery",
            Dialect::Trino => "Trino",
        })
    }
}

/// How to compile: the dialect, and what the warehouse's columns can hold.
///
/// The column types are those of [`sql_create_table`]. A filter value finer than
/// the column (a DECIMAL with more decimal places than `decimal_scale`, a DATETIME
/// with more fractional digits than `timestamp_digits`) or outside its range is
/// rewritten exactly against the values the column can hold: `= 1.0000000001`
/// matches nothing in a `DECIMAL(38, 9)` column, `> 1.0000000001` becomes `> 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlOptions {
    /// The dialect.
    pub dialect: Dialect,
    /// The scale of DECIMAL columns, declared `DECIMAL(38, decimal_scale)` (0 to 38; default 9).
    pub decimal_scale: u8,
    /// Fractional-second digits of DATETIME columns (0 up to [`Dialect::max_timestamp_digits`]).
    pub timestamp_digits: u8,
}

impl SqlOptions {
    /// The defaults for a dialect: `DECIMAL(38, 9)` and the dialect's default timestamp digits.
    pub fn new(dialect: Dialect) -> Self {
        Self { dialect, decimal_scale: 9, timestamp_digits: dialect.default_timestamp_digits() }
    }
}

/// Why SQL could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderSqlError {
    /// A name or value holds a NUL character, which no dialect can quote.
    #[error("{what} `{text}` holds a NUL character, which {dialect} cannot quote")]
    Nul {
        /// What holds it: "column name", "table name", "value", "path".
        what: &'static str,
        /// The text, with NUL shown as `\0`.
        text: String,
        /// The dialect.
        dialect: Dialect,
    },
    /// The table name is empty or has an empty part.
    #[error("the table name `{name}` is empty or has an empty part")]
    TableName {
        /// The name as given, parts joined by dots.
        name: String,
    },
    /// The key column of [`PolicySet::sql_viewers`] is not in the schema.
    #[error("the key column `{column}` is not in the DataSet's schema")]
    UnknownKeyColumn {
        /// The name given.
        column: String,
    },
    /// The key value of [`PolicySet::sql_viewers`] does not parse by its column's type.
    #[error("the key `{value}` is not a {column_type} value, the type of column `{column}`")]
    KeyValue {
        /// The value given.
        value: String,
        /// The key column.
        column: String,
        /// Its type.
        column_type: ColumnType,
    },
    /// [`SqlOptions::decimal_scale`] is above 38.
    #[error("DECIMAL scale {scale} is out of range: 0 to 38")]
    DecimalScale {
        /// The scale given.
        scale: u8,
    },
    /// [`SqlOptions::timestamp_digits`] is above what the dialect keeps.
    #[error("{digits} fractional-second digits are more than {dialect} keeps ({max})")]
    TimestampDigits {
        /// The digits given.
        digits: u8,
        /// The dialect.
        dialect: Dialect,
        /// The dialect's maximum.
        max: u8,
    },
}

/// Where the whole-DataSet query reads the user/policy membership from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipSource<'a> {
    /// Inline in the query, as a `VALUES` list (`UNNEST` of an array in BigQuery).
    Inline,
    /// A table loaded from [`CountsQuery::membership_csv`], by name (parts are quoted one by one).
    Table(&'a [&'a str]),
}

/// One row of the membership table: a directory user and one policy they are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipRow {
    /// The user's position in the directory (0-based); the query orders by it.
    pub seq: usize,
    /// The user.
    pub user: UserId,
    /// Why the user sees what they see.
    pub reason: Reason,
    /// For users whose rows come from policies, their access class: users in
    /// exactly the same policies share one (numbered from 0), so the query
    /// counts each class once. `None` for the other reasons.
    pub class: Option<usize>,
    /// The policy's index in [`PolicySet::policies`] for users whose rows come from
    /// policies (one row per policy); `None` for the other reasons (one row).
    pub policy: Option<usize>,
}

/// The whole-DataSet query and the membership table it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountsQuery {
    /// The query: one row per directory user, `user_id, reason, visible_rows`, in directory order.
    pub sql: String,
    /// The membership rows (inline in `sql` with [`MembershipSource::Inline`]).
    pub membership: Vec<MembershipRow>,
}

impl CountsQuery {
    /// The membership table as CSV with a header: `seq_no,user_id,reason,access_class,policy_index`
    /// (`access_class` and `policy_index` empty, that is NULL, unless the reason is `policies`).
    pub fn membership_csv(&self) -> String {
        let mut out = String::from("seq_no,user_id,reason,access_class,policy_index\n");
        for row in &self.membership {
            let class = row.class.map(|c| c.to_string()).unwrap_or_default();
            let policy = row.policy.map(|p| p.to_string()).unwrap_or_default();
            out.push_str(&format!("{},{},{},{class},{policy}\n", row.seq, row.user, reason_name(row.reason)));
        }
        out
    }
}

/// The name a reason has in SQL output and the membership table (as `domo pdp matrix` prints it).
pub(crate) fn reason_name(reason: Reason) -> &'static str {
    match reason {
        Reason::PdpDisabled => "pdp-disabled",
        Reason::Owner => "owner",
        Reason::Admin => "admin",
        Reason::RoleGrant => "role-grant",
        Reason::AllRows => "all-rows",
        Reason::Policies => "policies",
        Reason::NoPolicy => "no-policy",
    }
}

/// `CREATE TABLE` for a DataSet's schema with the column types the generated SQL expects.
///
/// STRING is the dialect's text type, LONG a 64-bit integer, DOUBLE a 64-bit
/// float, DECIMAL `DECIMAL(38, scale)`, DATE a date, DATETIME a timestamp in UTC
/// without time zone (BigQuery's `TIMESTAMP` and Spark's `TIMESTAMP` are instants).
///
/// # Errors
///
/// A NUL character in a name, an empty table name, options out of range.
pub fn sql_create_table(schema: &Schema, table: &[&str], options: &SqlOptions) -> Result<String, RenderSqlError> {
    let w = Writer::new(options)?;
    let mut columns = Vec::with_capacity(schema.columns.len());
    for column in &schema.columns {
        columns.push(format!("  {} {}", w.ident(&column.name, "column name")?, w.column_type(column.column_type)));
    }
    Ok(format!("CREATE TABLE {} (\n{}\n)", w.table(table)?, columns.join(",\n")))
}

impl PolicySet {
    /// The SQL condition that admits exactly the rows `who` sees (a `WHERE` clause without the keyword).
    ///
    /// `TRUE` for a principal who sees every row (PDP disabled, owner, Admin, All
    /// Rows), `FALSE` for one in no policy; otherwise the OR of their policies,
    /// each the AND of its filters.
    ///
    /// # Example
    ///
    /// ```
    /// use domo_model::{Dataset, Directory, Policy, UserId};
    /// use domo_pdp::{Dialect, PolicySet, SqlOptions};
    ///
    /// let dataset: Dataset = serde_json::from_value(serde_json::json!({
    ///     "id": "d", "name": "Sales", "pdpEnabled": true,
    ///     "schema": {"columns": [{"type": "STRING", "name": "Region"}, {"type": "DECIMAL", "name": "Amount"}]}
    /// }))?;
    /// let policy: Policy = serde_json::from_value(serde_json::json!({
    ///     "id": 1, "name": "West, large", "users": [27],
    ///     "filters": [
    ///         {"column": "Region", "operator": "EQUALS", "values": ["West", "O'Hare"]},
    ///         {"column": "Amount", "operator": "LESS_THAN", "values": ["100.50"], "not": true}
    ///     ]
    /// }))?;
    /// let set = PolicySet::compile(&dataset, &[policy], &Directory::default())?;
    ///
    /// let sql = set.sql_predicate(UserId(27), &SqlOptions::new(Dialect::PostgreSql))?;
    /// assert_eq!(
    ///     sql,
    ///     r#"("Region" COLLATE "C") IN ('West', 'O''Hare') AND ("Amount" IS NOT NULL AND NOT ("Amount" < 100.5))"#
    /// );
    /// // Someone in no policy sees nothing.
    /// assert_eq!(set.sql_predicate(UserId(40), &SqlOptions::new(Dialect::BigQuery))?, "FALSE");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A NUL character in a column name or value, options out of range.
    pub fn sql_predicate<'p>(
        &self,
        who: impl Into<Principal<'p>>,
        options: &SqlOptions,
    ) -> Result<String, RenderSqlError> {
        let w = Writer::new(options)?;
        let access = self.access(who);
        if access.sees_everything() {
            return Ok("TRUE".to_owned());
        }
        let mut parts = Vec::new();
        for membership in &access.policies {
            if let Some(part) = self.policy_condition(&w, membership.policy.index())? {
                parts.push(part);
            }
        }
        Ok(match parts.len() {
            0 => "FALSE".to_owned(),
            1 => parts.concat(),
            _ => parts.iter().map(|p| format!("({p})")).collect::<Vec<_>>().join("\n   OR "),
        })
    }

    /// `SELECT * FROM table WHERE …`: the rows `who` sees (see [`PolicySet::sql_predicate`]).
    ///
    /// # Errors
    ///
    /// As [`PolicySet::sql_predicate`], and an empty table name.
    pub fn sql_select<'p>(
        &self,
        who: impl Into<Principal<'p>>,
        table: &[&str],
        options: &SqlOptions,
    ) -> Result<String, RenderSqlError> {
        let w = Writer::new(options)?;
        let predicate = self.sql_predicate(who, options)?;
        Ok(format!("SELECT *\nFROM {}\nWHERE {predicate}", w.table(table)?))
    }

    /// The condition one policy puts on a row, or `None` if it admits no row.
    /// `TRUE` for All Rows and for a policy without filters.
    ///
    /// # Errors
    ///
    /// A NUL character in a column name or value, options out of range.
    pub fn sql_policy_predicate(
        &self,
        policy: PolicyHandle,
        options: &SqlOptions,
    ) -> Result<Option<String>, RenderSqlError> {
        let w = Writer::new(options)?;
        self.policy_condition(&w, policy.index())
    }

    /// A query returning, for every directory user in directory order, how many
    /// rows of `table` they see: columns `user_id`, `reason`, `visible_rows`.
    ///
    /// The table is scanned once and no row id is needed: each row gets a key
    /// naming the policies (that somebody's rows depend on) it passes, `#,0,7`;
    /// rows are grouped by key; each key is split into its policies and joined
    /// with the membership table; each access class (users in exactly the same
    /// policies) adds up, once, the groups that any of its policies admits. The `#` that starts every key stands for "every row", for
    /// users who see everything. The work after the scan grows with the number of
    /// distinct keys and the policies per key, not with rows times users.
    ///
    /// # Errors
    ///
    /// A NUL character in a name or value, an empty table name, options out of range.
    pub fn sql_visible_counts(
        &self,
        table: &[&str],
        membership: MembershipSource<'_>,
        options: &SqlOptions,
    ) -> Result<CountsQuery, RenderSqlError> {
        let w = Writer::new(options)?;
        let table = w.table(table)?;
        self.counts_sql(&w, &table, membership, None)
    }

    /// The counts query over the rows of `table` that pass `scan_filter` (all rows when `None`);
    /// with a filter, only the users who see at least one of those rows are listed.
    fn counts_sql(
        &self,
        w: &Writer<'_>,
        table: &str,
        membership: MembershipSource<'_>,
        scan_filter: Option<&str>,
    ) -> Result<CountsQuery, RenderSqlError> {
        let mut rows = Vec::new();
        let mut used = vec![false; self.policies.len()];
        let mut classes: hashbrown::HashMap<Vec<usize>, usize> = hashbrown::HashMap::new();
        for (seq, user) in self.directory.users.iter().enumerate() {
            let access = self.access(user.id);
            if access.reason == Reason::Policies {
                let key: Vec<usize> = access.policies.iter().map(|m| m.policy.index()).collect();
                let next = classes.len();
                let class = *classes.entry(key).or_insert(next);
                for m in &access.policies {
                    let (reason, policy) = (access.reason, Some(m.policy.index()));
                    rows.push(MembershipRow { seq, user: user.id, reason, class: Some(class), policy });
                    if let Some(flag) = used.get_mut(m.policy.index()) {
                        *flag = true;
                    }
                }
            } else {
                rows.push(MembershipRow { seq, user: user.id, reason: access.reason, class: None, policy: None });
            }
        }
        let used: Vec<usize> = used.iter().enumerate().filter(|(_, u)| **u).map(|(p, _)| p).collect();
        let membership_sql = match membership {
            MembershipSource::Inline => w.membership_values(&rows),
            MembershipSource::Table(name) => {
                format!("SELECT seq_no, user_id, reason, access_class, policy_index FROM {}", w.table(name)?)
            }
        };
        let mut items = vec!["'#'".to_owned()];
        for &p in &used {
            // Never re-indent a condition: a newline in it may sit inside a string literal.
            let condition = self.policy_condition(w, p)?.unwrap_or_else(|| "FALSE".to_owned());
            items.push(format!("CASE WHEN {condition} THEN ',{p}' ELSE '' END"));
        }
        let text = w.text_type();
        let mut sql = format!("WITH pdp_membership AS (\n  {membership_sql}\n),\n");
        let scan_filter = scan_filter.map(|f| format!("\n  WHERE {f}")).unwrap_or_default();
        sql.push_str(&key_group_ctes(w, items, &format!("{table}{scan_filter}")));
        // Users who see every row share one grantee, -1, granted `#`: the
        // groups are joined once for all of them, not once per user.
        sql.push_str(&format!(
            concat!(
                "pdp_grants AS (\n",
                "  SELECT DISTINCT\n",
                "    CASE WHEN reason = 'policies' THEN access_class ELSE -1 END AS grantee,\n",
                "    CASE WHEN reason = 'policies' THEN CAST(policy_index AS {text}) ELSE '#' END AS policy_text\n",
                "  FROM pdp_membership\n",
                "  WHERE reason <> 'no-policy'\n",
                "),\n",
                "pdp_granted AS (\n",
                "  SELECT grantee, SUM(row_count) AS granted_rows\n",
                "  FROM (\n",
                "    SELECT DISTINCT r.grantee, g.group_id, g.row_count\n",
                "    FROM pdp_grants AS r\n",
                "    JOIN pdp_group_policies AS g ON g.policy_text = r.policy_text\n",
                "  ) AS pdp_grantee_groups\n",
                "  GROUP BY grantee\n",
                ")\n",
            ),
            text = text
        ));
        sql.push_str(concat!(
            "SELECT u.user_id, u.reason, COALESCE(g.granted_rows, 0) AS visible_rows\n",
            "FROM (SELECT DISTINCT seq_no, user_id, reason, access_class FROM pdp_membership) AS u\n",
            "LEFT JOIN pdp_granted AS g\n",
            "  ON g.grantee = CASE u.reason WHEN 'policies' THEN u.access_class WHEN 'no-policy' THEN NULL ELSE -1 END\n",
        ));
        if !scan_filter.is_empty() {
            sql.push_str("WHERE g.granted_rows > 0\n");
        }
        sql.push_str("ORDER BY u.seq_no");
        Ok(CountsQuery { sql, membership: rows })
    }

    /// One policy's condition: `None` if it admits no row.
    fn policy_condition(&self, w: &Writer<'_>, policy: usize) -> Result<Option<String>, RenderSqlError> {
        let Some(compiled) = self.policies.get(policy) else { return Ok(None) };
        if compiled.is_all_rows() || compiled.filters().is_empty() {
            return Ok(Some("TRUE".to_owned()));
        }
        let mut parts = Vec::with_capacity(compiled.filters().len());
        for filter in compiled.filters() {
            let name = self.schema.columns.get(filter.column()).map_or("", |c| c.name.as_str());
            match w.filter(name, filter)? {
                Some(part) => parts.push(part),
                None => return Ok(None),
            }
        }
        Ok(Some(parts.join(" AND ")))
    }
}
