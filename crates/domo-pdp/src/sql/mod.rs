//! Compiling a policy set to SQL: one principal's predicate and a whole-DataSet count query, in six dialects.
//!
//! Everything is built from the *compiled* policies, so every filter value is
//! already parsed by its column's type and every policy error has already been
//! reported by [`PolicySet::compile`]. The rules kept, and how each dialect
//! spells them, are documented in `docs/sql.md`.

use std::fmt;

use domo_model::{ColumnType, Schema, UserId};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::compile::{PolicySet, Principal, Reason};
use crate::filter::{Cmp, CompiledFilter, OrdTest, Test, TextTest};
use crate::parse;

mod analyses;
mod load;

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
            if let Some(part) = self.policy_condition(&w, membership.policy)? {
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
    pub fn sql_policy_predicate(&self, policy: usize, options: &SqlOptions) -> Result<Option<String>, RenderSqlError> {
        let w = Writer::new(options)?;
        self.policy_condition(&w, policy)
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
                let key: Vec<usize> = access.policies.iter().map(|m| m.policy).collect();
                let next = classes.len();
                let class = *classes.entry(key).or_insert(next);
                for m in &access.policies {
                    let (reason, policy) = (access.reason, Some(m.policy));
                    rows.push(MembershipRow { seq, user: user.id, reason, class: Some(class), policy });
                    if let Some(flag) = used.get_mut(m.policy) {
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
        sql.push_str(&format!(
            "pdp_keys AS (\n  SELECT {} AS policy_key\n  FROM {table}{scan_filter}\n),\n",
            concat_all(items, "\n    ")
        ));
        sql.push_str(concat!(
            "pdp_groups AS (\n",
            "  SELECT ROW_NUMBER() OVER (ORDER BY policy_key) AS group_id, policy_key, row_count\n",
            "  FROM (SELECT policy_key, COUNT(*) AS row_count FROM pdp_keys GROUP BY policy_key) AS pdp_grouped\n",
            "),\n",
        ));
        sql.push_str(&format!("pdp_group_policies AS (\n  {}\n),\n", w.split_keys()));
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

/// What a filter's test gives on a non-NULL cell.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cond {
    Always,
    Never,
    Sql(String),
}

impl Cond {
    /// Any of the conditions (SQL `OR`).
    fn any(parts: Vec<Cond>) -> Cond {
        let mut sql = Vec::new();
        for part in parts {
            match part {
                Cond::Always => return Cond::Always,
                Cond::Never => {}
                Cond::Sql(s) => sql.push(s),
            }
        }
        match sql.len() {
            0 => Cond::Never,
            1 => Cond::Sql(sql.concat()),
            _ => Cond::Sql(format!("({})", sql.join(" OR "))),
        }
    }

    /// All of the conditions (SQL `AND`).
    fn all(parts: Vec<Cond>) -> Cond {
        let mut sql = Vec::new();
        for part in parts {
            match part {
                Cond::Never => return Cond::Never,
                Cond::Always => {}
                Cond::Sql(s) => sql.push(s),
            }
        }
        match sql.len() {
            0 => Cond::Always,
            1 => Cond::Sql(sql.concat()),
            _ => Cond::Sql(format!("({})", sql.join(" AND "))),
        }
    }
}

/// A comparison after fitting its bound to the values a column can hold.
enum Bound<T> {
    Always,
    Never,
    Cmp(Cmp, T),
}

/// The values a warehouse column can hold, for rewriting bounds exactly.
trait Grid<T> {
    /// Whether the column can hold `v` exactly.
    fn on_grid(&self, v: &T) -> bool;
    /// The largest value the column's precision allows that is at most `v`.
    fn floor(&self, v: &T) -> T;
    /// Whether every value the column can hold is above `v`.
    fn below_all(&self, v: &T) -> bool;
    /// Whether every value the column can hold is below `v`.
    fn above_all(&self, v: &T) -> bool;

    fn fit(&self, cmp: Cmp, v: &T) -> Bound<T>
    where
        T: Clone,
    {
        let (cmp, v) = if self.on_grid(v) {
            (cmp, v.clone())
        } else {
            // c > v and c >= v both mean c > floor(v); c < v and c <= v both mean c <= floor(v).
            let bound = match cmp {
                Cmp::Gt | Cmp::Ge => Cmp::Gt,
                Cmp::Lt | Cmp::Le => Cmp::Le,
            };
            (bound, self.floor(v))
        };
        if self.below_all(&v) {
            return if matches!(cmp, Cmp::Gt | Cmp::Ge) { Bound::Always } else { Bound::Never };
        }
        if self.above_all(&v) {
            return if matches!(cmp, Cmp::Lt | Cmp::Le) { Bound::Always } else { Bound::Never };
        }
        Bound::Cmp(cmp, v)
    }

    fn holds_exactly(&self, v: &T) -> bool {
        self.on_grid(v) && !self.below_all(v) && !self.above_all(v)
    }
}

/// Strings, LONG and DOUBLE: the column holds every value the engine does.
struct Exact;

impl<T: Clone> Grid<T> for Exact {
    fn on_grid(&self, _: &T) -> bool {
        true
    }
    fn floor(&self, v: &T) -> T {
        v.clone()
    }
    fn below_all(&self, _: &T) -> bool {
        false
    }
    fn above_all(&self, _: &T) -> bool {
        false
    }
}

/// `DECIMAL(38, scale)`.
struct DecimalGrid {
    scale: u32,
    /// 10^(38 - scale) when rust_decimal can hold it: no column value reaches it.
    limit: Option<Decimal>,
}

impl Grid<Decimal> for DecimalGrid {
    fn on_grid(&self, v: &Decimal) -> bool {
        v.normalize().scale() <= self.scale
    }
    fn floor(&self, v: &Decimal) -> Decimal {
        v.round_dp_with_strategy(self.scale, RoundingStrategy::ToNegativeInfinity)
    }
    fn below_all(&self, v: &Decimal) -> bool {
        self.limit.is_some_and(|limit| *v <= -limit)
    }
    fn above_all(&self, v: &Decimal) -> bool {
        self.limit.is_some_and(|limit| *v >= limit)
    }
}

/// Nanoseconds since the epoch, kept to `step` and within `[min, max]`.
struct TimeGrid {
    step: i128,
    min: i128,
    max: i128,
}

impl Grid<i128> for TimeGrid {
    fn on_grid(&self, v: &i128) -> bool {
        v.rem_euclid(self.step) == 0
    }
    fn floor(&self, v: &i128) -> i128 {
        v - v.rem_euclid(self.step)
    }
    fn below_all(&self, v: &i128) -> bool {
        *v < self.min
    }
    fn above_all(&self, v: &i128) -> bool {
        *v > self.max
    }
}

/// Days since the epoch, within `[min, max]`.
struct DateGrid {
    min: i32,
    max: i32,
}

impl Grid<i32> for DateGrid {
    fn on_grid(&self, _: &i32) -> bool {
        true
    }
    fn floor(&self, v: &i32) -> i32 {
        *v
    }
    fn below_all(&self, v: &i32) -> bool {
        *v < self.min
    }
    fn above_all(&self, v: &i32) -> bool {
        *v > self.max
    }
}

const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;

/// Days since 1970-01-01 of 0001-01-01 and 9999-12-31: the range every dialect's DATE holds.
fn date_range() -> (i32, i32) {
    let min = i32::try_from(parse::days_from_civil(1, 1, 1)).unwrap_or(i32::MIN);
    let max = i32::try_from(parse::days_from_civil(9999, 12, 31)).unwrap_or(i32::MAX);
    (min, max)
}

/// Writes SQL text for one dialect.
struct Writer<'a> {
    options: &'a SqlOptions,
}

impl<'a> Writer<'a> {
    fn new(options: &'a SqlOptions) -> Result<Self, RenderSqlError> {
        if options.decimal_scale > 38 {
            return Err(RenderSqlError::DecimalScale { scale: options.decimal_scale });
        }
        let max = options.dialect.max_timestamp_digits();
        if options.timestamp_digits > max {
            return Err(RenderSqlError::TimestampDigits {
                digits: options.timestamp_digits,
                dialect: options.dialect,
                max,
            });
        }
        Ok(Self { options })
    }

    fn dialect(&self) -> Dialect {
        self.options.dialect
    }

    fn no_nul(&self, text: &str, what: &'static str) -> Result<(), RenderSqlError> {
        if text.contains('\0') {
            return Err(RenderSqlError::Nul { what, text: text.replace('\0', "\\0"), dialect: self.dialect() });
        }
        Ok(())
    }

    /// A quoted identifier: nothing in it is ever read as SQL.
    fn ident(&self, name: &str, what: &'static str) -> Result<String, RenderSqlError> {
        self.no_nul(name, what)?;
        Ok(match self.dialect() {
            Dialect::DuckDb | Dialect::PostgreSql | Dialect::Snowflake | Dialect::Trino => {
                format!("\"{}\"", name.replace('"', "\"\""))
            }
            Dialect::SparkSql => format!("`{}`", name.replace('`', "``")),
            Dialect::BigQuery => format!("`{}`", backslash_escape(name, '`')),
        })
    }

    /// A table name, each dotted part quoted on its own.
    fn table(&self, parts: &[&str]) -> Result<String, RenderSqlError> {
        if parts.is_empty() || parts.iter().any(|p| p.is_empty()) {
            return Err(RenderSqlError::TableName { name: parts.join(".") });
        }
        let quoted: Result<Vec<String>, RenderSqlError> = parts.iter().map(|p| self.ident(p, "table name")).collect();
        Ok(quoted?.join("."))
    }

    /// A string literal: nothing in it is ever read as SQL.
    fn string(&self, text: &str) -> Result<String, RenderSqlError> {
        self.no_nul(text, "value")?;
        Ok(match self.dialect() {
            Dialect::DuckDb | Dialect::Trino => format!("'{}'", text.replace('\'', "''")),
            Dialect::PostgreSql if text.contains('\\') => {
                format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
            }
            Dialect::PostgreSql => format!("'{}'", text.replace('\'', "''")),
            Dialect::SparkSql | Dialect::Snowflake | Dialect::BigQuery => format!("'{}'", backslash_escape(text, '\'')),
        })
    }

    fn int_type(&self) -> &'static str {
        match self.dialect() {
            Dialect::BigQuery => "INT64",
            _ => "BIGINT",
        }
    }

    fn text_type(&self) -> &'static str {
        match self.dialect() {
            Dialect::SparkSql | Dialect::BigQuery => "STRING",
            Dialect::PostgreSql => "TEXT",
            _ => "VARCHAR",
        }
    }

    fn column_type(&self, column_type: ColumnType) -> String {
        let scale = self.options.decimal_scale;
        let digits = self.options.timestamp_digits;
        match column_type {
            ColumnType::String => self.text_type().to_owned(),
            ColumnType::Long => self.int_type().to_owned(),
            ColumnType::Double => self.double_type().to_owned(),
            ColumnType::Decimal => match self.dialect() {
                Dialect::PostgreSql => format!("NUMERIC(38, {scale})"),
                Dialect::Snowflake => format!("NUMBER(38, {scale})"),
                Dialect::BigQuery if scale <= 9 => format!("NUMERIC({}, {scale})", u32::from(scale) + 29),
                Dialect::BigQuery => format!("BIGNUMERIC(38, {scale})"),
                _ => format!("DECIMAL(38, {scale})"),
            },
            ColumnType::Date => "DATE".to_owned(),
            ColumnType::Datetime => match self.dialect() {
                Dialect::DuckDb if digits > 6 => "TIMESTAMP_NS".to_owned(),
                Dialect::DuckDb | Dialect::SparkSql | Dialect::BigQuery => "TIMESTAMP".to_owned(),
                Dialect::PostgreSql | Dialect::Trino => format!("TIMESTAMP({digits})"),
                Dialect::Snowflake => format!("TIMESTAMP_NTZ({digits})"),
            },
        }
    }

    fn double_type(&self) -> &'static str {
        match self.dialect() {
            Dialect::PostgreSql => "DOUBLE PRECISION",
            Dialect::BigQuery => "FLOAT64",
            _ => "DOUBLE",
        }
    }

    /// The column as string tests read it (PostgreSQL compares bytes under `COLLATE "C"`).
    fn string_column(&self, column: &str) -> String {
        match self.dialect() {
            Dialect::PostgreSql => format!("({column} COLLATE \"C\")"),
            _ => column.to_owned(),
        }
    }

    /// One filter with `not` and the NULL rule: `None` if it admits no row.
    fn filter(&self, name: &str, filter: &CompiledFilter) -> Result<Option<String>, RenderSqlError> {
        let column = self.ident(name, "column name")?;
        let test = self.test(&column, &filter.test, &filter.source().values)?;
        let not_null = format!("{column} IS NOT NULL");
        // A NULL cell never passes, negated or not: the negated form says so explicitly.
        Ok(match (test, filter.not()) {
            (Cond::Always, false) | (Cond::Never, true) => Some(not_null),
            (Cond::Never, false) | (Cond::Always, true) => None,
            (Cond::Sql(sql), false) => Some(sql),
            (Cond::Sql(sql), true) => Some(format!("({not_null} AND NOT ({sql}))")),
        })
    }

    /// The filter's test on a non-NULL cell (NULL-propagating when it is SQL).
    fn test(&self, column: &str, test: &Test, source: &[String]) -> Result<Cond, RenderSqlError> {
        match test {
            Test::String(t) => {
                let column = self.string_column(column);
                self.ord(&column, t, &Exact, |v: &String| self.string(v))
            }
            Test::Text(t) => self.text(&self.string_column(column), t, source),
            Test::Long(t) => self.ord(column, t, &Exact, |v: &i64| Ok(long_literal(*v))),
            Test::Double(t) => self.ord(column, t, &Exact, |v: &f64| Ok(self.double_literal(*v))),
            Test::Decimal(t) => {
                let scale = u32::from(self.options.decimal_scale);
                let limit = 38u32
                    .checked_sub(scale)
                    .filter(|k| *k <= 28)
                    .and_then(|k| 10i128.checked_pow(k))
                    .map(|p| Decimal::from_i128_with_scale(p, 0));
                self.ord(column, t, &DecimalGrid { scale, limit }, |v: &Decimal| Ok(self.decimal_literal(*v)))
            }
            Test::Date(t) => {
                let (min, max) = date_range();
                self.ord(column, t, &DateGrid { min, max }, |v: &i32| Ok(date_literal(*v)))
            }
            Test::Datetime(t) => {
                let digits = u32::from(self.options.timestamp_digits);
                let step = 10i128.pow(9u32.saturating_sub(digits));
                let (min_day, max_day) = date_range();
                let (mut min, mut max) =
                    (i128::from(min_day) * NANOS_PER_DAY, (i128::from(max_day) + 1) * NANOS_PER_DAY - 1);
                if self.dialect() == Dialect::DuckDb && digits > 6 {
                    // TIMESTAMP_NS holds 64-bit nanoseconds.
                    (min, max) = (min.max(i128::from(i64::MIN) + 1), max.min(i128::from(i64::MAX)));
                }
                let max = max - max.rem_euclid(step);
                self.ord(column, t, &TimeGrid { step, min, max }, |v: &i128| Ok(self.timestamp_literal(*v)))
            }
        }
    }

    /// EQUALS (any of), the four comparisons and BETWEEN (inclusive).
    fn ord<T: Clone>(
        &self,
        column: &str,
        test: &OrdTest<T>,
        grid: &dyn Grid<T>,
        literal: impl Fn(&T) -> Result<String, RenderSqlError>,
    ) -> Result<Cond, RenderSqlError> {
        let bound = |b: Bound<T>| -> Result<Cond, RenderSqlError> {
            Ok(match b {
                Bound::Always => Cond::Always,
                Bound::Never => Cond::Never,
                Bound::Cmp(cmp, v) => Cond::Sql(format!("{column} {} {}", cmp_sql(cmp), literal(&v)?)),
            })
        };
        match test {
            OrdTest::AnyOf(values) => {
                let mut literals: Vec<String> = Vec::new();
                for v in values.iter().filter(|v| grid.holds_exactly(v)) {
                    let text = literal(v)?;
                    if !literals.contains(&text) {
                        literals.push(text);
                    }
                }
                Ok(match literals.as_slice() {
                    [] => Cond::Never,
                    [one] => Cond::Sql(format!("{column} = {one}")),
                    many => Cond::Sql(format!("{column} IN ({})", many.join(", "))),
                })
            }
            OrdTest::Cmp(cmp, v) => bound(grid.fit(*cmp, v)),
            OrdTest::Between(low, high) => match (grid.fit(Cmp::Ge, low), grid.fit(Cmp::Le, high)) {
                (Bound::Cmp(Cmp::Ge, low), Bound::Cmp(Cmp::Le, high)) => {
                    Ok(Cond::Sql(format!("{column} BETWEEN {} AND {}", literal(&low)?, literal(&high)?)))
                }
                (low, high) => Ok(Cond::all(vec![bound(low)?, bound(high)?])),
            },
        }
    }

    /// LIKE (on the patterns' source text), BEGINS_WITH, ENDS_WITH, CONTAINS, each "any of" its values.
    fn text(&self, column: &str, test: &TextTest, source: &[String]) -> Result<Cond, RenderSqlError> {
        let values = match test {
            TextTest::Like(_) => return self.like(column, source),
            TextTest::BeginsWith(values) | TextTest::EndsWith(values) | TextTest::Contains(values) => values,
        };
        let mut parts = Vec::with_capacity(values.len());
        for value in values {
            parts.push(self.affix(column, test, value)?);
        }
        Ok(Cond::any(parts))
    }

    /// The LIKE test for each pattern (the compiled patterns' source text, tokenised as the engine does).
    fn like(&self, column: &str, patterns: &[String]) -> Result<Cond, RenderSqlError> {
        let mut parts = Vec::new();
        for pattern in patterns {
            let rendered = like_pattern(pattern);
            parts.push(Cond::Sql(match self.dialect() {
                Dialect::BigQuery => format!("{column} LIKE {}", self.string(&rendered)?),
                _ => format!("{column} LIKE {} ESCAPE {}", self.string(&rendered)?, self.string("\\")?),
            }));
        }
        Ok(Cond::any(parts))
    }

    /// BEGINS_WITH, ENDS_WITH or CONTAINS with one value.
    fn affix(&self, column: &str, test: &TextTest, value: &str) -> Result<Cond, RenderSqlError> {
        if value.is_empty() {
            return Ok(Cond::Always);
        }
        let v = self.string(value)?;
        let like_suffix = || -> Result<String, RenderSqlError> {
            let pattern = format!("%{}", escape_like(value));
            Ok(format!("{column} LIKE {} ESCAPE {}", self.string(&pattern)?, self.string("\\")?))
        };
        let d = self.dialect();
        Ok(Cond::Sql(match (test, d) {
            (TextTest::BeginsWith(_), Dialect::DuckDb | Dialect::PostgreSql | Dialect::Trino) => {
                format!("starts_with({column}, {v})")
            }
            (TextTest::BeginsWith(_), Dialect::SparkSql) => format!("startswith({column}, {v})"),
            (TextTest::BeginsWith(_), Dialect::Snowflake) => format!("STARTSWITH({column}, {v})"),
            (TextTest::BeginsWith(_), Dialect::BigQuery) => format!("STARTS_WITH({column}, {v})"),
            (TextTest::EndsWith(_), Dialect::DuckDb) => format!("ends_with({column}, {v})"),
            (TextTest::EndsWith(_), Dialect::PostgreSql | Dialect::Trino) => like_suffix()?,
            (TextTest::EndsWith(_), Dialect::SparkSql) => format!("endswith({column}, {v})"),
            (TextTest::EndsWith(_), Dialect::Snowflake) => format!("ENDSWITH({column}, {v})"),
            (TextTest::EndsWith(_), Dialect::BigQuery) => format!("ENDS_WITH({column}, {v})"),
            (_, Dialect::DuckDb | Dialect::SparkSql) => format!("contains({column}, {v})"),
            (_, Dialect::Snowflake) => format!("CONTAINS({column}, {v})"),
            (_, Dialect::PostgreSql | Dialect::Trino) => format!("strpos({column}, {v}) > 0"),
            (_, Dialect::BigQuery) => format!("STRPOS({column}, {v}) > 0"),
        }))
    }

    fn double_literal(&self, v: f64) -> String {
        // `{:e}` is the shortest text that reads back as the same double.
        format!("CAST({v:e} AS {})", self.double_type())
    }

    fn decimal_literal(&self, v: Decimal) -> String {
        let v = v.normalize();
        let text = v.to_string();
        let digits = v.mantissa().unsigned_abs().to_string().len();
        let scale = v.scale() as usize;
        let precision = digits.max(scale).max(1);
        match self.dialect() {
            Dialect::DuckDb | Dialect::SparkSql => format!("CAST('{text}' AS DECIMAL({precision}, {scale}))"),
            Dialect::PostgreSql | Dialect::Snowflake => text,
            Dialect::BigQuery => format!("BIGNUMERIC '{text}'"),
            Dialect::Trino => format!("DECIMAL '{text}'"),
        }
    }

    fn timestamp_literal(&self, nanos: i128) -> String {
        let text = timestamp_text(nanos, self.options.timestamp_digits);
        match self.dialect() {
            Dialect::DuckDb if self.options.timestamp_digits > 6 => format!("TIMESTAMP_NS '{text}'"),
            Dialect::DuckDb | Dialect::PostgreSql | Dialect::Trino => format!("TIMESTAMP '{text}'"),
            Dialect::SparkSql | Dialect::BigQuery => format!("TIMESTAMP '{text}+00:00'"),
            Dialect::Snowflake => {
                format!("CAST('{text}' AS TIMESTAMP_NTZ({}))", self.options.timestamp_digits)
            }
        }
    }

    /// Each group's key split into one row per element (`#` and policy indexes, as text).
    fn split_keys(&self) -> &'static str {
        match self.dialect() {
            Dialect::DuckDb => {
                "SELECT g.group_id, g.row_count, s.policy_text FROM pdp_groups AS g CROSS JOIN UNNEST(string_split(g.policy_key, ',')) AS s (policy_text)"
            }
            Dialect::PostgreSql => {
                "SELECT g.group_id, g.row_count, s.policy_text FROM pdp_groups AS g CROSS JOIN LATERAL unnest(string_to_array(g.policy_key, ',')) AS s (policy_text)"
            }
            Dialect::SparkSql => {
                "SELECT g.group_id, g.row_count, s.policy_text FROM pdp_groups AS g LATERAL VIEW explode(split(g.policy_key, ',')) s AS policy_text"
            }
            Dialect::Snowflake => {
                "SELECT g.group_id, g.row_count, s.value AS policy_text FROM pdp_groups AS g, LATERAL SPLIT_TO_TABLE(g.policy_key, ',') AS s"
            }
            Dialect::BigQuery => {
                "SELECT g.group_id, g.row_count, policy_text FROM pdp_groups AS g CROSS JOIN UNNEST(SPLIT(g.policy_key, ',')) AS policy_text"
            }
            Dialect::Trino => {
                "SELECT g.group_id, g.row_count, s.policy_text FROM pdp_groups AS g CROSS JOIN UNNEST(split(g.policy_key, ',')) AS s (policy_text)"
            }
        }
    }

    /// The membership rows as an inline table.
    fn membership_values(&self, rows: &[MembershipRow]) -> String {
        let int = self.int_type();
        let text = self.text_type();
        let row = |r: &MembershipRow| {
            let null = || format!("CAST(NULL AS {int})");
            let class = r.class.map_or_else(null, |c| c.to_string());
            let policy = r.policy.map_or_else(null, |p| p.to_string());
            format!("({}, {}, '{}', {class}, {policy})", r.seq, r.user, reason_name(r.reason))
        };
        if rows.is_empty() {
            return format!(
                "SELECT CAST(NULL AS {int}) AS seq_no, CAST(NULL AS {int}) AS user_id, CAST(NULL AS {text}) AS reason, CAST(NULL AS {int}) AS access_class, CAST(NULL AS {int}) AS policy_index FROM (SELECT 1 AS one) AS pdp_none WHERE 1 = 0"
            );
        }
        let values: Vec<String> = rows.iter().map(row).collect();
        let values = values.join(",\n    ");
        match self.dialect() {
            Dialect::BigQuery => format!(
                "SELECT * FROM UNNEST(ARRAY<STRUCT<seq_no INT64, user_id INT64, reason STRING, access_class INT64, policy_index INT64>>[\n    {values}\n  ])"
            ),
            Dialect::SparkSql => {
                format!(
                    "SELECT * FROM VALUES\n    {values}\n  AS pdp_values (seq_no, user_id, reason, access_class, policy_index)"
                )
            }
            _ => format!(
                "SELECT * FROM (VALUES\n    {values}\n  ) AS pdp_values (seq_no, user_id, reason, access_class, policy_index)"
            ),
        }
    }
}

