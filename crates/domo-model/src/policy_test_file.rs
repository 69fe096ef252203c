//! Policy unit tests: the `tests.json` file a person writes to pin down who sees which rows.

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::policy::PolicyFilter;

/// A policy test file: a list of cases, each one claim about who sees what.
///
/// ```json
/// {
///   "cases": [
///     {"name": "support sees the attendees", "user": 27,
///      "seesExactly": {"where": [{"column": "Attending", "operator": "EQUALS", "values": ["TRUE"]}]}},
///     {"user": 31, "sees": {"rows": [4]}},
///     {"user": 40, "seesNothing": true},
///     {"everyRowVisible": true}
///   ]
/// }
/// ```
///
/// Read it with [`read_user_file`](crate::read_user_file) so that a misspelt
/// field is an error rather than a case that silently checks nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicyTestFile {
    /// The cases, checked in order.
    pub cases: Vec<PolicyTestCase>,
}

/// One case of a policy test file: an optional name, a user (unless the claim
/// is about every row), and exactly one expectation.
///
/// Which fields make a valid case is checked when the case runs, so that the
/// error can name the case; the type only fixes the shape.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyTestCase {
    /// A name for reports; the case's position is used when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user the claim is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserId>,
    /// The user sees at least these rows (and maybe more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sees: Option<RowSelector>,
    /// The user sees these rows and no others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sees_exactly: Option<RowSelector>,
    /// The user sees none of these rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub does_not_see: Option<RowSelector>,
    /// `true`: the user sees no row at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sees_nothing: Option<bool>,
    /// `true`: the user sees every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sees_all: Option<bool>,
    /// The user sees exactly this many rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// `true`: every row is visible to at least one user of the directory who
    /// is neither the DataSet's owner nor an Admin. Takes no `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_row_visible: Option<bool>,
}

/// A set of rows, named either by number or by filters.
///
/// `{"rows": [1, 4]}` names data rows by their 1-based position (the header
/// does not count). `{"where": [filter, …]}` names the rows that pass every
/// filter, written exactly like a policy's filters (`not` may be left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RowSelector {
    /// Data rows by 1-based position.
    Rows(Vec<u64>),
    /// The rows that pass all of these filters.
    Where(Vec<PolicyFilter>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_user_file;

    #[test]
    fn reads_every_kind_of_case() {
        let text = r#"{"cases": [
            {"name": "a", "user": 27, "seesExactly": {"where": [{"column": "Attending", "operator": "EQUALS", "values": ["TRUE"]}]}},
            {"user": "31", "sees": {"rows": [4]}},
            {"user": 40, "seesNothing": true},
            {"user": 50, "count": 6},
            {"everyRowVisible": true}
        ]}"#;
        let file: PolicyTestFile = read_user_file("tests.json", text).expect("valid");
        assert_eq!(file.cases.len(), 5);
        assert_eq!(file.cases.get(1).and_then(|c| c.sees.clone()), Some(RowSelector::Rows(vec![4])));
        assert_eq!(file.cases.get(2).and_then(|c| c.sees_nothing), Some(true));
    }

    #[test]
    fn misspelt_expectation_is_an_error() {
        let err =
            read_user_file::<PolicyTestFile>("tests.json", r#"{"cases": [{"user": 27, "seesExacly": {"rows": [1]}}]}"#)
                .expect_err("unknown field");
        assert_eq!(
            err.to_string(),
            "`tests.json` at `cases[0]`: unknown field `seesExacly` (did you mean `seesExactly`?)"
        );
    }

    #[test]
    fn unknown_selector_names_choices() {
        let err = read_user_file::<PolicyTestFile>("tests.json", r#"{"cases": [{"user": 27, "sees": {"row": [1]}}]}"#)
            .expect_err("unknown variant");
        assert!(err.to_string().contains("unknown variant `row`, expected `rows` or `where`"), "{err}");
    }
}
