//! Lint: compile diagnostics plus analyses of what the policies do to the data and the users.

use domo_model::{Dataset, Directory, DirectoryProblem, FilterOperator, Policy, Schema};

use crate::compile::{Diagnostic, DiagnosticCode, PolicyHandle, PolicyRef, PolicySet, Severity};
use crate::table::Table;

mod contradiction;
mod data;
mod report;
mod stream;

use contradiction::contradictions;
use data::{DataPlan, has_like_wildcard};

pub use data::LintRows;
pub use report::LintReport;

/// Lints `policies` for `dataset` and `directory` against the data in `table`.
///
/// Reports every compile error and warning; then, on the policies that
/// compile, the analyses: rows only the owner and Admins see, users who see
/// nothing and why, policies without members, policies matching no row or
/// every row, redundant and identical policies, filters that can never match,
/// EQUALS on values absent from the data (with a "did you mean"), and LIKE
/// without wildcards. Never fails: problems are findings.
///
/// The same as [`Linter::new`], one [`LintRows::add`] of the whole table and
/// [`Linter::finish`]; use those to lint rows that arrive in batches.
pub fn lint(dataset: &Dataset, policies: &[Policy], directory: &Directory, table: &Table) -> LintReport {
    let linter = Linter::new(dataset, policies, directory);
    let mut rows = linter.rows();
    // A table of another schema gives no data findings, as a batch of one does.
    let _ = rows.add(table);
    linter.finish(rows)
}

/// A lint run whose data findings are computed as the rows stream by.
///
/// [`Linter::new`] compiles the policies and makes the findings that need no
/// rows; [`Linter::rows`] starts a [`LintRows`], which takes the rows in
/// batches (any number, of any size, in DataSet order) and keeps only counts
/// and samples, so its memory does not grow with the rows; [`Linter::finish`]
/// turns both into the report, identical to [`lint`] of the whole table.
///
/// ```
/// # use domo_pdp::{HeaderRow, Linter, Table};
/// # let dataset: domo_model::Dataset = serde_json::from_str(r#"{"id": "d", "name": "n", "pdpEnabled": true,
/// #     "schema": {"columns": [{"type": "LONG", "name": "n"}]}}"#).unwrap();
/// # let policies: Vec<domo_model::Policy> = serde_json::from_str(r#"[{"id": 1, "name": "big",
/// #     "filters": [{"column": "n", "operator": "GREATER_THAN", "values": ["100"]}], "users": [1]}]"#).unwrap();
/// # let directory: domo_model::Directory = serde_json::from_str(r#"{"users": [{"id": 1, "name": "Ann"}]}"#).unwrap();
/// let linter = Linter::new(&dataset, &policies, &directory);
/// let mut rows = linter.rows();
/// for batch in ["1\n2\n", "3\n"] {
///     rows.add(&Table::from_csv(batch.as_bytes(), &dataset.schema, HeaderRow::Absent)?)?;
/// }
/// let report = linter.finish(rows);
/// let texts: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
/// assert!(texts.contains(&"policy 1 `big`: matches none of the 3 rows, so it grants nothing".to_owned()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Linter {
    /// The findings that need no rows, in the order they were found.
    findings: Vec<Diagnostic>,
    /// The policies that compile, compiled (`None` only if they unexpectedly fail again).
    set: Option<PolicySet>,
    /// What the data findings need, worked out before the first row.
    plan: DataPlan,
    /// The DataSet's columns, to read its rows by.
    schema: Schema,
}

