//! The analyses beyond counts as SQL: rows no user sees, who sees a row (by a key column), and a diff of two policy sets.

use domo_model::ColumnType;

use super::{Cond, MembershipSource, RenderSqlError, SqlOptions, Writer, key_group_ctes, reason_name};
use crate::compile::{PolicySet, Reason};
use crate::filter::{OrdTest, Test};
use crate::parse;

impl PolicySet {
    /// `SELECT * FROM table WHERE …`: the rows no directory user sees except
    /// those who see every row by privilege (owner, Admin, a role grant), as
    /// `domo pdp lint` reports them. No row when PDP is off or a directory user
    /// is in All Rows.
    ///
    /// # Errors
    ///
    /// A NUL character in a name or value, an empty table name, options out of range.
    pub fn sql_hidden_rows(&self, table: &[&str], options: &SqlOptions) -> Result<String, RenderSqlError> {
        let w = Writer::new(options)?;
        let table = w.table(table)?;
        let mut policies: Vec<usize> = Vec::new();
        let mut nothing_hidden = false;
        for user in &self.directory.users {
            let access = self.access(user.id);
            match access.reason {
                Reason::Owner | Reason::Admin | Reason::RoleGrant | Reason::NoPolicy => {}
                Reason::PdpDisabled | Reason::AllRows => nothing_hidden = true,
                Reason::Policies => policies.extend(access.policies.iter().map(|m| m.policy.index())),
            }
        }
        if nothing_hidden {
            return Ok(format!("SELECT *\nFROM {table}\nWHERE FALSE"));
        }
        policies.sort_unstable();
        policies.dedup();
        let mut seen = Vec::new();
        for p in policies {
            match self.policy_condition(&w, p)? {
                Some(c) if c == "TRUE" => return Ok(format!("SELECT *\nFROM {table}\nWHERE FALSE")),
                Some(c) => seen.push(format!("({c})")),
                None => {}
            }
        }
        if seen.is_empty() {
            return Ok(format!("SELECT *\nFROM {table}"));
        }
        // A condition may be NULL on a row: such a row is not seen, so it is hidden.
        Ok(format!("SELECT *\nFROM {table}\nWHERE NOT COALESCE({}, FALSE)", seen.join("\n   OR ")))
    }

    /// The users who see the rows whose `key_column` equals `key_value` (read by
    /// the column's type), in directory order: `user_id`, `reason`,
    /// `visible_rows` (how many of those rows they see; 1 for a unique key).
    ///
    /// # Errors
    ///
    /// A key column the schema does not have, a key value that does not parse
    /// by its type, and the errors of [`PolicySet::sql_visible_counts`].
    pub fn sql_viewers(
        &self,
        table: &[&str],
        key_column: &str,
        key_value: &str,
        options: &SqlOptions,
    ) -> Result<String, RenderSqlError> {
        let w = Writer::new(options)?;
        let table = w.table(table)?;
        let column = self
            .schema
            .columns
            .iter()
            .find(|c| c.name == key_column)
            .ok_or_else(|| RenderSqlError::UnknownKeyColumn { column: key_column.to_owned() })?;
        let bad = || RenderSqlError::KeyValue {
            value: key_value.to_owned(),
            column: key_column.to_owned(),
            column_type: column.column_type,
        };
        let bytes = key_value.as_bytes();
        let test = match column.column_type {
            ColumnType::String => Test::String(OrdTest::AnyOf(vec![key_value.to_owned()])),
            ColumnType::Long => Test::Long(OrdTest::AnyOf(vec![parse::parse_long(bytes).ok_or_else(bad)?])),
            ColumnType::Double => Test::Double(OrdTest::AnyOf(vec![parse::parse_double(bytes).ok_or_else(bad)?])),
            ColumnType::Decimal => Test::Decimal(OrdTest::AnyOf(vec![parse::parse_decimal(bytes).ok_or_else(bad)?])),
            ColumnType::Date => Test::Date(OrdTest::AnyOf(vec![parse::parse_date(bytes).ok_or_else(bad)?])),
            ColumnType::Datetime => Test::Datetime(OrdTest::AnyOf(vec![parse::parse_datetime(bytes).ok_or_else(bad)?])),
        };
        let ident = w.ident(&column.name, "column name")?;
        let filter = match w.test(&ident, &test, &[])? {
            Cond::Sql(sql) => sql,
            // A value the column cannot hold: no row has it.
            Cond::Never => "FALSE".to_owned(),
            Cond::Always => format!("{ident} IS NOT NULL"),
        };
        Ok(self.counts_sql(&w, &table, MembershipSource::Inline, Some(&filter))?.sql)
    }

