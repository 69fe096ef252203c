//! What can be wrong with an entitlements table: one located problem, and the error that lists them all.

use std::fmt;
use std::io;

/// A column of the entitlements table, named as the PDP Automation layout names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum EntitlementField {
    /// `target_ds`: the DataSet's id.
    Dataset,
    /// `policy_name`: the policy's name.
    PolicyName,
    /// `policy_column`: the column the filter reads (or `All Rows`).
    PolicyColumn,
    /// `user_group`: the users and groups, `|`-separated.
    UserGroup,
    /// `operator`: one of the ten operators, optionally prefixed with `NOT `.
    Operator,
    /// `not`: `true` negates the filter.
    Not,
    /// `value`: the values, `|`-separated (BETWEEN: `low & high`).
    Value,
}

impl EntitlementField {
    /// Every field, in the order the documentation lists them.
    pub const ALL: [EntitlementField; 7] = [
        EntitlementField::Dataset,
        EntitlementField::PolicyName,
        EntitlementField::PolicyColumn,
        EntitlementField::UserGroup,
        EntitlementField::Operator,
        EntitlementField::Not,
        EntitlementField::Value,
    ];

    /// The column's name in the table's header row (matched ignoring case).
    pub fn as_str(self) -> &'static str {
        match self {
            EntitlementField::Dataset => "target_ds",
            EntitlementField::PolicyName => "policy_name",
            EntitlementField::PolicyColumn => "policy_column",
            EntitlementField::UserGroup => "user_group",
            EntitlementField::Operator => "operator",
            EntitlementField::Not => "not",
            EntitlementField::Value => "value",
        }
    }

    /// Other header names accepted for the column (ignoring case).
    pub(crate) fn aliases(self) -> &'static [&'static str] {
        match self {
            EntitlementField::Dataset => &["dataset_id", "dataset"],
            EntitlementField::Value => &["values"],
            _ => &[],
        }
    }
}

impl fmt::Display for EntitlementField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing wrong with the entitlements table, at a line of the file (1-based,
/// the header row being line 1) and, when it is about one, a column of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitlementProblem {
    /// The line of the file where the row starts.
    pub line: u64,
    /// The column of the table the problem is in, if one.
    pub field: Option<EntitlementField>,
    /// What is wrong, in words (user input in backticks).
    pub message: String,
}

impl fmt::Display for EntitlementProblem {
    /// `line 4, user_group: unknown user or group `bob@example.com``
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "line {}, {field}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// Why no policies were generated. Nothing is generated when anything is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GeneratePoliciesError {
    /// Reading the table failed.
    #[error("cannot read the entitlements")]
    Read(#[source] io::Error),
    /// The table has no header row.
    #[error(
        "the entitlements table is empty: it needs a header row (target_ds, policy_name, policy_column, user_group, value)"
    )]
    Empty,
    /// Rows (or the header) have problems: every one found, up to a cap, in line order.
    #[error("{}", ProblemList { problems, more: *more })]
    Problems {
        /// The problems, in line order (at most [`GeneratePoliciesError::PROBLEMS_KEPT`]).
        problems: Vec<EntitlementProblem>,
        /// How many more problems were found but not kept.
        more: usize,
    },
}

impl GeneratePoliciesError {
    /// At most this many problems are kept (and listed); the rest are counted.
    pub const PROBLEMS_KEPT: usize = 50;
}

struct ProblemList<'a> {
    problems: &'a [EntitlementProblem],
    more: usize,
}

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.problems.len() + self.more;
        match total {
            1 => f.write_str("1 problem:")?,
            n => write!(f, "{n} problems:")?,
        }
        for problem in self.problems {
            write!(f, "\n  {problem}")?;
        }
        if self.more > 0 {
            write!(f, "\n  … and {} more", self.more)?;
        }
        Ok(())
    }
}

/// Collects problems up to the cap, counting the rest.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    kept: Vec<EntitlementProblem>,
    more: usize,
}

impl Problems {
    pub(crate) fn push(&mut self, line: u64, field: Option<EntitlementField>, message: String) {
        if self.kept.len() < GeneratePoliciesError::PROBLEMS_KEPT {
            self.kept.push(EntitlementProblem { line, field, message });
        } else {
            self.more += 1;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.more == 0
    }

    /// The error listing every problem in line order, or `None` if there is none.
    pub(crate) fn into_error(mut self) -> Option<GeneratePoliciesError> {
        if self.is_empty() {
            return None;
        }
        self.kept.sort_by(|a, b| (a.line, a.field, &a.message).cmp(&(b.line, b.field, &b.message)));
        Some(GeneratePoliciesError::Problems { problems: self.kept, more: self.more })
    }
}