impl Linter {
    /// Compiles `policies` for `dataset` and `directory` and makes the findings that need no rows:
    /// directory problems, compile errors and warnings, filters that can never match and LIKE
    /// without wildcards. When some policies do not compile, the others are analysed.
    pub fn new(dataset: &Dataset, policies: &[Policy], directory: &Directory) -> Self {
        let mut findings = Vec::new();

        // A directory that lists a user twice cannot say what that user sees.
        for problem in directory.problems() {
            let user = match &problem {
                DirectoryProblem::DuplicateUser { id, .. } => Some(*id),
                DirectoryProblem::UnknownMember { user, .. } => Some(*user),
                _ => None,
            };
            let mut finding =
                Diagnostic::new(Severity::Error, DiagnosticCode::InvalidDirectory, format!("directory: {problem}"));
            finding.user = user;
            findings.push(finding);
        }

        // Compile; when some policies fail, report their errors and analyse the rest.
        let mut failed = vec![false; policies.len()];
        let set = match PolicySet::compile(dataset, policies, directory) {
            Ok(set) => {
                findings.extend(set.warnings().iter().map(compile_finding));
                Some(set)
            }
            Err(err) => {
                for d in &err.errors {
                    if let Some(slot) = d.policy.as_ref().and_then(|p| failed.get_mut(p.handle.index())) {
                        *slot = true;
                    }
                }
                findings.extend(err.errors.iter().map(compile_finding));
                findings.extend(err.warnings.iter().map(compile_finding));
                let rest: Vec<Policy> =
                    policies.iter().zip(&failed).filter(|(_, failed)| !**failed).map(|(p, _)| p.clone()).collect();
                PolicySet::compile(dataset, &rest, directory).ok()
            }
        };
        // Positions in the compiled set map back to positions in the file.
        let refs: Vec<PolicyRef> = policies
            .iter()
            .enumerate()
            .filter(|(index, _)| !failed.get(*index).copied().unwrap_or(true))
            .map(|(index, policy)| PolicyRef::new(PolicyHandle::from_index(index), policy))
            .collect();
        // The policies that did not compile, for users who see nothing because of them.
        let broken: Vec<(PolicyRef, &Policy)> = policies
            .iter()
            .enumerate()
            .filter(|(index, _)| failed.get(*index).copied().unwrap_or(false))
            .map(|(index, policy)| (PolicyRef::new(PolicyHandle::from_index(index), policy), policy))
            .collect();

        // Static checks on the compiled filters: contradictions and LIKE without wildcards.
        let mut never_matches = vec![false; refs.len()];
        for (compiled, (this, never)) in
            set.iter().flat_map(|s| s.policies()).zip(refs.iter().zip(never_matches.iter_mut()))
        {
            if compiled.is_all_rows() {
                continue;
            }
            for (filter_index, message) in contradictions(compiled) {
                *never = true;
                findings.push(
                    Diagnostic::new(Severity::Error, DiagnosticCode::FilterNeverMatches, message)
                        .on_policy(this.clone())
                        .on_filter(filter_index),
                );
            }
            for (filter_index, filter) in compiled.filters().iter().enumerate() {
                if filter.operator() != FilterOperator::Like {
                    continue;
                }
                for value in filter.source().values.iter().filter(|v| !has_like_wildcard(v)) {
                    findings.push(
                        Diagnostic::new(
                            Severity::Warning,
                            DiagnosticCode::LikeWithoutWildcards,
                            format!(
                                "LIKE `{value}` has no `%` or `_`, so it only matches the exact text `{value}` (use EQUALS, or add `%` for CONTAINS-like matching)"
                            ),
                        )
                        .on_policy(this.clone())
                        .on_filter(Some(filter_index)),
                    );
                }
            }
        }
        let plan = match &set {
            Some(set) => DataPlan::new(set, refs, never_matches, &broken),
            None => DataPlan::default(),
        };
        Linter { findings, set, plan, schema: dataset.schema.clone() }
    }

    /// An empty accumulator of the data findings; give it the rows with [`LintRows::add`].
    pub fn rows(&self) -> LintRows<'_> {
        LintRows::new(self.set.as_ref(), &self.plan)
    }

    /// The report: the findings of [`Linter::new`], then those of the rows, sorted by severity, then
    /// in policy order.
    pub fn finish(&self, rows: LintRows<'_>) -> LintReport {
        let mut findings = self.findings.clone();
        if let Some(set) = &self.set {
            findings.extend(rows.findings(set, &self.plan));
        }
        findings.sort_by(|a, b| {
            a.severity
                .cmp(&b.severity)
                .then_with(|| a.policy.as_ref().map(|p| p.handle).cmp(&b.policy.as_ref().map(|p| p.handle)))
        });
        LintReport { findings }
    }
}