    /// A query giving, for every directory user in directory order, what
    /// replacing `old` by these policies changes: `user_id`, `old_reason`,
    /// `new_reason`, `old_rows`, `new_rows`, `gained_rows`, `lost_rows`.
    /// Both policy sets are evaluated in one scan of the table, as
    /// [`PolicySet::sql_visible_counts`] does for one.
    ///
    /// # Errors
    ///
    /// A NUL character in a name or value, an empty table name, options out of range.
    pub fn sql_diff(&self, old: &PolicySet, table: &[&str], options: &SqlOptions) -> Result<String, RenderSqlError> {
        let w = Writer::new(options)?;
        let table = w.table(table)?;
        let mut users: Vec<Vec<String>> = Vec::new();
        let mut grants: Vec<Vec<String>> = Vec::new();
        let mut used: [Vec<bool>; 2] = [vec![false; old.policies.len()], vec![false; self.policies.len()]];
        for (seq, user) in self.directory.users.iter().enumerate() {
            let mut reasons = Vec::with_capacity(2);
            for (side, (set, tag)) in [(old, "o"), (self, "n")].into_iter().enumerate() {
                let access = set.access(user.id);
                reasons.push(w.string(reason_name(access.reason))?);
                let side_sql = w.string(tag)?;
                if access.sees_everything() {
                    grants.push(vec![seq.to_string(), side_sql, w.string("#")?]);
                } else {
                    for m in &access.policies {
                        grants.push(vec![
                            seq.to_string(),
                            side_sql.clone(),
                            w.string(&format!("{tag}{}", m.policy.index()))?,
                        ]);
                        if let Some(flag) = used.get_mut(side).and_then(|u| u.get_mut(m.policy.index())) {
                            *flag = true;
                        }
                    }
                }
            }
            let mut row = vec![seq.to_string(), user.id.to_string()];
            row.extend(reasons);
            users.push(row);
        }
        let mut items = vec!["'#'".to_owned()];
        for (side, (set, tag)) in [(old, "o"), (self, "n")].into_iter().enumerate() {
            let flags = used.get(side).map(Vec::as_slice).unwrap_or_default();
            for (p, _) in flags.iter().enumerate().filter(|(_, u)| **u) {
                let condition = set.policy_condition(&w, p)?.unwrap_or_else(|| "FALSE".to_owned());
                items.push(format!("CASE WHEN {condition} THEN ',{tag}{p}' ELSE '' END"));
            }
        }
        let (int, text) = (w.int_type(), w.text_type());
        let users_sql = w.values(
            "pdp_users",
            &[("seq_no", int), ("user_id", int), ("old_reason", text), ("new_reason", text)],
            &users,
        );
        let grants_sql =
            w.values("pdp_grant_values", &[("seq_no", int), ("side", text), ("policy_text", text)], &grants);
        let mut sql = format!("WITH pdp_users AS (\n  {users_sql}\n),\npdp_grants AS (\n  {grants_sql}\n),\n");
        sql.push_str(&key_group_ctes(&w, items, &table));
        sql.push_str(concat!(
            "pdp_user_groups AS (\n",
            "  SELECT seq_no, group_id, MAX(row_count) AS row_count,\n",
            "    MAX(CASE WHEN side = 'o' THEN 1 ELSE 0 END) AS before_seen,\n",
            "    MAX(CASE WHEN side = 'n' THEN 1 ELSE 0 END) AS after_seen\n",
            "  FROM (\n",
            "    SELECT DISTINCT r.seq_no, r.side, g.group_id, g.row_count\n",
            "    FROM pdp_grants AS r\n",
            "    JOIN pdp_group_policies AS g ON g.policy_text = r.policy_text\n",
            "  ) AS pdp_seen\n",
            "  GROUP BY seq_no, group_id\n",
            ")\n",
            "SELECT u.user_id, u.old_reason, u.new_reason,\n",
            "  COALESCE(SUM(CASE WHEN d.before_seen = 1 THEN d.row_count ELSE 0 END), 0) AS old_rows,\n",
            "  COALESCE(SUM(CASE WHEN d.after_seen = 1 THEN d.row_count ELSE 0 END), 0) AS new_rows,\n",
            "  COALESCE(SUM(CASE WHEN d.after_seen = 1 AND d.before_seen = 0 THEN d.row_count ELSE 0 END), 0) AS gained_rows,\n",
            "  COALESCE(SUM(CASE WHEN d.before_seen = 1 AND d.after_seen = 0 THEN d.row_count ELSE 0 END), 0) AS lost_rows\n",
            "FROM pdp_users AS u\n",
            "LEFT JOIN pdp_user_groups AS d ON d.seq_no = u.seq_no\n",
            "GROUP BY u.seq_no, u.user_id, u.old_reason, u.new_reason\n",
            "ORDER BY u.seq_no",
        ));
        Ok(sql)
    }
}

