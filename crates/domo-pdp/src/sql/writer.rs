//! Writing SQL text for one dialect: identifiers, literals, filters and the dialect-specific pieces of the queries.

use domo_model::ColumnType;
use rust_decimal::Decimal;

use super::grid::{Bound, Cond, DateGrid, DecimalGrid, Exact, Grid, NANOS_PER_DAY, TimeGrid, date_range};
use super::{Dialect, MembershipRow, RenderSqlError, SqlOptions, reason_name};
use crate::filter::{Cmp, CompiledFilter, OrdTest, Test, TextTest};
use crate::parse;

/// Writes SQL text for one dialect.
pub(super) struct Writer<'a> {
    pub(super) options: &'a SqlOptions,
}

impl<'a> Writer<'a> {
    pub(super) fn new(options: &'a SqlOptions) -> Result<Self, RenderSqlError> {
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

    pub(super) fn dialect(&self) -> Dialect {
        self.options.dialect
    }

    pub(super) fn no_nul(&self, text: &str, what: &'static str) -> Result<(), RenderSqlError> {
        if text.contains('\0') {
            return Err(RenderSqlError::Nul { what, text: text.replace('\0', "\\0"), dialect: self.dialect() });
        }
        Ok(())
    }

    /// A quoted identifier: nothing in it is ever read as SQL.
    pub(super) fn ident(&self, name: &str, what: &'static str) -> Result<String, RenderSqlError> {
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
    pub(super) fn table(&self, parts: &[&str]) -> Result<String, RenderSqlError> {
        if parts.is_empty() || parts.iter().any(|p| p.is_empty()) {
            return Err(RenderSqlError::TableName { name: parts.join(".") });
        }
        let quoted: Result<Vec<String>, RenderSqlError> = parts.iter().map(|p| self.ident(p, "table name")).collect();
        Ok(quoted?.join("."))
    }

    /// A string literal: nothing in it is ever read as SQL.
    pub(super) fn string(&self, text: &str) -> Result<String, RenderSqlError> {
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

    pub(super) fn int_type(&self) -> &'static str {
        match self.dialect() {
            Dialect::BigQuery => "INT64",
            _ => "BIGINT",
        }
    }

    pub(super) fn text_type(&self) -> &'static str {
        match self.dialect() {
            Dialect::SparkSql | Dialect::BigQuery => "STRING",
            Dialect::PostgreSql => "TEXT",
            _ => "VARCHAR",
        }
    }

    pub(super) fn column_type(&self, column_type: ColumnType) -> String {
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

    pub(super) fn double_type(&self) -> &'static str {
        match self.dialect() {
            Dialect::PostgreSql => "DOUBLE PRECISION",
            Dialect::BigQuery => "FLOAT64",
            _ => "DOUBLE",
        }
    }

    /// The column as string tests read it (PostgreSQL compares bytes under `COLLATE "C"`).
    pub(super) fn string_column(&self, column: &str) -> String {
        match self.dialect() {
            Dialect::PostgreSql => format!("({column} COLLATE \"C\")"),
            _ => column.to_owned(),
        }
    }

    /// One filter with `not` and the NULL rule: `None` if it admits no row.
    pub(super) fn filter(&self, name: &str, filter: &CompiledFilter) -> Result<Option<String>, RenderSqlError> {
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
    pub(super) fn test(&self, column: &str, test: &Test, source: &[String]) -> Result<Cond, RenderSqlError> {
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
    pub(super) fn ord<T: Clone>(
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
    pub(super) fn text(&self, column: &str, test: &TextTest, source: &[String]) -> Result<Cond, RenderSqlError> {
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
    pub(super) fn like(&self, column: &str, patterns: &[String]) -> Result<Cond, RenderSqlError> {
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
    pub(super) fn affix(&self, column: &str, test: &TextTest, value: &str) -> Result<Cond, RenderSqlError> {
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

    pub(super) fn double_literal(&self, v: f64) -> String {
        // `{:e}` is the shortest text that reads back as the same double.
        format!("CAST({v:e} AS {})", self.double_type())
    }

    pub(super) fn decimal_literal(&self, v: Decimal) -> String {
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

    pub(super) fn timestamp_literal(&self, nanos: i128) -> String {
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
    pub(super) fn split_keys(&self) -> &'static str {
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
    pub(super) fn membership_values(&self, rows: &[MembershipRow]) -> String {
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
/// The common tables of every one-scan query: `pdp_keys` (each row's key of the
/// policies that admit it, from `items`), `pdp_groups` (rows grouped by key, counted)
/// and `pdp_group_policies` (each group's key split into policy numbers).
pub(super) fn key_group_ctes(w: &Writer<'_>, items: Vec<String>, from: &str) -> String {
    let mut sql = format!("pdp_keys AS (\n  SELECT {} AS policy_key\n  FROM {from}\n),\n", concat_all(items, "\n    "));
    sql.push_str(concat!(
        "pdp_groups AS (\n",
        "  SELECT ROW_NUMBER() OVER (ORDER BY policy_key) AS group_id, policy_key, row_count\n",
        "  FROM (SELECT policy_key, COUNT(*) AS row_count FROM pdp_keys GROUP BY policy_key) AS pdp_grouped\n",
        "),\n",
    ));
    sql.push_str(&format!("pdp_group_policies AS (\n  {}\n),\n", w.split_keys()));
    sql
}

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

pub(super) fn cmp_sql(cmp: Cmp) -> &'static str {
    match cmp {
        Cmp::Gt => ">",
        Cmp::Lt => "<",
        Cmp::Ge => ">=",
        Cmp::Le => "<=",
    }
}

pub(super) fn long_literal(v: i64) -> String {
    // `-9223372036854775808` reads as minus a number too large for BIGINT in most dialects.
    if v == i64::MIN { "(-9223372036854775807 - 1)".to_owned() } else { v.to_string() }
}

pub(super) fn date_literal(days: i32) -> String {
    let (y, m, d) = parse::civil_from_days(i64::from(days));
    format!("DATE '{y:04}-{m:02}-{d:02}'")
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` in UTC, the fraction cut to `digits` and its trailing zeros dropped.
pub(super) fn timestamp_text(nanos: i128, digits: u8) -> String {
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
pub(super) fn backslash_escape(text: &str, quote: char) -> String {
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
pub(super) fn escape_like(text: &str) -> String {
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
pub(super) fn like_pattern(pattern: &str) -> String {
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