/// `CONCAT` of the items, nested by fifties: PostgreSQL takes at most 100
/// arguments, Trino 254 and at least two.
fn concat_all(mut items: Vec<String>, separator: &str) -> String {
    while items.len() > 1 {
        items = items
            .chunks(50)
            .map(|chunk| match chunk {
                [one] => one.clone(),
                many => format!("CONCAT({})", many.join(&format!(",{separator}"))),
            })
            .collect();
    }
    items.concat()
}

fn cmp_sql(cmp: Cmp) -> &'static str {
    match cmp {
        Cmp::Gt => ">",
        Cmp::Lt => "<",
        Cmp::Ge => ">=",
        Cmp::Le => "<=",
    }
}

fn long_literal(v: i64) -> String {
    // `-9223372036854775808` reads as minus a number too large for BIGINT in most dialects.
    if v == i64::MIN { "(-9223372036854775807 - 1)".to_owned() } else { v.to_string() }
}

fn date_literal(days: i32) -> String {
    let (y, m, d) = parse::civil_from_days(i64::from(days));
    format!("DATE '{y:04}-{m:02}-{d:02}'")
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` in UTC, the fraction cut to `digits` and its trailing zeros dropped.
fn timestamp_text(nanos: i128, digits: u8) -> String {
    let days = nanos.div_euclid(NANOS_PER_DAY);
    let in_day = nanos.rem_euclid(NANOS_PER_DAY);
    let (y, m, d) = parse::civil_from_days(i64::try_from(days).unwrap_or(0));
    let seconds = in_day / 1_000_000_000;
    let fraction = in_day % 1_000_000_000;
    let mut text = format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
    if fraction != 0 && digits > 0 {
        let full = format!("{fraction:09}");
        let cut = full.get(..usize::from(digits.min(9))).unwrap_or(&full).trim_end_matches('0');
        if !cut.is_empty() {
            text.push('.');
            text.push_str(cut);
        }
    }
    text
}

/// Backslash escapes for dialects whose literals read them (Spark, Snowflake, BigQuery).
fn backslash_escape(text: &str, quote: char) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() && (c as u32) < 0x80 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A literal text as a LIKE pattern with `\` as the escape character.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An engine LIKE pattern (`%`, `_`, `\` escapes the next character, a trailing
/// lone `\` stands for itself) as a SQL pattern whose escape character is `\`.
fn like_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 2);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push('%'),
            '_' => out.push('_'),
            '\\' => out.push_str(&escape_like(&chars.next().unwrap_or('\\').to_string())),
            other => out.push_str(&escape_like(&other.to_string())),
        }
    }
    out
}