impl Writer<'_> {
    /// Rows of literals as an inline table `name (columns)`; an empty table when there are no rows.
    fn values(&self, name: &str, columns: &[(&str, &str)], rows: &[Vec<String>]) -> String {
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        if rows.is_empty() {
            let nulls: Vec<String> = columns.iter().map(|(n, t)| format!("CAST(NULL AS {t}) AS {n}")).collect();
            return format!("SELECT {} FROM (SELECT 1 AS one) AS pdp_none WHERE 1 = 0", nulls.join(", "));
        }
        let values: Vec<String> = rows.iter().map(|r| format!("({})", r.join(", "))).collect();
        let values = values.join(",\n    ");
        match self.dialect() {
            super::Dialect::BigQuery => {
                let fields: Vec<String> = columns.iter().map(|(n, t)| format!("{n} {t}")).collect();
                format!("SELECT * FROM UNNEST(ARRAY<STRUCT<{}>>[\n    {values}\n  ])", fields.join(", "))
            }
            super::Dialect::SparkSql => {
                format!("SELECT * FROM VALUES\n    {values}\n  AS {name} ({})", names.join(", "))
            }
            _ => format!("SELECT * FROM (VALUES\n    {values}\n  ) AS {name} ({})", names.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use domo_model::{Dataset, Directory, Policy};
    use serde_json::json;

    use crate::{Dialect, PolicySet, RenderSqlError, SqlOptions};

    fn set(pdp: bool, policies: serde_json::Value) -> PolicySet {
        let dataset: Dataset = serde_json::from_value(json!({
            "id": "d", "name": "Sales", "pdpEnabled": pdp, "owner": {"id": 1},
            "schema": {"columns": [{"type": "STRING", "name": "Region"}, {"type": "DECIMAL", "name": "Amount"}]}
        }))
        .unwrap();
        let policies: Vec<Policy> = serde_json::from_value(policies).unwrap();
        let directory: Directory = serde_json::from_value(json!({"users": [
            {"id": 1, "name": "owner", "role": "Participant"}, {"id": 2, "name": "b", "role": "Participant"}
        ]}))
        .unwrap();
        PolicySet::compile(&dataset, &policies, &directory).unwrap()
    }

    fn west() -> serde_json::Value {
        json!([{"id": 1, "name": "West", "users": [2],
                "filters": [{"column": "Region", "operator": "EQUALS", "values": ["West"]}]}])
    }

    fn nobody() -> serde_json::Value {
        json!([{"id": 2, "name": "Nobody", "users": [], "filters": []}])
    }

    #[test]
    fn hidden_rows_follow_what_lint_reports() {
        let options = SqlOptions::new(Dialect::DuckDb);
        let check = |set: PolicySet| set.sql_hidden_rows(&["t"], &options).unwrap();
        assert_eq!(check(set(true, west())), "SELECT *\nFROM \"t\"\nWHERE NOT COALESCE((\"Region\" = 'West'), FALSE)");
        // PDP off: everyone sees every row, nothing is hidden.
        assert_eq!(check(set(false, west())), "SELECT *\nFROM \"t\"\nWHERE FALSE");
        // No policy at all turns PDP off.
        assert_eq!(check(set(true, json!([]))), "SELECT *\nFROM \"t\"\nWHERE FALSE");
        // A policy nobody is in: only the owner sees rows, every row is hidden from the others.
        assert_eq!(check(set(true, nobody())), "SELECT *\nFROM \"t\"");
    }

    #[test]
    fn viewers_read_the_key_by_its_type() {
        let options = SqlOptions::new(Dialect::PostgreSql);
        let s = set(true, west());
        let sql = s.sql_viewers(&["t"], "Amount", "1.50", &options).unwrap();
        assert!(sql.contains("WHERE \"Amount\" = 1.5\n"), "{sql}");
        // A value finer than DECIMAL(38, 9) is in no row.
        let sql = s.sql_viewers(&["t"], "Amount", "1.0000000001", &options).unwrap();
        assert!(sql.contains("WHERE FALSE\n"), "{sql}");
        let err = s.sql_viewers(&["t"], "Amount", "lots", &options).unwrap_err();
        assert_eq!(err.to_string(), "the key `lots` is not a DECIMAL value, the type of column `Amount`");
        let err = s.sql_viewers(&["t"], "amount", "1", &options).unwrap_err();
        assert!(matches!(err, RenderSqlError::UnknownKeyColumn { .. }), "{err}");
    }

    #[test]
    fn diff_keys_old_and_new_policies_apart() {
        let options = SqlOptions::new(Dialect::SparkSql);
        let old = set(true, west());
        let new = set(true, nobody());
        let sql = new.sql_diff(&old, &["t"], &options).unwrap();
        assert!(sql.contains("CASE WHEN `Region` = 'West' THEN ',o0' ELSE '' END"), "{sql}");
        assert!(sql.contains("(0, 1, 'owner', 'owner')"), "{sql}");
        assert!(sql.contains("(1, 2, 'policies', 'no-policy')"), "{sql}");
    }
}
