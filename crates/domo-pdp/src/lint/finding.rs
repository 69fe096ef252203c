//! Lint findings: severity, kind, the policy named and the report that holds them.

use std::fmt;

use domo_model::{Policy, PolicyId, UserId};

use crate::compile::Diagnostic;

/// How serious a lint finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LintSeverity {
    /// Certainly wrong: the policies do not compile, or a policy can never match.
    Error,
    /// Probably wrong: worth a look before uploading.
    Warning,
    /// Worth knowing, often intended.
    Note,
}

impl LintSeverity {
    /// `error`, `warning` or `note`.
    pub fn as_str(self) -> &'static str {
        match self {
            LintSeverity::Error => "error",
            LintSeverity::Warning => "warning",
            LintSeverity::Note => "note",
        }
    }
}

impl fmt::Display for LintSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a lint finding is about. [`LintKind::as_str`] gives a stable kebab-case name for tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum LintKind {
    /// A compile error (see the diagnostic's own code in the message).
    CompileError,
    /// A compile warning.
    CompileWarning,
    /// Rows that no one but the owner and Admins sees.
    RowsOnlyPrivileged,
    /// A user of the directory who sees no row.
    UserSeesNothing,
    /// A policy that applies to no one.
    PolicyWithoutMembers,
    /// A policy that admits no row of the data.
    PolicyMatchesNoRow,
    /// A policy with filters that admits every row of the data.
    PolicyMatchesEveryRow,
    /// A policy whose rows and members are all covered by another policy.
    RedundantPolicy,
    /// Two policies with the same filters and the same members.
    IdenticalPolicies,
    /// Filters that no row can ever pass, whatever the data.
    FilterNeverMatches,
    /// EQUALS on a value that no row of the data holds.
    ValueNotInData,
    /// LIKE with a pattern that has no `%` or `_`: it behaves like EQUALS.
    LikeWithoutWildcards,
    /// A policy's values exceed Domo's 255-character limit: the API rejects it (error).
    ValuesTooLong,
    /// The directory lists a user or group twice, or a group lists an unknown user or itself (error).
    InvalidDirectory,
}

impl LintKind {
    /// The kind as a stable name: `filter-never-matches`.
    pub fn as_str(self) -> &'static str {
        match self {
            LintKind::CompileError => "compile-error",
            LintKind::CompileWarning => "compile-warning",
            LintKind::RowsOnlyPrivileged => "rows-only-privileged",
            LintKind::UserSeesNothing => "user-sees-nothing",
            LintKind::PolicyWithoutMembers => "policy-without-members",
            LintKind::PolicyMatchesNoRow => "policy-matches-no-row",
            LintKind::PolicyMatchesEveryRow => "policy-matches-every-row",
            LintKind::RedundantPolicy => "redundant-policy",
            LintKind::IdenticalPolicies => "identical-policies",
            LintKind::FilterNeverMatches => "filter-never-matches",
            LintKind::ValueNotInData => "value-not-in-data",
            LintKind::LikeWithoutWildcards => "like-without-wildcards",
            LintKind::ValuesTooLong => "values-too-long",
            LintKind::InvalidDirectory => "invalid-directory",
        }
    }
}

impl fmt::Display for LintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy named in a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRef {
    /// The policy's 0-based position in the policies file.
    pub index: usize,
    /// Its id, if it has one.
    pub id: Option<PolicyId>,
    /// Its name.
    pub name: String,
}

impl PolicyRef {
    pub(super) fn new(index: usize, policy: &Policy) -> Self {
        Self { index, id: policy.id, name: policy.name.clone() }
    }

    /// The policy a compile diagnostic is about; `None` when it is about the policies as a whole.
    pub fn of_diagnostic(diagnostic: &Diagnostic) -> Option<Self> {
        match (diagnostic.policy_index, &diagnostic.policy_name) {
            (Some(index), Some(name)) => Some(Self { index, id: diagnostic.policy_id, name: name.clone() }),
            _ => None,
        }
    }
}

impl fmt::Display for PolicyRef {
    /// `policy 8 `Only Show Attendees``, or `policy #3 `West`` without an id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id {
            Some(id) => write!(f, "policy {id} `{}`", self.name),
            None => write!(f, "policy #{} `{}`", self.index + 1, self.name),
        }
    }
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintFinding {
    /// How serious it is.
    pub severity: LintSeverity,
    /// What it is about.
    pub kind: LintKind,
    /// The policy it is about, if one.
    pub policy: Option<PolicyRef>,
    /// The filter's 0-based index in that policy, if about one filter.
    pub filter_index: Option<usize>,
    /// The user it is about, if one.
    pub user: Option<UserId>,
    /// What was found, in words (user input in backticks).
    pub message: String,
    /// Data rows involved (1-based), when the finding is about rows; at most a sample.
    pub rows: Vec<u64>,
    /// The compile diagnostic this finding reports (kinds `compile-error`,
    /// `compile-warning` and `values-too-long`), with its own code; `None` for
    /// the findings of lint's own analyses.
    pub diagnostic: Option<Diagnostic>,
}

impl fmt::Display for LintFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(policy) = &self.policy {
            write!(f, "{policy}")?;
            if let Some(filter) = self.filter_index {
                write!(f, ", filters[{filter}]")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every finding of a lint run, errors first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintReport {
    /// The findings, sorted by severity, then in policy order.
    pub findings: Vec<LintFinding>,
}

impl LintReport {
    /// How many findings have this severity.
    pub fn count(&self, severity: LintSeverity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.count(LintSeverity::Error) > 0
    }
}