/// A compile diagnostic as a lint finding: itself, except that values over Domo's limit are an
/// error (the policy compiles, but Domo's API refuses it).
fn compile_finding(d: &Diagnostic) -> Diagnostic {
    let mut finding = d.clone();
    if d.code == DiagnosticCode::ValuesTooLong {
        finding.severity = Severity::Error;
        finding.message = format!("{} (Domo's API rejects the policy)", d.message);
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use domo_model::{Column, ColumnType, Schema};

    use crate::rowset::RowSet;

    fn policy(filters: &str) -> Policy {
        let text = format!(r#"{{"id": 1, "name": "p", "filters": {filters}, "users": [1]}}"#);
        serde_json::from_str(&text).unwrap()
    }

    fn schema() -> Schema {
        Schema {
            columns: vec![
                Column::new(ColumnType::Long, "n"),
                Column::new(ColumnType::String, "s"),
                Column::new(ColumnType::Date, "d"),
                Column::new(ColumnType::Decimal, "x"),
            ],
        }
    }

    /// The policy with these filters over [`schema`], compiled.
    fn compiled(filters: &str) -> PolicySet {
        let mut dataset: Dataset =
            serde_json::from_value(serde_json::json!({"id": "d", "name": "n", "schema": {"columns": []}})).unwrap();
        dataset.schema = schema();
        PolicySet::compile(&dataset, &[policy(filters)], &Directory::default()).unwrap()
    }

    fn check(filters: &str, expected: &[&str]) {
        let set = compiled(filters);
        let found: Vec<String> = contradictions(&set.policies()[0]).into_iter().map(|(_, m)| m).collect();
        assert_eq!(found, expected, "{filters}");
    }

    #[test]
    fn greater_than_ten_and_less_than_five_never_matches() {
        check(
            r#"[{"column":"n","operator":"GREATER_THAN","values":["10"]},{"column":"n","operator":"LESS_THAN","values":["5"]}]"#,
            &["can never match: `n` must be above `10` (filters[0]) and below `5` (filters[1])"],
        );
    }

    #[test]
    fn touching_bounds_match_only_when_both_inclusive() {
        check(
            r#"[{"column":"n","operator":"GREATER_THAN_EQUAL","values":["5"]},{"column":"n","operator":"LESS_THAN_EQUAL","values":["5"]}]"#,
            &[],
        );
        check(
            r#"[{"column":"n","operator":"GREATER_THAN","values":["5"]},{"column":"n","operator":"LESS_THAN_EQUAL","values":["5"]}]"#,
            &["can never match: `n` must be above `5` (filters[0]) and at most `5` (filters[1])"],
        );
    }

    #[test]
    fn negated_bound_flips() {
        check(
            r#"[{"column":"n","operator":"LESS_THAN_EQUAL","values":["10"],"not":true},{"column":"n","operator":"LESS_THAN","values":["5"]}]"#,
            &["can never match: `n` must be above `10` (filters[0]) and below `5` (filters[1])"],
        );
    }

    #[test]
    fn between_reversed_never_matches() {
        check(
            r#"[{"column":"d","operator":"BETWEEN","values":["2024-12-31","2024-01-01"]}]"#,
            &["can never match: BETWEEN `2024-12-31` and `2024-01-01` has its low bound above its high bound"],
        );
    }

    #[test]
    fn decimal_compares_exactly() {
        check(
            r#"[{"column":"x","operator":"EQUALS","values":["1.50"]},{"column":"x","operator":"GREATER_THAN","values":["1.5"]}]"#,
            &[
                "can never match: each value filters[0] allows for `x` (EQUALS) is excluded or out of range by the other filters on `x`",
            ],
        );
        check(
            r#"[{"column":"x","operator":"EQUALS","values":["1.50"]},{"column":"x","operator":"GREATER_THAN_EQUAL","values":["1.5"]}]"#,
            &[],
        );
    }

    #[test]
    fn disjoint_equals_never_match() {
        check(
            r#"[{"column":"s","operator":"EQUALS","values":["a","b"]},{"column":"s","operator":"EQUALS","values":["c"]}]"#,
            &["can never match: EQUALS on `s` in filters[0] and filters[1] share no value"],
        );
        check(
            r#"[{"column":"s","operator":"EQUALS","values":["a"]},{"column":"s","operator":"EQUALS","values":["a"],"not":true}]"#,
            &[
                "can never match: each value filters[0] allows for `s` (EQUALS) is excluded or out of range by the other filters on `s`",
            ],
        );
    }

    #[test]
    fn different_columns_do_not_interact() {
        check(
            r#"[{"column":"n","operator":"GREATER_THAN","values":["10"]},{"column":"x","operator":"LESS_THAN","values":["5"]}]"#,
            &[],
        );
    }

    #[test]
    fn like_wildcards() {
        assert!(has_like_wildcard("a%"));
        assert!(has_like_wildcard("a_b"));
        assert!(!has_like_wildcard("abc"));
        assert!(!has_like_wildcard(r"50\%"));
    }

    /// Lints `policies` over a two-column guest list and a small directory;
    /// returns `kind: message` per finding.
    fn lint_guests(policies: &str, pdp_enabled: bool) -> Vec<String> {
        let directory = serde_json::json!({
            "users": [
                {"id": 1, "name": "Owner"}, {"id": 2, "name": "Admin", "role": "Admin"},
                {"id": 3, "name": "Ann"}, {"id": 4, "name": "Bob"}, {"id": 5, "name": "Cy"}
            ],
            "groups": [{"id": 70, "name": "Team", "userIds": [4]}]
        });
        lint_guests_in(policies, pdp_enabled, directory).into_iter().map(|(_, text)| text).collect()
    }

    /// [`lint_guests`] with a given directory; returns each finding's severity and `kind: message`.
    fn lint_guests_in(policies: &str, pdp_enabled: bool, directory: serde_json::Value) -> Vec<(Severity, String)> {
        let dataset: Dataset = serde_json::from_value(serde_json::json!({
            "id": "d", "name": "guests", "pdpEnabled": pdp_enabled, "owner": {"id": 1},
            "schema": {"columns": [{"type": "STRING", "name": "Friend"}, {"type": "LONG", "name": "Age"}]}
        }))
        .unwrap();
        let directory: Directory = serde_json::from_value(directory).unwrap();
        let policies: Vec<Policy> = serde_json::from_str(policies).unwrap();
        let csv = "Friend,Age\nAnn,30\nBob,40\nCy,\n";
        let table = Table::from_csv(csv.as_bytes(), &dataset.schema, crate::HeaderRow::Present).unwrap();
        let report = lint(&dataset, &policies, &directory, &table);
        report.findings.iter().map(|f| (f.severity, format!("{}: {f}", f.kind()))).collect()
    }

    #[test]
    fn a_directory_with_problems_is_an_error_per_problem() {
        // User 3 is listed again as an Admin: before, the Admin copy decided and lint said nothing.
        let directory = serde_json::json!({
            "users": [{"id": 1, "name": "Owner"}, {"id": 3, "name": "Ann"}, {"id": 3, "name": "Ann", "role": "Admin"}],
            "groups": [{"id": 70, "name": "Team", "userIds": [3, 9, 70]}, {"id": 70, "name": "Again"}]
        });
        let policies = r#"[{"id": 1, "name": "adults", "filters": [{"column": "Age", "operator": "GREATER_THAN", "values": ["18"]}], "users": [3]}]"#;
        let found = lint_guests_in(policies, true, directory);
        let errors: Vec<&str> =
            found.iter().filter(|(s, _)| *s == Severity::Error).map(|(_, text)| text.as_str()).collect();
        assert_eq!(
            errors,
            [
                "invalid-directory: directory: users[2]: user 3 `Ann` is listed again (first at users[1])",
                "invalid-directory: directory: groups[1]: group 70 `Again` is listed again (first at groups[0])",
                "invalid-directory: directory: groups[0].userIds[1]: group 70 `Team` lists user 9, who is not in `users`",
                "invalid-directory: directory: groups[0].userIds[2]: group 70 `Team` lists its own id among its members (`userIds` holds user ids, and groups cannot hold groups)",
            ]
        );
    }

    #[test]
    fn values_over_domos_limit_are_an_error() {
        let long = "x".repeat(300);
        let policies = format!(
            r#"[{{"id": 1, "name": "long", "filters": [{{"column": "Friend", "operator": "EQUALS", "values": ["{long}"]}}], "users": [3]}}]"#
        );
        let found = lint_guests_in(&policies, true, serde_json::json!({"users": [{"id": 3, "name": "Ann"}]}));
        assert!(
            found.contains(&(
                Severity::Error,
                "values-too-long: policy 1 `long`: the values add up to 301 characters (one separator per value); Domo requires under 255 (Domo's API rejects the policy)".to_owned()
            )),
            "{found:#?}"
        );
    }

    #[test]
    fn users_who_see_nothing_say_why() {
        let found = lint_guests(
            r#"[
                {"id": 1, "name": "adults", "filters": [{"column": "Age", "operator": "GREATER_THAN", "values": ["18"]}], "users": [3]},
                {"id": 2, "name": "old", "filters": [{"column": "Age", "operator": "GREATER_THAN", "values": ["90"]}], "groups": [70]},
                {"id": 3, "name": "ghosts", "filters": [{"column": "Friend", "operator": "EQUALS", "values": ["Ann"]}], "groups": [99]}
            ]"#,
            true,
        );
        let expect = [
            "user-sees-nothing: user 4 `Bob` sees no row: their only policies match nothing (policy 2 `old`)",
            "user-sees-nothing: user 5 `Cy` is in no policy and sees no row; the directory lacks group `99` of policy 3 `ghosts`: is the user meant to be a member?",
            "policy-without-members: policy 3 `ghosts`: applies to no one: its groups are empty or not in the directory",
            "policy-matches-no-row: policy 2 `old`: matches none of the 3 rows, so it grants nothing",
            "compile-warning: policy 3 `ghosts`: group `99` is not in the directory",
            "rows-only-privileged: 1 of 3 rows are seen by no one but the owner and Admins: row 3",
        ];
        for line in expect {
            assert!(found.iter().any(|f| f == line), "missing {line:?} in {found:#?}");
        }
    }

    #[test]
    fn a_user_whose_policy_does_not_compile_is_not_called_in_no_policy() {
        // Bob is in `team` through group 70, Ann directly in `direct`; both policies misspell a column.
        let found = lint_guests(
            r#"[
                {"id": 1, "name": "fine", "filters": [{"column": "Age", "operator": "GREATER_THAN", "values": ["18"]}], "users": [5]},
                {"id": 2, "name": "team", "filters": [{"column": "Agee", "operator": "GREATER_THAN", "values": ["18"]}], "groups": [70]},
                {"id": 3, "name": "direct", "filters": [{"column": "Frend", "operator": "EQUALS", "values": ["Ann"]}], "users": [3]}
            ]"#,
            true,
        );
        let expect = [
            "user-sees-nothing: user 4 `Bob` sees no row: policy 2 `team` names them but does not compile (fix the compile error above)",
            "user-sees-nothing: user 3 `Ann` sees no row: policy 3 `direct` names them but does not compile (fix the compile error above)",
        ];
        for line in expect {
            assert!(found.iter().any(|f| f == line), "missing {line:?} in {found:#?}");
        }
        assert!(!found.iter().any(|f| f.contains("is in no policy")), "{found:#?}");
    }

    #[test]
    fn no_policy_alone_is_a_note_and_every_row_is_info() {
        let found = lint_guests(
            r#"[{"id": 1, "name": "named", "filters": [{"column": "Friend", "operator": "CONTAINS", "values": [""]}], "users": [3, 4]}]"#,
            true,
        );
        assert!(
            found.contains(&"user-sees-nothing: user 5 `Cy` is in no policy and sees no row".to_owned()),
            "{found:#?}"
        );
        assert!(
            found.contains(
                &"policy-matches-every-row: policy 1 `named`: its filters admit all 3 rows, so they restrict nothing"
                    .to_owned()
            ),
            "{found:#?}"
        );
    }

    #[test]
    fn compile_errors_do_not_stop_the_other_analyses() {
        let found = lint_guests(
            r#"[
                {"id": 1, "name": "typo", "filters": [{"column": "Agee", "operator": "EQUALS", "values": ["1"]}], "users": [3]},
                {"id": 2, "name": "empty", "filters": [{"column": "Friend", "operator": "EQUALS", "values": ["Zed"]}], "users": [4]}
            ]"#,
            true,
        );
        assert_eq!(
            found.first().map(String::as_str),
            Some("compile-error: policy 1 `typo`, filters[0]: unknown column `Agee` (did you mean `Age`?)")
        );
        assert!(found.iter().any(|f| f.starts_with("value-not-in-data: policy 2 `empty`")), "{found:#?}");
        assert!(found.iter().any(|f| f.starts_with("policy-matches-no-row: policy 2 `empty`")), "{found:#?}");
    }

    #[test]
    fn pdp_disabled_reports_no_user_findings() {
        let found = lint_guests(
            r#"[{"id": 1, "name": "p", "filters": [{"column": "Friend", "operator": "EQUALS", "values": ["Ann"]}], "users": [3]}]"#,
            false,
        );
        assert!(
            !found.iter().any(|f| f.starts_with("user-sees-nothing") || f.starts_with("rows-only-privileged")),
            "{found:#?}"
        );
    }

    proptest::proptest! {
        /// A policy lint calls impossible admits no row of any data: the analysis never cries wolf.
        #[test]
        fn never_matching_filters_admit_no_row(
            filters in proptest::collection::vec(
                (0usize..7, proptest::collection::vec(-3i64..4, 1..3), proptest::bool::ANY),
                1..4,
            ),
            cells in proptest::collection::vec(proptest::option::of(-4i64..5), 1..30),
        ) {
            const OPERATORS: [&str; 7] =
                ["EQUALS", "GREATER_THAN", "LESS_THAN", "GREATER_THAN_EQUAL", "LESS_THAN_EQUAL", "BETWEEN", "EQUALS"];
            let filters: Vec<serde_json::Value> = filters
                .into_iter()
                .map(|(op, values, not)| {
                    let operator = OPERATORS.get(op).copied().unwrap_or("EQUALS");
                    let count = match operator {
                        "BETWEEN" => 2,
                        "EQUALS" => values.len(),
                        _ => 1,
                    };
                    let mut values: Vec<String> = values.iter().map(i64::to_string).collect();
                    while values.len() < count {
                        values.push("0".to_owned());
                    }
                    values.truncate(count);
                    serde_json::json!({"column": "n", "operator": operator, "values": values, "not": not})
                })
                .collect();
            let policy: Policy = serde_json::from_value(serde_json::json!({"id": 1, "name": "p", "filters": filters, "users": [2]})).unwrap();
            let dataset: Dataset = serde_json::from_value(serde_json::json!({
                "id": "d", "name": "n", "pdpEnabled": true,
                "schema": {"columns": [{"type": "LONG", "name": "n"}]}
            }))
            .unwrap();
            let mut csv = String::from("n\n");
            for cell in &cells {
                csv.push_str(&cell.map(|v| v.to_string()).unwrap_or_default());
                csv.push('\n');
            }
            let table = Table::from_csv(csv.as_bytes(), &dataset.schema, crate::HeaderRow::Present).unwrap();
            let set = PolicySet::compile(&dataset, std::slice::from_ref(&policy), &Directory::default()).unwrap();
            let evaluation = set.evaluate(&table).unwrap();
            let admitted = evaluation.policy_rows(crate::compile::PolicyHandle::from_index(0)).map_or(0, RowSet::len);
            if !contradictions(&set.policies()[0]).is_empty() {
                proptest::prop_assert_eq!(admitted, 0, "flagged as impossible but admits rows: {:?}", policy.filters);
            }
        }
    }
}
